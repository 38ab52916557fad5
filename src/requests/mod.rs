//! A holder's request for an AML credential, end to end.
//!
//! 1. [`challenge`]: a single-use nonce (TTL from the config) bound to the holder DID and
//!    the spec.
//! 2. [`submit`]: the holder sends the spec id, the presentation (as the exact JSON text it
//!    signed the digest of), the challenge message and its signature. The node checks the
//!    message and signature, the binding to the presentation, the challenge (unknown,
//!    expired, for another holder or spec, or already used are refused), verifies every KYC
//!    credential, collects the spec's claims (missing ones are answered with who can provide
//!    them, and nothing is screened), screens them, seals them to the officer and drops the
//!    plaintext. On a pass it issues the AML credential and a first certificate.
//! 3. Everything the request produced (request, case, sealed input, credential, certificate)
//!    is committed in one atomic batch, with the challenge marked used, and flushed to disk
//!    before the node answers.
//!
//! The challenge is consumed only by a request that commits, so a holder told that claims
//! are missing can come back with more credentials under the same challenge. Of concurrent
//! requests under one challenge exactly one commits; the others are refused as a replay.

pub mod claims;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::AuditEvent;
use crate::cases::history::{CheckContext, stage_review};
use crate::cases::{Case, CaseStatus, fingerprint, new_id, prepare_case};
use crate::claims::{ChallengeMessage, Nonce, Presentation, check_binding, verify_kyc_credential};
use crate::credentials::StatusPurpose;
use crate::error::{Error, Result};
use crate::issuer::{CertificateRecord, CredentialRecord, Issuer, Revocable, StatusChange};
use crate::keys::ed25519_from_did;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::officers::Officer;
use crate::profiles::{PROFILES_TREE, ProfilePurpose, StoredProfile, seal_profile};
use crate::screening::Decision;
use crate::seal::SealedRecord;
use crate::specs::Spec;
use crate::store::Batch;
use crate::webhooks::{Event, types as webhook_types};

pub const CHALLENGES_TREE: &str = "challenges";
pub const REQUESTS_TREE: &str = "requests";
pub const SEALED_TREE: &str = "sealed";
pub const HOLDER_REQUESTS_TREE: &str = "holder_requests";

/// A challenge as stored (no PII: a DID and a spec id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    pub holder: String,
    pub spec_id: String,
    pub expires_at: DateTime<Utc>,
    /// The request that consumed it.
    #[serde(default)]
    pub used_by: Option<String>,
}

/// What the holder gets back: everything needed to build the message to sign.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub nonce: String,
    pub domain: String,
    pub holder_did: String,
    pub spec_id: String,
    pub expires_at: DateTime<Utc>,
}

/// Issues a challenge for a holder and an active spec.
pub fn challenge(node: &Node, holder_did: &str, spec_id: &str) -> Result<Challenge> {
    ed25519_from_did(holder_did)?;
    let spec = node.specs.active(spec_id)?;
    let nonce = Nonce::generate();
    let expires_at = node.clock.now() + Duration::seconds(node.config.challenge_ttl_secs as i64);
    let record = ChallengeRecord { holder: holder_did.to_owned(), spec_id: spec.id.clone(), expires_at, used_by: None };
    node.store.put(CHALLENGES_TREE, nonce.as_str(), &record)?;
    Ok(Challenge {
        nonce: nonce.as_str().to_owned(),
        domain: node.domain.clone(),
        holder_did: holder_did.to_owned(),
        spec_id: spec.id,
        expires_at,
    })
}

/// A holder's submission.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub spec_id: String,
    /// The presentation JSON, as the exact text whose SHA-256 the message carries.
    pub presentation: String,
    /// The challenge message text the holder signed.
    pub message: String,
    /// Ed25519 signature over the message, base64url or base58.
    pub signature: String,
}

/// Where a request stands, as the holder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestStatus {
    /// A credential was issued.
    Issued,
    /// An officer reviews possible matches.
    InReview,
    /// The AML check did not pass.
    Rejected,
    /// The check could not run; nothing was decided.
    Error,
}

