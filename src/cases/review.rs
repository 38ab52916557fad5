//! Officer review of checks: the queue, opening a case, per-hit and case decisions,
//! releasing a case back to the queue, and re-running a check whose screening failed.
//!
//! Allowed transitions (anything else is a typed 409):
//!
//! ```text
//! pending-review --open-->    in-review          (records who opened it)
//! in-review      --release--> pending-review
//! in-review      --decide-->  confirmed-match | false-positive
//! error          --rerun-->   a new check of the same request
//! ```
//!
//! Every change names the case revision the officer saw; a stale revision loses with 409
//! `case_conflict`, so two officers (or two tabs) cannot both decide one case. A decision
//! drives issuance: a false positive issues the credential and certificate (once), a confirmed
//! match rejects the request with a reason that reveals nothing about the hit and revokes any
//! credential issued earlier.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::history::{CheckContext, stage_review};
use super::{BY_OFFICER_TREE, CASES_TREE, Case, CaseStatus, Decided, QUEUE_TREE, new_id, prepare_case};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::officers::Officer;
use crate::profiles::{PROFILES_TREE, ProfilePurpose, StoredProfile, open_profile};
use crate::requests::{self, REQUESTS_TREE, RequestRecord, RequestStatus, Settled, case_audit, case_events, settle};
use crate::screening::HitStatus;
use crate::specs::Spec;
use crate::store::Batch;
use crate::watchlists::Snapshot;
use crate::webhooks::{Event, types as webhook_types};

/// Queue filters and paging.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueFilter {
    /// One status; default: the open ones (pending-review and in-review).
    #[serde(default)]
    pub status: Option<CaseStatus>,
    #[serde(default)]
    pub spec: Option<String>,
    /// Only cases at least this old.
    #[serde(default)]
    pub min_age_secs: Option<u64>,
    /// The `next` cursor of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One page of the queue, oldest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueuePage {
    pub cases: Vec<Case>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The officer's cases, oldest first.
pub fn queue(node: &Node, officer: &str, f: &QueueFilter) -> Result<QueuePage> {
    let limit = f.limit.unwrap_or(50).clamp(1, 500);
    let open_only = f.status.is_none_or(CaseStatus::is_open);
    let tree = if open_only { QUEUE_TREE } else { BY_OFFICER_TREE };
    let prefix = format!("{officer}|");
    if let Some(a) = &f.after
        && !a.starts_with(&prefix)
    {
        return Err(Error::bad_request("queue_bad_cursor", "`after` is not a cursor of this queue"));
    }
    let newest = f.min_age_secs.map(|s| node.clock.now() - chrono::Duration::seconds(s.min(i64::MAX as u64) as i64));
    let mut cases = Vec::new();
    let mut cursor = f.after.clone();
    let mut next = None;
    'pages: loop {
        let page = node.store.scan::<()>(tree, &prefix, cursor.as_deref(), 500)?;
        let Some((last, _)) = page.last() else { break };
        cursor = Some(last.clone());
        for (k, ()) in page {
            let Some(id) = k.rsplit('|').next() else { continue };
            let Some(c) = node.store.get::<Case>(CASES_TREE, id)? else { continue };
            if newest.is_some_and(|n| c.created_at > n) {
                // Keys are in age order: everything after is younger too.
                break 'pages;
            }
            if f.status.is_some_and(|s| s != c.status) || f.spec.as_ref().is_some_and(|s| *s != c.spec_id) {
                continue;
            }
            if cases.len() == limit {
                next = cases.last().map(Case::queue_key);
                break 'pages;
            }
            cases.push(c);
        }
    }
    Ok(QueuePage { cases, next })
}

/// A case of this officer (404 for anyone else's).
pub fn case_for(node: &Node, officer: &str, id: &str) -> Result<Case> {
    Ok(load(node, officer, id)?.0)
}

fn load(node: &Node, officer: &str, id: &str) -> Result<(Case, Vec<u8>)> {
    let not_found = || Error::not_found("case_not_found", "you have no such case");
    let raw = node.store.backend().get(CASES_TREE, id.as_bytes())?.ok_or_else(not_found)?;
    let case: Case =
        serde_json::from_slice(&raw).map_err(|e| Error::internal("storage_corrupt", format!("case {id}: {e}")))?;
    if case.officer != officer {
        return Err(not_found());
    }
    Ok((case, raw))
}

