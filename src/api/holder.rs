//! Holder routes: challenges, requests, and a holder's own credential and certificates.
//!
//! Submitting a request is authenticated by the signed challenge itself; every other holder
//! route needs a holder token ([`crate::auth`]) and answers only about the caller's own
//! requests.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, AppState, authorization};
use crate::error::{Error, Result};
use crate::issuer::{CertificateRecord, CredentialRecord};
use crate::node::Node;
use crate::requests::{self, Outcome, RequestRecord, Submission};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/challenges", post(new_challenge))
        .route("/v1/requests", post(submit).get(list_requests))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/requests/{id}/credential", get(get_credential))
        .route("/v1/requests/{id}/certificates", get(list_certificates).post(new_certificate))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeRequest {
    holder_did: String,
    spec_id: String,
}

async fn new_challenge(State(node): State<AppState>, ApiJson(req): ApiJson<ChallengeRequest>) -> Result<Response> {
    let c = requests::challenge(&node, &req.holder_did, &req.spec_id)?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

fn certificate_json(c: &CertificateRecord) -> Value {
    json!({"certificate": c.token, "jti": c.jti, "issued_at": c.issued_at, "expires_at": c.expires_at})
}

/// The holder's view of a request: status and decision, never anything about hits.
pub(super) fn request_json(
    r: &RequestRecord,
    credential: Option<&CredentialRecord>,
    certificate: Option<&CertificateRecord>,
) -> Value {
    let mut v = json!({
        "request_id": r.id,
        "status": r.status,
        "decision": r.status.decision(),
        "spec": {"id": r.spec_id, "version": r.spec_version},
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    });
    if let Some(reason) = &r.rejection_reason {
        v["reason"] = json!(reason);
    }
    if let Some(c) = credential {
        v["credential_id"] = json!(c.id);
        v["credential"] = c.credential.to_json();
        v["valid_until"] = json!(c.valid_until);
        v["revoked"] = json!(c.revoked.is_some());
    }
    if let Some(c) = certificate {
        v["certificate"] = json!(c.token);
        v["certificate_expires_at"] = json!(c.expires_at);
    }
    v
}

async fn submit(State(node): State<AppState>, ApiJson(s): ApiJson<Submission>) -> Result<Response> {
    let Outcome { request, credential, certificate } = requests::submit(&node, &s).await?;
    Ok((StatusCode::CREATED, Json(request_json(&request, credential.as_ref(), certificate.as_ref()))).into_response())
}

fn holder_request(node: &Node, headers: &HeaderMap, id: &str) -> Result<RequestRecord> {
    let holder = node.auth.holder(authorization(headers))?;
    requests::for_holder(node, &holder, id)
}

fn credential_of(node: &Node, r: &RequestRecord) -> Result<Option<CredentialRecord>> {
    match &r.credential_id {
        Some(id) => node.issuer.credential(id),
        None => Ok(None),
    }
}

async fn list_requests(State(node): State<AppState>, headers: HeaderMap) -> Result<Json<Value>> {
    let holder = node.auth.holder(authorization(&headers))?;
    let list = requests::list_for_holder(&node, &holder, 100)?;
    Ok(Json(json!({"requests": list.iter().map(|r| request_json(r, None, None)).collect::<Vec<_>>()})))
}

async fn get_request(State(node): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let r = holder_request(&node, &headers, &id)?;
    let credential = credential_of(&node, &r)?;
    let latest = match &credential {
        Some(c) => node.issuer.certificates(&c.id)?.pop(),
        None => None,
    };
    Ok(Json(request_json(&r, credential.as_ref(), latest.as_ref())))
}

async fn get_credential(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let r = holder_request(&node, &headers, &id)?;
    let c = credential_of(&node, &r)?
        .ok_or_else(|| Error::not_found("credential_not_issued", "no credential was issued for this request"))?;
    Ok(Json(json!({
        "credential_id": c.id,
        "format": c.format,
        "credential": c.credential.to_json(),
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "revoked": c.revoked.is_some(),
    })))
}

async fn list_certificates(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let r = holder_request(&node, &headers, &id)?;
    let certs = match &r.credential_id {
        Some(c) => node.issuer.certificates(c)?,
        None => Vec::new(),
    };
    Ok(Json(json!({"certificates": certs.iter().map(certificate_json).collect::<Vec<_>>()})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CertificateBody {
    #[serde(default)]
    audience: Option<String>,
}

async fn new_certificate(
    State(node): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response> {
    let holder = node.auth.holder(authorization(&headers))?;
    let audience = super::optional_json::<CertificateBody>(&body)?.audience;
    let cert = requests::new_certificate(&node, &holder, &id, audience).await?;
    Ok((StatusCode::CREATED, Json(certificate_json(&cert))).into_response())
}
