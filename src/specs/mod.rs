//! Credential specs: what an officer requires before issuing an AML credential.
//!
//! A spec names the claims a holder must present, which KYC issuers are accepted for each
//! claim, the screening policy, how long the credential and its certificates are valid, and
//! whether the subject is monitored afterwards. Specs are versioned and a version is
//! immutable once stored: a change is a new version, and a credential records the version it
//! was issued under. Node-wide mandatory claims (e.g. `liveness`) are added to every spec.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::credentials::CredentialFormat;
use crate::screening::{Policy, PolicyError};

mod registry;
pub use registry::{SPECS_TREE, SpecRegistry};

/// The claims the node understands, and what each feeds into the screening query.
pub const KNOWN_CLAIMS: &[(&str, &str)] = &[
    ("givenName", "given name(s); with familyName forms the screened name"),
    ("familyName", "family name(s)"),
    ("fullName", "the whole name, when the KYC provider does not split it"),
    ("birthDate", "date of birth, YYYY, YYYY-MM or YYYY-MM-DD"),
    ("nationality", "ISO 3166-1 alpha-2 nationality (or a list)"),
    ("countryOfResidence", "ISO 3166-1 alpha-2 country of residence"),
    ("documentNumber", "identity document number: a golden key"),
    ("walletAddress", "a crypto wallet address of the holder: a golden key"),
    ("liveness", "the KYC provider's liveness check passed (must be true)"),
];

pub fn is_known_claim(name: &str) -> bool {
    KNOWN_CLAIMS.iter().any(|(n, _)| *n == name)
}

/// Longest an AML credential may be valid: screening results age as lists change.
pub const MAX_CREDENTIAL_VALIDITY_SECS: u64 = 365 * 24 * 3600;
/// Longest a compliance certificate may be valid: certificates are meant to be short-lived.
pub const MAX_CERTIFICATE_VALIDITY_SECS: u64 = 7 * 24 * 3600;

/// A spec's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SpecStatus {
    #[default]
    Active,
    /// No new requests; credentials already issued stay valid.
    Inactive,
}

/// One version of a credential spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Stable identifier, `[a-z0-9-]`, 3-64 characters.
    #[serde(default)]
    pub id: String,
    #[serde(default = "one")]
    pub version: u32,
    /// The officer who owns the spec and issues under it (set by the node from the caller
    /// when an officer creates a spec through the API).
    #[serde(default)]
    pub officer: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Claims the holder must present (mandatory claims are added by the node).
    pub required_claims: Vec<String>,
    /// KYC issuer DIDs accepted per claim; the key `*` applies to every claim.
    pub accepted_issuers: BTreeMap<String, Vec<String>>,
    /// The screening policy (lists' categories, weights, thresholds, strictness).
    #[serde(default)]
    pub policy: Policy,
    /// How the AML credential is secured (default: Data Integrity, eddsa-rdfc-2022).
    #[serde(default = "default_format")]
    pub credential_format: CredentialFormat,
    /// Seconds an AML credential is valid.
    pub credential_validity_secs: u64,
    /// Seconds a compliance certificate is valid.
    pub certificate_validity_secs: u64,
    /// Re-screen the subject when lists change (keeps a sealed screening profile).
    #[serde(default)]
    pub monitoring: bool,
    #[serde(default)]
    pub status: SpecStatus,
}

fn one() -> u32 {
    1
}

fn default_format() -> CredentialFormat {
    CredentialFormat::DataIntegrity
}