fn conflict(case: &Case) -> Error {
    Error::conflict("case_conflict", "the case changed since you read it; reload it and decide again")
        .with_details(json!({"current_revision": case.revision, "status": case.status, "assignee": case.assignee}))
}

fn check_revision(case: &Case, revision: Option<u64>) -> Result<()> {
    match revision {
        Some(r) if r != case.revision => Err(conflict(case)),
        _ => Ok(()),
    }
}

fn require_in_review(case: &Case) -> Result<()> {
    match case.status {
        CaseStatus::InReview => Ok(()),
        CaseStatus::PendingReview => {
            Err(Error::conflict("case_not_in_review", "open the case before deciding (it is pending review)"))
        }
        s if s.is_reviewed() => Err(Error::conflict("case_closed", format!("the case is already {}", s.as_str()))),
        s => Err(Error::conflict("case_not_reviewable", format!("a {} check has nothing to review", s.as_str()))),
    }
}

/// Writes a changed case if nobody changed it meanwhile.
async fn save(
    node: &Node,
    old_raw: Vec<u8>,
    case: &mut Case,
    mut batch: Batch,
    audit: Vec<crate::audit::AuditEvent>,
    events: &[Event],
    now: DateTime<Utc>,
) -> Result<()> {
    case.revision += 1;
    case.updated_at = now;
    batch.expect_raw(CASES_TREE, case.id.as_bytes(), Some(old_raw));
    case.stage(&mut batch)?;
    stage_review(&mut batch, case, now)?;
    if !node.commit(batch, audit, events)? {
        let current = case_for(node, &case.officer, &case.id)?;
        return Err(conflict(&current));
    }
    requests::flush(node).await
}

/// pending-review -> in-review, assigned to the officer.
pub async fn open(node: &Node, officer: &str, id: &str, revision: Option<u64>) -> Result<Case> {
    let (mut case, raw) = load(node, officer, id)?;
    check_revision(&case, revision)?;
    match case.status {
        CaseStatus::PendingReview => {}
        CaseStatus::InReview => {
            return Err(Error::conflict("case_in_review", "the case is already open")
                .with_details(json!({"assignee": case.assignee, "current_revision": case.revision})));
        }
        _ => require_in_review(&case)?,
    }
    let now = node.clock.now();
    case.status = CaseStatus::InReview;
    case.assignee = Some(officer.to_owned());
    let audit = vec![crate::audit::AuditEvent::new(
        officer,
        officer,
        "case.opened",
        &case.id,
        json!({"request_id": case.request_id}),
    )];
    save(node, raw, &mut case, Batch::new(), audit, &[], now).await?;
    Ok(case)
}

/// in-review -> pending-review.
pub async fn release(node: &Node, officer: &str, id: &str, revision: Option<u64>) -> Result<Case> {
    let (mut case, raw) = load(node, officer, id)?;
    check_revision(&case, revision)?;
    require_in_review(&case)?;
    let now = node.clock.now();
    case.status = CaseStatus::PendingReview;
    case.assignee = None;
    let audit = vec![crate::audit::AuditEvent::new(
        officer,
        officer,
        "case.released",
        &case.id,
        json!({"request_id": case.request_id}),
    )];
    save(node, raw, &mut case, Batch::new(), audit, &[], now).await?;
    Ok(case)
}

/// An officer's decision on one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HitDecision {
    ConfirmedMatch,
    FalsePositive,
    Inconclusive,
}

impl From<HitDecision> for HitStatus {
    fn from(d: HitDecision) -> HitStatus {
        match d {
            HitDecision::ConfirmedMatch => HitStatus::ConfirmedMatch,
            HitDecision::FalsePositive => HitStatus::FalsePositive,
            HitDecision::Inconclusive => HitStatus::Inconclusive,
        }
    }
}

fn reason_of(reason: &str) -> Result<String> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 2000 {
        return Err(Error::bad_request("reason_required", "give a reason of 1-2000 characters"));
    }
    Ok(r.to_owned())
}

fn mark_hit(
    case: &mut Case,
    entity: &str,
    decision: HitDecision,
    officer: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let hit = case.hits.iter_mut().find(|h| h.entity_id == entity).ok_or_else(|| {
        Error::not_found(
            "hit_not_found",
            format!("the case has no hit `{}`", entity.chars().take(80).collect::<String>()),
        )
    })?;
    hit.status = decision.into();
    hit.decided = Some(Decided { by: officer.to_owned(), at: now, reason: reason.to_owned() });
    Ok(())
}

