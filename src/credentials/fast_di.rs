//! A faster `eddsa-rdfc-2022` for the credential shapes the node signs and sees most, with
//! the same output as ssi's.
//!
//! ssi's Data Integrity signing and verification cost ~1.6 ms each, and most of that is
//! JSON-LD *context processing*: per call, ssi processes the whole VCDM 2.0 context twice (once
//! to expand the credential, once more to expand the proof configuration embedded in a copy of
//! the credential's context). Here:
//!
//! - the credential's context is processed once and kept, keyed by its inline `@vocab`
//!   ([`processed_context`]); the credential is then expanded from that active context (with its
//!   top-level `@context` removed, which is the same as processing it: a context array is
//!   processed item by item onto the active context), turned into RDF and canonicalized
//!   (RDFC-1.0) by the same json-ld/ssi code ssi uses, with the same expansion policy;
//! - the proof configuration, whose terms are all protected definitions of the VCDM 2.0
//!   context (an inline `@vocab` cannot change them), is written as its canonical N-Quads
//!   directly ([`proof_configuration_nquads`]): one blank node, five fixed predicates.
//!
//! The hash (SHA-256 of the canonical proof configuration, then of the canonical credential),
//! the Ed25519 signature and the `proofValue` encoding (multibase base58btc) are those of the
//! cryptosuite. Only this shape takes the fast path: a VCDM 2.0 credential whose `@context` is
//! exactly the v2 context, optionally followed by one inline `{"@vocab": "<IRI>"}`; a proof
//! with only `type`, `cryptosuite`, `created`, `verificationMethod`, `proofPurpose`
//! (`assertionMethod`) and `proofValue`; an Ed25519 `did:key` verification method of the issuer.
//! Anything else, and anything the fast verifier does not accept, goes through ssi unchanged,
//! so the fast path can only shortcut a success that ssi would also report: the tests check
//! that both paths produce the same canonical form and accept each other's proofs.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use ssi::json_ld::expansion::{Action, Options, Policy};
use ssi::json_ld::syntax::TryFromJson;
use ssi::json_ld::{ContextLoader, Expand, Process};
use ssi::rdf::{AnyLdEnvironment, LdEnvironment};

use super::CREDENTIALS_V2_CONTEXT;

/// A processed JSON-LD active context.
type ActiveContext = ssi::json_ld::Context<ssi::json_ld::IriBuf, ssi::json_ld::BlankIdBuf>;

/// Most distinct contexts (inline `@vocab` values) kept processed; others are processed per
/// call (still on the fast path).
const MAX_CACHED_CONTEXTS: usize = 64;

static LOADER: LazyLock<ContextLoader> = LazyLock::new(ContextLoader::default);

static CONTEXTS: LazyLock<Mutex<HashMap<Option<String>, Arc<ActiveContext>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The inline `@vocab` of an eligible `@context` (`Some(None)`: the v2 context alone);
/// `None` when the context is not one the fast path handles.
pub(crate) fn eligible_context(credential: &Map<String, Value>) -> Option<Option<String>> {
    let items = match credential.get("@context")? {
        Value::Array(a) => a.as_slice(),
        v @ Value::String(_) => std::slice::from_ref(v),
        _ => return None,
    };
    match items {
        [Value::String(v2)] if v2 == CREDENTIALS_V2_CONTEXT => Some(None),
        [Value::String(v2), Value::Object(inline)] if v2 == CREDENTIALS_V2_CONTEXT && inline.len() == 1 => {
            match inline.get("@vocab") {
                Some(Value::String(vocab)) if is_plain_iri(vocab) => Some(Some(vocab.clone())),
                _ => None,
            }
        }
        _ => None,
    }
}

/// An absolute IRI made only of characters that need no escaping anywhere (N-Quads, JSON).
fn is_plain_iri(s: &str) -> bool {
    let scheme_ok = s.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    scheme_ok
        && s.len() <= 2048
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#@!$&'()*+,;=%".contains(&b))
}

