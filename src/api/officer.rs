//! Officer routes (`/v1/officer/...`): specs, and the requests and sealed inputs of the
//! calling officer. Every route authenticates the officer's token and answers only about what
//! that officer owns; anything else is 404, so ids reveal nothing.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiJson, AppState, authorization};
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
