//! What the node issues and publishes.
//!
//! - [`vc`]: the AML credential (W3C VCDM 2.0), secured as Data Integrity
//!   (`eddsa-rdfc-2022`) or VC-JOSE (`vc+jwt`), and a generic offline verifier for both
//!   forms (also used for the KYC credentials holders present, see [`crate::claims`]).
//! - [`certificate`]: the compliance certificate, a short-lived compact EdDSA JWT that any
//!   JOSE library verifies with the published JWKS.
//! - [`did`]: the published JWKS and the node's `did:web` document.
//! - [`status_list`]: W3C Bitstring Status List (revocation / suspension) credentials.
//!
//! Every issuer here is an officer's `did:key`: a credential verifies offline from the
//! credential alone, and the node's `did:web` document only vouches for which officer keys
//! belong to this node.

pub mod certificate;
pub mod did;
mod fast_di;
pub mod status_list;
pub mod vc;

pub use certificate::{
    AuthenticatedCertificates, CertificateClaims, CertificateError, CertificateRequest, CertificateVerdict,
    IssuedCertificate, IssuerKeys, authenticate_certificate, certificate_verdict, issue_certificate,
    verify_certificate, verify_certificate_at, verify_certificate_for_audience,
};
pub use did::{Jwk, Jwks, did_web, jwks, node_did_document};
pub use status_list::{
    StatusList, StatusListError, StatusPurpose, VerifiedStatusList, decode_encoded_list, entry_is_set,
    issue_status_list_credential, verify_status_list_credential,
};
pub use vc::{
    AmlCredentialRequest, CredentialError, CredentialFormat, IssuedAmlCredential, ListVersion, SecuredCredential,
    StatusEntry, VerifiedCredential, VerifyError, issue_aml_credential, verify_credential,
};

use chrono::{DateTime, SecondsFormat, Utc};

/// The VCDM 2.0 base context.
pub const CREDENTIALS_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";

/// RFC 3339 with whole seconds and `Z`.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Drops sub-second precision.
pub(crate) fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// A fresh `urn:uuid:`, version 7 (RFC 9562: time-ordered, 74 random bits).
pub(crate) fn urn_uuid() -> String {
    let mut b = crate::cases::time_ordered_id();
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
