//! API authentication: short-lived EdDSA JWTs signed by the caller's own key.
//!
//! Officers sign with their Ed25519 officer key; holders with their holder key (`did:key`, or
//! a Solana wallet key as `did:pkh:solana:…`). Nothing is shared with the node, so there is
//! no API secret to leak. A token is
//!
//! ```text
//! header  {"alg": "EdDSA", "typ": "JWT", "kid": "<DID>#<fragment>"}
//! claims  {"iss": "<DID>", "aud": "<node audience>", "iat": …, "exp": …, "jti": "<random>"}
//! ```
//!
//! and the node accepts it only if the algorithm is EdDSA (no `none`, no HMAC confusion),
//! the `kid`'s DID is `iss`, the signature verifies with that DID's key, `aud` is this node,
//! `iat` is not in the future, `exp` is at most [`MAX_TOKEN_LIFETIME_SECS`] after `iat` and
//! not past, and the `jti` was never seen before: each token is good for one request, so a
//! captured token cannot be replayed. Seen `jti`s are kept until their token expires.
//!
//! Time comes from the node's [`Clock`]; jsonwebtoken checks only signature and audience.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::keys::{b64u, did_of_url, ed25519_from_did};
use crate::officers::{Officer, Officers};
use crate::store::Store;

/// Longest accepted token lifetime (`exp - iat`).
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated on `iat` and `exp`.
pub const TOKEN_LEEWAY_SECS: i64 = 30;
/// Longest accepted token (bytes).
pub const MAX_TOKEN_BYTES: usize = 4096;

const SEEN_TREE: &str = "auth_seen_jti";

/// The claims of an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Anything that can sign an API token: the three Ed25519 key roles.
pub trait TokenSigner {
    fn token_kid(&self) -> String;
    fn token_iss(&self) -> String;
    fn sign_token_input(&self, input: &[u8]) -> [u8; 64];
}

macro_rules! token_signer {
    ($t:ty) => {
        impl TokenSigner for $t {
            fn token_kid(&self) -> String {
                self.verification_method()
            }
            fn token_iss(&self) -> String {
                self.did()
            }
            fn sign_token_input(&self, input: &[u8]) -> [u8; 64] {
                self.sign(input).to_bytes()
            }
        }
    };
}
token_signer!(crate::keys::OfficerSigningKey);
token_signer!(crate::keys::HolderKey);

/// A holder key that presents itself as a Solana wallet (`did:pkh:solana:…`).
pub struct SolanaWallet<'a>(pub &'a crate::keys::HolderKey, pub &'a str);

impl TokenSigner for SolanaWallet<'_> {
    fn token_kid(&self) -> String {
        format!("{}#controller", self.token_iss())
    }
    fn token_iss(&self) -> String {
        self.0.did_pkh_solana(self.1)
    }
    fn sign_token_input(&self, input: &[u8]) -> [u8; 64] {
        self.0.sign(input).to_bytes()
    }
}

/// Mints a token for `audience`, valid `lifetime_secs` from `now` (CLI, demo, tests).
pub fn mint_token(signer: &dyn TokenSigner, audience: &str, now: DateTime<Utc>, lifetime_secs: i64) -> String {
    let mut jti = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut jti);
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    header.kid = Some(signer.token_kid());
    let claims = TokenClaims {
        iss: signer.token_iss(),
        aud: audience.to_owned(),
        iat: now.timestamp(),
        exp: now.timestamp() + lifetime_secs,
        jti: b64u(&jti),
    };
    // Both parts are plain serializable structs: serde_json cannot fail on them.
    let h = b64u(&serde_json::to_vec(&header).unwrap_or_default());
    let c = b64u(&serde_json::to_vec(&claims).unwrap_or_default());
    let input = format!("{h}.{c}");
    let sig = signer.sign_token_input(input.as_bytes());
    format!("{input}.{}", b64u(&sig))
}

/// Who an authenticated request comes from.
#[derive(Debug, Clone)]
pub enum Caller {
    Officer(Arc<Officer>),
    Holder(String),
}

/// Verifies API tokens for one node.
#[derive(Clone)]
pub struct Authenticator {
    audience: String,
    officers: Arc<Officers>,
    store: Store,
    clock: Arc<dyn Clock>,
}

fn unauthorized(code: &'static str, message: &str) -> Error {
    Error::unauthorized(code, message.to_owned())
}