impl RequestStatus {
    /// Didit's holder-facing decision.
    pub fn decision(self) -> &'static str {
        match self {
            RequestStatus::Issued => "Approved",
            RequestStatus::InReview | RequestStatus::Error => "In Review",
            RequestStatus::Rejected => "Declined",
        }
    }
}

/// The message holders see when a check did not pass: it reveals nothing about any hit.
pub const REJECTION_REASON: &str = "The AML check did not pass under this credential spec.";

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: String,
    pub holder: String,
    pub officer: String,
    pub spec_id: String,
    pub spec_version: u32,
    pub status: RequestStatus,
    /// The current check.
    pub case_id: String,
    #[serde(default)]
    pub credential_id: Option<String>,
    #[serde(default)]
    pub rejection_reason: Option<String>,
    pub subject: String,
    pub presentation_digest: String,
    pub kyc_issuers: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A request with what it produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub request: RequestRecord,
    pub credential: Option<CredentialRecord>,
    pub certificate: Option<CertificateRecord>,
}

fn holder_index_key(r: &RequestRecord) -> String {
    format!("{}|{}|{}", r.holder, r.created_at.timestamp(), r.id)
}

/// Checks the challenge named by a signed message, without consuming it.
fn check_challenge(node: &Node, message: &ChallengeMessage, now: DateTime<Utc>) -> Result<ChallengeRecord> {
    let c: ChallengeRecord = node.store.get(CHALLENGES_TREE, message.nonce.as_str())?.ok_or_else(|| {
        Error::unauthorized("challenge_unknown", "the nonce was not issued by this node (or has been forgotten)")
    })?;
    if let Some(id) = &c.used_by {
        return Err(Error::conflict("challenge_used", "this challenge was already used; take a new one")
            .with_details(json!({"request_id": id})));
    }
    if c.expires_at < now {
        return Err(Error::unauthorized("challenge_expired", "the challenge has expired; take a new one"));
    }
    if c.holder != message.holder_did || c.spec_id != message.spec_id {
        return Err(Error::unauthorized("challenge_mismatch", "the challenge was issued for another holder or spec"));
    }
    Ok(c)
}

/// Stages marking the challenge used by `request_id`: the request's batch commits only if
/// the challenge is still as it was read, so of concurrent requests with one challenge
/// exactly one commits (the others learn it in [`refusal_after_conflict`]).
fn stage_challenge_use(batch: &mut Batch, nonce: &str, seen: &ChallengeRecord, request_id: &str) -> Result<()> {
    let used = ChallengeRecord { used_by: Some(request_id.to_owned()), ..seen.clone() };
    batch.expect(CHALLENGES_TREE, nonce, seen)?.put(CHALLENGES_TREE, nonce, &used)?;
    Ok(())
}

/// Why a request's batch did not commit: a concurrent request took its challenge, or (in
/// theory: ids are fresh) its request id.
fn refusal_after_conflict(node: &Node, nonce: &str) -> Error {
    match node.store.get::<ChallengeRecord>(CHALLENGES_TREE, nonce) {
        Ok(Some(ChallengeRecord { used_by: Some(id), .. })) => {
            Error::conflict("challenge_used", "this challenge was used by a concurrent request")
                .with_details(json!({"request_id": id}))
        }
        Ok(_) => Error::conflict("request_conflict", "the request collided with a concurrent one; retry"),
        Err(e) => e.into(),
    }
}

/// Runs a submission; see the module documentation.
pub async fn submit(node: &Node, s: &Submission) -> Result<Outcome> {
    let result = submit_inner(node, s).await;
    if result.is_err() {
        Metrics::inc(&node.metrics.requests_refused_total);
    }
    result
}

