//! The compliance certificate: a short-lived compact EdDSA JWT.
//!
//! A dApp backend or an exchange verifies it with any JOSE library and the published JWKS
//! ([`super::did::jwks`]), no VC tooling needed.
//!
//! ```text
//! header  {"alg": "EdDSA", "typ": "JWT", "kid": "did:key:z6Mk…#z6Mk…"}
//! claims  {"iss": "did:key:z6Mk…", "sub": "<holder DID>", "aud"?: "…",
//!          "iat": …, "nbf": iat − 60, "exp": …, "jti": "<128-bit random>",
//!          "spec": {"id": "…", "version": 3}, "result": "passed",
//!          "credentialId": "urn:uuid:…",
//!          "credentialStatus": {"statusPurpose": "revocation",
//!                               "statusListCredential": "<url>", "statusListIndex": "42"}}
//! ```
//!
//! Times are whole seconds; `nbf` is backdated by 60 s for relying parties whose clocks run
//! behind (many JOSE libraries default to zero leeway); validity is capped at
//! [`MAX_CERTIFICATE_VALIDITY_SECS`].
//!
//! [`verify_certificate`] answers exactly one of `Valid`, `Expired`, `Revoked`,
//! `BadSignature`, `UnknownIssuer`, `Malformed`, each with a reason, and never panics. It
//! pins the algorithm to EdDSA (no `none`, no HMAC confusion), looks the `kid` up in the
//! caller's known issuers, requires `iss` to be the DID of that `kid`, and checks revocation
//! only after the signature.

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::VerifyingKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::did::Jwks;
use super::vc::StatusEntry;
use super::whole_seconds;
use crate::keys::{OfficerSigningKey, b64u, did_key_vm, did_of_url};

/// Longest certificate validity.
pub const MAX_CERTIFICATE_VALIDITY_SECS: i64 = 30 * 24 * 3600;

/// Seconds `nbf` is set before `iat`, and the leeway of [`verify_certificate`].
pub const CERTIFICATE_LEEWAY_SECS: i64 = 60;

/// Longest token accepted by [`verify_certificate`].
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The spec a certificate was issued under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRef {
    /// Spec id.
    pub id: String,
    /// Spec version.
    pub version: u32,
}

/// Where the certificate's credential's revocation bit lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// Always `revocation`.
    pub status_purpose: String,
    /// Status list credential URL.
    pub status_list_credential: String,
    /// Index (decimal string, as in `BitstringStatusListEntry`).
    pub status_list_index: String,
}

/// Claims of a compliance certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateClaims {
    /// Officer did:key.
    pub iss: String,
    /// Holder DID.
    pub sub: String,
    /// Audience, if the certificate was requested for one relying party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Unique id.
    pub jti: String,
    /// Spec.
    pub spec: SpecRef,
    /// Always `passed`.
    pub result: String,
    /// Id of the AML credential this certificate summarises.
    pub credential_id: String,
    /// Revocation entry of that credential.
    pub credential_status: CertificateStatus,
    /// Suspension entry of that credential (same index, in the officer's suspension list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_suspension: Option<CertificateStatus>,
}

/// What goes into a certificate.
#[derive(Debug, Clone)]
pub struct CertificateRequest {
    /// Holder DID (`sub`).
    pub holder_did: String,
    /// Optional audience (`aud`).
    pub audience: Option<String>,
    /// Spec id.
    pub spec_id: String,
    /// Spec version.
    pub spec_version: u32,
    /// The AML credential's id.
    pub credential_id: String,
    /// The AML credential's status entry.
    pub status: StatusEntry,
    /// The AML credential's suspension entry, if it has one.
    pub suspension: Option<StatusEntry>,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `exp` − `iat`; 1 s ..= [`MAX_CERTIFICATE_VALIDITY_SECS`].
    pub valid_for: Duration,
}

/// An issued certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The compact JWT.
    pub token: String,
    /// Its claims.
    pub claims: CertificateClaims,
}

