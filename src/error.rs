//! The node's operation errors: one type with a stable code, a message and, where it helps the
//! caller, structured details. Each module keeps its own typed error (`ClaimError`,
//! `SpecError`, ...); they convert into [`Error`] here, and [`Error::status`] maps them to HTTP
//! exactly once. Client mistakes are 4xx with a code the client can branch on; only storage or
//! signing failures are 5xx, and their messages never echo input.

use serde_json::Value;

/// What kind of failure, which fixes the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is malformed (bad JSON, bad field).
    BadRequest,
    /// 401: missing, expired, replayed or badly signed credentials.
    Unauthorized,
    /// 403: authenticated, but not allowed to touch this.
    Forbidden,
    /// 404.
    NotFound,
    /// 409: the state changed under the caller (replayed challenge, concurrent decision).
    Conflict,
    /// 413.
    PayloadTooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 422: well-formed but refused (missing claims, invalid spec).
    Unprocessable,
    /// 429.
    RateLimited,
    /// 503: the node cannot decide right now (lists missing or stale).
    Unavailable,
    /// 500: a fault of the node (storage, signing).
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::Unprocessable => 422,
            ErrorKind::RateLimited => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// A failed node operation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    /// Stable, snake_case; part of the API contract.
    pub code: &'static str,
    pub message: String,
    /// Structured context (e.g. the missing claims and who can provide them).
    pub details: Option<Value>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Error {
        Error { kind, code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Error {
        self.details = Some(details);
        self
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadRequest, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unauthorized, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Forbidden, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unprocessable, code, message)
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unavailable, code, message)
    }

    pub fn internal(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, code, message)
    }

    /// The JSON body the API answers with.
    pub fn to_json(&self) -> Value {
        let mut e = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(d) = &self.details {
            e["details"] = d.clone();
        }
        serde_json::json!({ "error": e })
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        Error::internal(e.code(), "the node's storage failed; the operation was not completed")
    }
}

impl From<crate::claims::ClaimError> for Error {
    fn from(e: crate::claims::ClaimError) -> Self {
        use crate::claims::ClaimError as C;
        let kind = match &e {
            C::ChallengeMalformed(_) | C::PresentationMalformed(_) | C::SignatureMalformed(_) => ErrorKind::BadRequest,
            C::SignatureInvalid | C::ChallengeMismatch(_) => ErrorKind::Unauthorized,
            C::KycIssueFailed(_) => ErrorKind::Internal,
            _ => ErrorKind::Unprocessable,
        };
        Error::new(kind, e.code(), e.to_string())
    }
}

impl From<crate::specs::SpecError> for Error {
    fn from(e: crate::specs::SpecError) -> Self {
        Error::unprocessable(e.code(), e.to_string())
    }
}

impl From<crate::screening::PolicyError> for Error {
    fn from(e: crate::screening::PolicyError) -> Self {
        Error::bad_request(e.code(), e.to_string())
    }
}

impl From<crate::screening::QueryError> for Error {
    fn from(e: crate::screening::QueryError) -> Self {
        Error::unprocessable(e.code(), e.to_string())
    }
}

impl From<crate::keys::DidError> for Error {
    fn from(e: crate::keys::DidError) -> Self {
        Error::bad_request(e.code(), e.to_string())
    }
}

impl From<crate::seal::SealError> for Error {
    fn from(e: crate::seal::SealError) -> Self {
        tracing::error!(error = %e, "sealing failed");
        Error::internal(e.code(), e.to_string())
    }
}

impl From<crate::credentials::CredentialError> for Error {
    fn from(e: crate::credentials::CredentialError) -> Self {
        tracing::error!(error = %e, "credential issuance failed");
        Error::internal("credential_issue_failed", e.to_string())
    }
}

impl From<crate::credentials::CertificateError> for Error {
    fn from(e: crate::credentials::CertificateError) -> Self {
        tracing::error!(error = %e, "certificate issuance failed");
        Error::internal(e.code(), e.to_string())
    }
}

impl From<crate::credentials::StatusListError> for Error {
    fn from(e: crate::credentials::StatusListError) -> Self {
        tracing::error!(error = %e, "status list failure");
        Error::internal(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_and_status() {
        let e = Error::unprocessable("claims_missing", "two claims are missing")
            .with_details(serde_json::json!({"missing": ["birthDate"]}));
        assert_eq!(e.status(), 422);
        let v = e.to_json();
        assert_eq!(v["error"]["code"], "claims_missing");
        assert_eq!(v["error"]["details"]["missing"][0], "birthDate");
        let e: Error = crate::claims::ClaimError::SignatureInvalid.into();
        assert_eq!((e.status(), e.code), (401, "holder_signature_invalid"));
    }
}