async fn submit_inner(node: &Node, s: &Submission) -> Result<Outcome> {
    let now = node.clock.now();
    let spec = node.specs.active(&s.spec_id)?;
    let officer = node
        .officers
        .get(&spec.officer)
        .cloned()
        .ok_or_else(|| Error::internal("spec_officer_missing", "the spec's officer is not configured"))?;
    // Refuse before anything is consumed: the holder can retry once lists are fresh.
    let snapshot = node.lists.ready(now)?;

    let message = ChallengeMessage::parse(&s.message)?;
    if message.domain != node.domain {
        return Err(Error::unauthorized("challenge_wrong_domain", format!("the message must name {}", node.domain)));
    }
    if message.spec_id != spec.id {
        return Err(Error::bad_request("challenge_mismatch", "the message names another spec than the request"));
    }
    message.verify_signature(&s.message, &s.signature)?;
    let presentation = Presentation::parse(s.presentation.as_bytes())?;
    check_binding(&message, s.presentation.as_bytes(), &presentation)?;
    let seen = check_challenge(node, &message, now)?;
    let holder = message.holder_did.clone();

    let mut verified = Vec::with_capacity(presentation.verifiable_credential.len());
    for (i, c) in presentation.verifiable_credential.iter().enumerate() {
        let v = verify_kyc_credential(c, &holder, now)
            .await
            .map_err(|e| Error::from(e).with_details(json!({"credential_index": i})))?;
        verified.push(v);
    }
    let collected = claims::collect(&spec, &verified)?;
    let mut query = collected.to_query()?;

    let request_id = new_id("req");
    Metrics::inc(&node.metrics.requests_total);

    let subject = fingerprint(&node.secrets.fingerprint, &query);
    let screened = snapshot.watchlists.screen(&query, &spec.policy);
    let ctx =
        CheckContext { request_id: &request_id, officer: &officer.id, holder: &holder, subject: &subject, spec: &spec };
    let case_id = new_id("case");
    let case = match screened {
        Ok(screening) => prepare_case(&node.store, &ctx, screening, case_id, now)?,
        Err(e) => {
            tracing::error!(request = %request_id, error = %e, "screening failed");
            error_case(case_id, &ctx, now)
        }
    };
    // Re-screening needs the query: kept sealed under the node's profile key only when the
    // spec monitors or the check must be re-run.
    let profile = if spec.monitoring || case.status == CaseStatus::Error {
        let purpose = if case.status == CaseStatus::Error { ProfilePurpose::Rerun } else { ProfilePurpose::Monitoring };
        Some(StoredProfile {
            request_id: request_id.clone(),
            officer: officer.id.clone(),
            spec_id: spec.id.clone(),
            purpose,
            expires_at: None,
            sealed: seal_profile(&node.secrets.profile.public_key(), &request_id, &query)?,
        })
    } else {
        None
    };
    claims::wipe_query(&mut query);

    // Seal the input to the officer right away; only ciphertext is kept.
    let sealed = {
        let plaintext = zeroize::Zeroizing::new(
            serde_json::to_vec(&json!({
                "requestId": request_id,
                "specId": spec.id,
                "specVersion": spec.version,
                "holder": holder,
                "screenedAt": crate::credentials::rfc3339(now),
                "claims": collected.to_sealed_json(),
                "presentationDigest": message.presentation_digest,
            }))
            .map_err(|e| Error::internal("seal_encode", e.to_string()))?,
        );
        crate::seal::seal(&officer.keys().sealing, &request_id, &plaintext)?
    };
    drop(collected);

    let request = RequestRecord {
        id: request_id.clone(),
        holder: holder.clone(),
        officer: officer.id.clone(),
        spec_id: spec.id.clone(),
        spec_version: spec.version,
        status: RequestStatus::InReview,
        case_id: case.id.clone(),
        credential_id: None,
        rejection_reason: None,
        subject,
        presentation_digest: message.presentation_digest.clone(),
        kyc_issuers: verified.iter().map(|v| v.issuer.clone()).collect(),
        created_at: now,
        updated_at: now,
    };
    let mut batch = Batch::new();
    batch.expect_absent(REQUESTS_TREE, &request.id);
    stage_challenge_use(&mut batch, message.nonce.as_str(), &seen, &request_id)?;
    let mut audit = vec![case_audit(&case, "check.completed", "engine")];
    let mut events = case_events(&case, now);
    let settled = settle(node, request, &case, &spec, &officer, "engine", &mut batch, &mut audit, &mut events).await?;
    case.stage(&mut batch)?;
    stage_review(&mut batch, &case, now)?;
    batch.put(HOLDER_REQUESTS_TREE, &holder_index_key(&settled.request), &())?;
    batch.put(SEALED_TREE, &request_id, &sealed)?;
    // A rejected request has nothing left to monitor.
    if let Some(p) = profile.as_ref().filter(|_| settled.request.status != RequestStatus::Rejected) {
        batch.put(PROFILES_TREE, &request_id, p)?;
    }
    if !node.commit_async(batch, audit, &events).await? {
        return Err(refusal_after_conflict(node, message.nonce.as_str()));
    }
    settled.apply(node)?;
    flush(node).await?;

    let status = settled.request.status;
    Metrics::inc(match status {
        RequestStatus::Issued => &node.metrics.requests_issued_total,
        RequestStatus::InReview => &node.metrics.requests_in_review_total,
        RequestStatus::Rejected | RequestStatus::Error => &node.metrics.requests_rejected_total,
    });
    if settled.certificate.is_some() {
        Metrics::inc(&node.metrics.certificates_issued_total);
    }
    tracing::info!(request = %request_id, spec = %spec.key(), status = ?status, case = %case.id, "request decided");
    Ok(Outcome { request: settled.request, credential: settled.credential, certificate: settled.certificate })
}