/// Certificate issuance errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The request is not usable.
    #[error("invalid certificate request: {0}")]
    InvalidInput(String),
    /// jsonwebtoken failed to sign.
    #[error("certificate signing failed: {0}")]
    Signing(String),
}

impl CertificateError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            CertificateError::InvalidInput(_) => "certificate_invalid_input",
            CertificateError::Signing(_) => "certificate_signing_failed",
        }
    }
}

/// Issues a compliance certificate signed by the officer.
pub fn issue_certificate(
    officer: &OfficerSigningKey,
    req: &CertificateRequest,
) -> Result<IssuedCertificate, CertificateError> {
    let bad = |m: &str| Err(CertificateError::InvalidInput(m.to_owned()));
    if !req.holder_did.starts_with("did:") {
        return bad("holder must be a DID");
    }
    if req.spec_id.trim().is_empty() || req.credential_id.trim().is_empty() {
        return bad("spec id and credential id are required");
    }
    let secs = req.valid_for.num_seconds();
    if !(1..=MAX_CERTIFICATE_VALIDITY_SECS).contains(&secs) {
        return bad("validity must be between 1 second and 30 days");
    }
    let iat = whole_seconds(req.issued_at).timestamp();
    let mut jti = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut jti);
    let claims = CertificateClaims {
        iss: officer.did(),
        sub: req.holder_did.clone(),
        aud: req.audience.clone(),
        iat,
        nbf: iat - CERTIFICATE_LEEWAY_SECS,
        exp: iat + secs,
        jti: b64u(&jti),
        spec: SpecRef { id: req.spec_id.clone(), version: req.spec_version },
        result: "passed".into(),
        credential_id: req.credential_id.clone(),
        credential_status: CertificateStatus {
            status_purpose: "revocation".into(),
            status_list_credential: req.status.status_list_credential.clone(),
            status_list_index: req.status.index.to_string(),
        },
        credential_suspension: req.suspension.as_ref().map(|s| CertificateStatus {
            status_purpose: "suspension".into(),
            status_list_credential: s.status_list_credential.clone(),
            status_list_index: s.index.to_string(),
        }),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    header.kid = Some(officer.verification_method());
    let token = jsonwebtoken::encode(&header, &claims, &officer.to_jwt_encoding_key())
        .map_err(|e| CertificateError::Signing(e.to_string()))?;
    Ok(IssuedCertificate { token, claims })
}

/// The keys of the issuers a verifier trusts, by `kid`.
pub trait IssuerKeys {
    /// The Ed25519 key for a `kid` (a did:key verification method URL), if trusted.
    fn key_for_kid(&self, kid: &str) -> Option<VerifyingKey>;
}

impl IssuerKeys for Jwks {
    fn key_for_kid(&self, kid: &str) -> Option<VerifyingKey> {
        self.find(kid)
    }
}

impl IssuerKeys for [VerifyingKey] {
    fn key_for_kid(&self, kid: &str) -> Option<VerifyingKey> {
        self.iter().find(|k| did_key_vm(k) == kid).copied()
    }
}

impl<F: Fn(&str) -> Option<VerifyingKey>> IssuerKeys for F {
    fn key_for_kid(&self, kid: &str) -> Option<VerifyingKey> {
        self(kid)
    }
}

/// The outcome of [`verify_certificate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateVerdict {
    /// Signature, issuer, validity and revocation status are fine.
    Valid {
        /// The verified claims.
        claims: Box<CertificateClaims>,
        /// Human-readable summary.
        reason: String,
    },
    /// Past `exp` (beyond the leeway).
    Expired {
        /// Why.
        reason: String,
    },
    /// Correctly signed and in date, but the credential is revoked.
    Revoked {
        /// The verified claims.
        claims: Box<CertificateClaims>,
        /// Why.
        reason: String,
    },
    /// Correctly signed and in date, but the credential is suspended while an officer
    /// reviews a possible match (it may be reinstated).
    Suspended {
        /// The verified claims.
        claims: Box<CertificateClaims>,
        /// Why.
        reason: String,
    },
    /// The signature does not verify or the algorithm is not EdDSA.
    BadSignature {
        /// Why.
        reason: String,
    },
    /// The `kid` is not a known issuer key, or `iss` is not the key's DID.
    UnknownIssuer {
        /// Why.
        reason: String,
    },
    /// Not a certificate (not a JWT, missing or ill-typed claims, not yet valid, …).
    Malformed {
        /// Why.
        reason: String,
    },
}

