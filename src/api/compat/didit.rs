//! Didit's standalone AML screening (`POST /v3/aml/`) over the node's engine.
//!
//! `x-api-key` is the officer's compat API key. Didit's knobs map onto the node's policy
//! (weights, match threshold, approve/review thresholds) and are validated the same way: the
//! three weights must sum to exactly 100, else HTTP 400. Where Didit's rules and the node's
//! differ, the node's hold: its defaults (approve below 40, automatic decline only for a
//! document-number or wallet match on a sanctions list) apply unless the request sets Didit's
//! thresholds, and a possible sanctions match is never approved automatically whatever the
//! thresholds. Ongoing monitoring is not available here (the node monitors credential holders,
//! not ad-hoc screenings), and nothing is saved: `request_id` is a correlation id only.
//!
//! Errors carry Didit's `detail` text and the node's typed error:
//! `{"detail": "...", "error": {"code": "...", "message": "..."}}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::super::AppState;
use super::super::screen::{RateLimiter, body_rejection};
use super::{
    FieldError, SourceInfo, birth_dates, country_code, has, listed_on, names, names_of_kind, opt_bool, opt_percent,
    opt_text, pep_level, present, source_info, uuid_v4,
};
use crate::error::Error;
use crate::lists::{Category, Entity, NameKind, PartialDate};
use crate::metrics::Metrics;
use crate::node::Node;
use crate::officers::CompatAccess;
use crate::screening::{
    AutoDecline, Decision, Hit, HitStatus, MatchWeights, Policy, Query, RiskFactors, Screening, SubjectType,
};
use crate::watchlists::Snapshot;

/// Country risk factor from which `HIGH_RISK_COUNTRY` is raised: FATF call for action and
/// comprehensive sanctions programmes (see `screening::risk`).
const HIGH_RISK_COUNTRY_FACTOR: u8 = 85;

/// A Didit-shaped error answer.
fn refuse(e: Error) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = e.to_json();
    body["detail"] = Value::String(e.message.clone());
    (status, Json(body)).into_response()
}

fn invalid(e: FieldError) -> Error {
    Error::bad_request("invalid_request", format!("{}: {}", e.key, e.problem))
        .with_details(json!({"field": e.key, "problem": e.problem}))
}

/// `POST /v1/compat/didit/v3/aml/`.
pub(super) async fn aml(
    State(node): State<AppState>,
    Extension(limiter): Extension<Arc<RateLimiter>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let access = match authenticate(&node, &headers) {
        Ok(a) => a,
        Err(e) => return refuse(e),
    };
    if let Err(t) = limiter.take(&access.officer.id, node.clock.now()) {
        let e = t.error();
        let mut body = e.to_json();
        body["detail"] = Value::String(e.message.clone());
        return t.respond(t.status(), body);
    }
    match handle(&node, &access.officer.id, body) {
        Ok(v) => Json(v).into_response(),
        Err(e) => refuse(e),
    }
}

fn authenticate<'a>(node: &'a Node, headers: &HeaderMap) -> Result<&'a Arc<CompatAccess>, Error> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty());
    let key = key.ok_or_else(|| {
        Error::unauthorized("auth_missing", "Authentication credentials were not provided: send x-api-key.")
    })?;
    node.officers.by_compat_api_key(key).ok_or_else(|| Error::unauthorized("auth_bad_key", "Invalid API key."))
}

/// A validated request.
#[derive(Debug)]
struct Request {
    query: Query,
    policy: Policy,
    entity_type: &'static str,
    vendor_data: Option<String>,
    full_name: String,
    date_of_birth: Option<String>,
    nationality: Option<String>,
    document_number: Option<String>,
}

fn handle(node: &Node, officer: &str, body: Result<Bytes, BytesRejection>) -> Result<Value, Error> {
    let body = body.map_err(body_rejection)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::bad_request("malformed_json", format!("JSON parse error - {e}")))?;
    let obj =
        value.as_object().ok_or_else(|| Error::bad_request("invalid_request", "the body must be a JSON object"))?;
    let req = read(obj)?;
    let now = node.clock.now();
    let snapshot = node.lists.ready(now)?;
    let screening = snapshot.watchlists.screen(&req.query, &req.policy)?;
    Metrics::inc(&node.metrics.screenings_total);
    node.record_screening(officer, "didit", &screening);
    Ok(answer(node, &snapshot, &req, &screening, now))
}

