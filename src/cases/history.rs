//! What earlier reviews mean for a new check: suppressed false positives and inherited
//! outcomes (seed 001).
//!
//! - **Suppression.** When an officer clears a hit as a false positive, that listed entity is
//!   suppressed for that subject (the keyed fingerprint of its identifying claims) for
//!   [`SUPPRESSION_DAYS`]: later checks of the subject leave it out and record that they did
//!   (`suppressed` on the case). After a year it is raised again.
//! - **Inheritance.** A new check whose possible matches are exactly those of an earlier check
//!   that was reviewed (confirmed-match or false-positive, not pending or no-match) takes that
//!   outcome, links to it and records why: the same subject's earlier check, the same identity
//!   under another holder DID, or the same holder DID with other data. The same subject's own
//!   check wins over a related one; among equals the newest. Only reviews of the last
//!   [`SUPPRESSION_DAYS`] are inherited, so a review outcome is reused for as long as a
//!   suppression lasts and no longer.
//!
//! Both only look at the same officer's checks.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Case, CaseStatus, Decided, Inheritance, InheritanceReason, SuppressedHit, ts_key};
use crate::error::Result;
use crate::screening::{HitStatus, NoMatchReason, Screening};
use crate::specs::Spec;
use crate::store::{Batch, Store};

pub const SUPPRESSIONS_TREE: &str = "suppressions";
/// Reviewed checks by subject and by holder, newest last: what inheritance searches.
pub const LINKS_TREE: &str = "case_links";
/// How long a false positive stays suppressed, and a review outcome is inherited.
pub const SUPPRESSION_DAYS: i64 = 365;

/// A listed entity cleared for a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub until: DateTime<Utc>,
    pub cleared_in: String,
    pub by: String,
}

fn suppression_key(officer: &str, subject: &str, entity: &str) -> String {
    format!("{officer}|{subject}|{entity}")
}

/// Who is being checked, under what.
pub struct CheckContext<'a> {
    pub request_id: &'a str,
    pub officer: &'a str,
    pub holder: &'a str,
    pub subject: &'a str,
    pub spec: &'a Spec,
}

/// The case of a fresh screening after suppression and inheritance.
pub fn prepare_case(
    store: &Store,
    ctx: &CheckContext<'_>,
    screening: Screening,
    case_id: String,
    now: DateTime<Utc>,
) -> Result<Case> {
    let mut suppressed = Vec::new();
    for h in &screening.hits {
        if let Some(s) =
            store.get::<Suppression>(SUPPRESSIONS_TREE, &suppression_key(ctx.officer, ctx.subject, &h.entity_id))?
            && s.until > now
        {
            suppressed.push(SuppressedHit { entity_id: h.entity_id.clone(), cleared_in: s.cleared_in, until: s.until });
        }
    }
    let screening = if suppressed.is_empty() {
        screening
    } else {
        let ids: Vec<&str> = suppressed.iter().map(|s| s.entity_id.as_str()).collect();
        screening.without_hits(&ids, &ctx.spec.policy, NoMatchReason::SuppressedFalsePositives)
    };
    let mut case = Case::from_screening(
        case_id,
        ctx.request_id,
        ctx.officer,
        ctx.holder,
        ctx.subject,
        (&ctx.spec.id, ctx.spec.version),
        &screening,
        now,
    );
    case.suppressed = suppressed;
    if case.status == CaseStatus::PendingReview
        && let Some((source, reason)) = inheritance_source(store, &case, now)?
    {
        inherit(&mut case, &source, reason, now);
    }
    Ok(case)
}

fn link_keys(case: &Case) -> [String; 2] {
    let at = ts_key(case.decision.as_ref().map_or(case.updated_at, |d| d.at));
    [
        format!("{}|s|{}|{at}|{}", case.officer, case.subject, case.id),
        format!("{}|h|{}|{at}|{}", case.officer, case.holder, case.id),
    ]
}

/// Records a reviewed case for inheritance, and suppresses the hits an officer cleared.
pub fn stage_review(batch: &mut Batch, case: &Case, now: DateTime<Utc>) -> Result<()> {
    if !case.status.is_reviewed() {
        return Ok(());
    }
    for k in link_keys(case) {
        batch.put(LINKS_TREE, &k, &())?;
    }
    if case.inherited_from.is_some() {
        // Only an officer's own review of this subject suppresses.
        return Ok(());
    }
    let until = now + Duration::days(SUPPRESSION_DAYS);
    for h in &case.hits {
        let by_officer = h.decided.as_ref().filter(|d| d.by != "engine");
        if h.status == HitStatus::FalsePositive
            && let Some(d) = by_officer
        {
            let s = Suppression { until, cleared_in: case.id.clone(), by: d.by.clone() };
            batch.put(SUPPRESSIONS_TREE, &suppression_key(&case.officer, &case.subject, &h.entity_id), &s)?;
        }
    }
    Ok(())
}

/// The reviewed check to inherit from, if any, and why.
fn inheritance_source(store: &Store, case: &Case, now: DateTime<Utc>) -> Result<Option<(Case, InheritanceReason)>> {
    let hits = case.hit_set();
    let oldest = now - Duration::days(SUPPRESSION_DAYS);
    let mut best: Option<(Case, InheritanceReason, DateTime<Utc>)> = None;
    for prefix in [format!("{}|s|{}|", case.officer, case.subject), format!("{}|h|{}|", case.officer, case.holder)] {
        let links = store.scan::<()>(LINKS_TREE, &prefix, None, 10_000)?;
        // Newest first; a few hundred reviewed checks per subject is plenty to look at.
        for (k, ()) in links.iter().rev().take(256) {
            let Some(id) = k.rsplit('|').next() else { continue };
            let Some(source) = store.get::<Case>(super::CASES_TREE, id)? else { continue };
            let Some(decided) = source.decision.as_ref().map(|d| d.at) else { continue };
            if !source.status.is_reviewed() || decided < oldest || source.hit_set() != hits {
                continue;
            }
            let reason = if source.subject == case.subject && source.holder == case.holder {
                InheritanceReason::SameSubject
            } else if source.subject == case.subject {
                InheritanceReason::SameIdentity
            } else {
                InheritanceReason::SameHolder
            };
            let better = match &best {
                None => true,
                Some((_, r, at)) => {
                    (reason.priority(), std::cmp::Reverse(decided)) < (r.priority(), std::cmp::Reverse(*at))
                }
            };
            if better {
                best = Some((source, reason, decided));
            }
        }
    }
    Ok(best.map(|(c, r, _)| (c, r)))
}

fn inherit(case: &mut Case, source: &Case, reason: InheritanceReason, now: DateTime<Utc>) {
    case.status = source.status;
    for h in &mut case.hits {
        if let Some(s) = source.hits.iter().find(|s| s.entity_id == h.entity_id) {
            h.status = s.status;
            h.decided = s.decided.clone();
        }
    }
    let description = reason.description().to_owned();
    case.decision = Some(Decided {
        by: "engine".into(),
        at: now,
        reason: format!("inherited {} from check {}: {description}", source.status.as_str(), source.id),
    });
    case.inherited_from = Some(Inheritance { case_id: source.id.clone(), reason, description });
}
