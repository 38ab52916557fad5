//! The standalone screening API for officers' own backends: `POST /v1/screen` takes the batch
//! command's query line and answers exactly the batch command's result line for it. The
//! vendor-compatible endpoints of [`super::compat`] share this module's rate limit.
//!
//! Nothing about the screened person is kept: the query lives only for the request (no
//! storage, no logs; the officer token's `jti` is the only thing written).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{AppState, authorization};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::node::Node;
use crate::screening::{Policy, Query, batch};

/// `/v1/screen` and the compatibility endpoints, sharing one per-officer rate limit.
pub(super) fn routes(node: &Node) -> Router<AppState> {
    let limiter = Arc::new(RateLimiter::new(node.config.screen_rate_per_minute));
    Router::new().route("/v1/screen", post(screen)).merge(super::compat::routes()).layer(Extension(limiter))
}

/// A per-officer token bucket: `per_minute` tokens, refilled continuously at `per_minute / 60`
/// per second; each screening call takes one. `0` turns the standalone API off.
pub(super) struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

/// Why a call was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Throttled {
    /// Out of tokens; one is back after this many seconds.
    Limited { retry_after_secs: u64, per_minute: u32 },
    /// `screen_rate_per_minute = 0`.
    Disabled,
}

impl RateLimiter {
    pub(super) fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token from the officer's bucket.
    pub(super) fn take(&self, officer: &str, now: DateTime<Utc>) -> Result<(), Throttled> {
        if self.per_minute == 0 {
            return Err(Throttled::Disabled);
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(officer.to_owned()).or_insert(Bucket { tokens: capacity, at: now });
        // A clock that went back refills nothing (and never drains).
        let elapsed = (now - b.at).num_milliseconds().max(0) as f64 / 1000.0;
        b.tokens = (b.tokens + elapsed * per_sec).min(capacity);
        b.at = now.max(b.at);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let retry_after_secs = ((1.0 - b.tokens) / per_sec).ceil().max(1.0) as u64;
            Err(Throttled::Limited { retry_after_secs, per_minute: self.per_minute })
        }
    }
}

impl Throttled {
    /// The node's typed error for it.
    pub(super) fn error(self) -> Error {
        match self {
            Throttled::Limited { retry_after_secs, per_minute } => Error::new(
                ErrorKind::RateLimited,
                "rate_limited",
                format!(
                    "the standalone screening API allows {per_minute} calls per minute per officer; retry in {retry_after_secs} s"
                ),
            )
            .with_details(json!({"retry_after_secs": retry_after_secs, "limit_per_minute": per_minute})),
            Throttled::Disabled => Error::forbidden(
                "screen_api_disabled",
                "the standalone screening API is turned off on this node (screen_rate_per_minute = 0)",
            ),
        }
    }

    /// Adds `Retry-After` to a response about this refusal.
    pub(super) fn respond(self, status: StatusCode, body: Value) -> Response {
        let mut response = (status, Json(body)).into_response();
        if let Throttled::Limited { retry_after_secs, .. } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }

    /// The HTTP status of the refusal.
    pub(super) fn status(self) -> StatusCode {
        match self {
            Throttled::Limited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Throttled::Disabled => StatusCode::FORBIDDEN,
        }
    }
}

/// The typed error of a body the extractor could not read.
pub(super) fn body_rejection(r: BytesRejection) -> Error {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::new(ErrorKind::PayloadTooLarge, "body_too_large", "the request body is larger than the node accepts")
    } else {
        Error::bad_request("malformed_body", r.body_text())
    }
}

