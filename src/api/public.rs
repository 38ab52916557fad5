//! Routes for relying parties, operators and anyone: health, metrics, the node's keys, the
//! status lists, the public view of specs, and certificate verification.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, AppState};
use crate::credentials::{CertificateVerdict, StatusPurpose, jwks, node_did_document};
use crate::error::{Error, Result};
use crate::issuer::STATUS_LIST_MAX_AGE_SECS;
use crate::metrics::{Gauge, Metrics};
use crate::specs::{KNOWN_CLAIMS, Spec, SpecStatus};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/.well-known/did.json", get(did_document))
        .route("/.well-known/jwks.json", get(jwks_document))
        .route("/ns", get(vocabulary))
        .route("/v1/status/{officer}/{purpose}/{list}", get(status_list))
        .route("/v1/specs", get(list_specs))
        .route("/v1/specs/{id}", get(get_spec))
        .route("/v1/certificates/verify", post(verify_certificate))
}

async fn health(State(node): State<AppState>) -> Response {
    let h = node.health();
    let status = if h.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(h)).into_response()
}

async fn metrics(State(node): State<AppState>) -> Response {
    let now = node.clock.now();
    let snapshot = node.lists.current();
    let sources = node.refresher.cache().statuses();
    let gauges = [
        Gauge {
            name: "list_age_hours",
            help: "Age of each loaded list snapshot, in hours.",
            values: snapshot.lists.iter().map(|l| (vec![("list", l.meta.name.clone())], l.age_hours(now))).collect(),
        },
        Gauge {
            name: "list_entities",
            help: "Entities in each loaded list.",
            values: snapshot
                .lists
                .iter()
                .map(|l| (vec![("list", l.meta.name.clone())], l.meta.entity_count as f64))
                .collect(),
        },
        Gauge {
            name: "list_source_consecutive_failures",
            help: "Failed refreshes of each list since its last success (0: the last one worked).",
            values: sources.iter().map(|s| (vec![("list", s.name.clone())], s.consecutive_failures as f64)).collect(),
        },
        Gauge {
            name: "list_source_success_age_hours",
            help: "Hours since each list's source was last refreshed successfully.",
            values: sources
                .iter()
                .filter_map(|s| {
                    let at = s.last_success_at?;
                    Some((vec![("list", s.name.clone())], (now - at).num_seconds().max(0) as f64 / 3600.0))
                })
                .collect(),
        },
        Gauge {
            name: "lists_missing",
            help: "Configured lists with no snapshot yet (the node is not ready while any is).",
            values: vec![(vec![], snapshot.missing.len() as f64)],
        },
        Gauge {
            name: "ready",
            help: "1 when the node can decide (lists loaded and fresh).",
            values: vec![(vec![], if node.lists.ready(now).is_ok() { 1.0 } else { 0.0 })],
        },
    ];
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], node.metrics.render(&gauges)).into_response()
}

async fn did_document(State(node): State<AppState>) -> Result<Json<Value>> {
    node_did_document(&node.domain, &node.officers.verifying_keys())
        .map(Json)
        .map_err(|e| Error::internal(e.code(), e.to_string()))
}

async fn jwks_document(State(node): State<AppState>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(jwks(&node.officers.verifying_keys()))).into_response()
}

/// The `@vocab` of AML credentials resolves here: what each term means.
async fn vocabulary(State(node): State<AppState>) -> Json<Value> {
    let base = format!("{}/ns#", node.issuer.base_url());
    Json(json!({
        "@id": base,
        "description": "Terms of the AML credentials this node issues (VCDM 2.0, via @vocab).",
        "terms": {
            "AmlCredential": "A credential stating that its subject passed an AML check under a credential spec.",
            "specId": "Identifier of the credential spec the check ran under.",
            "specVersion": "Version of that spec.",
            "result": "Outcome of the AML check; always `passed` in an issued credential.",
            "checkedAt": "When the screening ran.",
            "listVersions": "The watchlist snapshots screened against: name, contentHash, listDate.",
        }
    }))
}

async fn status_list(
    State(node): State<AppState>,
    Path((officer, purpose, list)): Path<(String, String, String)>,
) -> Result<Response> {
    let not_found = || Error::not_found("status_list_not_found", "no such status list");
    let purpose = StatusPurpose::parse(&purpose).ok_or_else(not_found)?;
    let list: u32 = list.parse().map_err(|_| not_found())?;
    let credential = node.issuer.status_list_credential(&officer, purpose, list).await?;
    Ok(([(header::CACHE_CONTROL, format!("public, max-age={STATUS_LIST_MAX_AGE_SECS}"))], Json((*credential).clone()))
        .into_response())
}

/// What a holder needs to know about a spec: the claims and who may vouch for them.
fn public_spec(s: &Spec) -> Value {
    json!({
        "id": s.id,
        "version": s.version,
        "name": s.name,
        "description": s.description,
        "officer": s.officer,
        "required_claims": s.required_claims.iter().map(|c| json!({
            "claim": c,
            "meaning": KNOWN_CLAIMS.iter().find(|(n, _)| n == c).map(|(_, m)| *m),
            "accepted_issuers": s.issuers_for(c),
        })).collect::<Vec<_>>(),
        "credential_format": s.credential_format,
        "credential_validity_secs": s.credential_validity_secs,
        "certificate_validity_secs": s.certificate_validity_secs,
        "monitoring": s.monitoring,
        "status": s.status,
    })
}

async fn list_specs(State(node): State<AppState>) -> Result<Json<Value>> {
    let specs = node.specs.list(None)?;
    Ok(Json(json!({
        "specs": specs.iter().filter(|s| s.status == SpecStatus::Active).map(public_spec).collect::<Vec<_>>()
    })))
}

async fn get_spec(State(node): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(public_spec(&node.specs.active(&id)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    certificate: String,
}

async fn verify_certificate(State(node): State<AppState>, ApiJson(req): ApiJson<VerifyRequest>) -> Json<Value> {
    Metrics::inc(&node.metrics.certificate_verifications_total);
    let verdict = node.issuer.verify_certificate(&req.certificate);
    let mut body = json!({
        "verdict": verdict.code(),
        "valid": verdict.is_valid(),
        "reason": verdict.reason(),
    });
    if let CertificateVerdict::Valid { claims, .. } | CertificateVerdict::Revoked { claims, .. } = &verdict {
        body["claims"] = serde_json::to_value(claims).unwrap_or(Value::Null);
    }
    Json(body)
}