impl CertificateVerdict {
    /// Stable code: `valid`, `expired`, `revoked`, `bad_signature`, `unknown_issuer`,
    /// `malformed`.
    pub fn code(&self) -> &'static str {
        match self {
            CertificateVerdict::Valid { .. } => "valid",
            CertificateVerdict::Expired { .. } => "expired",
            CertificateVerdict::Revoked { .. } => "revoked",
            CertificateVerdict::Suspended { .. } => "suspended",
            CertificateVerdict::BadSignature { .. } => "bad_signature",
            CertificateVerdict::UnknownIssuer { .. } => "unknown_issuer",
            CertificateVerdict::Malformed { .. } => "malformed",
        }
    }

    /// The human-readable reason.
    pub fn reason(&self) -> &str {
        match self {
            CertificateVerdict::Valid { reason, .. }
            | CertificateVerdict::Expired { reason }
            | CertificateVerdict::Revoked { reason, .. }
            | CertificateVerdict::Suspended { reason, .. }
            | CertificateVerdict::BadSignature { reason }
            | CertificateVerdict::UnknownIssuer { reason }
            | CertificateVerdict::Malformed { reason } => reason,
        }
    }

    /// True only for `Valid`.
    pub fn is_valid(&self) -> bool {
        matches!(self, CertificateVerdict::Valid { .. })
    }
}

/// Verifies a compliance certificate against the trusted issuer keys; `is_revoked` is asked
/// only once the signature and dates are good. `aud` is not checked here (it is returned in
/// the claims); use [`verify_certificate_for_audience`] to require one.
pub fn verify_certificate<K, R>(token: &str, issuers: &K, is_revoked: R) -> CertificateVerdict
where
    K: IssuerKeys + ?Sized,
    R: FnOnce(&CertificateClaims) -> bool,
{
    verify_inner(token, issuers, is_revoked, None, Utc::now())
}

/// [`verify_certificate`] at a given time (the node verifies on its own clock).
pub fn verify_certificate_at<K, R>(token: &str, issuers: &K, is_revoked: R, now: DateTime<Utc>) -> CertificateVerdict
where
    K: IssuerKeys + ?Sized,
    R: FnOnce(&CertificateClaims) -> bool,
{
    verify_inner(token, issuers, is_revoked, None, now)
}

/// [`verify_certificate`], also requiring `aud` to be `audience`.
pub fn verify_certificate_for_audience<K, R>(
    token: &str,
    issuers: &K,
    is_revoked: R,
    audience: &str,
) -> CertificateVerdict
where
    K: IssuerKeys + ?Sized,
    R: FnOnce(&CertificateClaims) -> bool,
{
    verify_inner(token, issuers, is_revoked, Some(audience), Utc::now())
}

fn verify_inner<K, R>(
    token: &str,
    issuers: &K,
    is_revoked: R,
    audience: Option<&str>,
    now: DateTime<Utc>,
) -> CertificateVerdict
where
    K: IssuerKeys + ?Sized,
    R: FnOnce(&CertificateClaims) -> bool,
{
    match authenticate_certificate(token, issuers, audience) {
        Ok(claims) => certificate_verdict(claims, is_revoked, now),
        Err(verdict) => verdict,
    }
}