/// What a check's outcome did to its request, ready to commit.
pub struct Settled {
    pub request: RequestRecord,
    /// Issued now (with `certificate`), or revoked now.
    pub credential: Option<CredentialRecord>,
    pub certificate: Option<CertificateRecord>,
    pub status_changes: Vec<StatusChange>,
}

impl Settled {
    /// Brings in-memory state up to the committed batch.
    pub fn apply(&self, node: &Node) -> Result<()> {
        for c in &self.status_changes {
            node.issuer.applied(c)?;
        }
        Ok(())
    }
}

/// The audit entry of a check.
pub fn case_audit(case: &Case, action: &'static str, actor: &str) -> AuditEvent {
    AuditEvent::new(
        &case.officer,
        actor,
        action,
        &case.id,
        json!({
            "request_id": case.request_id,
            "status": case.status,
            "engine_decision": case.engine_decision,
            "no_match_reason": case.no_match_reason,
            "result_code": case.result_code,
            "hits": case.hits.iter().map(|h| json!({"entity_id": h.entity_id, "match_score": h.match_score, "risk_score": h.risk_score, "status": h.status})).collect::<Vec<_>>(),
            "suppressed": case.suppressed.iter().map(|s| &s.entity_id).collect::<Vec<_>>(),
            "inherited_from": case.inherited_from,
            "lists": case.list_versions,
        }),
    )
}

/// The webhook events of a fresh check: created (open) or decided (closed by the engine).
pub fn case_events(case: &Case, now: DateTime<Utc>) -> Vec<Event> {
    let data = json!({
        "case_id": case.id,
        "request_id": case.request_id,
        "holder": case.holder,
        "spec": {"id": case.spec_id, "version": case.spec_version},
        "status": case.status,
        "hits": case.hits.len(),
        "inherited_from": case.inherited_from,
    });
    if case.status.is_open() {
        vec![Event::new(webhook_types::CASE_CREATED, &case.officer, data, now)]
    } else if case.decision.is_some() {
        vec![Event::new(webhook_types::CASE_DECIDED, &case.officer, data, now)]
    } else {
        Vec::new()
    }
}