fn read(obj: &Map<String, Value>) -> Result<Request, Error> {
    let full_name = match present(obj, "full_name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            return Err(Error::bad_request("invalid_request", "full_name: This field is required.")
                .with_details(json!({"field": "full_name", "problem": "required"})));
        }
        Some(_) => return Err(invalid(super::field_err("full_name", "must be a string"))),
    };
    let (subject, entity_type) = match opt_text(obj, "entity_type", 32).map_err(invalid)?.as_deref() {
        None | Some("person") => (SubjectType::Person, "person"),
        Some("company" | "organization") => (SubjectType::Organization, "company"),
        Some(_) => return Err(invalid(super::field_err("entity_type", "must be \"person\" or \"company\""))),
    };
    let date_of_birth = opt_text(obj, "date_of_birth", 10).map_err(invalid)?.filter(|s| !s.trim().is_empty());
    let birth_date = match &date_of_birth {
        None => None,
        Some(d) => Some(
            PartialDate::parse_iso(d)
                .ok_or_else(|| invalid(super::field_err("date_of_birth", "must be a date, YYYY-MM-DD")))?,
        ),
    };
    let nationality = match opt_text(obj, "nationality", 3).map_err(invalid)?.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(n) => Some(country_code(&n).ok_or_else(|| {
            invalid(super::field_err("nationality", "must be an ISO 3166-1 alpha-2 or alpha-3 country code"))
        })?),
    };
    let document_number = opt_text(obj, "document_number", 128).map_err(invalid)?.filter(|s| !s.trim().is_empty());
    let vendor_data = opt_text(obj, "vendor_data", 1024).map_err(invalid)?;
    let adverse_media = opt_bool(obj, "include_adverse_media").map_err(invalid)?.unwrap_or(false);
    // Didit's default for save_api_request is true. The node never saves a screening either way.
    let save = opt_bool(obj, "save_api_request").map_err(invalid)?.unwrap_or(true);
    let monitoring = opt_bool(obj, "include_ongoing_monitoring").map_err(invalid)?.unwrap_or(false);
    if monitoring && !save {
        return Err(Error::bad_request(
            "monitoring_requires_save",
            "include_ongoing_monitoring requires save_api_request=true",
        ));
    }
    if monitoring {
        return Err(Error::unprocessable(
            "monitoring_unsupported",
            "ongoing monitoring is not available on the standalone screening API: this node monitors credential \
             holders (whose input it keeps sealed), not ad-hoc screenings, of which it keeps nothing; \
             send include_ongoing_monitoring=false",
        ));
    }

    let mut policy = Policy::default();
    if adverse_media && !policy.categories.contains(&Category::AdverseMedia) {
        policy.categories.push(Category::AdverseMedia);
    }
    let (w_name, w_dob, w_country) = (
        opt_percent(obj, "aml_name_weight").map_err(invalid)?,
        opt_percent(obj, "aml_dob_weight").map_err(invalid)?,
        opt_percent(obj, "aml_country_weight").map_err(invalid)?,
    );
    if w_name.is_some() || w_dob.is_some() || w_country.is_some() {
        let d = MatchWeights::default();
        policy.match_weights = MatchWeights {
            name: w_name.unwrap_or(d.name),
            dob: w_dob.unwrap_or(d.dob),
            country: w_country.unwrap_or(d.country),
        };
    }
    if let Some(t) = opt_percent(obj, "aml_match_score_threshold").map_err(invalid)? {
        policy.match_threshold = t;
    }
    let approve = opt_percent(obj, "aml_score_approve_threshold").map_err(invalid)?;
    let review = opt_percent(obj, "aml_score_review_threshold").map_err(invalid)?;
    if approve.is_some() || review.is_some() {
        // Didit: risk below the approve threshold -> Approved; above the review threshold ->
        // Declined; between -> In Review. A review threshold of 100 declines nothing on risk.
        if let Some(a) = approve {
            policy.approve_below = a;
        }
        match review.unwrap_or(100) {
            r if r >= 100 => {
                policy.decline_threshold = 100;
            }
            r => {
                policy.auto_decline = AutoDecline::Risk;
                policy.decline_threshold = r + 1;
            }
        }
    }
    policy.validate()?;

    let query = Query {
        id: None,
        name: Some(full_name.clone()),
        entity_type: Some(subject),
        birth_date,
        countries: nationality.iter().cloned().collect(),
        document_number: document_number.clone(),
        wallet_address: None,
    };
    Ok(Request { query, policy, entity_type, vendor_data, full_name, date_of_birth, nationality, document_number })
}

