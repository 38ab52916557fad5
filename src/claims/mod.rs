//! What the holder presents, and how the node checks it.
//!
//! A request from a holder is three things:
//!
//! 1. a [`Presentation`] (VCDM 2.0 `VerifiablePresentation` shape, unsigned): the holder DID
//!    and the KYC credentials, each a VC-JOSE JWS or a Data Integrity JSON object;
//! 2. a [`ChallengeMessage`]: human-readable text naming the node's domain, the holder DID,
//!    the spec, the SHA-256 of the presentation bytes as sent, a node-issued nonce and the
//!    time, signed by the holder key with a wallet's `signMessage` (SIWS style);
//! 3. that signature ([`verify_holder_signature`]).
//!
//! The signature over the digest binds the presentation to the holder's key without asking
//! wallets to produce a Data Integrity or JWT proof, which Solana wallets cannot do. Nonce
//! storage (single use, TTL) is the server's job; [`check_binding`] checks that message and
//! presentation agree; [`kyc::verify_kyc_credential`] verifies each credential (signature
//! offline, dates, subject = holder).
//!
//! All errors are [`ClaimError`]s with stable codes.

pub mod challenge;
pub mod kyc;
pub mod presentation;

pub use challenge::{ChallengeMessage, Nonce, verify_holder_signature};
pub use kyc::{VerifiedKycCredential, issue_kyc_credential, issue_kyc_credential_at, verify_kyc_credential};
pub use presentation::{Presentation, presentation_digest};

/// Errors of holder-claim checking. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The challenge message is not in the expected form.
    #[error("malformed challenge message: {0}")]
    ChallengeMalformed(String),
    /// The challenge message does not match the presentation or the expected values.
    #[error("challenge message mismatch: {0}")]
    ChallengeMismatch(String),
    /// The holder DID method is not supported (did:key and did:pkh:solana are).
    #[error("unsupported holder DID: {0}")]
    HolderDidUnsupported(String),
    /// The holder DID is not valid.
    #[error("invalid holder DID: {0}")]
    HolderDidInvalid(String),
    /// The signature is not 64 bytes of base64url or base58.
    #[error("malformed holder signature: {0}")]
    SignatureMalformed(String),
    /// The signature does not verify with the holder's key.
    #[error("the holder signature does not verify")]
    SignatureInvalid,
    /// The presentation is not usable.
    #[error("malformed presentation: {0}")]
    PresentationMalformed(String),
    /// A KYC credential is malformed.
    #[error("malformed KYC credential: {0}")]
    KycMalformed(String),
    /// A KYC credential uses a JSON-LD context that cannot be processed offline.
    #[error("unsupported JSON-LD context in KYC credential: {0}")]
    KycContextUnsupported(String),
    /// The KYC issuer's DID method is not resolvable offline.
    #[error("unsupported issuer DID method: {0}")]
    KycIssuerUnsupported(String),
    /// A KYC credential's signature does not verify.
    #[error("KYC credential signature invalid: {0}")]
    KycSignatureInvalid(String),
    /// A KYC credential has expired.
    #[error("KYC credential expired at {0}")]
    KycExpired(String),
    /// A KYC credential is not valid yet.
    #[error("KYC credential not valid before {0}")]
    KycNotYetValid(String),
    /// A KYC credential is about someone else.
    #[error("KYC credential subject `{found}` is not the holder `{expected}`")]
    KycSubjectMismatch {
        /// The holder DID.
        expected: String,
        /// The credential's subject id (or empty).
        found: String,
    },
    /// Minting a KYC credential failed.
    #[error("KYC credential could not be issued: {0}")]
    KycIssueFailed(String),
}

impl ClaimError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ClaimError::ChallengeMalformed(_) => "challenge_malformed",
            ClaimError::ChallengeMismatch(_) => "challenge_mismatch",
            ClaimError::HolderDidUnsupported(_) => "holder_did_unsupported",
            ClaimError::HolderDidInvalid(_) => "holder_did_invalid",
            ClaimError::SignatureMalformed(_) => "holder_signature_malformed",
            ClaimError::SignatureInvalid => "holder_signature_invalid",
            ClaimError::PresentationMalformed(_) => "presentation_malformed",
            ClaimError::KycMalformed(_) => "kyc_malformed",
            ClaimError::KycContextUnsupported(_) => "kyc_context_unsupported",
            ClaimError::KycIssuerUnsupported(_) => "kyc_issuer_unsupported",
            ClaimError::KycSignatureInvalid(_) => "kyc_signature_invalid",
            ClaimError::KycExpired(_) => "kyc_expired",
            ClaimError::KycNotYetValid(_) => "kyc_not_yet_valid",
            ClaimError::KycSubjectMismatch { .. } => "kyc_subject_mismatch",
            ClaimError::KycIssueFailed(_) => "kyc_issue_failed",
        }
    }
}

impl From<crate::keys::DidError> for ClaimError {
    fn from(e: crate::keys::DidError) -> Self {
        match e {
            crate::keys::DidError::UnsupportedMethod(_) => ClaimError::HolderDidUnsupported(e.to_string()),
            crate::keys::DidError::Invalid { .. } => ClaimError::HolderDidInvalid(e.to_string()),
        }
    }
}

/// Checks that a (parsed, signature-checked) challenge message covers this presentation:
/// same holder, and the digest of `presentation_bytes` (the bytes as received).
pub fn check_binding(
    message: &ChallengeMessage,
    presentation_bytes: &[u8],
    presentation: &Presentation,
) -> Result<(), ClaimError> {
    if message.holder_did != presentation.holder {
        return Err(ClaimError::ChallengeMismatch("the message and the presentation name different holders".into()));
    }
    let digest = presentation_digest(presentation_bytes);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(digest.as_bytes(), message.presentation_digest.as_bytes())) {
        return Err(ClaimError::ChallengeMismatch("the presentation digest does not match the signed message".into()));
    }
    Ok(())
}
