//! Published key documents: the JWKS and the node's `did:web` DID document.
//!
//! Relying parties verify without calling the node:
//!
//! - `/.well-known/jwks.json` ([`jwks`]) lets any JOSE library verify compliance certificates:
//!   one `OKP`/`Ed25519` key per officer, `kid` = the officer's did:key verification method
//!   URL, which is exactly the `kid` in every certificate and VC-JOSE header.
//! - `/.well-known/did.json` ([`node_did_document`]) is the node as `did:web:<host>`. It lists
//!   each officer key as a `Multikey` verification method in `assertionMethod`, and the
//!   officers' did:keys in `alsoKnownAs`.
//!
//! Why credentials are issued by the officers' `did:key`s and not by the `did:web`: a did:key
//! credential verifies fully offline from the credential alone (no DNS, no TLS, no fetch at
//! verification time, nothing that changes if the node's domain moves), which is what the
//! interop verifiers and ssi's offline resolver need. The `did:web` document adds the missing
//! link, "these officer keys belong to the node at this domain", for relying parties that
//! want it, and the JWKS serves plain-JOSE verifiers.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::keys::{b64u, b64u_decode, did_key, did_key_vm, ed25519_multibase};

/// One JSON Web Key (RFC 7517 / RFC 8037 OKP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// base64url public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Key id: the did:key verification method URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

impl Jwk {
    /// The JWK of an officer's Ed25519 key.
    pub fn ed25519(key: &VerifyingKey) -> Self {
        Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(b64u(key.as_bytes())),
            kid: Some(did_key_vm(key)),
            use_: Some("sig".into()),
            alg: Some("EdDSA".into()),
        }
    }

    /// The Ed25519 key, if this is a usable EdDSA signature key.
    pub fn ed25519_key(&self) -> Option<VerifyingKey> {
        if self.kty != "OKP" || self.crv.as_deref() != Some("Ed25519") {
            return None;
        }
        if self.use_.as_deref().is_some_and(|u| u != "sig") || self.alg.as_deref().is_some_and(|a| a != "EdDSA") {
            return None;
        }
        let raw: [u8; 32] = b64u_decode(self.x.as_deref()?)?.try_into().ok()?;
        VerifyingKey::from_bytes(&raw).ok()
    }
}

/// A JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The Ed25519 key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<VerifyingKey> {
        self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).find_map(Jwk::ed25519_key)
    }
}

/// The JWKS for a set of officer keys (duplicates removed, order kept).
pub fn jwks(officers: &[VerifyingKey]) -> Jwks {
    let mut keys: Vec<Jwk> = Vec::with_capacity(officers.len());
    for k in officers {
        let jwk = Jwk::ed25519(k);
        if !keys.contains(&jwk) {
            keys.push(jwk);
        }
    }
    Jwks { keys }
}

/// Errors building the DID document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidDocumentError {
    /// The host is not a DNS name with an optional port.
    #[error("invalid host for did:web: `{0}`")]
    InvalidHost(String),
}

impl DidDocumentError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        "did_web_invalid_host"
    }
}

/// `did:web:<host>` (a port is percent-encoded as `%3A`).
pub fn did_web(host: &str) -> Result<String, DidDocumentError> {
    let bad = || DidDocumentError::InvalidHost(host.chars().take(100).collect());
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(bad());
    }
    match port {
        None => Ok(format!("did:web:{}", name.to_ascii_lowercase())),
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(format!("did:web:{}%3A{p}", name.to_ascii_lowercase()))
        }
        Some(_) => Err(bad()),
    }
}

/// The node's DID document (`/.well-known/did.json`) for `did:web:<host>`.
pub fn node_did_document(host: &str, officers: &[VerifyingKey]) -> Result<Value, DidDocumentError> {
    let did = did_web(host)?;
    let mut methods = Vec::new();
    let mut refs = Vec::new();
    let mut aka = Vec::new();
    for k in officers {
        let mb = ed25519_multibase(k);
        let id = format!("{did}#{mb}");
        if refs.contains(&Value::String(id.clone())) {
            continue;
        }
        methods.push(json!({
            "id": id,
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": mb,
        }));
        refs.push(Value::String(id));
        aka.push(Value::String(did_key(k)));
    }
    Ok(json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": aka,
        "verificationMethod": methods,
        "assertionMethod": refs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::OfficerSigningKey;

    #[test]
    fn jwks_shape_and_lookup() {
        let a = OfficerSigningKey::generate();
        let b = OfficerSigningKey::generate();
        let set = jwks(&[a.verifying_key(), b.verifying_key(), a.verifying_key()]);
        assert_eq!(set.keys.len(), 2);
        let v = serde_json::to_value(&set).unwrap();
        let k = &v["keys"][0];
        assert_eq!(k["kty"], "OKP");
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["alg"], "EdDSA");
        assert_eq!(k["kid"], a.verification_method());
        assert_eq!(k["x"], b64u(a.verifying_key().as_bytes()));
        let parsed: Jwks = serde_json::from_value(v).unwrap();
        assert_eq!(parsed.find(&b.verification_method()), Some(b.verifying_key()));
        assert_eq!(parsed.find("did:key:nope#nope"), None);
        // ssi reads the same key from our JWK.
        let ssi_jwk: ssi::JWK = serde_json::from_value(serde_json::to_value(&set.keys[0]).unwrap()).unwrap();
        assert_eq!(ssi_jwk, {
            let mut j = ssi::JWK::from(a.verifying_key());
            j.key_id = Some(a.verification_method());
            j.public_key_use = Some("sig".into());
            j.algorithm = Some(ssi::jwk::Algorithm::EdDSA);
            j
        });
    }

    #[test]
    fn jwk_rejects_other_keys() {
        let mut j = Jwk::ed25519(&OfficerSigningKey::generate().verifying_key());
        j.use_ = Some("enc".into());
        assert!(j.ed25519_key().is_none());
        let mut j2 = Jwk::ed25519(&OfficerSigningKey::generate().verifying_key());
        j2.x = Some("AAAA".into());
        assert!(j2.ed25519_key().is_none());
        let j3: Jwk = serde_json::from_value(json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"})).unwrap();
        assert!(j3.ed25519_key().is_none());
    }

    #[test]
    fn did_web_document() {
        let a = OfficerSigningKey::generate();
        let doc = node_did_document("aml.example.org", &[a.verifying_key()]).unwrap();
        assert_eq!(doc["id"], "did:web:aml.example.org");
        let vm = &doc["verificationMethod"][0];
        assert_eq!(vm["type"], "Multikey");
        assert_eq!(vm["controller"], "did:web:aml.example.org");
        let mb = vm["publicKeyMultibase"].as_str().unwrap();
        assert_eq!(crate::keys::ed25519_from_multibase(mb), Some(a.verifying_key()));
        assert_eq!(doc["assertionMethod"][0], vm["id"]);
        assert_eq!(doc["alsoKnownAs"][0], a.did());
        assert_eq!(did_web("localhost:8443").unwrap(), "did:web:localhost%3A8443");
        for bad in ["", "https://x", "a/b", "x:y", "-a.com", "a..b", "a b"] {
            assert!(did_web(bad).is_err(), "{bad}");
        }
    }
}