/// Records a decision on one hit of an open case.
pub async fn decide_hit(
    node: &Node,
    officer: &str,
    id: &str,
    entity: &str,
    decision: HitDecision,
    reason: &str,
    revision: u64,
) -> Result<Case> {
    let (mut case, raw) = load(node, officer, id)?;
    check_revision(&case, Some(revision))?;
    require_in_review(&case)?;
    let reason = reason_of(reason)?;
    let now = node.clock.now();
    mark_hit(&mut case, entity, decision, officer, &reason, now)?;
    let audit = vec![crate::audit::AuditEvent::new(
        officer,
        officer,
        "hit.decided",
        &case.id,
        json!({"entity_id": entity, "status": HitStatus::from(decision), "reason": reason}),
    )];
    save(node, raw, &mut case, Batch::new(), audit, &[], now).await?;
    Ok(case)
}

/// The outcome of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseOutcome {
    ConfirmedMatch,
    FalsePositive,
}

/// A case decision: the outcome, why, the revision seen, and optionally per-hit decisions
/// made in the same step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDecision {
    pub outcome: CaseOutcome,
    pub reason: String,
    pub revision: u64,
    #[serde(default)]
    pub hits: BTreeMap<String, HitDecision>,
}

/// Closes an open case and applies the outcome to its request.
pub async fn decide(node: &Node, officer: &Officer, id: &str, d: &CaseDecision) -> Result<(Case, RequestRecord)> {
    let (mut case, raw) = load(node, &officer.id, id)?;
    check_revision(&case, Some(d.revision))?;
    require_in_review(&case)?;
    let reason = reason_of(&d.reason)?;
    let now = node.clock.now();
    for (entity, decision) in &d.hits {
        mark_hit(&mut case, entity, *decision, &officer.id, &reason, now)?;
    }
    match d.outcome {
        CaseOutcome::FalsePositive => {
            if case.hits.iter().any(|h| h.status == HitStatus::ConfirmedMatch) {
                return Err(Error::unprocessable(
                    "case_has_confirmed_hit",
                    "a hit is marked confirmed-match: the case cannot be a false positive",
                ));
            }
            for h in case.hits.iter_mut().filter(|h| h.status != HitStatus::FalsePositive) {
                h.status = HitStatus::FalsePositive;
                h.decided = Some(Decided { by: officer.id.clone(), at: now, reason: reason.clone() });
            }
            case.status = CaseStatus::FalsePositive;
        }
        CaseOutcome::ConfirmedMatch => {
            if !case.hits.iter().any(|h| h.status == HitStatus::ConfirmedMatch) {
                return Err(Error::unprocessable(
                    "no_confirmed_hit",
                    "mark at least one hit confirmed-match (in `hits`, or one by one) to confirm the case",
                ));
            }
            case.status = CaseStatus::ConfirmedMatch;
        }
    }
    case.assignee = None;
    case.decision = Some(Decided { by: officer.id.clone(), at: now, reason: reason.clone() });

    let request: RequestRecord = node
        .store
        .get(REQUESTS_TREE, &case.request_id)?
        .ok_or_else(|| Error::internal("request_missing", "the case's request is missing"))?;
    let spec = node
        .specs
        .version(&case.spec_id, case.spec_version)?
        .ok_or_else(|| Error::internal("spec_missing", "the case's spec version is missing"))?;
    let mut batch = Batch::new();
    let mut audit = vec![crate::audit::AuditEvent::new(
        &officer.id,
        &officer.id,
        "case.decided",
        &case.id,
        json!({
            "request_id": case.request_id,
            "outcome": case.status,
            "reason": reason,
            "hits": case.hits.iter().map(|h| json!({"entity_id": h.entity_id, "status": h.status})).collect::<Vec<_>>(),
        }),
    )];
    let mut events = vec![Event::new(
        webhook_types::CASE_DECIDED,
        &officer.id,
        json!({"case_id": case.id, "request_id": case.request_id, "holder": case.holder, "status": case.status, "by": officer.id}),
        now,
    )];
    // Only the request's current check drives it (a newer check may have replaced this one).
    let settled = if request.case_id == case.id {
        Some(
            settle(node, request.clone(), &case, &spec, officer, &officer.id, &mut batch, &mut audit, &mut events)
                .await?,
        )
    } else {
        None
    };
    save(node, raw, &mut case, batch, audit, &events, now).await?;
    let request = match settled {
        Some(s) => {
            s.apply(node)?;
            s.request
        }
        None => request,
    };
    Ok((case, request))
}

