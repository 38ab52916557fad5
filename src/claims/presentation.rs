//! The presentation a holder submits: VCDM 2.0 `VerifiablePresentation` shape, unsigned.
//!
//! ```json
//! {
//!   "@context": ["https://www.w3.org/ns/credentials/v2"],
//!   "type": ["VerifiablePresentation"],
//!   "holder": "did:key:z6Mk…",
//!   "verifiableCredential": [ "<VC-JOSE compact JWS>", { …Data Integrity VC… } ]
//! }
//! ```
//!
//! A JOSE credential may also come as a VCDM 2.0 `EnvelopedVerifiableCredential`
//! (`{"type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,<jws>"}`).
//! The presentation carries no proof of its own: the holder signs its SHA-256
//! ([`presentation_digest`], over the bytes exactly as sent) inside the challenge message.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ClaimError;
use crate::credentials::CREDENTIALS_V2_CONTEXT;
use crate::credentials::vc::SecuredCredential;
use crate::keys::ed25519_from_did;

/// Largest presentation accepted (bytes).
pub const MAX_PRESENTATION_BYTES: usize = 256 * 1024;

/// Most credentials in one presentation.
pub const MAX_CREDENTIALS: usize = 16;

/// `sha256:<lowercase hex>` of the bytes.
pub fn presentation_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub(crate) fn is_presentation_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// A holder's presentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presentation {
    /// JSON-LD context; the first is the VCDM 2.0 context.
    #[serde(rename = "@context")]
    pub context: Vec<Value>,
    /// Types; includes `VerifiablePresentation`.
    #[serde(rename = "type")]
    pub types: Vec<String>,
    /// The holder DID.
    pub holder: String,
    /// The presented credentials.
    #[serde(rename = "verifiableCredential")]
    pub verifiable_credential: Vec<SecuredCredential>,
}

/// Accepts `"type": "VerifiablePresentation"` as well as an array.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "@context")]
    context: Value,
    #[serde(rename = "type")]
    types: OneOrMany,
    holder: String,
    #[serde(rename = "verifiableCredential")]
    verifiable_credential: Value,
}

impl Presentation {
    /// A presentation of `credentials` by `holder`.
    pub fn new(holder: &str, credentials: Vec<SecuredCredential>) -> Self {
        Presentation {
            context: vec![Value::String(CREDENTIALS_V2_CONTEXT.into())],
            types: vec!["VerifiablePresentation".into()],
            holder: holder.to_owned(),
            verifiable_credential: credentials,
        }
    }

    /// Serializes to the bytes the holder sends (and signs the digest of).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and checks the shape of a received presentation. Enveloped JOSE credentials are
    /// unwrapped to their JWS.
    pub fn parse(bytes: &[u8]) -> Result<Self, ClaimError> {
        let bad = |m: String| ClaimError::PresentationMalformed(m);
        if bytes.len() > MAX_PRESENTATION_BYTES {
            return Err(bad(format!("larger than {MAX_PRESENTATION_BYTES} bytes")));
        }
        let w: Wire = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let context = match w.context {
            Value::Array(a) => a,
            v => vec![v],
        };
        if context.first().and_then(Value::as_str) != Some(CREDENTIALS_V2_CONTEXT) {
            return Err(bad(format!("the first @context must be {CREDENTIALS_V2_CONTEXT}")));
        }
        let types = match w.types {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(t) => t,
        };
        if !types.iter().any(|t| t == "VerifiablePresentation") {
            return Err(bad("type must include VerifiablePresentation".into()));
        }
        ed25519_from_did(&w.holder)?;
        let items = match w.verifiable_credential {
            Value::Array(a) => a,
            v => vec![v],
        };
        if items.is_empty() || items.len() > MAX_CREDENTIALS {
            return Err(bad(format!("1 to {MAX_CREDENTIALS} credentials are expected")));
        }
        let mut creds = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            creds.push(match item {
                Value::String(s) => SecuredCredential::Jose(s),
                Value::Object(o) => match enveloped_jws(&o) {
                    Some(jws) => SecuredCredential::Jose(jws),
                    None => SecuredCredential::DataIntegrity(o),
                },
                _ => {
                    return Err(bad(format!("credential {i} is neither a JWS nor an object")));
                }
            });
        }
        Ok(Presentation { context, types, holder: w.holder, verifiable_credential: creds })
    }
}