/// Applies a check's outcome to its request: a pass issues the credential (once), a confirmed
/// match rejects the request and revokes a credential issued earlier, an open check keeps it
/// in review. Everything is staged in `batch`; nothing is committed here.
#[allow(clippy::too_many_arguments)]
pub async fn settle(
    node: &Node,
    mut request: RequestRecord,
    case: &Case,
    spec: &Spec,
    officer: &Officer,
    actor: &str,
    batch: &mut Batch,
    audit: &mut Vec<AuditEvent>,
    events: &mut Vec<Event>,
) -> Result<Settled> {
    let now = node.clock.now();
    let pass = matches!(case.status, CaseStatus::NoMatch | CaseStatus::FalsePositive)
        || (case.status.is_open() && case.engine_decision == Decision::Approved);
    let mut settled =
        Settled { request: request.clone(), credential: None, certificate: None, status_changes: Vec::new() };
    request.case_id = case.id.clone();
    request.updated_at = now;
    if pass {
        if request.credential_id.is_none() {
            let versions = case
                .list_versions
                .iter()
                .map(|v| crate::credentials::ListVersion {
                    name: v.name.clone(),
                    content_hash: v.content_hash.clone(),
                    list_date: v.list_date.clone().unwrap_or_else(|| "not stated".into()),
                })
                .collect();
            let (c, cert) =
                node.issuer.issue(officer, spec, &request.holder, &request.id, case.created_at, versions).await?;
            Issuer::stage(batch, &c, &cert)?;
            let data = json!({
                "request_id": request.id,
                "credential_id": c.id,
                "holder": request.holder,
                "spec": {"id": c.spec_id, "version": c.spec_version},
                "valid_until": c.valid_until,
                "status_list": c.status_list_credential,
                "status_index": c.status.index,
            });
            audit.push(AuditEvent::new(&officer.id, actor, "credential.issued", &c.id, data.clone()));
            events.push(Event::new(webhook_types::CREDENTIAL_ISSUED, &officer.id, data, now));
            request.credential_id = Some(c.id.clone());
            settled.credential = Some(c);
            settled.certificate = Some(cert);
        }
        request.status = RequestStatus::Issued;
        request.rejection_reason = None;
        // Cleared after a monitoring review: the suspended credential is live again.
        suspend(node, &request, case, false, officer, actor, batch, audit, events, &mut settled)?;
    } else if case.status == CaseStatus::ConfirmedMatch {
        if request.status != RequestStatus::Rejected {
            let data = json!({"request_id": request.id, "case_id": case.id, "holder": request.holder});
            audit.push(AuditEvent::new(&officer.id, actor, "request.rejected", &request.id, data.clone()));
            events.push(Event::new(webhook_types::REQUEST_REJECTED, &officer.id, data, now));
        }
        request.status = RequestStatus::Rejected;
        request.rejection_reason = Some(REJECTION_REASON.to_owned());
        // Nothing left to monitor or re-run: the sealed screening profile goes.
        batch.remove(PROFILES_TREE, &request.id);
        if let Some(id) = &request.credential_id
            && let Revocable::Staged { record, batch: revocation, change } =
                node.issuer.prepare_revocation(id, actor, &format!("confirmed match in check {}", case.id))?
        {
            batch.extend(revocation);
            let data = json!({"credential_id": record.id, "request_id": request.id, "case_id": case.id, "reason": "confirmed match"});
            audit.push(AuditEvent::new(&officer.id, actor, "credential.revoked", &record.id, data.clone()));
            events.push(Event::new(webhook_types::CREDENTIAL_REVOKED, &officer.id, data, now));
            settled.status_changes.push(change);
            settled.credential = Some(record);
        }
    } else if case.status == CaseStatus::Error {
        request.status = RequestStatus::Error;
    } else {
        request.status = RequestStatus::InReview;
        // A live credential whose subject now has an open possible match is suspended until
        // the review ends (reinstated on a false positive, revoked on a confirmed match).
        suspend(node, &request, case, true, officer, actor, batch, audit, events, &mut settled)?;
    }
    batch.put(REQUESTS_TREE, &request.id, &request)?;
    settled.request = request;
    Ok(settled)
}