/// The active context for an eligible `@context`, processed once.
async fn processed_context(vocab: &Option<String>) -> Result<Arc<ActiveContext>, String> {
    if let Some(c) = CONTEXTS.lock().map_err(|_| "context cache poisoned")?.get(vocab) {
        return Ok(c.clone());
    }
    let mut items = vec![Value::String(CREDENTIALS_V2_CONTEXT.into())];
    if let Some(v) = vocab {
        items.push(serde_json::json!({ "@vocab": v }));
    }
    let json = ssi::json_ld::syntax::to_value(Value::Array(items)).map_err(|e| e.to_string())?;
    let context = ssi::json_ld::syntax::context::Context::try_from_json(json).map_err(|e| e.to_string())?;
    let processed = context.process(&mut (), &*LOADER, None).await.map_err(|e| e.to_string())?.into_processed();
    let processed = Arc::new(processed);
    let mut cache = CONTEXTS.lock().map_err(|_| "context cache poisoned")?;
    if cache.len() < MAX_CACHED_CONTEXTS {
        cache.insert(vocab.clone(), processed.clone());
    }
    Ok(processed)
}

/// The canonical N-Quads lines (RDFC-1.0) of an eligible credential without its proof, as
/// ssi's `eddsa-rdfc-2022` transformation computes them.
pub(crate) async fn canonical_credential(
    credential: &Map<String, Value>,
    vocab: &Option<String>,
) -> Result<Vec<String>, String> {
    let active = processed_context(vocab).await?;
    let mut body = Map::with_capacity(credential.len());
    for (k, v) in credential {
        if k != "@context" && k != "proof" {
            body.insert(k.clone(), v.clone());
        }
    }
    let json = ssi::json_ld::syntax::to_value(Value::Object(body)).map_err(|e| e.to_string())?;
    let mut ld = LdEnvironment::default();
    // ssi's expansion policy (`ssi_json_ld::CompactJsonLd::expand_with`).
    let options = Options {
        policy: Policy { invalid: Action::Reject, allow_undefined: false, ..Default::default() },
        ..Default::default()
    };
    let expanded = json
        .expand_full(&mut ld.vocabulary, (*active).clone(), None, &*LOADER, options, ())
        .await
        .map_err(|e| e.to_string())?;
    ld.canonical_form_of(&expanded).map_err(|e| e.to_string())
}

/// `created` values the fast path writes into N-Quads as they are.
fn is_plain_datetime(s: &str) -> bool {
    (10..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit() || b"-:.TZ+".contains(&b))
}

/// The canonical N-Quads lines of the proof configuration (the proof without `proofValue`)
/// of a `DataIntegrityProof` / `eddsa-rdfc-2022` / `assertionMethod` proof under the VCDM 2.0
/// context. `None` when a value is not plain enough to be written without escaping.
pub(crate) fn proof_configuration_nquads(created: Option<&str>, verification_method: &str) -> Option<Vec<String>> {
    if created.is_some_and(|c| !is_plain_datetime(c)) || !is_plain_iri(verification_method) {
        return None;
    }
    let mut lines = vec![
        "_:c14n0 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/security#DataIntegrityProof> .\n"
            .to_owned(),
        "_:c14n0 <https://w3id.org/security#cryptosuite> \"eddsa-rdfc-2022\"^^<https://w3id.org/security#cryptosuiteString> .\n"
            .to_owned(),
        "_:c14n0 <https://w3id.org/security#proofPurpose> <https://w3id.org/security#assertionMethod> .\n".to_owned(),
        format!("_:c14n0 <https://w3id.org/security#verificationMethod> <{verification_method}> .\n"),
    ];
    if let Some(c) = created {
        lines.push(format!(
            "_:c14n0 <http://purl.org/dc/terms/created> \"{c}\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n"
        ));
    }
    lines.sort();
    Some(lines)
}

/// SHA-256(proof configuration) ‖ SHA-256(credential): what the signature covers.
fn hash_data(configuration: &[String], credential: &[String]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let h = configuration.iter().fold(Sha256::new(), |h, l| h.chain_update(l.as_bytes())).finalize();
    out[..32].copy_from_slice(&h);
    let h = credential.iter().fold(Sha256::new(), |h, l| h.chain_update(l.as_bytes())).finalize();
    out[32..].copy_from_slice(&h);
    out
}

