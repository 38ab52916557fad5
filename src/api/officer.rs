//! Officer routes (`/v1/officer/...`): specs, and the requests and sealed inputs of the
//! calling officer. Every route authenticates the officer's token and answers only about what
//! that officer owns; anything else is 404, so ids reveal nothing.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiJson, ApiQuery, AppState, authorization, optional_json};
use crate::cases::review::{self, CaseDecision, HitDecision, QueueFilter};
use crate::cases::{CASES_TREE, Case};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::officers::Officer;
use crate::requests;
use crate::specs::Spec;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/officer/specs", get(list_specs).post(create_spec))
        .route("/v1/officer/specs/{id}", get(get_spec))
        .route("/v1/officer/specs/{id}/versions", post(publish_spec))
        .route("/v1/officer/specs/{id}/deactivate", post(deactivate_spec))
        .route("/v1/officer/requests/{id}", get(get_request))
        .route("/v1/officer/requests/{id}/sealed", get(get_sealed))
        .route("/v1/officer/cases", get(list_cases))
        .route("/v1/officer/cases/{id}", get(get_case))
        .route("/v1/officer/cases/{id}/open", post(open_case))
        .route("/v1/officer/cases/{id}/release", post(release_case))
        .route("/v1/officer/cases/{id}/hits/{entity}/decision", post(decide_hit))
        .route("/v1/officer/cases/{id}/decision", post(decide_case))
        .route("/v1/officer/cases/{id}/rerun", post(rerun_case))
        .route("/v1/officer/credentials/{id}/revoke", post(revoke_credential))
        .route("/v1/officer/audit", get(audit_log))
        .route("/v1/officer/lists", get(list_status))
        .route("/v1/officer/lists/refresh", post(refresh_lists))
}

fn officer(node: &Node, headers: &HeaderMap) -> Result<std::sync::Arc<Officer>> {
    node.auth.officer(authorization(headers))
}

async fn list_specs(State(node): State<AppState>, headers: HeaderMap) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    Ok(Json(json!({"specs": node.specs.list(Some(&o.id))?})))
}

async fn create_spec(
    State(node): State<AppState>,
    headers: HeaderMap,
    ApiJson(spec): ApiJson<Spec>,
) -> Result<Response> {
    let o = officer(&node, &headers)?;
    let spec = node.specs.create(&o.id, spec)?;
    requests::flush(&node).await?;
    Ok((StatusCode::CREATED, Json(spec)).into_response())
}

async fn get_spec(State(node): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    let latest = node.specs.owned(&o.id, &id)?;
    Ok(Json(json!({"spec": latest, "versions": node.specs.history(&id)?})))
}

async fn publish_spec(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<Spec>,
) -> Result<Response> {
    let o = officer(&node, &headers)?;
    let spec = node.specs.publish(&o.id, &id, spec)?;
    requests::flush(&node).await?;
    Ok((StatusCode::CREATED, Json(spec)).into_response())
}

async fn deactivate_spec(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Spec>> {
    let o = officer(&node, &headers)?;
    let spec = node.specs.deactivate(&o.id, &id)?;
    requests::flush(&node).await?;
    Ok(Json(spec))
}

async fn get_request(State(node): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    let r = requests::for_officer(&node, &o.id, &id)?;
    let case: Option<Case> = node.store.get(CASES_TREE, &r.case_id)?;
    let credential = match &r.credential_id {
        Some(c) => node.issuer.credential(c)?,
        None => None,
    };
    Ok(Json(json!({"request": r, "case": case, "credential": credential})))
}

async fn get_sealed(State(node): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    let sealed = requests::sealed_for_officer(&node, &o.id, &id)?;
    Ok(Json(serde_json::to_value(sealed).map_err(|e| Error::internal("encode", e.to_string()))?))
}

async fn list_cases(
    State(node): State<AppState>,
    headers: HeaderMap,
    ApiQuery(filter): ApiQuery<QueueFilter>,
) -> Result<Json<review::QueuePage>> {
    let o = officer(&node, &headers)?;
    Ok(Json(review::queue(&node, &o.id, &filter)?))
}

async fn get_case(State(node): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Case>> {
    let o = officer(&node, &headers)?;
    Ok(Json(review::case_for(&node, &o.id, &id)?))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevisionBody {
    #[serde(default)]
    revision: Option<u64>,
}

async fn open_case(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Case>> {
    let o = officer(&node, &headers)?;
    let b: RevisionBody = optional_json(&body)?;
    Ok(Json(review::open(&node, &o.id, &id, b.revision).await?))
}

async fn release_case(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Case>> {
    let o = officer(&node, &headers)?;
    let b: RevisionBody = optional_json(&body)?;
    Ok(Json(review::release(&node, &o.id, &id, b.revision).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HitDecisionBody {
    decision: HitDecision,
    reason: String,
    revision: u64,
}

async fn decide_hit(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path((id, entity)): Path<(String, String)>,
    ApiJson(b): ApiJson<HitDecisionBody>,
) -> Result<Json<Case>> {
    let o = officer(&node, &headers)?;
    Ok(Json(review::decide_hit(&node, &o.id, &id, &entity, b.decision, &b.reason, b.revision).await?))
}

async fn decide_case(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(d): ApiJson<CaseDecision>,
) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    let (case, request) = review::decide(&node, &o, &id, &d).await?;
    Ok(Json(json!({"case": case, "request": request})))
}

async fn rerun_case(State(node): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    let (case, request) = review::rerun(&node, &o, &id).await?;
    Ok(Json(json!({"case": case, "request": request})))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
}

async fn revoke_credential(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RevokeBody>,
) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    let record = crate::requests::revoke_credential(&node, &o.id, &id, &b.reason).await?;
    Ok(Json(json!({"credential_id": record.id, "revoked": record.revoked})))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn audit_log(
    State(node): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    let entries = node.audit.entries(&o.id, q.after, q.limit.unwrap_or(100).clamp(1, 1000))?;
    Ok(Json(json!({"entries": entries})))
}

/// The lists the node screens on and the state of their sources.
async fn list_status(State(node): State<AppState>, headers: HeaderMap) -> Result<Json<Value>> {
    officer(&node, &headers)?;
    let health = node.health();
    Ok(Json(json!({
        "ready": health.ready,
        "reason": health.reason,
        "lists": health.lists,
        "missing_lists": health.missing_lists,
        "sources": health.sources,
        "refresh_interval_hours": node.config.refresh_interval_hours,
    })))
}

/// Refreshes every list now and re-screens monitored subjects; answers when done.
async fn refresh_lists(State(node): State<AppState>, headers: HeaderMap) -> Result<Json<Value>> {
    let o = officer(&node, &headers)?;
    let report = crate::monitoring::run_cycle(&node, &format!("officer:{}", o.id)).await?;
    let summary = json!({
        "lists": report.lists.iter().map(|l| json!({"list": l.list, "outcome": l.outcome, "content_hash": l.content_hash})).collect::<Vec<_>>(),
        "index_rebuilt": report.index_rebuilt,
        "monitoring_updates": report.monitoring.updates,
    });
    let event = crate::audit::AuditEvent::new(&o.id, &o.id, "lists.refreshed", "lists", summary);
    node.commit(crate::store::Batch::new(), vec![event], &[])?;
    crate::requests::flush(&node).await?;
    Ok(Json(serde_json::to_value(&report).map_err(|e| Error::internal("encode", e.to_string()))?))
}
