//! The AML credential, and offline verification of VCDM 2.0 credentials in both forms.
//!
//! # The AML credential
//!
//! ```json
//! {
//!   "@context": ["https://www.w3.org/ns/credentials/v2", {"@vocab": "https://node.example/ns#"}],
//!   "id": "urn:uuid:…",
//!   "type": ["VerifiableCredential", "AmlCredential"],
//!   "issuer": "did:key:z6Mk…",                       // the officer
//!   "validFrom": "…Z", "validUntil": "…Z",             // whole seconds
//!   "credentialSubject": {
//!     "id": "<holder DID>", "specId": "…", "specVersion": 3, "result": "passed",
//!     "checkedAt": "…Z", "listVersions": [{"name": "…", "contentHash": "…", "listDate": "…"}]
//!   },
//!   "credentialStatus": {
//!     "id": "<list URL>#<index>", "type": "BitstringStatusListEntry",
//!     "statusPurpose": "revocation", "statusListIndex": "42", "statusListCredential": "<list URL>"
//!   }
//! }
//! ```
//!
//! It holds no PII. The inline `@vocab` object is required: the v2 context (ssi's bundled
//! copy, and the W3C's final one that Digital Bazaar ships) defines no `@vocab`, so without
//! it our terms do not expand and ssi refuses to sign; with it both ssi and Digital Bazaar's
//! stack produce the same canonical N-Quads (checked by `tests/interop.rs`). `validFrom` is backdated by
//! [`CLOCK_SKEW_SECS`] because ssi's verifier has no leeway.
//!
//! # Two securing forms ([`CredentialFormat`])
//!
//! - **Data Integrity**, `eddsa-rdfc-2022`, `proofPurpose: assertionMethod`,
//!   `verificationMethod` = the officer's did:key URL. Self-contained JSON; ~1.5 ms per sign
//!   or verify (JSON-LD canonicalization).
//! - **VC-JOSE**: a compact JWS over the same JSON, header
//!   `{alg: EdDSA, kid: <did:key URL>, typ: vc+jwt, cty: vc}` (ssi writes the draft
//!   `vc-ld+jwt`; we set the final value). ~0.1 ms per operation.
//!
//! # Verification ([`verify_credential`])
//!
//! Offline only: the issuer must be a `did:key` or `did:jwk` (anything else is
//! [`VerifyError::IssuerUnsupported`]). On top of what ssi checks (signature, `validFrom`,
//! `validUntil`) it requires that the signing key belongs to the `issuer` (ssi does not check
//! this), pins `alg` to EdDSA and the cryptosuite to `eddsa-rdfc-2022`, requires exactly one
//! proof with `proofPurpose: assertionMethod`, and accepts for Data Integrity only the v2
//! context plus inline context objects (a remote context cannot be loaded offline). It does
//! **not** check `credentialStatus` or the subject; callers do.

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use ssi::claims::data_integrity::suites::EdDsaRdfc2022;
use ssi::claims::data_integrity::{AnySuite, CryptographicSuite, DataIntegrity, ProofOptions};
use ssi::claims::vc::v2::JsonCredential;
use ssi::claims::vc_jose_cose::JoseVc;
use ssi::claims::{Invalid, InvalidClaims, JwsPayload, JwsSlice, ProofValidationError};
use ssi::dids::{DIDJWK, DIDKey, DIDResolver};
use ssi::verification_methods::{AnyMethod, Multikey, SingleSecretSigner};

use super::{CREDENTIALS_V2_CONTEXT, rfc3339, urn_uuid, whole_seconds};
use crate::keys::{Ed25519Signer, OfficerSigningKey, did_of_url, ed25519_ssi_jwk};

/// `validFrom` is set this many seconds before the issuing time.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// Largest credential accepted for verification (bytes of JSON or JWS).
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

/// The credential type of the AML credential.
pub const AML_CREDENTIAL_TYPE: &str = "AmlCredential";

/// How a credential is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialFormat {
    /// Embedded Data Integrity proof, cryptosuite `eddsa-rdfc-2022`.
    DataIntegrity,
    /// VC-JOSE: compact JWS (`typ: vc+jwt`).
    Jose,
}

/// A secured credential: a compact JWS string, or a JSON object with an embedded proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecuredCredential {
    /// VC-JOSE compact JWS.
    Jose(String),
    /// Data Integrity JSON object.
    DataIntegrity(Map<String, Value>),
}

impl SecuredCredential {
    /// The form.
    pub fn format(&self) -> CredentialFormat {
        match self {
            SecuredCredential::Jose(_) => CredentialFormat::Jose,
            SecuredCredential::DataIntegrity(_) => CredentialFormat::DataIntegrity,
        }
    }

    /// As JSON (a string for JOSE, an object for Data Integrity).
    pub fn to_json(&self) -> Value {
        match self {
            SecuredCredential::Jose(s) => Value::String(s.clone()),
            SecuredCredential::DataIntegrity(m) => Value::Object(m.clone()),
        }
    }
}

/// Issuance errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The request is not usable (bad URL, empty id, bad DID, …).
    #[error("invalid credential request: {0}")]
    InvalidInput(String),
    /// ssi could not sign (JSON-LD expansion failure, …).
    #[error("signing failed: {0}")]
    Signing(String),
}

impl CredentialError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::InvalidInput(_) => "credential_invalid_input",
            CredentialError::Signing(_) => "credential_signing_failed",
        }
    }
}