/// Didit's labels of our categories (its `datasets`).
pub(crate) fn dataset(c: Category) -> &'static str {
    match c {
        Category::Sanction => "Sanctions",
        Category::Pep1 => "PEP Level 1",
        Category::Pep2 => "PEP Level 2",
        Category::Pep3 => "PEP Level 3",
        Category::Pep4 => "PEP Level 4",
        Category::Pep => "PEP",
        Category::AdverseMedia => "Adverse Media",
        Category::Enforcement | Category::Debarment => "Warnings and Regulatory Enforcement",
        Category::Soe => "SIE",
    }
}

fn review_status(s: HitStatus) -> &'static str {
    match s {
        HitStatus::FalsePositive => "False Positive",
        HitStatus::Unreviewed => "Unreviewed",
        HitStatus::ConfirmedMatch => "Confirmed Match",
        HitStatus::Inconclusive => "Inconclusive",
    }
}

fn warning(risk: &str, short: &str, long: String) -> Value {
    json!({"risk": risk, "additional_data": null, "log_type": "warning", "short_description": short, "long_description": long})
}

fn answer(node: &Node, snapshot: &Snapshot, req: &Request, s: &Screening, now: chrono::DateTime<Utc>) -> Value {
    let mut hits: Vec<Value> = s.hits.iter().map(|h| hit(node, snapshot, h)).collect();
    hits.extend(s.false_positives.iter().map(|h| hit(node, snapshot, h)));
    let score = s.hits.iter().map(|h| h.risk_score).max().unwrap_or(0);
    json!({
        "request_id": uuid_v4(),
        "vendor_data": req.vendor_data,
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "aml": {
            "status": s.decision.holder_status(),
            "screening_id": uuid_v4(),
            "entity_type": req.entity_type,
            "total_hits": hits.len(),
            "score": score,
            "hits": hits,
            "screened_data": {
                "full_name": req.full_name,
                "date_of_birth": req.date_of_birth,
                "nationality": req.nationality,
                "document_number": req.document_number,
            },
            "warnings": warnings(s, req.nationality.as_deref()),
        },
    })
}

/// Didit's warning codes, from the possible matches (automatic false positives raise none) and,
/// for `HIGH_RISK_COUNTRY`, the screened nationality too.
fn warnings(s: &Screening, nationality: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    match s.decision {
        Decision::Declined => out.push(warning(
            "MATCH_FOUND",
            "Match found",
            "A listed entity matched and the policy declines it without review (a document-number or wallet \
             match on a sanctions list, or risk above the review threshold)."
                .into(),
        )),
        Decision::Review => out.push(warning(
            "POSSIBLE_MATCH_FOUND",
            "Possible match found",
            format!("{} possible match(es) need an officer's review.", s.hits.len()),
        )),
        Decision::Approved | Decision::NoMatch => {}
    }
    let any = |f: &dyn Fn(&Hit) -> bool| s.hits.iter().any(f);
    if any(&|h| h.categories.contains(&Category::Sanction)) {
        out.push(warning(
            "SANCTIONED_ENTITY",
            "Sanctioned entity",
            "A possible match is on a sanctions list; it is never approved automatically.".into(),
        ));
    }
    if any(&|h| h.categories.iter().any(|c| c.is_pep())) {
        out.push(warning("PEP_MATCH", "PEP match", "A possible match is a politically exposed person.".into()));
    }
    if any(&|h| h.categories.contains(&Category::AdverseMedia)) {
        out.push(warning(
            "ADVERSE_MEDIA_HIT",
            "Adverse media hit",
            "A possible match is listed for adverse media.".into(),
        ));
    }
    let screened_high_risk = nationality.is_some_and(|n| country_risk(n) >= HIGH_RISK_COUNTRY_FACTOR);
    if screened_high_risk || any(&|h| h.explanation.risk_factors.country >= HIGH_RISK_COUNTRY_FACTOR) {
        let whose = if screened_high_risk { "The screened nationality" } else { "A possible match's country" };
        out.push(warning(
            "HIGH_RISK_COUNTRY",
            "High-risk country",
            format!("{whose} is a jurisdiction under FATF call for action or comprehensive sanctions."),
        ));
    }
    out
}

