//! Screening profiles: the least the node needs to screen a subject again without the
//! officer, namely the screening query (name, birth date, countries, document number,
//! wallet), sealed under a node-held X25519 key.
//!
//! This is the privacy trade-off of re-screening: the holder's claims are otherwise sealed
//! to the officer only, so the node could not re-screen anyone. A profile is kept only where
//! a re-screen is the point: for specs with monitoring on (deleted when the credential expires
//! or is revoked), and for checks whose screening failed (deleted once re-run). It is sealed
//! with the same construction as officer records ([`crate::seal`]), under a key derived from
//! the node secret, so the store alone never shows it in the clear.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{SealingPublicKey, SealingSecret};
use crate::screening::Query;
use crate::seal::{SealedRecord, open, seal};

pub const PROFILES_TREE: &str = "profiles";

/// Why a profile is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfilePurpose {
    /// The spec monitors its subjects: re-screened when lists change.
    Monitoring,
    /// The screening failed: kept to re-run the check.
    Rerun,
}

/// A stored profile (ciphertext plus what it is for).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredProfile {
    pub request_id: String,
    pub officer: String,
    pub spec_id: String,
    pub purpose: ProfilePurpose,
    /// When the profile must be gone (the credential's `validUntil` for monitoring).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    pub sealed: SealedRecord,
}

fn record_id(request_id: &str) -> String {
    format!("profile:{request_id}")
}

/// Seals a query for a request.
pub fn seal_profile(key: &SealingPublicKey, request_id: &str, query: &Query) -> Result<SealedRecord> {
    let mut q = query.clone();
    q.id = None;
    let plain = Zeroizing::new(serde_json::to_vec(&q).map_err(|e| Error::internal("profile_encode", e.to_string()))?);
    crate::requests::claims::wipe_query(&mut q);
    Ok(seal(key, &record_id(request_id), &plain)?)
}

/// Opens a stored profile.
pub fn open_profile(secret: &SealingSecret, stored: &StoredProfile) -> Result<Query> {
    let plain = open(secret, &stored.sealed, &record_id(&stored.request_id))?;
    serde_json::from_slice(&plain).map_err(|e| Error::internal("profile_corrupt", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_and_bind_the_request() {
        let secret = SealingSecret::generate();
        let q = Query { name: Some("Ann Example".into()), countries: vec!["NL".into()], ..Query::default() };
        let sealed = seal_profile(&secret.public_key(), "req_1", &q).unwrap();
        let stored = StoredProfile {
            request_id: "req_1".into(),
            officer: "o".into(),
            spec_id: "s".into(),
            purpose: ProfilePurpose::Monitoring,
            expires_at: None,
            sealed: sealed.clone(),
        };
        assert_eq!(open_profile(&secret, &stored).unwrap(), q);
        let moved = StoredProfile { request_id: "req_2".into(), ..stored };
        assert!(open_profile(&secret, &moved).is_err());
        assert!(!String::from_utf8_lossy(&serde_json::to_vec(&sealed).unwrap()).contains("Example"));
    }
}
