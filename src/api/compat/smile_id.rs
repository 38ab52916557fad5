//! Smile ID AML Check (`POST /v1/aml`, job type 10) over the node's engine.
//!
//! Authentication is Smile ID's own signature: `signature` =
//! base64(HMAC-SHA256(api_key, timestamp + partner_id + "sid_request")), where `partner_id`
//! names the officer (`smile_id_partner_id`) and `api_key` is the officer's compat API key.
//! The timestamp must be within [`SIGNATURE_WINDOW_SECS`] of the node's clock. Answers carry a
//! signature computed the same way over the response `timestamp`, so a client's existing
//! "confirm incoming signature" code keeps working.
//!
//! Errors use Smile ID's codes: 2403 invalid JSON (also wrongly-typed or invalid values),
//! 2413 `<key> is required`, 2205 bad signature or timestamp, 2210 `search_existing_user`
//! (the node keeps no KYC jobs), 2414 the standalone API is off, 2401 system error; lists
//! that are missing or stale answer result code 1015 with HTTP 503, never a pass.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::super::AppState;
use super::super::screen::{RateLimiter, Throttled};
use super::{
    FieldError, birth_dates, country_code, has, listed_on, names, opt_bool, opt_text, pep_level, present, random_bytes,
    source_info,
};
use crate::lists::{Category, Entity, PartialDate};
use crate::metrics::Metrics;
use crate::node::Node;
use crate::officers::CompatAccess;
use crate::screening::{Hit, Policy, Query, ResultCode, Screening, SubjectType};
use crate::watchlists::Snapshot;

/// How far a request's `timestamp` may be from the node's clock, either way.
pub(crate) const SIGNATURE_WINDOW_SECS: i64 = 300;
/// Smile ID's job type of AML Check.
const JOB_TYPE: u8 = 10;
/// Longest accepted `user_id` / `job_id` / `partner_id`.
const MAX_ID_CHARS: usize = 256;

/// Smile ID's request signature (also the response signature, over the response timestamp).
pub(crate) fn signature(api_key: &[u8], timestamp: &str, partner_id: &str) -> String {
    B64.encode(mac(api_key, timestamp, partner_id).finalize().into_bytes())
}

fn mac(api_key: &[u8], timestamp: &str, partner_id: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(api_key).unwrap_or_else(|_| unreachable!());
    m.update(timestamp.as_bytes());
    m.update(partner_id.as_bytes());
    m.update(b"sid_request");
    m
}

/// Whether `given` is the signature of (`timestamp`, `partner_id`), compared in constant time.
fn signature_ok(api_key: &[u8], timestamp: &str, partner_id: &str, given: &str) -> bool {
    match B64.decode(given.trim()) {
        Ok(bytes) => mac(api_key, timestamp, partner_id).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

/// Smile ID timestamps: ISO 8601 with an offset or `Z`, or without one (taken as UTC), as
/// Smile ID's SDKs send them (`2021-08-12T17:57:00.614879`, `2023-02-17T16:24:16.835Z`).
fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .map(|n| n.and_utc())
}

/// A refusal in Smile ID's shape: `{"code": "2413", "error": "full_name is required"}` (or
/// the 1015 answer when lists are unavailable).
struct SmileError {
    status: StatusCode,
    body: Value,
    retry_after_secs: Option<u64>,
}

impl SmileError {
    fn new(status: StatusCode, code: &str, error: impl Into<String>) -> SmileError {
        SmileError { status, body: json!({"code": code, "error": error.into()}), retry_after_secs: None }
    }
    fn invalid_json(detail: Option<String>) -> SmileError {
        let error = match detail {
            Some(d) => format!("Invalid JSON: {d}"),
            None => "Invalid JSON".to_owned(),
        };
        SmileError::new(StatusCode::BAD_REQUEST, "2403", error)
    }
    fn required(key: &str) -> SmileError {
        SmileError::new(StatusCode::BAD_REQUEST, "2413", format!("{key} is required"))
    }
    fn unauthorized() -> SmileError {
        SmileError::new(StatusCode::UNAUTHORIZED, "2205", "You are not authorized to do that.")
    }
    fn throttled(t: Throttled) -> SmileError {
        let mut e = match t {
            Throttled::Disabled => SmileError::new(
                t.status(),
                "2414",
                "This feature requires you to activate ID Validation for your Smile ID account",
            ),
            Throttled::Limited { retry_after_secs, .. } => {
                let mut e = SmileError::new(t.status(), "rate_limited", t.error().message);
                e.retry_after_secs = Some(retry_after_secs);
                e
            }
        };
        if let Throttled::Limited { retry_after_secs, per_minute } = t {
            e.body["retry_after_secs"] = json!(retry_after_secs);
            e.body["limit_per_minute"] = json!(per_minute);
        }
        e
    }
}

impl From<FieldError> for SmileError {
    fn from(e: FieldError) -> Self {
        SmileError::invalid_json(Some(format!("{} {}", e.key, e.problem)))
    }
}

impl IntoResponse for SmileError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        r
    }
}