/// Why a spec was refused; the API answers with HTTP 400/422 and the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("spec id `{0}` must be 3-64 characters of a-z, 0-9 and '-'")]
    BadId(String),
    #[error("unknown claim `{claim}`; known claims: {known}")]
    UnknownClaim { claim: String, known: String },
    #[error("the spec requires no claims")]
    NoClaims,
    #[error("claim `{0}` has no accepted issuer (add it to accepted_issuers, or use the `*` key)")]
    NoIssuer(String),
    #[error("accepted issuer `{0}` is not a supported DID (did:key or did:jwk)")]
    BadIssuer(String),
    #[error("accepted_issuers names claim `{0}`, which the spec does not require")]
    IssuerForUnrequiredClaim(String),
    #[error("{field} is {value} s; it must be between 60 s and {max} s")]
    Validity { field: &'static str, value: u64, max: u64 },
    #[error("certificate validity ({certificate} s) cannot exceed credential validity ({credential} s)")]
    CertificateOutlivesCredential { certificate: u64, credential: u64 },
    #[error("invalid screening policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("the name must be 1-200 characters")]
    BadName,
    #[error("version must be at least 1")]
    BadVersion,
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

impl SpecError {
    pub fn code(&self) -> &'static str {
        match self {
            SpecError::BadId(_) => "spec_bad_id",
            SpecError::UnknownClaim { .. } => "spec_unknown_claim",
            SpecError::NoClaims => "spec_no_claims",
            SpecError::NoIssuer(_) => "spec_no_issuer",
            SpecError::BadIssuer(_) => "spec_bad_issuer",
            SpecError::IssuerForUnrequiredClaim(_) => "spec_issuer_for_unrequired_claim",
            SpecError::Validity { .. } => "spec_validity_out_of_range",
            SpecError::CertificateOutlivesCredential { .. } => "spec_certificate_outlives_credential",
            SpecError::Policy(p) => p.code(),
            SpecError::BadName => "spec_bad_name",
            SpecError::BadVersion => "spec_bad_version",
            SpecError::File { .. } => "spec_file",
        }
    }
}