/// The Ed25519 key of a `did:key` verification method `did:key:z…#z…` (the fragment must be
/// the key itself), if it is one.
fn did_key_vm_key(verification_method: &str) -> Option<VerifyingKey> {
    let (did, fragment) = verification_method.split_once('#')?;
    let id = did.strip_prefix("did:key:")?;
    if fragment != id {
        return None;
    }
    crate::keys::ed25519_from_multibase(id)
}

/// Signs an eligible credential: returns the `proof` object, or `None` when the credential or
/// key does not fit the fast path (the caller then signs with ssi).
pub(crate) async fn sign(
    credential: &Map<String, Value>,
    key: &SigningKey,
    verification_method: &str,
    created: &str,
) -> Result<Option<Map<String, Value>>, String> {
    let Some(vocab) = eligible_context(credential) else { return Ok(None) };
    if credential.contains_key("proof") || did_key_vm_key(verification_method).is_none_or(|k| k != key.verifying_key())
    {
        return Ok(None);
    }
    let Some(configuration) = proof_configuration_nquads(Some(created), verification_method) else {
        return Ok(None);
    };
    let claims = canonical_credential(credential, &vocab).await?;
    let signature = key.sign(&hash_data(&configuration, &claims));
    let mut proof = Map::new();
    proof.insert("type".into(), "DataIntegrityProof".into());
    proof.insert("cryptosuite".into(), "eddsa-rdfc-2022".into());
    proof.insert("created".into(), created.into());
    proof.insert("verificationMethod".into(), verification_method.into());
    proof.insert("proofPurpose".into(), "assertionMethod".into());
    proof.insert("proofValue".into(), format!("z{}", bs58::encode(signature.to_bytes()).into_string()).into());
    Ok(Some(proof))
}

