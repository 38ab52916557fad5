//! AML checks and their review: every screening of a request is a [`Case`] with the
//! lifecycle of seed 001 (Rebilly).
//!
//! ```text
//! no-match (reason)            nothing to review
//! pending-review -> in-review -> confirmed-match | false-positive
//! error                        the engine failed: blocks issuance, can be re-run
//! ```
//!
//! What the node keeps of a case is only what it may keep: the listed side of each hit, the
//! scores and explanations without the query's values, the list versions, and a keyed
//! fingerprint of the subject. The holder's claims are sealed to the officer elsewhere.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::lists::Category;
use crate::screening::{Decision, HitStatus, ListVersion, NoMatchReason, Query, Screening};

pub mod history;
pub mod review;

pub use history::{SUPPRESSION_DAYS, prepare_case};

pub const CASES_TREE: &str = "cases";
/// Open cases by officer and age: the review queue.
pub const QUEUE_TREE: &str = "case_queue";
/// Every case by officer and age.
pub const BY_OFFICER_TREE: &str = "case_by_officer";

fn ts_key(t: DateTime<Utc>) -> String {
    format!("{:020}", t.timestamp_micros().max(0))
}

impl Case {
    pub fn queue_key(&self) -> String {
        format!("{}|{}|{}", self.officer, ts_key(self.created_at), self.id)
    }

    /// Adds the case and its index entries to a batch (the queue entry only while open).
    pub fn stage(&self, batch: &mut crate::store::Batch) -> crate::error::Result<()> {
        batch.put(CASES_TREE, &self.id, self)?;
        batch.put(BY_OFFICER_TREE, &self.queue_key(), &())?;
        if self.status.is_open() {
            batch.put(QUEUE_TREE, &self.queue_key(), &())?;
        } else {
            batch.remove(QUEUE_TREE, &self.queue_key());
        }
        Ok(())
    }
}

/// Lifecycle status of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    NoMatch,
    PendingReview,
    InReview,
    ConfirmedMatch,
    FalsePositive,
    /// The engine failed; never a pass.
    Error,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::NoMatch => "no-match",
            CaseStatus::PendingReview => "pending-review",
            CaseStatus::InReview => "in-review",
            CaseStatus::ConfirmedMatch => "confirmed-match",
            CaseStatus::FalsePositive => "false-positive",
            CaseStatus::Error => "error",
        }
    }

    /// Whether an officer decision closed the case.
    pub fn is_reviewed(self) -> bool {
        matches!(self, CaseStatus::ConfirmedMatch | CaseStatus::FalsePositive)
    }

    /// Whether the case waits for an officer.
    pub fn is_open(self) -> bool {
        matches!(self, CaseStatus::PendingReview | CaseStatus::InReview)
    }
}

/// Who decided and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    /// An officer id, or `engine` for automatic decisions.
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// One possible match, as the node stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseHit {
    pub entity_id: String,
    pub source: String,
    pub matched_name: String,
    pub match_score: u8,
    pub risk_score: u8,
    pub categories: Vec<Category>,
    pub status: HitStatus,
    /// The engine's explanation without the query's values.
    pub explanation: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
}

/// One AML check of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub request_id: String,
    pub officer: String,
    pub holder: String,
    /// Keyed fingerprint of the subject's identifying claims ([`fingerprint`]).
    pub subject: String,
    pub spec_id: String,
    pub spec_version: u32,
    pub status: CaseStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_match_reason: Option<NoMatchReason>,
    /// What the engine proposed under the spec's policy.
    pub engine_decision: Decision,
    /// Smile ID result code of the screening.
    pub result_code: String,
    /// Possible matches (at or above the match threshold), best first.
    pub hits: Vec<CaseHit>,
    pub list_versions: Vec<ListVersion>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The officer who opened the case, while it is in review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The decision that closed the case (an officer's, or the engine's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decided>,
    /// Bumped on every change; decisions must name the revision they saw.
    pub revision: u64,
    /// Possible matches left out because an officer cleared them for this subject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<SuppressedHit>,
    /// The earlier reviewed check whose outcome this one took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<Inheritance>,
}

/// A hit left out of a check: cleared as a false positive for the same subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedHit {
    pub entity_id: String,
    /// The check where an officer cleared it.
    pub cleared_in: String,
    pub until: DateTime<Utc>,
}

/// Why a check took an earlier check's outcome (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InheritanceReason {
    /// The same holder with the same identifying data had a check with the same hits.
    SameSubject,
    /// The same person (identity fingerprint) under another holder DID.
    SameIdentity,
    /// The same holder DID with other identifying data.
    SameHolder,
}

impl InheritanceReason {
    pub fn description(self) -> &'static str {
        match self {
            InheritanceReason::SameSubject => {
                "the holder's data exactly matched a previous check of the same holder with the same hits"
            }
            InheritanceReason::SameIdentity => {
                "the subject's identity exactly matched a check of another holder with the same hits"
            }
            InheritanceReason::SameHolder => "the same holder DID had a reviewed check with the same hits",
        }
    }

    /// Lower wins: the same subject's own check beats a related one.
    fn priority(self) -> u8 {
        match self {
            InheritanceReason::SameSubject => 0,
            InheritanceReason::SameIdentity => 1,
            InheritanceReason::SameHolder => 2,
        }
    }
}

/// The link from an inheriting check to its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inheritance {
    pub case_id: String,
    pub reason: InheritanceReason,
    pub description: String,
}