/// Why a credential did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a well-formed VCDM 2.0 credential of a supported shape.
    #[error("malformed credential: {0}")]
    Malformed(String),
    /// A JSON-LD context that cannot be processed offline.
    #[error("unsupported JSON-LD context: {0}")]
    ContextUnsupported(String),
    /// The issuer is not a did:key / did:jwk.
    #[error("unsupported issuer DID method: {0}")]
    IssuerUnsupported(String),
    /// The signature does not verify, or the key does not belong to the issuer.
    #[error("invalid signature: {0}")]
    SignatureInvalid(String),
    /// `validUntil` has passed.
    #[error("credential expired at {0}")]
    Expired(String),
    /// `validFrom` is in the future.
    #[error("credential not valid before {0}")]
    NotYetValid(String),
}

impl VerifyError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "credential_malformed",
            VerifyError::ContextUnsupported(_) => "credential_context_unsupported",
            VerifyError::IssuerUnsupported(_) => "credential_issuer_unsupported",
            VerifyError::SignatureInvalid(_) => "credential_signature_invalid",
            VerifyError::Expired(_) => "credential_expired",
            VerifyError::NotYetValid(_) => "credential_not_yet_valid",
        }
    }
}

/// A credential that verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCredential {
    /// The form it came in.
    pub format: CredentialFormat,
    /// Issuer DID.
    pub issuer: String,
    /// The verification method (DID URL) that signed it.
    pub verification_method: String,
    /// The credential JSON without `proof` (for JOSE: the JWS payload).
    pub credential: Map<String, Value>,
    /// `validFrom`, if present.
    pub valid_from: Option<DateTime<Utc>>,
    /// `validUntil`, if present.
    pub valid_until: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/// JWS payload with the final VC-JOSE media types.
struct VcJwt<'a>(&'a Map<String, Value>);

impl JwsPayload for VcJwt<'_> {
    fn typ(&self) -> Option<&str> {
        Some("vc+jwt")
    }

    fn cty(&self) -> Option<&str> {
        Some("vc")
    }

    fn payload_bytes(&self) -> Cow<'_, [u8]> {
        // Serializing a map with string keys cannot fail.
        Cow::Owned(serde_json::to_vec(self.0).unwrap_or_default())
    }
}

/// Checks with ssi that a credential has the VCDM 2.0 shape.
pub(crate) fn check_vcdm_shape(credential: &Map<String, Value>) -> Result<JsonCredential, CredentialError> {
    JsonCredential::deserialize(credential).map_err(|e| CredentialError::InvalidInput(e.to_string()))
}

/// Secures an unsigned credential with an Ed25519 key under its verification method.
///
/// The credential must have the VCDM 2.0 shape: callers that build it from outside input
/// check it first ([`check_vcdm_shape`]). The node's own credentials come from templates
/// whose shape the tests check, so issuance does not pay for the check (a fifth of signing).
pub(crate) async fn secure_credential(
    signer: Ed25519Signer<'_>,
    credential: Map<String, Value>,
    format: CredentialFormat,
) -> Result<SecuredCredential, CredentialError> {
    match format {
        CredentialFormat::Jose => {
            let jws = VcJwt(&credential).sign(signer).await.map_err(|e| CredentialError::Signing(e.to_string()))?;
            Ok(SecuredCredential::Jose(jws.into_string()))
        }
        CredentialFormat::DataIntegrity => {
            // The fast path (same proof as ssi's; see `fast_di`), else ssi.
            let created = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            if let Ok(Some(proof)) = super::fast_di::sign(&credential, signer.key, signer.vm, &created).await {
                let mut signed = credential;
                signed.insert("proof".into(), Value::Object(proof));
                return Ok(SecuredCredential::DataIntegrity(signed));
            }
            let cred = check_vcdm_shape(&credential)?;
            sign_data_integrity_with_ssi(ed25519_ssi_jwk(signer.key), cred, signer.vm.to_owned())
                .await
                .map(SecuredCredential::DataIntegrity)
        }
    }
}

/// eddsa-rdfc-2022 by ssi itself (the general path; `fast_di` must agree with it).
pub(crate) async fn sign_data_integrity_with_ssi(
    jwk: ssi::JWK,
    cred: JsonCredential,
    vm: String,
) -> Result<Map<String, Value>, CredentialError> {
    let vm_iri = ssi::dids::DIDURLBuf::from_string(vm).map_err(|e| CredentialError::Signing(e.to_string()))?;
    let resolver = DIDKey.into_vm_resolver::<Multikey>();
    let signed = EdDsaRdfc2022
        .sign(cred, &resolver, SingleSecretSigner::new(jwk), ProofOptions::from_method(vm_iri.into_iri().into()))
        .await
        .map_err(|e| CredentialError::Signing(e.to_string()))?;
    match serde_json::to_value(&signed) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CredentialError::Signing("not a JSON object".into())),
        Err(e) => Err(CredentialError::Signing(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// The AML credential
// ---------------------------------------------------------------------------------------------

/// One watchlist snapshot the check ran against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListVersion {
    /// List name, e.g. `us_ofac_sdn`.
    pub name: String,
    /// Content hash of the loaded list, e.g. `sha256:…`.
    pub content_hash: String,
    /// Publication date of the list as the source states it.
    pub list_date: String,
}

/// A Bitstring Status List position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// URL of the `BitstringStatusListCredential`.
    pub status_list_credential: String,
    /// Index in the list.
    pub index: u64,
}