/// The engine's country risk factor of one country (its table is private to the engine; this
/// asks it through an entity holding only that nationality).
fn country_risk(iso2: &str) -> u8 {
    let mut e = Entity::new("query", "-", crate::lists::EntityKind::Person);
    e.add_nationality(iso2);
    RiskFactors::of(&e).country
}

fn hit(node: &Node, snapshot: &Snapshot, h: &Hit) -> Value {
    let entity = snapshot.watchlists.entity(&h.entity_id);
    let src = source_info(node, snapshot, &h.source);
    let caption = entity.and_then(|e| e.primary_name()).unwrap_or(&h.matched_name).to_owned();
    let mut v = json!({
        "id": h.entity_id,
        "caption": caption,
        "match": h.review_status == HitStatus::Unreviewed,
        "score": f64::from(h.match_score) / 100.0,
        "match_score": h.match_score,
        "risk_score": h.risk_score,
        "review_status": review_status(h.review_status),
        "datasets": h.categories.iter().map(|c| dataset(*c)).collect::<Vec<_>>(),
        "source": h.source,
        "properties": {},
        "linked_entities": [],
        "sanction_matches": [],
        "pep_matches": [],
        "warning_matches": [],
        "adverse_media_matches": [],
        "explanation": h.explanation,
    });
    if let Some(e) = entity {
        v["properties"] = properties(e);
        v["sanction_matches"] = sanction_matches(e, h, &src);
        v["pep_matches"] = pep_matches(e, h, &src);
        v["warning_matches"] = warning_matches(e, h, &src);
        v["adverse_media_matches"] = adverse_media_matches(e, h, &src);
    }
    v
}

/// FollowTheMoney-style properties, as Didit shows them, for what the list gives.
fn properties(e: &Entity) -> Value {
    let (name, _) = names(e);
    let mut p = Map::new();
    let mut put = |k: &str, v: Vec<String>| {
        if !v.is_empty() {
            p.insert(k.to_owned(), json!(v));
        }
    };
    put("name", vec![name]);
    put("alias", names_of_kind(e, &[NameKind::Alias]));
    put("weakAlias", names_of_kind(e, &[NameKind::Weak]));
    put("previousName", names_of_kind(e, &[NameKind::Former]));
    put("birthDate", birth_dates(e));
    put("birthPlace", e.birth_places.clone());
    put("nationality", e.nationalities.clone());
    put("country", e.countries.clone());
    put("position", e.positions.clone());
    put("address", e.addresses.clone());
    put("program", e.programs.clone());
    put("gender", e.gender.iter().map(|g| format!("{g:?}").to_lowercase()).collect());
    Value::Object(p)
}

fn sanction_matches(e: &Entity, h: &Hit, src: &SourceInfo) -> Value {
    if !has(e, Category::Sanction) {
        return json!([]);
    }
    let listed = listed_on(e);
    json!([{
        "list_name": [src.name],
        "matched_name": h.matched_name,
        "description": format!("Listed on {}", src.name),
        "reason": "",
        "legal_basis": [],
        "sanction_program": e.programs,
        "sanctioning_authority": src.authority.iter().collect::<Vec<_>>(),
        "listed_on": if listed.is_empty() { vec![] } else { vec![listed] },
        "source_url": src.link.clone().unwrap_or_default(),
    }])
}

