//! KYC verifiable credentials presented by holders: verification, and a demo issuer.
//!
//! Accepted: VCDM 2.0 credentials secured as VC-JOSE (compact JWS, `alg: EdDSA`) or as Data
//! Integrity `eddsa-rdfc-2022`, issued by a `did:key` or `did:jwk` (Ed25519), resolved
//! offline. Verification is [`crate::credentials::verify_credential`] (signature, issuer owns
//! the key, `validFrom`/`validUntil`, offline-loadable contexts) plus what ssi does not check:
//! the credential subject must be the holder. Whether the issuer is *accepted* for a claim is
//! the spec's decision and happens later; `credentialStatus` of foreign issuers is not checked
//! here (it needs a network fetch).
//!
//! Data Integrity credentials may use only the v2 context plus inline context objects: ssi
//! has no network loader, so a remote context fails (`kyc_context_unsupported`). The demo
//! issuer ([`issue_kyc_credential`]) therefore uses an inline `@vocab` equal to the one the
//! W3C `https://www.w3.org/ns/credentials/undefined-terms/v2` context defines: its claims
//! expand exactly as if the issuer had used that context (which the final v2 context leaves
//! to issuers; ssi's and Digital Bazaar's v2 copies have no `@vocab`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::ClaimError;
use crate::credentials::vc::{
    CLOCK_SKEW_SECS, CredentialFormat, SecuredCredential, VerifyError, check_vcdm_shape, secure_credential,
    verify_credential,
};
use crate::credentials::{CREDENTIALS_V2_CONTEXT, rfc3339, urn_uuid, whole_seconds};
use crate::keys::IssuerKey;

/// The vocabulary of the W3C `undefined-terms/v2` context.
pub const UNDEFINED_TERMS_VOCAB: &str = "https://www.w3.org/ns/credentials/undefined-term#";

/// Type of credentials minted by [`issue_kyc_credential`].
pub const KYC_CREDENTIAL_TYPE: &str = "KycCredential";

/// A KYC credential that verified and is about the holder.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedKycCredential {
    /// Issuer DID.
    pub issuer: String,
    /// The form it came in.
    pub format: CredentialFormat,
    /// `credentialSubject` fields except `id`.
    pub claims: BTreeMap<String, Value>,
    /// `validUntil`, if any.
    pub valid_until: Option<DateTime<Utc>>,
}

fn map_verify_error(e: VerifyError) -> ClaimError {
    match e {
        VerifyError::Malformed(m) => ClaimError::KycMalformed(m),
        VerifyError::ContextUnsupported(m) => ClaimError::KycContextUnsupported(m),
        VerifyError::IssuerUnsupported(m) => ClaimError::KycIssuerUnsupported(m),
        VerifyError::SignatureInvalid(m) => ClaimError::KycSignatureInvalid(m),
        VerifyError::Expired(t) => ClaimError::KycExpired(t),
        VerifyError::NotYetValid(t) => ClaimError::KycNotYetValid(t),
    }
}

/// Verifies a presented KYC credential for `holder_did` at time `now`.
pub async fn verify_kyc_credential(
    credential: &SecuredCredential,
    holder_did: &str,
    now: DateTime<Utc>,
) -> Result<VerifiedKycCredential, ClaimError> {
    let v = verify_credential(credential, now).await.map_err(map_verify_error)?;
    let subject = match v.credential.get("credentialSubject") {
        Some(Value::Object(s)) => s,
        Some(Value::Array(a)) if a.len() == 1 => match &a[0] {
            Value::Object(s) => s,
            _ => {
                return Err(ClaimError::KycMalformed("credentialSubject is not an object".into()));
            }
        },
        Some(Value::Array(_)) => {
            return Err(ClaimError::KycMalformed("exactly one credentialSubject is expected".into()));
        }
        _ => return Err(ClaimError::KycMalformed("missing credentialSubject".into())),
    };
    let found = subject.get("id").and_then(Value::as_str).unwrap_or_default();
    if found != holder_did {
        return Err(ClaimError::KycSubjectMismatch {
            expected: holder_did.to_owned(),
            found: found.chars().take(200).collect(),
        });
    }
    let claims = subject.iter().filter(|(k, _)| k.as_str() != "id").map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(VerifiedKycCredential { issuer: v.issuer, format: v.format, claims, valid_until: v.valid_until })
}