impl StatusEntry {
    /// The `BitstringStatusListEntry` JSON (purpose revocation), with an `id`.
    pub fn to_json(&self) -> Value {
        self.to_json_for(super::StatusPurpose::Revocation)
    }

    /// The entry JSON for a purpose.
    pub fn to_json_for(&self, purpose: super::StatusPurpose) -> Value {
        json!({
            "id": format!("{}#{}", self.status_list_credential, self.index),
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose.as_str(),
            "statusListIndex": self.index.to_string(),
            "statusListCredential": self.status_list_credential,
        })
    }
}

/// What goes into an AML credential.
#[derive(Debug, Clone)]
pub struct AmlCredentialRequest {
    /// Credential id; `None` -> a fresh `urn:uuid:`.
    pub id: Option<String>,
    /// The node's base URL (`https://node.example`); the `@vocab` is `<base>/ns#`.
    pub node_base_url: String,
    /// The holder's DID (credential subject).
    pub holder_did: String,
    /// Credential spec id.
    pub spec_id: String,
    /// Credential spec version.
    pub spec_version: u32,
    /// When the screening ran.
    pub checked_at: DateTime<Utc>,
    /// The list snapshots screened against.
    pub list_versions: Vec<ListVersion>,
    /// Issuing time (`validFrom` = this − [`CLOCK_SKEW_SECS`]).
    pub issued_at: DateTime<Utc>,
    /// Validity (`validUntil` = `issued_at` + this).
    pub valid_for: Duration,
    /// Revocation entry.
    pub status: StatusEntry,
    /// Suspension entry (a credential under review is suspended, not revoked), if any.
    pub suspension: Option<StatusEntry>,
}

/// An issued AML credential.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedAmlCredential {
    /// Credential id.
    pub id: String,
    /// The secured credential.
    pub credential: SecuredCredential,
    /// `validFrom`.
    pub valid_from: DateTime<Utc>,
    /// `validUntil`.
    pub valid_until: DateTime<Utc>,
}

/// The `@vocab` IRI for a node base URL.
pub fn vocab_for(node_base_url: &str) -> Result<String, CredentialError> {
    let base = node_base_url.trim_end_matches('/');
    let rest = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .ok_or_else(|| CredentialError::InvalidInput("node base URL must be http(s)".into()))?;
    if rest.is_empty() || rest.contains(['#', '?', ' ', '"', '<', '>', '\\']) || rest.chars().any(char::is_control) {
        return Err(CredentialError::InvalidInput(format!("bad node base URL `{node_base_url}`")));
    }
    Ok(format!("{base}/ns#"))
}

fn non_empty(field: &str, v: &str) -> Result<(), CredentialError> {
    if v.trim().is_empty() {
        return Err(CredentialError::InvalidInput(format!("{field} is empty")));
    }
    Ok(())
}

/// An AML credential before securing.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsignedAmlCredential {
    /// Credential id.
    pub id: String,
    /// The credential JSON.
    pub credential: Map<String, Value>,
    /// `validFrom`.
    pub valid_from: DateTime<Utc>,
    /// `validUntil`.
    pub valid_until: DateTime<Utc>,
}

/// Builds the unsigned AML credential JSON (exposed for inspection and tests).
pub fn aml_credential_json(
    issuer_did: &str,
    req: &AmlCredentialRequest,
) -> Result<UnsignedAmlCredential, CredentialError> {
    let vocab = vocab_for(&req.node_base_url)?;
    non_empty("holder DID", &req.holder_did)?;
    if !req.holder_did.starts_with("did:") {
        return Err(CredentialError::InvalidInput("holder must be a DID".into()));
    }
    non_empty("spec id", &req.spec_id)?;
    non_empty("status list URL", &req.status.status_list_credential)?;
    if req.valid_for <= Duration::zero() {
        return Err(CredentialError::InvalidInput("validity must be positive".into()));
    }
    let id = match &req.id {
        Some(id) => {
            non_empty("credential id", id)?;
            id.clone()
        }
        None => urn_uuid(),
    };
    let issued = whole_seconds(req.issued_at);
    let valid_from = issued - Duration::seconds(CLOCK_SKEW_SECS);
    let valid_until = issued
        .checked_add_signed(req.valid_for)
        .map(whole_seconds)
        .ok_or_else(|| CredentialError::InvalidInput("validity too long".into()))?;
    let v = json!({
        "@context": [CREDENTIALS_V2_CONTEXT, {"@vocab": vocab}],
        "id": id,
        "type": ["VerifiableCredential", AML_CREDENTIAL_TYPE],
        "issuer": issuer_did,
        "validFrom": rfc3339(valid_from),
        "validUntil": rfc3339(valid_until),
        "credentialSubject": {
            "id": req.holder_did,
            "specId": req.spec_id,
            "specVersion": req.spec_version,
            "result": "passed",
            "checkedAt": rfc3339(whole_seconds(req.checked_at)),
            "listVersions": req.list_versions,
        },
        "credentialStatus": match &req.suspension {
            None => req.status.to_json(),
            Some(s) => json!([req.status.to_json(), s.to_json_for(super::StatusPurpose::Suspension)]),
        },
    });
    match v {
        Value::Object(credential) => Ok(UnsignedAmlCredential { id, credential, valid_from, valid_until }),
        _ => Err(CredentialError::InvalidInput("not an object".into())),
    }
}