/// The part of verification that depends only on the token's bytes and the issuer keys:
/// the header, the signature, the issuer, the audience (when asked) and the shape of the
/// claims. What it accepts once it accepts forever, so its result may be cached by token;
/// dates and status are judged by [`certificate_verdict`] on every use.
pub fn authenticate_certificate<K>(
    token: &str,
    issuers: &K,
    audience: Option<&str>,
) -> Result<CertificateClaims, CertificateVerdict>
where
    K: IssuerKeys + ?Sized,
{
    let malformed = |reason: String| CertificateVerdict::Malformed { reason };
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("empty or oversized token".into()));
    }
    let header = match jsonwebtoken::decode_header(token) {
        Ok(h) => h,
        Err(e) => return Err(malformed(format!("not a JWT: {e}"))),
    };
    if header.alg != Algorithm::EdDSA {
        return Err(CertificateVerdict::BadSignature {
            reason: format!("algorithm {:?} is not accepted; only EdDSA", header.alg),
        });
    }
    if let Some(typ) = header.typ.as_deref()
        && !typ.eq_ignore_ascii_case("JWT")
    {
        return Err(malformed(format!("typ `{typ}` is not JWT")));
    }
    let Some(kid) = header.kid else {
        return Err(malformed("the header has no kid".into()));
    };
    let Some(key) = issuers.key_for_kid(&kid) else {
        return Err(CertificateVerdict::UnknownIssuer {
            reason: format!("kid `{}` is not a known issuer key", kid.chars().take(120).collect::<String>()),
        });
    };
    let issuer_did = did_of_url(&kid).to_owned();
    // The raw 32-byte public key, as `from_ed_components` would decode it from the JWK.
    let decoding = DecodingKey::from_ed_der(key.as_bytes());
    // Dates are checked below against `now`, after the signature.
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "sub"]);
    validation.set_issuer(&[issuer_did.as_str()]);
    match audience {
        Some(a) => validation.set_audience(&[a]),
        None => validation.validate_aud = false,
    }
    let claims = match jsonwebtoken::decode::<CertificateClaims>(token, &decoding, &validation) {
        Ok(d) => d.claims,
        Err(e) => {
            return Err(match e.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => CertificateVerdict::BadSignature {
                    reason: "the signature does not verify with the issuer's key".into(),
                },
                ErrorKind::ExpiredSignature => {
                    CertificateVerdict::Expired { reason: "the certificate has expired (exp is in the past)".into() }
                }
                ErrorKind::InvalidIssuer => {
                    CertificateVerdict::UnknownIssuer { reason: "iss is not the DID of the signing key".into() }
                }
                ErrorKind::ImmatureSignature => {
                    malformed("the certificate is not valid yet (nbf is in the future)".into())
                }
                ErrorKind::InvalidAudience => malformed("the certificate is for another audience".into()),
                ErrorKind::MissingRequiredClaim(c) => malformed(format!("missing claim `{c}`")),
                _ => malformed(format!("invalid certificate: {e}")),
            });
        }
    };
    if claims.result != "passed" || claims.iat > claims.exp {
        return Err(malformed("inconsistent claims".into()));
    }
    Ok(claims)
}

/// The verdict on authenticated claims at `now`: expired, not yet valid, revoked (asked of
/// `is_revoked` only when the dates are good) or valid.
pub fn certificate_verdict<R>(claims: CertificateClaims, is_revoked: R, now: DateTime<Utc>) -> CertificateVerdict
where
    R: FnOnce(&CertificateClaims) -> bool,
{
    let malformed = |reason: String| CertificateVerdict::Malformed { reason };
    let now = now.timestamp();
    if claims.exp + CERTIFICATE_LEEWAY_SECS < now {
        return CertificateVerdict::Expired { reason: "the certificate has expired (exp is in the past)".into() };
    }
    if claims.nbf > now + CERTIFICATE_LEEWAY_SECS {
        return malformed("the certificate is not valid yet (nbf is in the future)".into());
    }
    if is_revoked(&claims) {
        return CertificateVerdict::Revoked {
            reason: format!(
                "credential {} is revoked (status list {} index {})",
                claims.credential_id,
                claims.credential_status.status_list_credential,
                claims.credential_status.status_list_index
            ),
            claims: Box::new(claims),
        };
    }
    CertificateVerdict::Valid {
        reason: format!(
            "signed by {}, valid until {}, not revoked",
            claims.iss,
            DateTime::from_timestamp(claims.exp, 0).map(super::rfc3339).unwrap_or_default()
        ),
        claims: Box::new(claims),
    }
}