fn pep_matches(e: &Entity, h: &Hit, src: &SourceInfo) -> Value {
    let Some(level) = pep_level(e) else { return json!([]) };
    json!([{
        "list_name": [src.name],
        "matched_name": h.matched_name,
        "pep_level": level,
        "positions": e.positions,
        "countries": e.nationalities.iter().chain(&e.countries).collect::<Vec<_>>(),
        "source_url": src.link.clone().unwrap_or_default(),
    }])
}

fn warning_matches(e: &Entity, h: &Hit, src: &SourceInfo) -> Value {
    let mut out = Vec::new();
    for (c, case_type) in [(Category::Enforcement, "Regulatory Enforcement"), (Category::Debarment, "Debarment")] {
        if has(e, c) {
            out.push(json!({
                "list_name": [src.name],
                "matched_name": h.matched_name,
                "case_type": case_type,
                "programs": e.programs,
                "listed_on": listed_on(e),
                "source_url": src.link.clone().unwrap_or_default(),
            }));
        }
    }
    Value::Array(out)
}

fn adverse_media_matches(e: &Entity, h: &Hit, src: &SourceInfo) -> Value {
    if !has(e, Category::AdverseMedia) {
        return json!([]);
    }
    json!([{
        "list_name": [src.name],
        "matched_name": h.matched_name,
        "listed_on": listed_on(e),
        "source_url": src.link.clone().unwrap_or_default(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> Result<Request, Error> {
        read(v.as_object().unwrap())
    }

    #[test]
    fn didit_knobs_map_onto_the_policy() {
        let r = req(json!({"full_name": "A B"})).unwrap();
        assert_eq!(r.policy, Policy::default());
        let e = req(json!({"full_name": "A B", "aml_name_weight": 70})).unwrap_err();
        assert_eq!((e.status(), e.code), (400, "policy_match_weights"));
        let r = req(json!({"full_name": "A B", "aml_name_weight": 70, "aml_dob_weight": 20, "aml_country_weight": 10}))
            .unwrap();
        assert_eq!(r.policy.match_weights, MatchWeights { name: 70, dob: 20, country: 10 });
        let r = req(json!({"full_name": "A", "aml_score_approve_threshold": 80, "aml_score_review_threshold": 100}))
            .unwrap();
        assert_eq!((r.policy.approve_below, r.policy.auto_decline), (80, AutoDecline::GoldenKey));
        let r = req(json!({"full_name": "A", "aml_score_review_threshold": 90})).unwrap();
        assert_eq!((r.policy.decline_threshold, r.policy.auto_decline), (91, AutoDecline::Risk));
        let e = req(json!({"full_name": "A", "aml_match_score_threshold": 20})).unwrap_err();
        assert_eq!(e.code, "policy_out_of_range");
        let r = req(json!({"full_name": "A", "include_adverse_media": true, "entity_type": "company"})).unwrap();
        assert!(r.policy.categories.contains(&Category::AdverseMedia));
        assert_eq!(r.entity_type, "company");
    }

    #[test]
    fn monitoring_and_field_errors() {
        let e =
            req(json!({"full_name": "A", "include_ongoing_monitoring": true, "save_api_request": false})).unwrap_err();
        assert_eq!((e.status(), e.code), (400, "monitoring_requires_save"));
        let e = req(json!({"full_name": "A", "include_ongoing_monitoring": true})).unwrap_err();
        assert_eq!((e.status(), e.code), (422, "monitoring_unsupported"));
        assert_eq!(req(json!({})).unwrap_err().status(), 400);
        assert_eq!(req(json!({"full_name": "A", "nationality": "Spain"})).unwrap_err().code, "invalid_request");
        assert_eq!(req(json!({"full_name": "A", "nationality": "ESP"})).unwrap().nationality.as_deref(), Some("ES"));
        assert_eq!(req(json!({"full_name": "A", "date_of_birth": "01/01/1974"})).unwrap_err().code, "invalid_request");
    }

    #[test]
    fn datasets_are_didits_labels() {
        assert_eq!((country_risk("IR"), country_risk("RU")), (100, 85));
        assert!(country_risk("NL") < HIGH_RISK_COUNTRY_FACTOR);
        assert_eq!(dataset(Category::Pep4), "PEP Level 4");
        assert_eq!(dataset(Category::Enforcement), "Warnings and Regulatory Enforcement");
    }
}