/// Issues an AML credential signed by the officer, in the chosen form.
pub async fn issue_aml_credential(
    officer: &OfficerSigningKey,
    req: &AmlCredentialRequest,
    format: CredentialFormat,
) -> Result<IssuedAmlCredential, CredentialError> {
    let u = aml_credential_json(&officer.did(), req)?;
    let credential = secure_credential(officer.credential_signer(), u.credential, format).await?;
    Ok(IssuedAmlCredential { id: u.id, credential, valid_from: u.valid_from, valid_until: u.valid_until })
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

fn issuer_id(cred: &Map<String, Value>) -> Result<String, VerifyError> {
    match cred.get("issuer") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Object(o)) => match o.get("id") {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(VerifyError::Malformed("issuer object without id".into())),
        },
        _ => Err(VerifyError::Malformed("missing issuer".into())),
    }
}

fn check_issuer_method(issuer: &str) -> Result<(), VerifyError> {
    if issuer.starts_with("did:key:") || issuer.starts_with("did:jwk:") {
        Ok(())
    } else {
        Err(VerifyError::IssuerUnsupported(format!(
            "`{}` (only did:key and did:jwk are resolved offline)",
            issuer.chars().take(100).collect::<String>()
        )))
    }
}

fn refs_remote_context(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.iter().any(|(k, v)| {
            ((k == "@context" || k == "@import")
                && match v {
                    Value::String(_) => true,
                    Value::Array(a) => a.iter().any(|x| x.is_string()),
                    _ => false,
                })
                || refs_remote_context(v)
        }),
        Value::Array(a) => a.iter().any(refs_remote_context),
        _ => false,
    }
}

/// Checks `@context`: first the v2 context; with `offline_jsonld`, the rest must be inline
/// objects that load nothing remote.
pub(crate) fn check_context(cred: &Map<String, Value>, offline_jsonld: bool) -> Result<(), VerifyError> {
    let ctx = cred.get("@context").ok_or_else(|| VerifyError::Malformed("missing @context".into()))?;
    let items: Vec<&Value> = match ctx {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    match items.first() {
        Some(Value::String(s)) if s == CREDENTIALS_V2_CONTEXT => {}
        _ => {
            return Err(VerifyError::Malformed(format!(
                "the first @context must be {CREDENTIALS_V2_CONTEXT} (VCDM 2.0)"
            )));
        }
    }
    if offline_jsonld {
        for item in &items[1..] {
            match item {
                Value::Object(_) if !refs_remote_context(item) => {}
                Value::String(s) => {
                    return Err(VerifyError::ContextUnsupported(format!(
                        "`{}` cannot be loaded offline; use the v2 context with an inline {{\"@vocab\": …}}",
                        s.chars().take(200).collect::<String>()
                    )));
                }
                _ => {
                    return Err(VerifyError::ContextUnsupported("inline context referencing a remote context".into()));
                }
            }
        }
    }
    Ok(())
}

fn parse_date(cred: &Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>, VerifyError> {
    match cred.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| VerifyError::Malformed(format!("{field} is not an RFC 3339 date-time"))),
        Some(_) => Err(VerifyError::Malformed(format!("{field} is not a string"))),
    }
}

fn map_ssi_result(r: Result<Result<(), Invalid>, ProofValidationError>) -> Result<(), VerifyError> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(Invalid::Claims(InvalidClaims::Expired { valid_until, .. }))) => {
            Err(VerifyError::Expired(rfc3339(valid_until)))
        }
        Ok(Err(Invalid::Claims(InvalidClaims::Premature { valid_from, .. }))) => {
            Err(VerifyError::NotYetValid(rfc3339(valid_from)))
        }
        Ok(Err(Invalid::Claims(c))) => Err(VerifyError::Malformed(c.to_string())),
        Ok(Err(Invalid::Proof(p))) => Err(VerifyError::SignatureInvalid(p.to_string())),
        Err(ProofValidationError::Preparation(p)) => {
            let msg = p.to_string();
            if msg.contains("context") || msg.contains("loading document") {
                Err(VerifyError::ContextUnsupported(msg))
            } else {
                Err(VerifyError::Malformed(msg))
            }
        }
        Err(e) => Err(VerifyError::SignatureInvalid(e.to_string())),
    }
}

/// ssi's resolver for the issuer DIDs accepted offline (did:key, did:jwk).
type OfflineResolver = ssi::dids::VerificationMethodDIDResolver<(DIDKey, DIDJWK), AnyMethod>;

fn offline_resolver() -> OfflineResolver {
    (DIDKey, DIDJWK).into_vm_resolver::<AnyMethod>()
}

pub(crate) fn offline_params(now: DateTime<Utc>) -> ssi::claims::VerificationParameters<OfflineResolver> {
    ssi::claims::VerificationParameters::from_resolver(offline_resolver()).with_date_time(now)
}

/// The public keys of the `kid`s VC-JOSE credentials named, for ssi's verification.
///
/// A did:key or did:jwk document is a pure function of its DID, so the JWK a `kid` resolves to
/// never changes: resolving it again (building the DID document, picking the method, turning
/// it into a JWK) was a quarter of ssi's verification. ssi still checks the signature, and the
/// key still comes from ssi's own resolver the first time. Issuer DIDs are chosen by clients:
/// the table is emptied when it holds [`IssuerKeyCache::CAPACITY`] keys, so it cannot grow
/// without bound.
struct IssuerKeyCache {
    keys: std::sync::RwLock<rustc_hash::FxHashMap<String, ssi::jwk::JWK>>,
}