/// Certificates that passed [`authenticate_certificate`], by their exact text, so that a
/// relying party verifying the same certificate again (on every page load, say) costs a
/// lookup instead of a signature check. Only the token's own bytes decide a hit; dates and
/// status are still judged on every use. Bounded: the oldest entries go first. Only
/// authenticated tokens enter, so an attacker cannot fill it with garbage.
pub struct AuthenticatedCertificates {
    capacity: usize,
    inner: std::sync::Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    claims: std::collections::HashMap<std::sync::Arc<str>, CertificateClaims>,
    /// Insertion order, for eviction.
    order: std::collections::VecDeque<std::sync::Arc<str>>,
}

impl AuthenticatedCertificates {
    /// A cache of at most `capacity` certificates (0 caches nothing).
    pub fn new(capacity: usize) -> AuthenticatedCertificates {
        AuthenticatedCertificates { capacity, inner: Default::default() }
    }

    /// [`authenticate_certificate`] (no audience), answered from the cache when this exact
    /// token was authenticated before.
    pub fn authenticate<K>(&self, token: &str, issuers: &K) -> Result<CertificateClaims, CertificateVerdict>
    where
        K: IssuerKeys + ?Sized,
    {
        let token = token.trim();
        if let Some(c) = self.inner.lock().ok().and_then(|m| m.claims.get(token).cloned()) {
            return Ok(c);
        }
        let claims = authenticate_certificate(token, issuers, None)?;
        if self.capacity > 0
            && let Ok(mut m) = self.inner.lock()
            && !m.claims.contains_key(token)
        {
            if m.claims.len() >= self.capacity
                && let Some(old) = m.order.pop_front()
            {
                m.claims.remove(&old);
            }
            let key: std::sync::Arc<str> = token.into();
            m.order.push_back(key.clone());
            m.claims.insert(key, claims.clone());
        }
        Ok(claims)
    }

    /// Certificates held.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.claims.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::did::jwks;

    fn request(now: DateTime<Utc>, valid_for: Duration) -> CertificateRequest {
        CertificateRequest {
            holder_did: crate::keys::HolderKey::generate().did(),
            audience: None,
            spec_id: "basic-aml".into(),
            spec_version: 3,
            credential_id: "urn:uuid:6f1c2d3e-0000-4000-8000-000000000001".into(),
            status: StatusEntry {
                status_list_credential: "https://aml.example.org/status/1/revocation".into(),
                index: 7,
            },
            suspension: None,
            issued_at: now,
            valid_for,
        }
    }