fn error_case(id: String, ctx: &CheckContext<'_>, now: DateTime<Utc>) -> Case {
    Case {
        id,
        request_id: ctx.request_id.to_owned(),
        officer: ctx.officer.to_owned(),
        holder: ctx.holder.to_owned(),
        subject: ctx.subject.to_owned(),
        spec_id: ctx.spec.id.clone(),
        spec_version: ctx.spec.version,
        status: CaseStatus::Error,
        no_match_reason: Some(crate::screening::NoMatchReason::InternalSystemError),
        engine_decision: Decision::Review,
        result_code: crate::screening::ResultCode::DatabaseUnavailable.code().to_owned(),
        hits: Vec::new(),
        list_versions: Vec::new(),
        created_at: now,
        updated_at: now,
        assignee: None,
        decision: None,
        revision: 1,
        suppressed: Vec::new(),
        inherited_from: None,
    }
}

/// Sets (or clears) the suspension bit of the request's live credential, if it changes.
#[allow(clippy::too_many_arguments)]
fn suspend(
    node: &Node,
    request: &RequestRecord,
    case: &Case,
    value: bool,
    officer: &Officer,
    actor: &str,
    batch: &mut Batch,
    audit: &mut Vec<AuditEvent>,
    events: &mut Vec<Event>,
    settled: &mut Settled,
) -> Result<()> {
    let Some(id) = &request.credential_id else { return Ok(()) };
    let Some(c) = node.issuer.credential(id)? else { return Ok(()) };
    if c.revoked.is_some() || node.issuer.status_of(&c, StatusPurpose::Suspension)? == value {
        return Ok(());
    }
    let change = StatusChange { officer: c.officer.clone(), purpose: StatusPurpose::Suspension, slot: c.status, value };
    node.issuer.stage_status(batch, &change);
    let (action, kind) = if value {
        ("credential.suspended", webhook_types::CREDENTIAL_SUSPENDED)
    } else {
        ("credential.reinstated", webhook_types::CREDENTIAL_REINSTATED)
    };
    let data = json!({"credential_id": c.id, "request_id": request.id, "case_id": case.id, "holder": request.holder});
    audit.push(AuditEvent::new(&officer.id, actor, action, &c.id, data.clone()));
    events.push(Event::new(kind, &officer.id, data, node.clock.now()));
    settled.status_changes.push(change);
    Ok(())
}

/// Makes every write so far durable (group commit; the sync runs off the async executor).
pub async fn flush(node: &Node) -> Result<()> {
    Ok(node.store.flush_async().await?)
}

/// A request, for its holder only (others get 404: ids are not an oracle).
pub fn for_holder(node: &Node, holder: &str, id: &str) -> Result<RequestRecord> {
    match node.store.get::<RequestRecord>(REQUESTS_TREE, id)? {
        Some(r) if r.holder == holder => Ok(r),
        _ => Err(Error::not_found("request_not_found", "no such request for this holder")),
    }
}

/// The holder's requests, newest first.
pub fn list_for_holder(node: &Node, holder: &str, limit: usize) -> Result<Vec<RequestRecord>> {
    let keys = node.store.scan::<()>(HOLDER_REQUESTS_TREE, &format!("{holder}|"), None, 10_000)?;
    let mut out = Vec::new();
    for (k, _) in keys.iter().rev().take(limit) {
        if let Some(id) = k.rsplit('|').next()
            && let Some(r) = node.store.get::<RequestRecord>(REQUESTS_TREE, id)?
        {
            out.push(r);
        }
    }
    Ok(out)
}

/// The sealed input of a request, for its officer.
pub fn sealed_for_officer(node: &Node, officer: &str, id: &str) -> Result<SealedRecord> {
    let r = for_officer(node, officer, id)?;
    node.store
        .get::<SealedRecord>(SEALED_TREE, &r.id)?
        .ok_or_else(|| Error::not_found("sealed_record_not_found", "the sealed input is gone (retention)"))
}