impl IssuerKeyCache {
    const CAPACITY: usize = 4096;

    fn shared() -> &'static IssuerKeyCache {
        static CACHE: std::sync::LazyLock<IssuerKeyCache> =
            std::sync::LazyLock::new(|| IssuerKeyCache { keys: Default::default() });
        &CACHE
    }

    fn cached(&self, kid: &str) -> Option<ssi::jwk::JWK> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    fn keep(&self, kid: &str, jwk: &ssi::jwk::JWK) {
        if let Ok(mut keys) = self.keys.write() {
            if keys.len() >= Self::CAPACITY {
                keys.clear();
            }
            keys.insert(kid.to_owned(), jwk.clone());
        }
    }
}

/// ssi's offline resolver, through [`IssuerKeyCache`].
struct CachedIssuerKeys(OfflineResolver);

impl ssi::jwk::JWKResolver for CachedIssuerKeys {
    async fn fetch_public_jwk(&'_ self, key_id: Option<&str>) -> Result<Cow<'_, ssi::jwk::JWK>, ProofValidationError> {
        let Some(kid) = key_id else { return self.0.fetch_public_jwk(None).await };
        let cache = IssuerKeyCache::shared();
        if let Some(jwk) = cache.cached(kid) {
            return Ok(Cow::Owned(jwk));
        }
        let jwk = self.0.fetch_public_jwk(Some(kid)).await?;
        cache.keep(kid, &jwk);
        Ok(jwk)
    }
}

/// Verifies a VCDM 2.0 credential in either form, offline, at time `now`.
pub async fn verify_credential(
    credential: &SecuredCredential,
    now: DateTime<Utc>,
) -> Result<VerifiedCredential, VerifyError> {
    match credential {
        SecuredCredential::Jose(jws) => verify_jose(jws, now).await,
        SecuredCredential::DataIntegrity(obj) => verify_data_integrity(obj, now).await,
    }
}

async fn verify_jose(jws: &str, now: DateTime<Utc>) -> Result<VerifiedCredential, VerifyError> {
    let jws = jws.trim();
    if jws.len() > MAX_CREDENTIAL_BYTES {
        return Err(VerifyError::Malformed("credential too large".into()));
    }
    let slice = JwsSlice::new(jws.as_bytes()).map_err(|_| VerifyError::Malformed("not a compact JWS".into()))?;
    // The payload as sent, as a JSON object, checked before ssi reads it.
    let payload_b64 = jws.split('.').nth(1).ok_or_else(|| VerifyError::Malformed("not a compact JWS".into()))?;
    let payload = crate::keys::b64u_decode(payload_b64)
        .ok_or_else(|| VerifyError::Malformed("payload is not base64url".into()))?;
    let cred: Map<String, Value> =
        serde_json::from_slice(&payload).map_err(|_| VerifyError::Malformed("payload is not a JSON object".into()))?;
    check_numbers(&cred)?;
    let decoded = JoseVc::<JsonCredential>::decode(slice)
        .map_err(|e| VerifyError::Malformed(format!("not a VC-JOSE credential: {e}")))?;
    let header = &decoded.signing_bytes.header;
    if header.algorithm != ssi::jwk::Algorithm::EdDSA {
        return Err(VerifyError::SignatureInvalid(format!("alg {} is not EdDSA", header.algorithm)));
    }
    if let Some(typ) = header.type_.as_deref()
        && typ != "vc+jwt"
        && typ != "vc-ld+jwt"
    {
        return Err(VerifyError::Malformed(format!("typ `{typ}` is not vc+jwt")));
    }
    let kid = header.key_id.clone().ok_or_else(|| VerifyError::Malformed("JWS header has no kid".into()))?;
    check_context(&cred, false)?;
    let issuer = issuer_id(&cred)?;
    check_issuer_method(&issuer)?;
    if did_of_url(&kid) != issuer || !kid.contains('#') {
        return Err(VerifyError::SignatureInvalid("the JWS kid is not a key of the issuer".into()));
    }
    let valid_from = parse_date(&cred, "validFrom")?;
    let valid_until = parse_date(&cred, "validUntil")?;
    let params =
        ssi::claims::VerificationParameters::from_resolver(CachedIssuerKeys(offline_resolver())).with_date_time(now);
    map_ssi_result(decoded.verify(params).await)?;
    Ok(VerifiedCredential {
        format: CredentialFormat::Jose,
        issuer,
        verification_method: kid,
        credential: cred,
        valid_from,
        valid_until,
    })
}

async fn verify_data_integrity(
    obj: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<VerifiedCredential, VerifyError> {
    let bytes = serde_json::to_vec(obj).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if bytes.len() > MAX_CREDENTIAL_BYTES {
        return Err(VerifyError::Malformed("credential too large".into()));
    }
    check_numbers(obj)?;
    check_context(obj, true)?;
    let issuer = issuer_id(obj)?;
    check_issuer_method(&issuer)?;
    let proof = match obj.get("proof") {
        Some(Value::Object(p)) => p,
        Some(Value::Array(a)) if a.len() == 1 => match &a[0] {
            Value::Object(p) => p,
            _ => return Err(VerifyError::Malformed("proof is not an object".into())),
        },
        Some(Value::Array(_)) => {
            return Err(VerifyError::Malformed("exactly one proof is expected".into()));
        }
        _ => return Err(VerifyError::Malformed("missing proof".into())),
    };
    let field = |k: &str| proof.get(k).and_then(Value::as_str);
    if field("type") != Some("DataIntegrityProof") || field("cryptosuite") != Some("eddsa-rdfc-2022") {
        return Err(VerifyError::Malformed(
            "the proof must be a DataIntegrityProof with cryptosuite eddsa-rdfc-2022".into(),
        ));
    }
    if field("proofPurpose") != Some("assertionMethod") {
        return Err(VerifyError::Malformed("proofPurpose must be assertionMethod".into()));
    }
    let vm = field("verificationMethod")
        .ok_or_else(|| VerifyError::Malformed("proof has no verificationMethod".into()))?
        .to_owned();
    if did_of_url(&vm) != issuer || !vm.contains('#') {
        return Err(VerifyError::SignatureInvalid("the proof's verification method is not a key of the issuer".into()));
    }
    let valid_from = parse_date(obj, "validFrom")?;
    let valid_until = parse_date(obj, "validUntil")?;
    let di: DataIntegrity<JsonCredential, AnySuite> =
        ssi::claims::data_integrity::from_json_slice(&bytes).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if super::fast_di::verify(obj).await {
        // The signature is good; the dates as ssi checks them (claims before proof).
        if let Some(from) = valid_from
            && from > now
        {
            return Err(VerifyError::NotYetValid(rfc3339(from)));
        }
        if let Some(until) = valid_until
            && now >= until
        {
            return Err(VerifyError::Expired(rfc3339(until)));
        }
    } else {
        // Not shown valid by the fast path: ssi decides (and names the error).
        map_ssi_result(di.verify(offline_params(now)).await)?;
    }
    let mut credential = obj.clone();
    credential.remove("proof");
    Ok(VerifiedCredential {
        format: CredentialFormat::DataIntegrity,
        issuer,
        verification_method: vm,
        credential,
        valid_from,
        valid_until,
    })
}

/// Refuses numbers that ssi's JSON-LD conversion (json-syntax) cannot hold, on which it panics:
/// integers beyond the 64-bit signed range and numbers whose shortest form needs an exponent
/// (`1e21`). A credential carrying one is malformed input, refused before ssi sees it.
fn check_numbers(obj: &Map<String, Value>) -> Result<(), VerifyError> {
    fn walk(v: &Value) -> Result<(), VerifyError> {
        match v {
            Value::Number(n) => {
                let ok = n.is_i64()
                    || (n.is_f64() && n.as_f64().is_some_and(f64::is_finite) && !n.to_string().contains(['e', 'E']));
                if ok {
                    Ok(())
                } else {
                    Err(VerifyError::Malformed(format!(
                        "the number {n} cannot be processed exactly; write it as a string"
                    )))
                }
            }
            Value::Array(a) => a.iter().try_for_each(walk),
            Value::Object(o) => o.values().try_for_each(walk),
            _ => Ok(()),
        }
    }
    obj.values().try_for_each(walk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_json_ld_cannot_hold_are_malformed() {
        let with = |v: Value| {
            let mut m = Map::new();
            m.insert("credentialSubject".into(), json!({"score": [v]}));
            check_numbers(&m)
        };
        for ok in [json!(0), json!(-42), json!(9007199254740993u64), json!(i64::MIN), json!(1.5), json!(-0.25)] {
            assert_eq!(with(ok.clone()), Ok(()), "{ok}");
        }
        let huge: Value = serde_json::from_str("12345678901234567890").unwrap();
        let exp: Value = serde_json::from_str("1e21").unwrap();
        for bad in [huge, exp, json!(i64::MAX as u64 + 1), json!(1e-7)] {
            assert!(matches!(with(bad.clone()), Err(VerifyError::Malformed(_))), "{bad}");
        }
    }

    pub(crate) fn request(now: DateTime<Utc>) -> AmlCredentialRequest {
        AmlCredentialRequest {
            id: None,
            node_base_url: "https://aml.example.org".into(),
            holder_did: crate::keys::HolderKey::generate().did(),
            spec_id: "basic-aml".into(),
            spec_version: 3,
            checked_at: now,
            list_versions: vec![ListVersion {
                name: "us_ofac_sdn".into(),
                content_hash: "sha256:00ff".into(),
                list_date: "2025-05-01".into(),
            }],
            issued_at: now,
            valid_for: Duration::days(30),
            status: StatusEntry {
                status_list_credential: "https://aml.example.org/status/1/revocation".into(),
                index: 42,
            },
            suspension: None,
        }
    }

    #[test]
    fn every_aml_credential_has_the_vcdm_shape() {
        // Issuance signs the template without checking it (see `secure_credential`).
        let now = Utc::now();
        let mut variants = vec![request(now)];
        let mut r = request(now);
        r.node_base_url = "http://127.0.0.1:18080".into();
        r.id = Some("urn:uuid:0190a0b0-0000-7000-8000-000000000001".into());
        r.list_versions.push(ListVersion {
            name: "demo".into(),
            content_hash: "sha256:ab".into(),
            list_date: "not stated".into(),
        });
        r.suspension = Some(StatusEntry {
            status_list_credential: "http://127.0.0.1:18080/v1/status/o/suspension/0".into(),
            index: 7,
        });
        variants.push(r);
        let mut r = request(now);
        r.list_versions.clear();
        variants.push(r);
        for r in &variants {
            let cred = aml_credential_json("did:key:z6MkrtiPvmSEL8pqwjpDvGrxqVNUt4scDPiSLmjGv3gWUpSN", r).unwrap();
            check_vcdm_shape(&cred.credential).unwrap();
        }
    }

    #[tokio::test]
    async fn data_integrity_round_trip() {
        let officer = OfficerSigningKey::generate();
        let now = Utc::now();
        let req = request(now);
        let issued = issue_aml_credential(&officer, &req, CredentialFormat::DataIntegrity).await.unwrap();
        let SecuredCredential::DataIntegrity(obj) = &issued.credential else { panic!("wrong form") };
        assert_eq!(obj["proof"]["cryptosuite"], "eddsa-rdfc-2022");
        assert_eq!(obj["proof"]["proofPurpose"], "assertionMethod");
        assert_eq!(obj["proof"]["verificationMethod"], officer.verification_method());
        assert_eq!(obj["credentialStatus"]["id"], format!("{}#42", req.status.status_list_credential));
        assert_eq!(obj["credentialStatus"]["statusListIndex"], "42");
        assert_eq!(obj["credentialSubject"]["result"], "passed");
        assert!(!obj["validFrom"].as_str().unwrap().contains('.'));

        let v = verify_credential(&issued.credential, now).await.unwrap();
        assert_eq!(v.issuer, officer.did());
        assert_eq!(v.format, CredentialFormat::DataIntegrity);
        assert_eq!(v.valid_until, Some(issued.valid_until));
        assert!(!v.credential.contains_key("proof"));

        // Survives a JSON round trip.
        let text = serde_json::to_string(&issued.credential).unwrap();
        let back: SecuredCredential = serde_json::from_str(&text).unwrap();
        verify_credential(&back, now).await.unwrap();
    }

    #[tokio::test]
    async fn jose_round_trip_and_header() {
        let officer = OfficerSigningKey::generate();
        let now = Utc::now();
        let issued = issue_aml_credential(&officer, &request(now), CredentialFormat::Jose).await.unwrap();
        let SecuredCredential::Jose(jws) = &issued.credential else { panic!("wrong form") };
        let header: Value =
            serde_json::from_slice(&crate::keys::b64u_decode(jws.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "vc+jwt");
        assert_eq!(header["kid"], officer.verification_method());
        let v = verify_credential(&issued.credential, now).await.unwrap();
        assert_eq!(v.format, CredentialFormat::Jose);
        assert_eq!(v.credential["credentialSubject"]["specId"], "basic-aml");
    }

    #[tokio::test]
    async fn tampering_and_dates() {
        let officer = OfficerSigningKey::generate();
        let now = Utc::now();
        for format in [CredentialFormat::DataIntegrity, CredentialFormat::Jose] {
            let issued = issue_aml_credential(&officer, &request(now), format).await.unwrap();
            // Expired / not yet valid.
            let e = verify_credential(&issued.credential, now + Duration::days(31)).await.unwrap_err();
            assert_eq!(e.code(), "credential_expired", "{format:?}");
            let e = verify_credential(&issued.credential, now - Duration::seconds(120)).await.unwrap_err();
            assert_eq!(e.code(), "credential_not_yet_valid", "{format:?}");
            // Clock skew: a verifier 30 s behind still accepts it.
            verify_credential(&issued.credential, now - Duration::seconds(30)).await.unwrap();
            // Tampered subject.
            let tampered = match &issued.credential {
                SecuredCredential::DataIntegrity(o) => {
                    let mut o = o.clone();
                    o["credentialSubject"]["result"] = "failed".into();
                    SecuredCredential::DataIntegrity(o)
                }
                SecuredCredential::Jose(j) => {
                    let parts: Vec<&str> = j.split('.').collect();
                    let mut payload: Value =
                        serde_json::from_slice(&crate::keys::b64u_decode(parts[1]).unwrap()).unwrap();
                    payload["credentialSubject"]["result"] = "failed".into();
                    let p = crate::keys::b64u(&serde_json::to_vec(&payload).unwrap());
                    SecuredCredential::Jose(format!("{}.{}.{}", parts[0], p, parts[2]))
                }
            };
            let e = verify_credential(&tampered, now).await.unwrap_err();
            assert_eq!(e.code(), "credential_signature_invalid", "{format:?} {e}");
        }
    }

    /// The key ssi resolved for a `kid` is kept, is the issuer's own, and the table is emptied
    /// rather than grown past its capacity.
    #[tokio::test]
    async fn issuer_keys_are_kept_per_kid_within_a_bound() {
        let officer = OfficerSigningKey::generate();
        let now = Utc::now();
        let issued = issue_aml_credential(&officer, &request(now), CredentialFormat::Jose).await.unwrap();
        verify_credential(&issued.credential, now).await.unwrap();
        let kept = IssuerKeyCache::shared().cached(&officer.verification_method()).expect("key kept");
        assert_eq!(kept.params, officer.to_ssi_jwk().to_public().params);

        let cache = IssuerKeyCache { keys: Default::default() };
        for i in 0..IssuerKeyCache::CAPACITY {
            cache.keep(&format!("did:key:z{i}#z{i}"), &kept);
        }
        assert_eq!(cache.keys.read().unwrap().len(), IssuerKeyCache::CAPACITY);
        cache.keep("did:key:zlast#zlast", &kept);
        assert_eq!(cache.keys.read().unwrap().len(), 1);
        assert!(cache.cached("did:key:zlast#zlast").is_some());
    }

    /// ed25519-dalek signing under ssi's JWS builder gives exactly the JWS that ssi gives
    /// when it signs with the same key as a JWK.
    #[tokio::test]
    async fn jose_signatures_match_ssi_signing_with_the_jwk() {
        let officer = OfficerSigningKey::generate();
        let cred = aml_credential_json(&officer.did(), &request(Utc::now())).unwrap().credential;
        let ours = VcJwt(&cred).sign(officer.credential_signer()).await.unwrap();
        let by_jwk = VcJwt(&cred).sign(&officer.to_ssi_jwk()).await.unwrap();
        assert_eq!(ours.into_string(), by_jwk.into_string());
    }

    #[tokio::test]
    async fn issuer_must_own_the_key() {
        let officer = OfficerSigningKey::generate();
        let other = OfficerSigningKey::generate();
        let now = Utc::now();
        // Claim another issuer but sign with our key: both forms must refuse.
        let cred = aml_credential_json(&other.did(), &request(now)).unwrap().credential;
        for format in [CredentialFormat::DataIntegrity, CredentialFormat::Jose] {
            let sc = secure_credential(officer.credential_signer(), cred.clone(), format).await.unwrap();
            let e = verify_credential(&sc, now).await.unwrap_err();
            assert_eq!(e.code(), "credential_signature_invalid", "{format:?}");
        }
    }

    #[tokio::test]
    async fn garbage_is_typed() {
        let now = Utc::now();
        for s in ["", "a.b.c", "....", "eyJhbGciOiJub25lIn0.e30.", &"x".repeat(100_000)] {
            let e = verify_credential(&SecuredCredential::Jose(s.into()), now).await.unwrap_err();
            assert_eq!(e.code(), "credential_malformed", "{s:.20}");
        }
        let objs = [
            json!({}),
            json!({"@context": "https://www.w3.org/2018/credentials/v1"}),
            json!({"@context": [CREDENTIALS_V2_CONTEXT, "https://example.com/ctx"], "issuer": "did:key:z6Mk"}),
            json!({"@context": [CREDENTIALS_V2_CONTEXT], "issuer": "did:web:example.com", "proof": {}}),
            json!({"@context": [CREDENTIALS_V2_CONTEXT], "issuer": "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "proof": {"type": "Ed25519Signature2020"}}),
        ];
        let codes = [
            "credential_malformed",
            "credential_malformed",
            "credential_context_unsupported",
            "credential_issuer_unsupported",
            "credential_malformed",
        ];
        for (o, code) in objs.iter().zip(codes) {
            let Value::Object(m) = o.clone() else { unreachable!() };
            let e = verify_credential(&SecuredCredential::DataIntegrity(m), now).await.unwrap_err();
            assert_eq!(e.code(), code, "{o}");
        }
    }

    #[test]
    fn bad_requests() {
        let now = Utc::now();
        let officer = OfficerSigningKey::generate();
        let mut r = request(now);
        r.node_base_url = "ftp://x".into();
        assert!(aml_credential_json(&officer.did(), &r).is_err());
        let mut r = request(now);
        r.holder_did = "alice".into();
        assert!(aml_credential_json(&officer.did(), &r).is_err());
        let mut r = request(now);
        r.valid_for = Duration::zero();
        assert!(aml_credential_json(&officer.did(), &r).is_err());
        assert_eq!(vocab_for("https://a.example/").unwrap(), "https://a.example/ns#");
    }

    /// Sign/verify cost per form. Run in release:
    /// `cargo test --release --lib credentials::vc::tests::timing -- --ignored --nocapture`
    #[tokio::test(flavor = "current_thread")]
    #[ignore = "timing; run with --release -- --ignored --nocapture"]
    async fn timing() {
        use std::time::Instant;
        let officer = OfficerSigningKey::generate();
        let now = Utc::now();
        let req = request(now);
        let n = 300u32;
        for format in [CredentialFormat::DataIntegrity, CredentialFormat::Jose] {
            // Warm up (lazy statics, context parsing).
            let issued = issue_aml_credential(&officer, &req, format).await.unwrap();
            verify_credential(&issued.credential, now).await.unwrap();
            let t = Instant::now();
            for _ in 0..n {
                issue_aml_credential(&officer, &req, format).await.unwrap();
            }
            let sign = t.elapsed() / n;
            let t = Instant::now();
            for _ in 0..n {
                verify_credential(&issued.credential, now).await.unwrap();
            }
            let verify = t.elapsed() / n;
            println!("TIMING {format:?}: sign {sign:?}/op, verify {verify:?}/op (n={n})");
        }
        let cert_req = crate::credentials::certificate::CertificateRequest {
            holder_did: req.holder_did.clone(),
            audience: None,
            spec_id: "basic-aml".into(),
            spec_version: 3,
            credential_id: "urn:uuid:x".into(),
            status: req.status.clone(),
            suspension: None,
            issued_at: now,
            valid_for: Duration::hours(1),
        };
        let keys = [officer.verifying_key()];
        let token = crate::credentials::issue_certificate(&officer, &cert_req).unwrap().token;
        let t = Instant::now();
        for _ in 0..n {
            crate::credentials::issue_certificate(&officer, &cert_req).unwrap();
        }
        let sign = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            assert!(crate::credentials::verify_certificate(&token, &keys[..], |_| false).is_valid());
        }
        let verify = t.elapsed() / n;
        println!("TIMING certificate JWT: sign {sign:?}/op, verify {verify:?}/op (n={n})");
    }
}