/// `POST /v1/compat/smile-id/v1/aml`.
pub(super) async fn aml(
    State(node): State<AppState>,
    Extension(limiter): Extension<Arc<RateLimiter>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&node, &limiter, body) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn handle(node: &Node, limiter: &RateLimiter, body: Result<Bytes, BytesRejection>) -> Result<Value, SmileError> {
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            SmileError::new(StatusCode::PAYLOAD_TOO_LARGE, "2403", "Invalid JSON: the body is too large")
        } else {
            SmileError::invalid_json(None)
        }
    })?;
    let value: Value = serde_json::from_slice(&body).map_err(|_| SmileError::invalid_json(None))?;
    let obj = value.as_object().ok_or_else(|| SmileError::invalid_json(None))?;

    let access = authenticate(node, obj)?;
    let partner_id = access.smile_id_partner_id.clone().unwrap_or_default();
    limiter.take(&access.officer.id, node.clock.now()).map_err(SmileError::throttled)?;

    let job = read_job(obj)?;
    let now = node.clock.now();
    let snapshot = node.lists.ready(now).map_err(|e| unavailable(access, &partner_id, &job, &e.message, now))?;
    let screening = snapshot
        .watchlists
        .screen(&job.query, &job.policy)
        .map_err(|e| SmileError::invalid_json(Some(e.to_string())))?;
    Metrics::inc(&node.metrics.screenings_total);
    node.record_screening(&access.officer.id, "smile-id", &screening);
    Ok(answer(node, &snapshot, access, &partner_id, &job, &screening, now))
}

/// Checks `partner_id`, `timestamp` and `signature`, in that order of presence.
fn authenticate<'a>(node: &'a Node, obj: &Map<String, Value>) -> Result<&'a Arc<CompatAccess>, SmileError> {
    let partner_id = opt_text(obj, "partner_id", MAX_ID_CHARS)?.ok_or_else(|| SmileError::required("partner_id"))?;
    let signature = opt_text(obj, "signature", 1024)?.ok_or_else(|| SmileError::required("signature"))?;
    let timestamp = opt_text(obj, "timestamp", 64)?.ok_or_else(|| SmileError::required("timestamp"))?;
    let access = node.officers.by_smile_partner_id(partner_id.trim()).ok_or_else(SmileError::unauthorized)?;
    let at = parse_timestamp(&timestamp).ok_or_else(SmileError::unauthorized)?;
    if (node.clock.now() - at).num_seconds().abs() > SIGNATURE_WINDOW_SECS {
        return Err(SmileError::unauthorized());
    }
    // Signed over the partner id as configured, which is what the client sent (trimmed).
    if !signature_ok(access.api_key(), &timestamp, partner_id.trim(), &signature) {
        return Err(SmileError::unauthorized());
    }
    Ok(access)
}

/// A validated AML Check job.
struct Job {
    user_id: String,
    job_id: String,
    strict: bool,
    query: Query,
    policy: Policy,
}