impl Spec {
    /// Adds node-wide mandatory claims, then checks every invariant.
    pub fn normalize_and_validate(&mut self, mandatory_claims: &[String]) -> Result<(), SpecError> {
        for c in mandatory_claims {
            if !self.required_claims.contains(c) {
                self.required_claims.push(c.clone());
            }
        }
        self.validate()
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        let id_ok = (3..=64).contains(&self.id.len())
            && self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(SpecError::BadId(self.id.clone()));
        }
        if self.version == 0 {
            return Err(SpecError::BadVersion);
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err(SpecError::BadName);
        }
        if self.required_claims.is_empty() {
            return Err(SpecError::NoClaims);
        }
        let known = || KNOWN_CLAIMS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        for c in &self.required_claims {
            if !is_known_claim(c) {
                return Err(SpecError::UnknownClaim { claim: c.clone(), known: known() });
            }
        }
        for (claim, issuers) in &self.accepted_issuers {
            if claim != "*" && !is_known_claim(claim) {
                return Err(SpecError::UnknownClaim { claim: claim.clone(), known: known() });
            }
            if claim != "*" && !self.required_claims.contains(claim) {
                return Err(SpecError::IssuerForUnrequiredClaim(claim.clone()));
            }
            for i in issuers {
                if !(i.starts_with("did:key:z") || i.starts_with("did:jwk:")) || i.len() > 512 {
                    return Err(SpecError::BadIssuer(i.clone()));
                }
            }
        }
        for c in &self.required_claims {
            if self.issuers_for(c).is_empty() {
                return Err(SpecError::NoIssuer(c.clone()));
            }
        }
        let check = |field: &'static str, value: u64, max: u64| {
            if (60..=max).contains(&value) { Ok(()) } else { Err(SpecError::Validity { field, value, max }) }
        };
        check("credential_validity_secs", self.credential_validity_secs, MAX_CREDENTIAL_VALIDITY_SECS)?;
        check("certificate_validity_secs", self.certificate_validity_secs, MAX_CERTIFICATE_VALIDITY_SECS)?;
        if self.certificate_validity_secs > self.credential_validity_secs {
            return Err(SpecError::CertificateOutlivesCredential {
                certificate: self.certificate_validity_secs,
                credential: self.credential_validity_secs,
            });
        }
        self.policy.validate()?;
        Ok(())
    }

    /// Issuers accepted for a claim: its own entry plus the `*` entry.
    pub fn issuers_for(&self, claim: &str) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for key in [claim, "*"] {
            if let Some(list) = self.accepted_issuers.get(key) {
                for i in list {
                    if !v.contains(&i.as_str()) {
                        v.push(i);
                    }
                }
            }
        }
        v
    }

    /// `<id>@<version>`, as credentials and logs name a spec version.
    pub fn key(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

/// Loads every `*.toml` and `*.json` spec file in a folder (sorted by name), adding the
/// mandatory claims and validating each; the first bad file fails the load, naming it.
pub fn load_dir(dir: &Path, mandatory_claims: &[String]) -> Result<Vec<Spec>, SpecError> {
    let file_err = |path: &Path, message: String| SpecError::File { path: path.display().to_string(), message };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| file_err(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml" || x == "json"))
        .collect();
    paths.sort();
    let mut specs = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| file_err(&path, e.to_string()))?;
        let mut spec: Spec = if path.extension().is_some_and(|x| x == "toml") {
            toml::from_str(&text).map_err(|e| file_err(&path, e.to_string()))?
        } else {
            serde_json::from_str(&text).map_err(|e| file_err(&path, e.to_string()))?
        };
        spec.normalize_and_validate(mandatory_claims).map_err(|e| file_err(&path, format!("{e} ({})", e.code())))?;
        specs.push(spec);
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";

    pub(super) fn spec() -> Spec {
        Spec {
            id: "basic-sanctions".into(),
            version: 1,
            officer: "demo-officer".into(),
            name: "Basic".into(),
            description: String::new(),
            required_claims: vec!["givenName".into(), "familyName".into(), "birthDate".into()],
            accepted_issuers: BTreeMap::from([("*".to_string(), vec![ISSUER.to_string()])]),
            policy: Policy::default(),
            credential_format: CredentialFormat::DataIntegrity,
            credential_validity_secs: 30 * 86400,
            certificate_validity_secs: 86400,
            monitoring: false,
            status: SpecStatus::Active,
        }
    }

    #[test]
    fn mandatory_claims_are_added() {
        let mut s = spec();
        s.normalize_and_validate(&["liveness".into()]).unwrap();
        assert!(s.required_claims.contains(&"liveness".to_string()));
        assert_eq!(s.key(), "basic-sanctions@1");
    }

    #[test]
    fn validation_errors_are_typed() {
        let mut s = spec();
        s.required_claims.push("shoeSize".into());
        assert_eq!(s.validate().unwrap_err().code(), "spec_unknown_claim");
        let mut s = spec();
        s.policy.match_weights.country = 20;
        assert_eq!(s.validate().unwrap_err().code(), "policy_match_weights");
        let mut s = spec();
        s.policy.match_threshold = 120;
        assert_eq!(s.validate().unwrap_err().code(), "policy_out_of_range");
        let mut s = spec();
        s.credential_validity_secs = 400 * 86400;
        assert_eq!(s.validate().unwrap_err().code(), "spec_validity_out_of_range");
        let mut s = spec();
        s.certificate_validity_secs = 3 * 86400;
        s.credential_validity_secs = 86400;
        assert_eq!(s.validate().unwrap_err().code(), "spec_certificate_outlives_credential");
        let mut s = spec();
        s.accepted_issuers = BTreeMap::from([("givenName".to_string(), vec![ISSUER.to_string()])]);
        assert_eq!(s.validate().unwrap_err(), SpecError::NoIssuer("familyName".into()));
        let mut s = spec();
        s.accepted_issuers.insert("*".into(), vec!["did:web:example.com".into()]);
        assert_eq!(s.validate().unwrap_err().code(), "spec_bad_issuer");
        let mut s = spec();
        s.id = "Bad Id".into();
        assert_eq!(s.validate().unwrap_err().code(), "spec_bad_id");
    }

    #[test]
    fn issuers_merge_claim_and_wildcard() {
        let mut s = spec();
        s.accepted_issuers.insert("birthDate".into(), vec!["did:key:z6Mkother".into(), ISSUER.into()]);
        assert_eq!(s.issuers_for("birthDate"), vec!["did:key:z6Mkother", ISSUER]);
        assert_eq!(s.issuers_for("givenName"), vec![ISSUER]);
    }

    #[test]
    fn specs_parse_from_toml() {
        let text = format!(
            r#"
id = "x-spec"
officer = "o"
name = "X"
required_claims = ["fullName"]
credential_validity_secs = 86400
certificate_validity_secs = 3600
[accepted_issuers]
"*" = ["{ISSUER}"]
[policy]
categories = ["sanction"]
strict = false
"#
        );
        let s: Spec = toml::from_str(&text).unwrap();
        s.validate().unwrap();
        assert_eq!(s.version, 1);
        assert!(!s.policy.strict);
    }
}