/// Verifies the proof of an eligible credential. `true` only when the signature verifies;
/// `false` means "not shown valid here" (ineligible shape, JSON-LD error, bad signature), and
/// the caller then verifies with ssi, whose verdict stands.
pub(crate) async fn verify(credential: &Map<String, Value>) -> bool {
    let Some(vocab) = eligible_context(credential) else { return false };
    let Some(Value::Object(proof)) = credential.get("proof") else { return false };
    const KEYS: [&str; 6] = ["type", "cryptosuite", "created", "verificationMethod", "proofPurpose", "proofValue"];
    if !proof.keys().all(|k| KEYS.contains(&k.as_str())) {
        return false;
    }
    let field = |k: &str| proof.get(k).and_then(Value::as_str);
    if field("type") != Some("DataIntegrityProof")
        || field("cryptosuite") != Some("eddsa-rdfc-2022")
        || field("proofPurpose") != Some("assertionMethod")
        || (proof.contains_key("created") && field("created").is_none())
    {
        return false;
    }
    let (Some(vm), Some(value)) = (field("verificationMethod"), field("proofValue")) else { return false };
    let Some(key) = did_key_vm_key(vm) else { return false };
    let Some(signature) = value
        .strip_prefix('z')
        .and_then(|b| bs58::decode(b).into_vec().ok())
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    let Some(configuration) = proof_configuration_nquads(field("created"), vm) else { return false };
    let Ok(claims) = canonical_credential(credential, &vocab).await else { return false };
    key.verify_strict(&hash_data(&configuration, &claims), &ed25519_dalek::Signature::from_bytes(&signature)).is_ok()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use ssi::claims::data_integrity::{AnySuite, DataIntegrity};
    use ssi::claims::vc::v2::JsonCredential;

    use super::*;
    use crate::credentials::vc::{
        AmlCredentialRequest, CredentialFormat, ListVersion, SecuredCredential, StatusEntry, aml_credential_json,
        offline_params, secure_credential, sign_data_integrity_with_ssi, verify_credential,
    };
    use crate::keys::{HolderKey, IssuerKey, OfficerSigningKey};

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// Credentials of the eligible shape, with claims that exercise the JSON-LD to RDF rules.
    fn documents(issuer: &str, holder: &str) -> Vec<Map<String, Value>> {
        let v2 = CREDENTIALS_V2_CONTEXT;
        let vocab = "https://www.w3.org/ns/credentials/undefined-term#";
        let now = Utc::now();
        let aml = aml_credential_json(
            issuer,
            &AmlCredentialRequest {
                id: None,
                node_base_url: "http://127.0.0.1:8080".into(),
                holder_did: holder.into(),
                spec_id: "enhanced-due-diligence".into(),
                spec_version: 3,
                checked_at: now,
                list_versions: vec![
                    ListVersion {
                        name: "b".into(),
                        content_hash: "sha256:00ff".into(),
                        list_date: "2025-05-01".into(),
                    },
                    ListVersion {
                        name: "a".into(),
                        content_hash: "sha256:ff00".into(),
                        list_date: "not stated".into(),
                    },
                ],
                issued_at: now,
                valid_for: chrono::Duration::days(90),
                status: StatusEntry {
                    status_list_credential: "http://127.0.0.1:8080/v1/status/demo-officer/revocation/0".into(),
                    index: 4242,
                },
                // An array of two entries, as the node issues them.
                suspension: Some(StatusEntry {
                    status_list_credential: "http://127.0.0.1:8080/v1/status/o/suspension/0".into(),
                    index: 7,
                }),
            },
        )
        .unwrap()
        .credential;
        vec![
            aml,
            obj(json!({
                "@context": [v2, {"@vocab": vocab}],
                "id": "urn:uuid:6f1c2d3e-0000-4000-8000-000000000001",
                "type": ["VerifiableCredential", "KycCredential"],
                "issuer": issuer,
                "validFrom": "2025-01-01T00:00:00Z",
                "validUntil": "2035-01-01T00:00:00Z",
                "credentialSubject": {
                    "id": holder, "givenName": "Ada", "familyName": "Lovelace", "fullName": "Ada Lovelace",
                    "birthDate": "1815-12-10", "nationality": "GB", "documentNumber": "P1234567", "liveness": true
                }
            })),
            obj(json!({
                "@context": [v2, {"@vocab": vocab}],
                "type": "VerifiableCredential",
                "issuer": {"id": issuer, "name": "KYC \"Provider\" \\ Ltd"},
                "validFrom": "2025-01-01T00:00:00.123Z",
                "credentialSubject": [
                    {
                        "id": holder,
                        "fullName": "Zoë \"Q\" back\\slash\nnew line\ttab 😀 <tag> _:b0 \u{0}",
                        "empty": "",
                        "int": 42, "negative": -7, "fraction": 3.25, "big": 9007199254740993u64,
                        "small": 0.1, "yes": true, "no": false,
                        "address": {"street": "Main St", "number": 5, "geo": {"lat": 52.1, "lon": 4.3}},
                        "tags": ["b", "a", "b"],
                        "docs": [{"kind": "passport", "n": "X1"}, {"kind": "passport", "n": "X1"}, {"kind": "id"}]
                    },
                    {"givenName": "second subject without id"}
                ]
            })),
            obj(json!({
                "@context": v2,
                "type": ["VerifiableCredential"],
                "issuer": issuer,
                "name": "A credential with only v2 terms",
                "description": "no @vocab needed",
                "credentialSubject": {"id": holder}
            })),
            obj(json!({
                "@context": [v2, {"@vocab": "https://aml.example.org/ns#"}],
                "type": ["VerifiableCredential", "AmlCredential"],
                "issuer": issuer,
                "validUntil": "2035-01-01T00:00:00+02:00",
                "credentialSubject": {"id": holder, "nested": [[1, 2], {"k": "v"}], "nothing": null}
            })),
        ]
    }

    async fn ssi_canonical(doc: &Map<String, Value>) -> Vec<String> {
        let c: JsonCredential = serde_json::from_value(Value::Object(doc.clone())).unwrap();
        let mut ld = LdEnvironment::default();
        let expanded = ssi::json_ld::Expandable::expand_with(&c, &mut ld, &ContextLoader::default()).await.unwrap();
        ld.canonical_form_of(&expanded).unwrap()
    }

    async fn ssi_verifies(doc: &Map<String, Value>) -> bool {
        let bytes = serde_json::to_vec(doc).unwrap();
        let di: DataIntegrity<JsonCredential, AnySuite> = ssi::claims::data_integrity::from_json_slice(&bytes).unwrap();
        matches!(di.verify(offline_params(Utc::now())).await, Ok(Ok(())))
    }

    fn tamper(doc: &Map<String, Value>) -> Map<String, Value> {
        let mut t = doc.clone();
        t.insert("validFrom".into(), "2025-01-02T00:00:00Z".into());
        t
    }

    #[tokio::test]
    async fn canonical_form_is_ssis() {
        let issuer = IssuerKey::generate();
        let holder = HolderKey::generate();
        for doc in documents(&issuer.did(), &holder.did()) {
            let vocab = eligible_context(&doc).expect("eligible");
            let fast = canonical_credential(&doc, &vocab).await.unwrap();
            assert_eq!(fast, ssi_canonical(&doc).await, "{}", Value::Object(doc.clone()));
            // Twice: the second time from the cached context.
            assert_eq!(canonical_credential(&doc, &vocab).await.unwrap(), fast);
        }
    }

    #[tokio::test]
    async fn ssi_proofs_verify_fast_and_fast_proofs_verify_in_ssi() {
        let issuer = IssuerKey::generate();
        let holder = HolderKey::generate();
        for doc in documents(&issuer.did(), &holder.did()) {
            let jwk = issuer.to_ssi_jwk();
            let vm = issuer.verification_method();
            let typed: JsonCredential = serde_json::from_value(Value::Object(doc.clone())).unwrap();
            let by_ssi = sign_data_integrity_with_ssi(jwk.clone(), typed, vm.clone()).await.unwrap();
            assert!(verify(&by_ssi).await, "ssi's proof must verify on the fast path");
            assert!(!verify(&tamper(&by_ssi)).await);

            let SecuredCredential::DataIntegrity(fast) =
                secure_credential(issuer.credential_signer(), doc.clone(), CredentialFormat::DataIntegrity)
                    .await
                    .unwrap()
            else {
                panic!("not Data Integrity")
            };
            let proof = fast["proof"].as_object().unwrap();
            assert_eq!(proof["cryptosuite"], "eddsa-rdfc-2022");
            assert_eq!(proof["verificationMethod"], vm.as_str());
            assert!(ssi_verifies(&fast).await, "the fast path's proof must verify in ssi");
            assert!(!ssi_verifies(&tamper(&fast)).await);
            assert!(verify(&fast).await);
            // Same proof as ssi would make, apart from `created` and the signature itself.
            let mut a = by_ssi["proof"].as_object().unwrap().clone();
            let mut b = proof.clone();
            for p in [&mut a, &mut b] {
                p.remove("created");
                p.remove("proofValue");
            }
            assert_eq!(a, b);
        }
    }

    #[tokio::test]
    async fn the_public_verifier_agrees_on_both_paths() {
        let issuer = IssuerKey::generate();
        let holder = HolderKey::generate();
        let now = Utc::now();
        for doc in documents(&issuer.did(), &holder.did()) {
            let c = secure_credential(issuer.credential_signer(), doc, CredentialFormat::DataIntegrity).await.unwrap();
            let SecuredCredential::DataIntegrity(m) = &c else { panic!() };
            let v = verify_credential(&c, now).await.unwrap();
            assert_eq!(v.issuer, issuer.did());
            // A tampered copy is refused with ssi's verdict.
            let bad = SecuredCredential::DataIntegrity(tamper(m));
            assert_eq!(verify_credential(&bad, now).await.unwrap_err().code(), "credential_signature_invalid");
        }
    }

    #[tokio::test]
    async fn dates_are_checked_on_the_fast_path() {
        let issuer = IssuerKey::generate();
        let holder = HolderKey::generate();
        let doc = documents(&issuer.did(), &holder.did()).swap_remove(1);
        let c = secure_credential(issuer.credential_signer(), doc, CredentialFormat::DataIntegrity).await.unwrap();
        let early = chrono::DateTime::parse_from_rfc3339("2024-12-31T23:59:59Z").unwrap().with_timezone(&Utc);
        assert_eq!(verify_credential(&c, early).await.unwrap_err().code(), "credential_not_yet_valid");
        let late = chrono::DateTime::parse_from_rfc3339("2035-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(verify_credential(&c, late).await.unwrap_err().code(), "credential_expired");
    }

    #[tokio::test]
    async fn other_shapes_are_left_to_ssi() {
        let issuer = IssuerKey::generate();
        let holder = HolderKey::generate();
        let mut doc = documents(&issuer.did(), &holder.did()).swap_remove(1);
        let v2 = CREDENTIALS_V2_CONTEXT;
        for ctx in [
            json!([v2, {"@vocab": "https://x.example/#", "@language": "en"}]),
            json!([v2, {"@vocab": "https://x.example/#"}, {"extra": "https://x.example/extra"}]),
            json!([{"@vocab": "https://x.example/#"}, v2]),
            json!([v2, {"@vocab": "not an iri with spaces"}]),
            json!(["https://www.w3.org/2018/credentials/v1"]),
        ] {
            doc.insert("@context".into(), ctx.clone());
            assert!(eligible_context(&doc).is_none(), "{ctx}");
        }
        // A proof with fields the fast path does not handle is not shown valid there.
        let doc = documents(&issuer.did(), &holder.did()).swap_remove(1);
        let SecuredCredential::DataIntegrity(mut signed) =
            secure_credential(issuer.credential_signer(), doc, CredentialFormat::DataIntegrity).await.unwrap()
        else {
            panic!()
        };
        assert!(verify(&signed).await);
        signed["proof"].as_object_mut().unwrap().insert("challenge".into(), "abc".into());
        assert!(!verify(&signed).await);
        // A key that is not the verification method's is refused for signing.
        let other = OfficerSigningKey::generate();
        let d = documents(&issuer.did(), &holder.did()).swap_remove(1);
        assert!(
            sign(&d, other.credential_signer().key, &issuer.verification_method(), "2025-01-01T00:00:00Z")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn numbers_json_syntax_cannot_hold_are_errors_not_panics() {
        // ssi's own path panics on these (`json_syntax::to_value(..).unwrap()`); ours reports.
        let issuer = IssuerKey::generate();
        let holder = HolderKey::generate();
        for n in [json!(12345678901234567890u64), json!(1e21)] {
            let mut doc = documents(&issuer.did(), &holder.did()).swap_remove(1);
            doc["credentialSubject"].as_object_mut().unwrap().insert("n".into(), n.clone());
            let vocab = eligible_context(&doc).unwrap();
            // Must return (Ok or Err), not panic.
            let _ = canonical_credential(&doc, &vocab).await;
        }
    }

    #[test]
    fn proof_configuration_is_canonical() {
        let vm =
            "did:key:z6MkkxwaXCupTLyxzBeG8zSHc4nuo2ErCVUmnu3YsGxTDKxC#z6MkkxwaXCupTLyxzBeG8zSHc4nuo2ErCVUmnu3YsGxTDKxC";
        let lines = proof_configuration_nquads(Some("2025-01-01T00:00:00.000Z"), vm).unwrap();
        assert_eq!(lines.len(), 5);
        assert!(lines.windows(2).all(|w| w[0] < w[1]));
        assert!(lines[0].starts_with("_:c14n0 <http://purl.org/dc/terms/created> \"2025-01-01T00:00:00.000Z\""));
        assert!(proof_configuration_nquads(Some("2025\" ."), vm).is_none());
        assert!(proof_configuration_nquads(None, "did:key:z6Mk> <x").is_none());
    }
}
