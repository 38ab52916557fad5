//! From scored hits to a decision, its reason and Smile ID's result code.

use serde::{Deserialize, Serialize};

use crate::lists::Category;

use super::policy::AutoDecline;
use super::{Hit, ListVersion, Policy, Query, Screening};

/// The engine's decision. Holders see Approved (no-match or approved), In Review or Declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Nothing on the lists matched; see the no-match reason.
    NoMatch,
    /// Possible matches exist, all low-risk and none a sanction.
    Approved,
    /// Possible matches need an officer.
    Review,
    /// Declined without review, as the policy allows (e.g. a golden key on a sanctions list).
    Declined,
}

impl Decision {
    /// Didit-style status shown to holders.
    pub fn holder_status(self) -> &'static str {
        match self {
            Decision::NoMatch | Decision::Approved => "Approved",
            Decision::Review => "In Review",
            Decision::Declined => "Declined",
        }
    }
}

/// Review status of one hit (Didit): automatic below the match threshold, then an officer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HitStatus {
    FalsePositive,
    Unreviewed,
    ConfirmedMatch,
    Inconclusive,
}

/// Why a check ended as no-match (Rebilly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoMatchReason {
    /// No listed entity resembled the subject.
    NoHitsFound,
    /// Names agreed but other fields (birth date, country) ruled the candidates out.
    MismatchedHits,
    /// Candidates resembled the subject but scored below the match threshold.
    HitsAreBelowRelevanceScoreThreshold,
    /// The engine failed; never a pass. Set by callers, not by the engine itself.
    InternalSystemError,
    /// Every possible match was cleared as a false positive for this subject by an officer
    /// within the last year (suppression). Set by callers, not by the engine itself.
    SuppressedFalsePositives,
}

/// Smile ID's AML result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 1030: matched at least one listed person.
    Listed,
    /// 1031: not found on any list.
    NotListed,
    /// 1017: only adverse media found.
    NotListedWarning,
    /// 1023: nothing above the threshold; adding a birth year would refine the search.
    NoMatchRefine,
    /// 1015: lists unavailable.
    DatabaseUnavailable,
}

impl ResultCode {
    pub fn code(self) -> &'static str {
        match self {
            ResultCode::Listed => "1030",
            ResultCode::NotListed => "1031",
            ResultCode::NotListedWarning => "1017",
            ResultCode::NoMatchRefine => "1023",
            ResultCode::DatabaseUnavailable => "1015",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            ResultCode::Listed => "Found on list",
            ResultCode::NotListed => "Not found on list",
            ResultCode::NotListedWarning => "Not found on list - warning",
            ResultCode::NoMatchRefine => "No match found",
            ResultCode::DatabaseUnavailable => "Database Unavailable",
        }
    }
}

impl Serialize for ResultCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// Candidates at or above this match score count as "relevant" for the no-match reason and
/// are reported as automatic false positives.
pub(super) const RELEVANCE_FLOOR: u8 = 70;
pub(super) const MAX_FALSE_POSITIVES: usize = 5;

/// Decides from scored hits. Each entry: the hit, its raw name score (0-1) and whether it was
/// a golden-key match. `mismatched`: a candidate not among `scored` (the caller passes only
/// the false positives it reports) was a name match that other fields ruled out.
pub(super) fn decide(
    scored: Vec<(Hit, f64, bool)>,
    mut mismatched: bool,
    policy: &Policy,
    query: &Query,
    lists: Vec<ListVersion>,
) -> Screening {
    let mut hits = Vec::new();
    let mut fps = Vec::new();
    let mut golden_sanction = false;
    for (hit, name_score, golden) in scored {
        if hit.review_status == super::HitStatus::Unreviewed {
            if golden && hit.categories.contains(&Category::Sanction) {
                golden_sanction = true;
            }
            hits.push(hit);
        } else {
            // The name alone would have been a possible match: other fields ruled it out.
            let name_alone = (name_score * 100.0).round() >= f64::from(policy.threshold_for(&hit.source));
            mismatched |= name_alone;
            if name_alone || hit.match_score >= RELEVANCE_FLOOR {
                fps.push(hit);
            }
        }
    }
    let prio = |h: &Hit| policy.source(&h.source).priority;
    hits.sort_by(|a, b| {
        prio(a)
            .cmp(&prio(b))
            .then(b.match_score.cmp(&a.match_score))
            .then(b.risk_score.cmp(&a.risk_score))
            .then(a.entity_id.cmp(&b.entity_id))
    });
    hits.truncate(usize::from(policy.max_hits));
    fps.sort_by(|a, b| b.match_score.cmp(&a.match_score).then(a.entity_id.cmp(&b.entity_id)));
    fps.truncate(MAX_FALSE_POSITIVES);

    if hits.is_empty() {
        let reason = if mismatched {
            NoMatchReason::MismatchedHits
        } else if !fps.is_empty() {
            NoMatchReason::HitsAreBelowRelevanceScoreThreshold
        } else {
            NoMatchReason::NoHitsFound
        };
        let code = if reason == NoMatchReason::HitsAreBelowRelevanceScoreThreshold && query.birth_date.is_none() {
            ResultCode::NoMatchRefine
        } else {
            ResultCode::NotListed
        };
        return Screening {
            decision: Decision::NoMatch,
            no_match_reason: Some(reason),
            result_code: code,
            hits,
            false_positives: fps,
            lists,
        };
    }

    let (decision, result_code) = decide_possible_matches(&hits, golden_sanction, policy);
    Screening { decision, no_match_reason: None, result_code, hits, false_positives: fps, lists }
}

/// The decision and result code for a non-empty set of possible matches.
fn decide_possible_matches(hits: &[Hit], golden_sanction: bool, policy: &Policy) -> (Decision, ResultCode) {
    let sanction = hits.iter().any(|h| h.categories.contains(&Category::Sanction));
    let max_risk = hits.iter().map(|h| h.risk_score).max().unwrap_or(0);
    let decision = match policy.auto_decline {
        AutoDecline::GoldenKey | AutoDecline::Risk if golden_sanction => Decision::Declined,
        AutoDecline::Risk if max_risk >= policy.decline_threshold => Decision::Declined,
        // The fixed rule: a possible sanctions match is never approved automatically.
        _ if !sanction && max_risk < policy.approve_below => Decision::Approved,
        _ => Decision::Review,
    };
    let only_media = hits.iter().all(|h| h.categories.iter().all(|c| *c == Category::AdverseMedia));
    let result_code = if only_media { ResultCode::NotListedWarning } else { ResultCode::Listed };
    (decision, result_code)
}

impl Screening {
    /// The screening with some possible matches taken out (e.g. false positives an officer
    /// already cleared for this subject), decided again under the same policy. Without any
    /// possible match left it is a no-match for `reason`.
    pub fn without_hits(mut self, entity_ids: &[&str], policy: &Policy, reason: NoMatchReason) -> Screening {
        self.hits.retain(|h| !entity_ids.contains(&h.entity_id.as_str()));
        if self.hits.is_empty() {
            self.decision = Decision::NoMatch;
            self.no_match_reason = Some(reason);
            self.result_code = ResultCode::NotListed;
        } else {
            let golden_sanction = self
                .hits
                .iter()
                .any(|h| h.explanation.golden_key.is_some() && h.categories.contains(&Category::Sanction));
            (self.decision, self.result_code) = decide_possible_matches(&self.hits, golden_sanction, policy);
        }
        self
    }
}