/// Unguessable ids with a readable prefix: `req_…`, `case_…` (see [`time_ordered_id`]).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(time_ordered_id()))
}

/// 16 bytes: the Unix time in milliseconds (48 bits, big-endian) and 80 random bits.
///
/// Records keyed by these ids are appended next to the latest ones instead of landing on a
/// random page of the tree, which keeps sled's writes local (random keys cost 1.3-2 times as
/// much per insert, more as the tree grows). The time is no secret: records carry it anyway.
pub(crate) fn time_ordered_id() -> [u8; 16] {
    let mut b = [0u8; 16];
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b[6..]);
    b
}

impl Case {
    /// The case of a fresh screening. The status follows the engine's decision: no-match;
    /// declined (a definitive match under the policy) is closed as confirmed-match by the
    /// engine; everything with possible matches waits for an officer, including matches the
    /// policy approved automatically (issued now, reviewed after).
    #[allow(clippy::too_many_arguments)]
    pub fn from_screening(
        id: String,
        request_id: &str,
        officer: &str,
        holder: &str,
        subject: &str,
        spec: (&str, u32),
        screening: &Screening,
        now: DateTime<Utc>,
    ) -> Case {
        let status = match screening.decision {
            Decision::NoMatch => CaseStatus::NoMatch,
            Decision::Declined => CaseStatus::ConfirmedMatch,
            Decision::Approved | Decision::Review => CaseStatus::PendingReview,
        };
        let decision = (screening.decision == Decision::Declined).then(|| Decided {
            by: "engine".into(),
            at: now,
            reason: "definitive match under the spec's policy (automatic decline)".into(),
        });
        let hits = screening
            .hits
            .iter()
            .map(|h| CaseHit {
                entity_id: h.entity_id.clone(),
                source: h.source.clone(),
                matched_name: h.matched_name.clone(),
                match_score: h.match_score,
                risk_score: h.risk_score,
                categories: h.categories.clone(),
                status: h.review_status,
                explanation: serde_json::to_value(h.explanation.without_query_values()).unwrap_or(Value::Null),
                decided: None,
            })
            .collect();
        Case {
            id,
            request_id: request_id.to_owned(),
            officer: officer.to_owned(),
            holder: holder.to_owned(),
            subject: subject.to_owned(),
            spec_id: spec.0.to_owned(),
            spec_version: spec.1,
            status,
            no_match_reason: screening.no_match_reason,
            engine_decision: screening.decision,
            result_code: screening.result_code.code().to_owned(),
            hits,
            list_versions: screening.lists.clone(),
            created_at: now,
            updated_at: now,
            assignee: None,
            decision,
            revision: 1,
            suppressed: Vec::new(),
            inherited_from: None,
        }
    }

    /// The sorted ids of the possible matches: what inheritance compares.
    pub fn hit_set(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.hits.iter().map(|h| h.entity_id.as_str()).collect();
        ids.sort_unstable();
        ids
    }
}

/// A keyed fingerprint of who was screened: HMAC-SHA256 under a node secret over the
/// normalized name (folded, tokens sorted), birth date and document number. It recognizes
/// the same subject across requests without keeping anything that reveals the claims (the
/// key never leaves the node, so the fingerprint cannot be brute-forced from a name guess
/// by whoever reads the store).
pub fn fingerprint(key: &[u8; 32], query: &Query) -> String {
    let mut tokens: Vec<String> = query
        .name
        .as_deref()
        .map(|n| crate::screening::normalize::fold(n).split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    tokens.sort_unstable();
    let dob = query.birth_date.map(|d| d.to_string()).unwrap_or_default();
    let doc = query.document_number.as_deref().map(crate::screening::normalize_document).unwrap_or_default();
    // A 32-byte key is always a valid HMAC key.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in [tokens.join(" "), dob, doc] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    format!("sub_{}", hex::encode(&mac.finalize().into_bytes()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::PartialDate;

    #[test]
    fn ids_sort_in_creation_order_and_stay_unguessable() {
        let first = new_id("req");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id("req");
        assert!(first < second, "{first} !< {second}");
        assert_eq!(first.len(), "req_".len() + 32);
        // Same millisecond: the random part differs.
        let (a, b) = (time_ordered_id(), time_ordered_id());
        assert_ne!(a[6..], b[6..]);
        let uuid = crate::credentials::urn_uuid();
        let hex = uuid.strip_prefix("urn:uuid:").unwrap().replace('-', "");
        assert_eq!(&hex[12..13], "7", "version 7: {uuid}");
        assert!(matches!(&hex[16..17], "8" | "9" | "a" | "b"), "RFC 9562 variant: {uuid}");
    }

    #[test]
    fn fingerprint_ignores_form_not_identity() {
        let key = [1u8; 32];
        let q = |name: &str, dob: &str, doc: &str| Query {
            name: Some(name.into()),
            birth_date: PartialDate::parse_iso(dob),
            document_number: Some(doc.into()),
            ..Query::default()
        };
        let a = fingerprint(&key, &q("José  García", "1980-02-03", "AB 123-456"));
        assert_eq!(a, fingerprint(&key, &q("garcia, JOSE", "1980-02-03", "ab123456")));
        assert_ne!(a, fingerprint(&key, &q("José García", "1980-02-04", "AB123456")));
        assert_ne!(a, fingerprint(&[2u8; 32], &q("José García", "1980-02-03", "AB123456")));
        assert!(a.starts_with("sub_") && a.len() == 36);
    }
}