/// A request, for its officer only.
pub fn for_officer(node: &Node, officer: &str, id: &str) -> Result<RequestRecord> {
    match node.store.get::<RequestRecord>(REQUESTS_TREE, id)? {
        Some(r) if r.officer == officer => Ok(r),
        _ => Err(Error::not_found("request_not_found", "you have no such request")),
    }
}

/// A new compliance certificate for the holder's live credential.
pub async fn new_certificate(
    node: &Node,
    holder: &str,
    request_id: &str,
    audience: Option<String>,
) -> Result<CertificateRecord> {
    let request = for_holder(node, holder, request_id)?;
    let credential_id = request
        .credential_id
        .as_deref()
        .ok_or_else(|| Error::conflict("credential_not_issued", "no credential was issued for this request"))?;
    let credential = node
        .issuer
        .credential(credential_id)?
        .ok_or_else(|| Error::internal("credential_missing", "the request's credential is missing"))?;
    if let Some(a) = &audience
        && (a.is_empty() || a.len() > 512 || a.chars().any(char::is_control))
    {
        return Err(Error::bad_request("certificate_bad_audience", "audience must be 1-512 printable characters"));
    }
    let officer = node
        .officers
        .get(&credential.officer)
        .ok_or_else(|| Error::internal("credential_officer_missing", "the credential's officer is not configured"))?;
    let spec = node.specs.version(&credential.spec_id, credential.spec_version)?.ok_or_else(|| {
        Error::internal("spec_missing", "the spec version the credential was issued under is missing")
    })?;
    let cert = node.issuer.certificate(officer, &credential, spec.certificate_validity_secs, audience)?;
    node.store.put(crate::issuer::CERTIFICATES_TREE, &cert.key(), &cert)?;
    flush(node).await?;
    Metrics::inc(&node.metrics.certificates_issued_total);
    Ok(cert)
}

/// Forgets challenges past their expiry (used or not: after expiry they are refused anyway).
pub fn prune_challenges(node: &Node) -> Result<usize> {
    let now = node.clock.now();
    let mut removed = 0;
    let mut after: Option<String> = None;
    loop {
        let page = node.store.scan::<ChallengeRecord>(CHALLENGES_TREE, "", after.as_deref(), 1000)?;
        let Some((last, _)) = page.last() else { return Ok(removed) };
        after = Some(last.clone());
        for (k, c) in &page {
            if c.expires_at < now {
                node.store.remove::<ChallengeRecord>(CHALLENGES_TREE, k)?;
                removed += 1;
            }
        }
    }
}

/// An officer's explicit revocation of one of their credentials (API and CLI).
pub async fn revoke_credential(
    node: &Node,
    officer: &str,
    credential_id: &str,
    reason: &str,
) -> Result<CredentialRecord> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(Error::bad_request("reason_required", "give a reason of 1-2000 characters"));
    }
    let current = node
        .issuer
        .credential(credential_id)?
        .filter(|c| c.officer == officer)
        .ok_or_else(|| Error::not_found("credential_not_found", "you have no such credential"))?;
    let (record, mut batch, change) = match node.issuer.prepare_revocation(&current.id, officer, reason)? {
        Revocable::Already(record) => return Ok(record),
        Revocable::Staged { record, batch, change } => (record, batch, change),
    };
    let now = node.clock.now();
    let data =
        json!({"credential_id": record.id, "request_id": record.request_id, "holder": record.holder, "reason": reason});
    let audit = vec![AuditEvent::new(officer, officer, "credential.revoked", &record.id, data.clone())];
    let events = [Event::new(webhook_types::CREDENTIAL_REVOKED, officer, data, now)];
    // The monitoring profile goes with the credential.
    batch.remove(PROFILES_TREE, &record.request_id);
    if !node.commit(batch, audit, &events)? {
        return Err(Error::conflict("credential_changed", "the credential changed concurrently; retry"));
    }
    node.issuer.applied(&change)?;
    flush(node).await?;
    Metrics::inc(&node.metrics.credentials_revoked_total);
    Ok(record)
}
