//! The HTTP API: axum routers for relying parties and operators ([`public`]), holders
//! ([`holder`]) and officers ([`officer`]) over one [`Node`].
//!
//! Every failure answers with the typed body of [`crate::error::Error`]:
//! `{"error": {"code": "...", "message": "...", "details"?: {...}}}`, including malformed
//! JSON (400 `malformed_json` / `invalid_request`), oversized bodies (413 `body_too_large`),
//! wrong content types (415), unknown routes (404 `route_not_found`), wrong methods (405) and,
//! should a handler ever panic, 500 `internal_error` (the process keeps serving).

mod compat;
mod holder;
mod officer;
mod public;
mod screen;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::{Error, ErrorKind};
use crate::node::Node;

/// Shared handler state.
pub type AppState = Arc<Node>;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.to_json())).into_response();
        if self.kind == ErrorKind::Unauthorized {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `Json<T>` whose rejections are typed errors.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `Query<T>` whose rejections are typed errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(Error::bad_request("invalid_query", e.body_text())),
        }
    }
}

fn json_rejection(r: JsonRejection) -> Error {
    match r {
        JsonRejection::JsonSyntaxError(e) => {
            Error::bad_request("malformed_json", format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => Error::bad_request("invalid_request", e.body_text()),
        JsonRejection::MissingJsonContentType(_) => Error::new(
            ErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            "send the body as `Content-Type: application/json`",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::new(ErrorKind::PayloadTooLarge, "body_too_large", "the request body is larger than the node accepts")
        }
        other => Error::bad_request("malformed_body", other.body_text()),
    }
}

/// An optional JSON body: empty means the defaults.
pub(crate) fn optional_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            Error::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        } else {
            Error::bad_request("invalid_request", e.to_string())
        }
    })
}

/// The `Authorization` header, if it is text.
pub(crate) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

async fn route_not_found() -> Error {
    Error::not_found("route_not_found", "no such route; see the README for the API")
}

async fn method_not_allowed() -> Response {
    let e = Error::bad_request("method_not_allowed", "this route does not take that method");
    (StatusCode::METHOD_NOT_ALLOWED, Json(e.to_json())).into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    Error::internal("internal_error", "the node failed on this request; it was not completed").into_response()
}

/// The whole API over a node.
pub fn router(node: Arc<Node>) -> Router {
    let limit = node.config.max_body_bytes;
    Router::new()
        .merge(public::routes())
        .merge(holder::routes())
        .merge(officer::routes())
        .merge(screen::routes(&node))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(node)
}

/// Serves the API until `shutdown` resolves; the background jobs run alongside.
pub async fn serve(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(node.clone()));
    let outbox = tokio::spawn(node.outbox.clone().run(node.metrics.clone()));
    // List refreshes and monitoring re-screens on their schedule (none for the demo list).
    let refreshes = (node.config.refresh_interval_hours > 0 && !node.config.lists.is_empty()).then(|| {
        let every = std::time::Duration::from_secs(node.config.refresh_interval_hours.saturating_mul(3600));
        tokio::spawn(crate::monitoring::schedule(node.clone(), every))
    });
    let result = axum::serve(listener, router(node)).with_graceful_shutdown(shutdown).await;
    housekeeping.abort();
    outbox.abort();
    if let Some(r) = refreshes {
        r.abort();
    }
    result
}

/// Periodic upkeep: forget spent token ids and challenges once they expired.
async fn housekeeping(node: Arc<Node>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let n = node.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = n.auth.prune() {
                tracing::warn!(error = %e, "pruning token ids failed");
            }
            if let Err(e) = crate::requests::prune_challenges(&n) {
                tracing::warn!(error = %e, "pruning challenges failed");
            }
        })
        .await;
    }
}