/// `POST /v1/screen`.
async fn screen(
    State(node): State<AppState>,
    Extension(limiter): Extension<Arc<RateLimiter>>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let officer = match node.auth.officer(authorization(&headers)) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    if let Err(t) = limiter.take(&officer.id, node.clock.now()) {
        return t.respond(t.status(), t.error().to_json());
    }
    match screen_body(&node, &officer.id, &headers, body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn screen_body(
    node: &Node,
    officer: &str,
    headers: &HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !json_type {
        return Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            "send the body as `Content-Type: application/json`",
        ));
    }
    let body = body.map_err(body_rejection)?;
    let text = std::str::from_utf8(&body).map_err(|_| Error::bad_request("malformed_json", "the body is not UTF-8"))?;
    let (id, query, policy) = parse_query_line(text)?;
    let snapshot = node.lists.ready(node.clock.now())?;
    let screening = snapshot.watchlists.screen(&query, &policy)?;
    node.record_screening(officer, "screen", &screening);
    // The batch command's own line writer, so the answer is its result line byte for byte.
    let line = batch::result_line(id.as_deref(), &screening);
    Metrics::inc(&node.metrics.screenings_total);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], line).into_response())
}

/// Parses and validates a query line as the batch command reads it (`id` a string or a number,
/// unknown fields ignored), plus the optional `policy` object of the API. Errors are typed:
/// malformed JSON and bad fields 400, a bad policy 400 with the policy's code, a query the
/// engine refuses 422 with the query's code.
pub(super) fn parse_query_line(text: &str) -> Result<(Option<String>, Query, Policy)> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            Error::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        } else {
            Error::bad_request("invalid_request", e.to_string())
        }
    })?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| Error::bad_request("invalid_request", "the body must be a JSON object (a batch query line)"))?;
    let id = obj.remove("id").and_then(|v| batch::line_id(&serde_json::json!({ "id": v })));
    let policy = match obj.remove("policy") {
        None | Some(Value::Null) => Policy::default(),
        Some(p) => serde_json::from_value::<Policy>(p)
            .map_err(|e| Error::bad_request("policy_invalid", format!("policy: {e}")))?,
    };
    policy.validate()?;
    let query: Query =
        serde_json::from_value(value).map_err(|e| Error::bad_request("invalid_request", e.to_string()))?;
    query.validate()?;
    Ok((id, query, policy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn bucket_drains_refills_and_says_when() {
        let l = RateLimiter::new(3);
        let t0 = Utc::now();
        for _ in 0..3 {
            l.take("a", t0).unwrap();
        }
        let Err(Throttled::Limited { retry_after_secs, .. }) = l.take("a", t0) else { panic!("not limited") };
        assert_eq!(retry_after_secs, 20);
        // Another officer has their own bucket.
        l.take("b", t0).unwrap();
        // 20 s later one token is back, and only one.
        l.take("a", t0 + Duration::seconds(20)).unwrap();
        assert!(l.take("a", t0 + Duration::seconds(20)).is_err());
        // A clock that went back neither refills nor panics.
        assert!(l.take("a", t0 - Duration::seconds(600)).is_err());
        assert_eq!(RateLimiter::new(0).take("a", t0), Err(Throttled::Disabled));
    }

    #[test]
    fn query_lines_are_read_like_the_batch_command() {
        let (id, q, p) = parse_query_line(r#"{"id": 7, "name": "X Y", "extra": true}"#).unwrap();
        assert_eq!(id.as_deref(), Some("7"));
        assert_eq!(q.name.as_deref(), Some("X Y"));
        assert_eq!(p, Policy::default());
        let e =
            parse_query_line(r#"{"name": "X", "policy": {"match_weights": {"name": 50, "dob": 25, "country": 15}}}"#)
                .unwrap_err();
        assert_eq!((e.status(), e.code), (400, "policy_match_weights"));
        assert_eq!(parse_query_line(r#"{"name": "X", "policy": {"nope": 1}}"#).unwrap_err().code, "policy_invalid");
        assert_eq!(parse_query_line("[1]").unwrap_err().code, "invalid_request");
        assert_eq!(parse_query_line("{").unwrap_err().code, "malformed_json");
        let e = parse_query_line(r#"{"countries": ["NL"]}"#).unwrap_err();
        assert_eq!((e.status(), e.code), (422, "query_empty"));
        assert_eq!(parse_query_line(r#"{"name": 5}"#).unwrap_err().code, "invalid_request");
    }
}