impl Authenticator {
    pub fn new(audience: &str, officers: Arc<Officers>, store: Store, clock: Arc<dyn Clock>) -> Authenticator {
        Authenticator { audience: audience.to_owned(), officers, store, clock }
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// An `Authorization` header value from an officer.
    pub fn officer(&self, authorization: Option<&str>) -> Result<Arc<Officer>> {
        match self.authenticate(authorization)? {
            Caller::Officer(o) => Ok(o),
            Caller::Holder(_) => Err(Error::forbidden("officer_required", "this route is for officers")),
        }
    }

    /// An `Authorization` header value from a holder; returns the holder DID.
    pub fn holder(&self, authorization: Option<&str>) -> Result<String> {
        match self.authenticate(authorization)? {
            Caller::Holder(did) => Ok(did),
            Caller::Officer(_) => Err(Error::forbidden("holder_required", "this route is for holders")),
        }
    }

    /// Verifies a bearer token and consumes its `jti`.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Caller> {
        let header = authorization
            .ok_or_else(|| unauthorized("auth_missing", "an `Authorization: Bearer <EdDSA JWT>` header is required"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("auth_malformed", "the Authorization header must be `Bearer <token>`"))?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthorized("auth_malformed", "the token is too long"));
        }
        let head = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthorized("auth_malformed", "the token is not a compact JWT"))?;
        if head.alg != Algorithm::EdDSA {
            return Err(unauthorized("auth_bad_algorithm", "only EdDSA tokens are accepted"));
        }
        let kid = head.kid.ok_or_else(|| unauthorized("auth_malformed", "the token header has no kid"))?;
        let did = did_of_url(&kid);
        let officer = self.officers.by_did(did).cloned();
        let key = match &officer {
            Some(o) => o.verifying_key(),
            None => ed25519_from_did(did).map_err(|_| {
                unauthorized("auth_unknown_key", "the token's kid is neither an officer of this node nor a holder DID")
            })?,
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        validation.set_audience(&[&self.audience]);
        let data = jsonwebtoken::decode::<TokenClaims>(token, &DecodingKey::from_ed_der(key.as_bytes()), &validation)
            .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                unauthorized("auth_bad_signature", "the token signature does not verify")
            }
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                unauthorized("auth_wrong_audience", "the token's aud is not this node")
            }
            _ => unauthorized("auth_malformed", "the token's claims are missing or ill-typed"),
        })?;
        let c = data.claims;
        if c.iss != did {
            return Err(unauthorized("auth_malformed", "iss must be the DID of the kid"));
        }
        let now = self.clock.now().timestamp();
        if c.iat > now + TOKEN_LEEWAY_SECS {
            return Err(unauthorized("auth_not_yet_valid", "the token's iat is in the future"));
        }
        if c.exp <= c.iat || c.exp - c.iat > MAX_TOKEN_LIFETIME_SECS {
            return Err(unauthorized("auth_lifetime", "tokens must expire within 5 minutes of iat"));
        }
        if c.exp + TOKEN_LEEWAY_SECS < now {
            return Err(unauthorized("auth_expired", "the token has expired"));
        }
        if !(16..=128).contains(&c.jti.len()) || c.jti.chars().any(|ch| ch.is_control()) {
            return Err(unauthorized("auth_malformed", "jti must be 16-128 characters"));
        }
        // Keyed by expiry first so that pruning is a range scan.
        let seen = format!("{:012}|{}|{}", c.exp, c.iss, c.jti);
        if !self.store.insert_new(SEEN_TREE, &seen, &())? {
            return Err(unauthorized("auth_replayed", "this token was already used"));
        }
        Ok(match officer {
            Some(o) => Caller::Officer(o),
            None => Caller::Holder(c.iss),
        })
    }

    /// Forgets the `jti`s of tokens that expired (they are refused on `exp` anyway).
    pub fn prune(&self) -> Result<usize> {
        let cutoff = format!("{:012}|", self.clock.now().timestamp() - TOKEN_LEEWAY_SECS - 1);
        let mut removed = 0;
        loop {
            let batch: Vec<(String, ())> = self.store.scan(SEEN_TREE, "", None, 512)?;
            let stale: Vec<&String> =
                batch.iter().map(|(k, _)| k).take_while(|k| k.as_str() < cutoff.as_str()).collect();
            if stale.is_empty() {
                return Ok(removed);
            }
            for k in &stale {
                self.store.remove::<()>(SEEN_TREE, k)?;
            }
            removed += stale.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OffsetClock;
    use crate::keys::{HolderKey, OfficerPublicKeys, OfficerSigningKey, SOLANA_MAINNET, SealingSecret};

    const AUD: &str = "http://127.0.0.1:8080";

    fn setup() -> (tempfile::TempDir, Authenticator, OfficerSigningKey, Arc<OffsetClock>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sled(dir.path()).unwrap();
        let key = OfficerSigningKey::generate();
        let mut officers = Officers::default();
        officers
            .insert(Officer::new(
                "o1".into(),
                "O".into(),
                OfficerPublicKeys { signing: key.verifying_key(), sealing: SealingSecret::generate().public_key() },
                None,
                false,
                Vec::new(),
            ))
            .unwrap();
        let clock = OffsetClock::new();
        let auth = Authenticator::new(AUD, Arc::new(officers), store, clock.clone());
        (dir, auth, key, clock)
    }

    fn bearer(t: &str) -> String {
        format!("Bearer {t}")
    }

    #[test]
    fn officer_and_holder_tokens_authenticate_once() {
        let (_d, auth, officer, clock) = setup();
        let t = mint_token(&officer, AUD, clock.now(), 60);
        assert_eq!(auth.officer(Some(&bearer(&t))).unwrap().id, "o1");
        assert_eq!(auth.officer(Some(&bearer(&t))).unwrap_err().code, "auth_replayed");
        let h = HolderKey::generate();
        let t = mint_token(&h, AUD, clock.now(), 60);
        assert_eq!(auth.holder(Some(&bearer(&t))).unwrap(), h.did());
        let t = mint_token(&SolanaWallet(&h, SOLANA_MAINNET), AUD, clock.now(), 60);
        assert_eq!(auth.holder(Some(&bearer(&t))).unwrap(), h.did_pkh_solana(SOLANA_MAINNET));
        // A holder is not an officer and vice versa.
        let t = mint_token(&h, AUD, clock.now(), 60);
        assert_eq!(auth.officer(Some(&bearer(&t))).unwrap_err().code, "officer_required");
        let t = mint_token(&officer, AUD, clock.now(), 60);
        assert_eq!(auth.holder(Some(&bearer(&t))).unwrap_err().code, "holder_required");
    }

    #[test]
    fn bad_tokens_are_refused_with_their_reason() {
        let (_d, auth, officer, clock) = setup();
        let now = clock.now();
        let code = |t: &str| auth.authenticate(Some(&bearer(t))).unwrap_err().code;
        assert_eq!(code(&mint_token(&officer, "http://elsewhere", now, 60)), "auth_wrong_audience");
        assert_eq!(code(&mint_token(&officer, AUD, now, 3600)), "auth_lifetime");
        assert_eq!(code(&mint_token(&officer, AUD, now - chrono::Duration::seconds(400), 300)), "auth_expired");
        assert_eq!(code(&mint_token(&officer, AUD, now + chrono::Duration::seconds(120), 60)), "auth_not_yet_valid");
        // Tampered claims break the signature.
        let t = mint_token(&officer, AUD, now, 60);
        let parts: Vec<&str> = t.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&crate::keys::b64u_decode(parts[1]).unwrap()).unwrap();
        claims["exp"] = serde_json::json!(claims["exp"].as_i64().unwrap() + 1);
        let forged = format!("{}.{}.{}", parts[0], b64u(&serde_json::to_vec(&claims).unwrap()), parts[2]);
        assert_eq!(code(&forged), "auth_bad_signature");
        // alg none / HS256 headers are refused before any key is used.
        let none = format!("{}.{}.", b64u(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        assert_eq!(code(&none), "auth_malformed");
        let hs = format!("{}.{}.{}", b64u(br#"{"alg":"HS256","kid":"x"}"#), parts[1], parts[2]);
        assert_eq!(code(&hs), "auth_bad_algorithm");
        assert_eq!(auth.authenticate(None).unwrap_err().code, "auth_missing");
        assert_eq!(auth.authenticate(Some("Basic abc")).unwrap_err().code, "auth_malformed");
        // A token whose kid is some other key's DID but signed by the officer.
        let other = OfficerSigningKey::generate();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(other.verification_method());
        let h = b64u(&serde_json::to_vec(&header).unwrap());
        assert_eq!(code(&format!("{h}.{}.{}", parts[1], parts[2])), "auth_bad_signature");
    }

    #[test]
    fn expired_jtis_are_pruned() {
        let (_d, auth, officer, clock) = setup();
        let t = mint_token(&officer, AUD, clock.now(), 60);
        auth.officer(Some(&bearer(&t))).unwrap();
        assert_eq!(auth.prune().unwrap(), 0);
        clock.advance(chrono::Duration::seconds(200));
        assert_eq!(auth.prune().unwrap(), 1);
    }
}