fn enveloped_jws(o: &serde_json::Map<String, Value>) -> Option<String> {
    let is_enveloped = match o.get("type") {
        Some(Value::String(t)) => t == "EnvelopedVerifiableCredential",
        Some(Value::Array(a)) => a.iter().any(|t| t == "EnvelopedVerifiableCredential"),
        _ => false,
    };
    if !is_enveloped {
        return None;
    }
    let id = o.get("id")?.as_str()?;
    id.strip_prefix("data:application/vc+jwt,")
        .or_else(|| id.strip_prefix("data:application/vc-ld+jwt,"))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::HolderKey;
    use serde_json::json;

    #[test]
    fn digest() {
        assert_eq!(presentation_digest(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert!(is_presentation_digest(&presentation_digest(b"x")));
        assert!(!is_presentation_digest("sha256:ABC"));
    }

    #[test]
    fn round_trip_and_forms() {
        let h = HolderKey::generate();
        let mut di = serde_json::Map::new();
        di.insert("proof".into(), json!({}));
        let p = Presentation::new(
            &h.did(),
            vec![SecuredCredential::Jose("a.b.c".into()), SecuredCredential::DataIntegrity(di)],
        );
        let bytes = p.to_bytes();
        let back = Presentation::parse(&bytes).unwrap();
        assert_eq!(back, p);

        let v = json!({
            "@context": CREDENTIALS_V2_CONTEXT,
            "type": "VerifiablePresentation",
            "holder": h.did(),
            "verifiableCredential": {"@context": CREDENTIALS_V2_CONTEXT, "type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,x.y.z"}
        });
        let p = Presentation::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(p.verifiable_credential, vec![SecuredCredential::Jose("x.y.z".into())]);
    }

    #[test]
    fn bad_presentations() {
        let h = HolderKey::generate();
        let cases = [
            "".to_string(),
            "[]".into(),
            json!({"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiablePresentation"], "holder": h.did(), "verifiableCredential": ["a"]}).to_string(),
            json!({"@context": [CREDENTIALS_V2_CONTEXT], "type": ["X"], "holder": h.did(), "verifiableCredential": ["a"]}).to_string(),
            json!({"@context": [CREDENTIALS_V2_CONTEXT], "type": ["VerifiablePresentation"], "holder": h.did(), "verifiableCredential": []}).to_string(),
            json!({"@context": [CREDENTIALS_V2_CONTEXT], "type": ["VerifiablePresentation"], "holder": h.did(), "verifiableCredential": [1]}).to_string(),
            json!({"@context": [CREDENTIALS_V2_CONTEXT], "type": ["VerifiablePresentation"], "holder": h.did(), "verifiableCredential": vec!["a"; 17]}).to_string(),
        ];
        for c in cases {
            assert_eq!(Presentation::parse(c.as_bytes()).unwrap_err().code(), "presentation_malformed", "{c:.100}");
        }
        let web = json!({"@context": [CREDENTIALS_V2_CONTEXT], "type": ["VerifiablePresentation"], "holder": "did:web:x.example", "verifiableCredential": ["a"]});
        assert_eq!(Presentation::parse(web.to_string().as_bytes()).unwrap_err().code(), "holder_did_unsupported");
        assert_eq!(
            Presentation::parse(&vec![b' '; MAX_PRESENTATION_BYTES + 1]).unwrap_err().code(),
            "presentation_malformed"
        );
    }
}