fn read_job(obj: &Map<String, Value>) -> Result<Job, SmileError> {
    for key in ["user_id", "job_id", "countries", "full_name"] {
        if present(obj, key).is_none() {
            return Err(SmileError::required(key));
        }
    }
    let user_id = opt_text(obj, "user_id", MAX_ID_CHARS)?.unwrap_or_default();
    let job_id = opt_text(obj, "job_id", MAX_ID_CHARS)?.unwrap_or_default();
    let full_name = match present(obj, "full_name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(SmileError::required("full_name")),
        _ => return Err(SmileError::invalid_json(Some("full_name must be a string".into()))),
    };
    let Some(Value::Array(items)) = present(obj, "countries") else {
        return Err(SmileError::invalid_json(Some("countries must be an array of country codes".into())));
    };
    let mut countries = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        let code = c.as_str().and_then(country_code).ok_or_else(|| {
            SmileError::invalid_json(Some(format!(
                "countries[{i}] must be an ISO 3166-1 country code such as NG or KE"
            )))
        })?;
        if !countries.contains(&code) {
            countries.push(code);
        }
    }
    let birth_date = match opt_text(obj, "birth_year", 8)? {
        None => None,
        Some(y) if y.trim().is_empty() => None,
        Some(y) => {
            let y = y.trim();
            let year =
                (y.len() == 4).then(|| y.parse::<u16>().ok()).flatten().and_then(|n| PartialDate::new(n, None, None));
            Some(year.ok_or_else(|| SmileError::invalid_json(Some("birth_year must be a year, yyyy".into())))?)
        }
    };
    let strict = opt_bool(obj, "strict_match")?.unwrap_or(true);
    // `search_existing_user` reuses a prior Smile ID KYC job's name and birth year; this node
    // keeps no KYC jobs, so there is no user to find (Smile ID's own answer for that: 2210).
    let reuse = match present(obj, "search_existing_user") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(_) => return Err(SmileError::invalid_json(Some("search_existing_user must be true or false".into()))),
    };
    if reuse {
        return Err(SmileError::new(
            StatusCode::BAD_REQUEST,
            "2210",
            "No enrolled user found: this node keeps no prior KYC jobs; remove search_existing_user and send full_name, countries and birth_year",
        ));
    }
    let query = Query {
        id: None,
        name: Some(full_name),
        entity_type: Some(SubjectType::Person),
        birth_date,
        countries,
        document_number: None,
        wallet_address: None,
    };
    // Smile ID screens watchlists, PEPs and adverse media: the default categories plus
    // adverse media (result code 1017 when that is all that matched).
    let mut policy = Policy { strict, ..Policy::default() };
    if !policy.categories.contains(&Category::AdverseMedia) {
        policy.categories.push(Category::AdverseMedia);
    }
    Ok(Job { user_id, job_id, strict, query, policy })
}

fn smile_job_id() -> String {
    let b = random_bytes::<8>();
    format!("{:010}", u64::from_le_bytes(b) % 10_000_000_000)
}

