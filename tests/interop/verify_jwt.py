"""Independent check of the compliance certificate with PyJWT, using only the published JWKS.

    python3 tests/interop/verify_jwt.py <input.json>

Reads the same input file as verify.mjs ({"issuer", "certificate", "jwks", ...}). Verifies the
certificate (EdDSA only, issuer, required claims), and checks that a tampered copy, a wrong
expected issuer and an `alg: none` variant are rejected. Exit 0 iff every check passed.
"""

import base64
import json
import sys

import jwt  # PyJWT[crypto]

results = []


def record(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key_for(token, jwks):
    kid = jwt.get_unverified_header(token).get("kid")
    for k in jwt.PyJWKSet.from_dict(jwks).keys:
        if k.key_id == kid:
            return k.key
    raise LookupError(f"kid {kid!r} not in JWKS")


def decode(token, jwks, issuer):
    return jwt.decode(
        token,
        key=key_for(token, jwks),
        algorithms=["EdDSA"],
        issuer=issuer,
        options={"require": ["exp", "iat", "nbf", "iss", "sub", "jti"], "verify_aud": False},
        leeway=60,
    )


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    token, jwks, issuer = data["certificate"], data["jwks"], data["issuer"]

    try:
        claims = decode(token, jwks, issuer)
        ok = claims.get("result") == "passed" and claims.get("iss") == issuer
        record("certificate verifies with PyJWT + JWKS", ok)
    except Exception as e:  # noqa: BLE001 - report any failure
        record("certificate verifies with PyJWT + JWKS", False, f"{type(e).__name__}: {e}")

    header, payload, sig = token.split(".")
    p = json.loads(unb64u(payload))
    p["sub"] = "did:key:z6MkSomeoneElse"
    forged = f"{header}.{b64u(json.dumps(p).encode())}.{sig}"
    try:
        decode(forged, jwks, issuer)
        record("tampered certificate is rejected", False)
    except jwt.InvalidSignatureError:
        record("tampered certificate is rejected", True)
    except Exception as e:  # noqa: BLE001
        record("tampered certificate is rejected", False, f"wrong error {type(e).__name__}")

    try:
        decode(token, jwks, "did:key:z6MkOther")
        record("wrong expected issuer is rejected", False)
    except jwt.InvalidIssuerError:
        record("wrong expected issuer is rejected", True)
    except Exception as e:  # noqa: BLE001
        record("wrong expected issuer is rejected", False, f"wrong error {type(e).__name__}")

    h = json.loads(unb64u(header))
    h["alg"] = "none"
    none_token = f"{b64u(json.dumps(h).encode())}.{payload}."
    try:
        decode(none_token, jwks, issuer)
        record("alg none is rejected", False)
    except (jwt.InvalidTokenError, LookupError):
        record("alg none is rejected", True)
    except Exception as e:  # noqa: BLE001
        record("alg none is rejected", False, f"wrong error {type(e).__name__}")

    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