/// Mints a KYC credential (tests, `aml-node demo`): subject `holder_did` with `claims`,
/// valid from now − 60 s for `valid_for`.
pub async fn issue_kyc_credential(
    issuer: &IssuerKey,
    holder_did: &str,
    claims: Map<String, Value>,
    valid_for: Duration,
    format: CredentialFormat,
) -> Result<SecuredCredential, ClaimError> {
    issue_kyc_credential_at(issuer, holder_did, claims, Utc::now(), valid_for, format).await
}

/// [`issue_kyc_credential`] at a given issuing time.
pub async fn issue_kyc_credential_at(
    issuer: &IssuerKey,
    holder_did: &str,
    claims: Map<String, Value>,
    issued_at: DateTime<Utc>,
    valid_for: Duration,
    format: CredentialFormat,
) -> Result<SecuredCredential, ClaimError> {
    if !holder_did.starts_with("did:") {
        return Err(ClaimError::KycIssueFailed("holder must be a DID".into()));
    }
    if claims.contains_key("id") {
        return Err(ClaimError::KycIssueFailed("claims must not contain `id` (the subject is the holder)".into()));
    }
    if valid_for <= Duration::zero() {
        return Err(ClaimError::KycIssueFailed("validity must be positive".into()));
    }
    let issued = whole_seconds(issued_at);
    let until =
        issued.checked_add_signed(valid_for).ok_or_else(|| ClaimError::KycIssueFailed("validity too long".into()))?;
    let mut subject = Map::new();
    subject.insert("id".into(), Value::String(holder_did.to_owned()));
    subject.extend(claims);
    let cred = json!({
        "@context": [CREDENTIALS_V2_CONTEXT, {"@vocab": UNDEFINED_TERMS_VOCAB}],
        "id": urn_uuid(),
        "type": ["VerifiableCredential", KYC_CREDENTIAL_TYPE],
        "issuer": issuer.did(),
        "validFrom": rfc3339(issued - Duration::seconds(CLOCK_SKEW_SECS)),
        "validUntil": rfc3339(until),
        "credentialSubject": subject,
    });
    let Value::Object(cred) = cred else {
        return Err(ClaimError::KycIssueFailed("not an object".into()));
    };
    let issue = async {
        check_vcdm_shape(&cred)?;
        secure_credential(issuer.credential_signer(), cred, format).await
    };
    issue.await.map_err(|e| ClaimError::KycIssueFailed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Ed25519Signer, HolderKey};

    pub(crate) fn demo_claims() -> Map<String, Value> {
        let Value::Object(m) = json!({
            "givenName": "Ada",
            "familyName": "Lovelace",
            "birthDate": "1815-12-10",
            "nationality": "GB",
            "documentNumber": "P1234567",
            "liveness": true,
        }) else {
            unreachable!()
        };
        m
    }

    #[tokio::test]
    async fn both_forms_round_trip() {
        let kyc = IssuerKey::generate();
        let holder = HolderKey::generate();
        let now = Utc::now();
        for format in [CredentialFormat::DataIntegrity, CredentialFormat::Jose] {
            let c =
                issue_kyc_credential(&kyc, &holder.did(), demo_claims(), Duration::days(365), format).await.unwrap();
            assert_eq!(c.format(), format);
            let v = verify_kyc_credential(&c, &holder.did(), now).await.unwrap();
            assert_eq!(v.issuer, kyc.did());
            assert_eq!(v.format, format);
            assert_eq!(v.claims.len(), 6);
            assert_eq!(v.claims["givenName"], "Ada");
            assert_eq!(v.claims["liveness"], true);
            assert!(!v.claims.contains_key("id"));
            assert!(v.valid_until.is_some());
        }
    }

    #[tokio::test]
    async fn subject_must_be_holder() {
        let kyc = IssuerKey::generate();
        let holder = HolderKey::generate();
        let other = HolderKey::generate();
        let c = issue_kyc_credential(&kyc, &holder.did(), demo_claims(), Duration::days(1), CredentialFormat::Jose)
            .await
            .unwrap();
        let e = verify_kyc_credential(&c, &other.did(), Utc::now()).await.unwrap_err();
        assert_eq!(e.code(), "kyc_subject_mismatch");
    }

    #[tokio::test]
    async fn dates_map_to_kyc_codes() {
        let kyc = IssuerKey::generate();
        let holder = HolderKey::generate();
        let now = Utc::now();
        for format in [CredentialFormat::DataIntegrity, CredentialFormat::Jose] {
            let c = issue_kyc_credential_at(
                &kyc,
                &holder.did(),
                demo_claims(),
                now - Duration::days(10),
                Duration::days(1),
                format,
            )
            .await
            .unwrap();
            assert_eq!(verify_kyc_credential(&c, &holder.did(), now).await.unwrap_err().code(), "kyc_expired");
            let c = issue_kyc_credential_at(
                &kyc,
                &holder.did(),
                demo_claims(),
                now + Duration::days(1),
                Duration::days(1),
                format,
            )
            .await
            .unwrap();
            assert_eq!(verify_kyc_credential(&c, &holder.did(), now).await.unwrap_err().code(), "kyc_not_yet_valid");
        }
    }

    #[tokio::test]
    async fn tampered_and_unsupported() {
        let kyc = IssuerKey::generate();
        let holder = HolderKey::generate();
        let now = Utc::now();
        let c = issue_kyc_credential(
            &kyc,
            &holder.did(),
            demo_claims(),
            Duration::days(1),
            CredentialFormat::DataIntegrity,
        )
        .await
        .unwrap();
        let SecuredCredential::DataIntegrity(obj) = c else { unreachable!() };

        let mut t = obj.clone();
        t["credentialSubject"]["familyName"] = "Byron".into();
        let e = verify_kyc_credential(&SecuredCredential::DataIntegrity(t), &holder.did(), now).await.unwrap_err();
        assert_eq!(e.code(), "kyc_signature_invalid");

        let mut t = obj.clone();
        t["@context"] = json!([CREDENTIALS_V2_CONTEXT, "https://kyc.example/context/v1"]);
        let e = verify_kyc_credential(&SecuredCredential::DataIntegrity(t), &holder.did(), now).await.unwrap_err();
        assert_eq!(e.code(), "kyc_context_unsupported");

        let mut t = obj.clone();
        t["issuer"] = "did:web:kyc.example".into();
        let e = verify_kyc_credential(&SecuredCredential::DataIntegrity(t), &holder.did(), now).await.unwrap_err();
        assert_eq!(e.code(), "kyc_issuer_unsupported");

        let e =
            verify_kyc_credential(&SecuredCredential::Jose("garbage".into()), &holder.did(), now).await.unwrap_err();
        assert_eq!(e.code(), "kyc_malformed");
    }

    /// A did:jwk issuer signing VC-JOSE (and Data Integrity) with an Ed25519 key.
    #[tokio::test]
    async fn did_jwk_issuer() {
        let kyc = IssuerKey::generate();
        let holder = HolderKey::generate();
        let now = Utc::now();
        let mut jwk = kyc.to_ssi_jwk();
        jwk.key_id = None;
        let public = jwk.to_public();
        let did = ssi::dids::DIDJWK::generate(&public);
        let vm = format!("{did}#0");
        let signer = Ed25519Signer { vm: &vm, ..kyc.credential_signer() };
        let cred = json!({
            "@context": [CREDENTIALS_V2_CONTEXT, {"@vocab": UNDEFINED_TERMS_VOCAB}],
            "type": ["VerifiableCredential", "KycCredential"],
            "issuer": did.as_str(),
            "validFrom": rfc3339(now - Duration::minutes(1)),
            "credentialSubject": {"id": holder.did(), "givenName": "Ada"},
        });
        let Value::Object(cred) = cred else { unreachable!() };
        let c = secure_credential(signer, cred.clone(), CredentialFormat::Jose).await.unwrap();
        let v = verify_kyc_credential(&c, &holder.did(), now).await.unwrap();
        assert!(v.issuer.starts_with("did:jwk:"));
        assert_eq!(v.claims["givenName"], "Ada");
    }

    #[tokio::test]
    async fn issue_rejects_bad_input() {
        let kyc = IssuerKey::generate();
        let mut claims = demo_claims();
        claims.insert("id".into(), "x".into());
        let e = issue_kyc_credential(&kyc, "did:key:x", claims, Duration::days(1), CredentialFormat::Jose)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "kyc_issue_failed");
        let e = issue_kyc_credential(&kyc, "bob", demo_claims(), Duration::days(1), CredentialFormat::Jose)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "kyc_issue_failed");
    }
}