fn timestamp_now(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn partner_params(job: &Job) -> Value {
    json!({"job_type": JOB_TYPE, "user_id": job.user_id, "job_id": job.job_id})
}

/// Lists missing or stale: result code 1015 with HTTP 503, no `Actions` and no people, so no
/// client can read it as "not listed".
fn unavailable(access: &CompatAccess, partner_id: &str, job: &Job, why: &str, now: DateTime<Utc>) -> SmileError {
    let ts = timestamp_now(now);
    let code = ResultCode::DatabaseUnavailable;
    let body = json!({
        "SmileJobID": smile_job_id(),
        "PartnerParams": partner_params(job),
        "ResultCode": code.code(),
        "ResultText": code.text(),
        "code": code.code(),
        "error": why,
        "timestamp": ts,
        "signature": signature(access.api_key(), &ts, partner_id),
    });
    SmileError { status: StatusCode::SERVICE_UNAVAILABLE, body, retry_after_secs: None }
}

fn answer(
    node: &Node,
    snapshot: &Snapshot,
    access: &CompatAccess,
    partner_id: &str,
    job: &Job,
    s: &Screening,
    now: DateTime<Utc>,
) -> Value {
    let people: Vec<Value> = s.hits.iter().map(|h| person(node, snapshot, h)).collect();
    let listed = if s.hits.is_empty() { "Not Listed" } else { "Listed" };
    let ts = timestamp_now(now);
    json!({
        "SmileJobID": smile_job_id(),
        "PartnerParams": partner_params(job),
        "ResultCode": s.result_code.code(),
        "ResultText": s.result_code.text(),
        "Actions": {"Listed": listed},
        "StrictMatch": job.strict,
        "no_of_persons_found": people.len(),
        "people": people,
        "timestamp": ts,
        "signature": signature(access.api_key(), &ts, partner_id),
    })
}

/// Smile ID's PEP levels run 1 (high) to 3 (low); ours 1 (heads of state) to 4 (relatives
/// and close associates). 1 -> 1, 2 -> 2, 3 -> 3, 4 -> 3 (no political function of their own);
/// a PEP whose list gives no level -> 2.
pub(crate) fn smile_pep_level(level: Option<u8>) -> u8 {
    match level {
        Some(1) => 1,
        Some(2) | None => 2,
        Some(_) => 3,
    }
}

fn person(node: &Node, snapshot: &Snapshot, hit: &Hit) -> Value {
    let Some(e) = snapshot.watchlists.entity(&hit.entity_id) else {
        // The hit came from this snapshot, so its entity is there; answer what the hit says.
        return json!({
            "name": hit.matched_name, "aliases": [], "dates_of_birth": [], "nationalities": [], "addresses": [],
            "sanctions": [], "pep": null, "adverse_media": [], "enforcement_action": [], "associations": [],
        });
    };
    let src = source_info(node, snapshot, &e.source);
    let (name, aliases) = names(e);
    let links: Vec<String> = src.link.iter().cloned().collect();
    let link = src.link.clone().unwrap_or_default();
    let sanctions: Vec<Value> = if has(e, Category::Sanction) {
        vec![json!({
            "date_of_birth": birth_dates(e).join(", "),
            "nationality": e.nationalities.join(", "),
            "source_details": {
                "listed_date": listed_on(e),
                "source_link": links,
                "source_name": src.name,
                "source_type": "Sanctions",
            },
        })]
    } else {
        Vec::new()
    };
    let pep = pep_level(e).map(|level| {
        json!({
            "pep_level": smile_pep_level(level),
            "political_positions": e.positions.iter().map(|p| json!({
                "country": "", "position": p, "from": null, "to": null,
            })).collect::<Vec<_>>(),
            "sources": [{"source_link": link, "source_name": src.name}],
        })
    });
    let adverse_media: Vec<Value> = if has(e, Category::AdverseMedia) {
        vec![json!({
            "date_published": listed_on(e),
            "publisher": src.name,
            "source_link": link,
            "title": format!("{name}: listed on {} (adverse media)", src.name),
        })]
    } else {
        Vec::new()
    };
    let enforcement = enforcement_actions(e, &src.name, &link);
    json!({
        "name": name,
        "aliases": aliases,
        "dates_of_birth": birth_dates(e),
        "nationalities": e.nationalities,
        "addresses": e.addresses,
        "sanctions": sanctions,
        "pep": pep,
        "adverse_media": adverse_media,
        "enforcement_action": enforcement,
        "associations": [],
    })
}

fn enforcement_actions(e: &Entity, source: &str, link: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (c, what) in [
        (Category::Enforcement, "warnings and regulatory enforcement"),
        (Category::Debarment, "export control / debarment"),
    ] {
        if has(e, c) {
            let description = if e.programs.is_empty() {
                format!("Listed on {source} ({what})")
            } else {
                format!("Listed on {source} ({what}): {}", e.programs.join(", "))
            };
            out.push(json!({
                "description": description,
                "date": listed_on(e),
                "source_details": {"source_name": source, "source_link": link},
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_smile_ids() {
        // HMAC-SHA256("key", "2021-08-12T17:57:00.614879" + "023" + "sid_request"), base64.
        let s = signature(b"key", "2021-08-12T17:57:00.614879", "023");
        assert_eq!(B64.decode(&s).unwrap().len(), 32);
        assert!(signature_ok(b"key", "2021-08-12T17:57:00.614879", "023", &s));
        assert!(!signature_ok(b"key", "2021-08-12T17:57:00.614879", "024", &s));
        assert!(!signature_ok(b"other", "2021-08-12T17:57:00.614879", "023", &s));
        assert!(!signature_ok(b"key", "2021-08-12T17:57:00.614879", "023", "not base64!"));
    }

    #[test]
    fn timestamps_as_the_sdks_send_them() {
        let a = parse_timestamp("2021-08-12T17:57:00.614879").unwrap();
        assert_eq!(a.to_rfc3339(), "2021-08-12T17:57:00.614879+00:00");
        let b = parse_timestamp("2023-02-17T16:24:16.835Z").unwrap();
        assert_eq!(b.timestamp_subsec_millis(), 835);
        assert!(parse_timestamp("2023-02-17T18:24:16+02:00").unwrap() < b);
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn pep_levels() {
        assert_eq!([Some(1), Some(2), Some(3), Some(4), None].map(smile_pep_level), [1, 2, 3, 3, 2]);
    }
}