    #[test]
    fn valid_round_trip() {
        let officer = OfficerSigningKey::generate();
        let issued = issue_certificate(&officer, &request(Utc::now(), Duration::hours(24))).unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&crate::keys::b64u_decode(issued.token.split('.').next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], officer.verification_method());
        assert_eq!(issued.claims.exp - issued.claims.iat, 24 * 3600);
        assert_eq!(issued.claims.nbf, issued.claims.iat - 60);
        let set = jwks(&[officer.verifying_key()]);
        let v = verify_certificate(&issued.token, &set, |_| false);
        assert_eq!(v.code(), "valid", "{}", v.reason());
        let CertificateVerdict::Valid { claims, .. } = v else { unreachable!() };
        assert_eq!(*claims, issued.claims);
        // Also with a plain key list and a closure resolver.
        let keys = [officer.verifying_key()];
        assert!(verify_certificate(&issued.token, &keys[..], |_| false).is_valid());
        let vk = officer.verifying_key();
        let f = move |kid: &str| (kid == did_key_vm(&vk)).then_some(vk);
        assert!(verify_certificate(&issued.token, &f, |_| false).is_valid());
    }

    #[test]
    fn authenticated_cache_hits_only_the_exact_token_and_still_judges_dates() {
        let officer = OfficerSigningKey::generate();
        let set = jwks(&[officer.verifying_key()]);
        let now = Utc::now();
        let cache = AuthenticatedCertificates::new(2);
        let issued = issue_certificate(&officer, &request(now, Duration::hours(1))).unwrap();
        assert_eq!(cache.authenticate(&issued.token, &set).unwrap(), issued.claims);
        assert_eq!(cache.len(), 1);
        // A hit needs no key at all: the signature was checked when it entered.
        let no_keys: &[VerifyingKey] = &[];
        assert_eq!(cache.authenticate(&issued.token, no_keys).unwrap(), issued.claims);
        // One changed byte is not a hit, and fails on its own.
        let mut tampered = issued.token.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(cache.authenticate(&tampered, &set).unwrap_err().code(), "bad_signature");
        assert_eq!(cache.len(), 1, "failures are not cached");
        // Dates are judged on every use, cached or not.
        let claims = cache.authenticate(&issued.token, &set).unwrap();
        assert_eq!(certificate_verdict(claims.clone(), |_| false, now).code(), "valid");
        assert_eq!(certificate_verdict(claims.clone(), |_| false, now + Duration::hours(2)).code(), "expired");
        assert_eq!(certificate_verdict(claims, |_| true, now).code(), "revoked");
        // Bounded: the oldest goes first.
        let b = issue_certificate(&officer, &request(now, Duration::hours(1))).unwrap().token;
        let c = issue_certificate(&officer, &request(now, Duration::hours(1))).unwrap().token;
        cache.authenticate(&b, &set).unwrap();
        cache.authenticate(&c, &set).unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.authenticate(&issued.token, no_keys).unwrap_err().code(), "unknown_issuer");
        assert!(cache.authenticate(&c, no_keys).is_ok());
        // Capacity 0 caches nothing.
        let off = AuthenticatedCertificates::new(0);
        off.authenticate(&c, &set).unwrap();
        assert!(off.is_empty());
    }

    #[test]
    fn each_outcome() {
        let officer = OfficerSigningKey::generate();
        let set = jwks(&[officer.verifying_key()]);
        let now = Utc::now();
        let token = issue_certificate(&officer, &request(now, Duration::hours(1))).unwrap().token;

        // Revoked: only after the signature is good.
        let v = verify_certificate(&token, &set, |c| c.credential_status.status_list_index == "7");
        assert_eq!(v.code(), "revoked");
        assert!(v.reason().contains("revoked"));

        // Expired.
        let old = issue_certificate(&officer, &request(now - Duration::hours(3), Duration::hours(1))).unwrap().token;
        assert_eq!(verify_certificate(&old, &set, |_| false).code(), "expired");

        // Unknown issuer.
        let stranger = OfficerSigningKey::generate();
        let t = issue_certificate(&stranger, &request(now, Duration::hours(1))).unwrap().token;
        assert_eq!(verify_certificate(&t, &set, |_| false).code(), "unknown_issuer");

        // Bad signature: flip a signature byte; and a payload swap.
        let parts: Vec<&str> = token.split('.').collect();
        let mut sig = crate::keys::b64u_decode(parts[2]).unwrap();
        sig[5] ^= 1;
        let t = format!("{}.{}.{}", parts[0], parts[1], b64u(&sig));
        assert_eq!(verify_certificate(&t, &set, |_| false).code(), "bad_signature");
        let other = issue_certificate(&officer, &request(now, Duration::hours(2))).unwrap().token;
        let t = format!("{}.{}.{}", parts[0], other.split('.').nth(1).unwrap(), parts[2]);
        assert_eq!(verify_certificate(&t, &set, |_| false).code(), "bad_signature");

        // Never asked about revocation when the signature is bad.
        let v = verify_certificate(&t, &set, |_| panic!("must not be called"));
        assert_eq!(v.code(), "bad_signature");
    }

    #[test]
    fn alg_confusion_and_none_rejected() {
        let officer = OfficerSigningKey::generate();
        let set = jwks(&[officer.verifying_key()]);
        let token = issue_certificate(&officer, &request(Utc::now(), Duration::hours(1))).unwrap().token;
        let payload = token.split('.').nth(1).unwrap();
        let kid = officer.verification_method();
        let none_header = b64u(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#).as_bytes());
        let v = verify_certificate(&format!("{none_header}.{payload}."), &set, |_| false);
        assert!(!v.is_valid());
        assert_eq!(v.code(), "malformed");
        // HS256 signed with the public key as the HMAC secret (classic confusion attack).
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        let claims: serde_json::Value = serde_json::from_slice(&crate::keys::b64u_decode(payload).unwrap()).unwrap();
        let hs = jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(officer.verifying_key().as_bytes()),
        )
        .unwrap();
        assert_eq!(verify_certificate(&hs, &set, |_| false).code(), "bad_signature");
    }

    #[test]
    fn iss_must_match_kid() {
        // Signed by a known key but claiming another iss.
        let officer = OfficerSigningKey::generate();
        let set = jwks(&[officer.verifying_key()]);
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(officer.verification_method());
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
            "sub": "did:key:x", "iat": now, "nbf": now, "exp": now + 60, "jti": "j",
            "spec": {"id": "s", "version": 1}, "result": "passed", "credentialId": "c",
            "credentialStatus": {"statusPurpose": "revocation", "statusListCredential": "u", "statusListIndex": "1"}
        });
        let t = jsonwebtoken::encode(&h, &claims, &officer.to_jwt_encoding_key()).unwrap();
        assert_eq!(verify_certificate(&t, &set, |_| false).code(), "unknown_issuer");
        // Missing custom claims -> malformed.
        let t = jsonwebtoken::encode(
            &h,
            &serde_json::json!({"iss": officer.did(), "sub": "x", "iat": now, "nbf": now, "exp": now + 60}),
            &officer.to_jwt_encoding_key(),
        )
        .unwrap();
        assert_eq!(verify_certificate(&t, &set, |_| false).code(), "malformed");
    }

    #[test]
    fn audience() {
        let officer = OfficerSigningKey::generate();
        let set = jwks(&[officer.verifying_key()]);
        let mut r = request(Utc::now(), Duration::hours(1));
        r.audience = Some("https://dapp.example".into());
        let t = issue_certificate(&officer, &r).unwrap().token;
        assert!(verify_certificate(&t, &set, |_| false).is_valid());
        assert!(verify_certificate_for_audience(&t, &set, |_| false, "https://dapp.example").is_valid());
        assert_eq!(verify_certificate_for_audience(&t, &set, |_| false, "https://other.example").code(), "malformed");
    }

    #[test]
    fn garbage_never_panics() {
        let set = jwks(&[OfficerSigningKey::generate().verifying_key()]);
        for g in ["", ".", "..", "a.b.c", "eyJ.eyJ.sig", "\u{0}", "e30.e30.e30", &"a".repeat(10_000)] {
            let v = verify_certificate(g, &set, |_| false);
            assert_eq!(v.code(), "malformed", "{g:.20}");
        }
    }

    #[test]
    fn bad_requests() {
        let officer = OfficerSigningKey::generate();
        let now = Utc::now();
        assert!(issue_certificate(&officer, &request(now, Duration::days(31))).is_err());
        assert!(issue_certificate(&officer, &request(now, Duration::zero())).is_err());
        let mut r = request(now, Duration::hours(1));
        r.holder_did = "bob".into();
        assert_eq!(issue_certificate(&officer, &r).unwrap_err().code(), "certificate_invalid_input");
    }
}