/// Re-runs a check whose screening failed, from the request's re-run profile, as a new check.
pub async fn rerun(node: &Node, officer: &Officer, id: &str) -> Result<(Case, RequestRecord)> {
    let (old, _) = load(node, &officer.id, id)?;
    if old.status != CaseStatus::Error {
        return Err(Error::conflict("case_not_failed", "only a check whose screening failed can be re-run"));
    }
    let request: RequestRecord = node
        .store
        .get(REQUESTS_TREE, &old.request_id)?
        .ok_or_else(|| Error::internal("request_missing", "the case's request is missing"))?;
    if request.case_id != old.id {
        return Err(Error::conflict("case_superseded", "the request has a newer check"));
    }
    let profile: StoredProfile = node
        .store
        .get(PROFILES_TREE, &request.id)?
        .ok_or_else(|| Error::conflict("profile_missing", "no screening profile is kept for this request"))?;
    let spec = node
        .specs
        .version(&old.spec_id, old.spec_version)?
        .ok_or_else(|| Error::internal("spec_missing", "the case's spec version is missing"))?;
    let snapshot = node.lists.ready(node.clock.now())?;
    let actor = officer.id.clone();
    let check = Recheck { officer, actor: &actor, spec: &spec, action: "check.rerun", case_id: new_id("case") };
    let (case, settled) = recheck(node, &check, request, profile, &snapshot, Vec::new()).await?;
    Ok((case, settled.request))
}

/// How a request is checked again from its profile.
pub struct Recheck<'a> {
    pub officer: &'a Officer,
    /// Who the audit log names (an officer, or `monitoring`).
    pub actor: &'a str,
    pub spec: &'a Spec,
    /// The audit action of the new check (`check.rerun`, `check.monitoring`).
    pub action: &'static str,
    pub case_id: String,
}

/// Screens a request's subject again from its sealed profile, as a new check on `snapshot`,
/// and settles the request on it (issue, suspend, reinstate or revoke), committing the case,
/// the request, the audit entries and `events` together.
pub async fn recheck(
    node: &Node,
    check: &Recheck<'_>,
    request: RequestRecord,
    profile: StoredProfile,
    snapshot: &Snapshot,
    mut events: Vec<Event>,
) -> Result<(Case, Settled)> {
    let now = node.clock.now();
    let spec = check.spec;
    let mut query = open_profile(&node.secrets.profile, &profile)?;
    let screened = snapshot.watchlists.screen(&query, &spec.policy);
    crate::requests::claims::wipe_query(&mut query);
    let screening =
        screened.map_err(|e| Error::unavailable("screening_failed", format!("the screening failed again: {e}")))?;
    let ctx = CheckContext {
        request_id: &request.id,
        officer: &check.officer.id,
        holder: &request.holder,
        subject: &request.subject,
        spec,
    };
    let case = prepare_case(&node.store, &ctx, screening, check.case_id.clone(), now)?;
    let mut batch = Batch::new();
    batch.expect_raw(
        REQUESTS_TREE,
        request.id.as_bytes(),
        node.store.backend().get(REQUESTS_TREE, request.id.as_bytes())?,
    );
    let mut audit = vec![case_audit(&case, check.action, check.actor)];
    events.extend(case_events(&case, now));
    let settled =
        settle(node, request, &case, spec, check.officer, check.actor, &mut batch, &mut audit, &mut events).await?;
    case.stage(&mut batch)?;
    stage_review(&mut batch, &case, now)?;
    if spec.monitoring && settled.request.status != RequestStatus::Rejected {
        let key = profile.request_id.clone();
        batch.put(PROFILES_TREE, &key, &StoredProfile { purpose: ProfilePurpose::Monitoring, ..profile })?;
    } else {
        batch.remove(PROFILES_TREE, &profile.request_id);
    }
    if !node.commit(batch, audit, &events)? {
        return Err(Error::conflict("request_conflict", "the request changed meanwhile; retry"));
    }
    settled.apply(node)?;
    requests::flush(node).await?;
    Ok((case, settled))
}
