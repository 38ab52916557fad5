//! The standalone screening API against a real node: `POST /v1/screen` (the batch command's
//! line in, its result line out) and the Smile ID and Didit compatibility endpoints, fed the
//! seeds' own example requests and answered in the vendors' shapes.

mod common;

use aml_node::auth::mint_token;
use aml_node::keys::HolderKey;
use aml_node::screening::{Policy, batch};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{COMPAT_KEY_A, COMPAT_KEY_B, SMILE_PARTNER_A, TestNode, start_compat};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

/// Seed 002's example JSON body, verbatim.
const SMILE_SEED_BODY: &str = r#"{
  "birth_year": "1984",
  "countries": ["US"],
  "full_name": "John Leo Doe",
  "job_id": "3ba0e15e-1a56-4799-a94d-b0e084f50256",
  "partner_id": "023",
  "search_existing_user": false,
  "strict_match": true,
  "signature": "...",
  "timestamp": "2021-08-12T17:57:00.614879",
  "user_id": "4cb0f26-2b567-5800-b05e-c0f095g6036"
}"#;

/// Seed 003's curl example body, verbatim.
const DIDIT_SEED_BODY: &str = r#"{
"full_name": "Javier Ejemplo Modelo",
"entity_type": "person",
"date_of_birth": "1974-01-01",
"nationality": "ES",
"include_adverse_media": true,
"vendor_data": "user-1234"
}"#;

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn officer_auth(t: &TestNode) -> (&'static str, String) {
    ("authorization", format!("Bearer {}", mint_token(&t.keys.officer_a, &t.url, chrono::Utc::now(), 60)))
}

fn json_type() -> (&'static str, String) {
    ("content-type", "application/json".to_owned())
}

async fn screen(t: &TestNode, body: &str) -> (u16, Option<String>, String) {
    t.post_raw("/v1/screen", &[officer_auth(t), json_type()], body).await
}

/// Smile ID's signature, computed as their SDKs do: base64(HMAC-SHA256(api_key, timestamp +
/// partner_id + "sid_request")).
fn smile_signature(key: &str, timestamp: &str, partner_id: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(partner_id.as_bytes());
    mac.update(b"sid_request");
    B64.encode(mac.finalize().into_bytes())
}

/// The seed's body, signed now with officer A's key, with `changes` applied.
fn smile_body(changes: Value) -> Value {
    let mut body = json_of(SMILE_SEED_BODY);
    let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    body["timestamp"] = json!(ts);
    body["signature"] = json!(smile_signature(COMPAT_KEY_A, &ts, SMILE_PARTNER_A));
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

async fn smile(t: &TestNode, body: &str) -> (u16, Value) {
    let (status, _, text) = t.post_raw("/v1/compat/smile-id/v1/aml", &[json_type()], body).await;
    (status, json_of(&text))
}

fn didit_body(changes: Value) -> Value {
    let mut body = json_of(DIDIT_SEED_BODY);
    for (k, v) in changes.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn didit_with(t: &TestNode, key: &str, body: &str) -> (u16, Value) {
    let (status, _, text) =
        t.post_raw("/v1/compat/didit/v3/aml/", &[("x-api-key", key.to_owned()), json_type()], body).await;
    (status, json_of(&text))
}

async fn didit(t: &TestNode, body: &Value) -> (u16, Value) {
    didit_with(t, COMPAT_KEY_A, &body.to_string()).await
}

fn warning_codes(aml: &Value) -> Vec<String> {
    aml["warnings"].as_array().unwrap().iter().map(|w| w["risk"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_screen_answers_exactly_the_batch_result_line() {
    let t = TestNode::start().await;
    let before = t.node.metrics.screenings_total.load(std::sync::atomic::Ordering::Relaxed);
    let snapshot = t.node.lists.current();
    for body in [
        r#"{"id": "q1", "name": "Zorblax Quentin FICTIVUS", "entity_type": "person", "birth_date": "1965-07"}"#,
        r#"{"id": 7, "name": "Anna Ordinary Person", "entity_type": "person", "birth_date": "1988-03-14", "countries": ["NL"], "unknown": 1}"#,
        r#"{"name": "Demo Sanctioned Person One", "document_number": "DEMOPP0000001"}"#,
        r#"{"wallet_address": "0xDE00000000000000000000000000000000000001"}"#,
    ] {
        let (status, _, text) = screen(&t, body).await;
        assert_eq!(status, 200, "{text}");
        let (line, _, failed) = batch::screen_line(&snapshot.watchlists, &Policy::default(), 1, body);
        assert!(!failed);
        assert_eq!(text, line, "the answer is the batch command's result line, byte for byte");
    }
    let (_, _, text) = screen(&t, r#"{"id": "q1", "name": "Zorblax Quentin FICTIVUS", "birth_date": "1965-07"}"#).await;
    let v = json_of(&text);
    assert_eq!(v["id"], "q1");
    assert_eq!(v["decision"], "review", "a possible sanctions match is never approved: {v}");
    assert_eq!(v["result_code"], "1030");
    assert_eq!(v["hits"][0]["entity_id"], "demo:DEMO-002");
    assert_eq!(v["hits"][0]["categories"], json!(["sanction"]));
    assert!(v["hits"][0]["match_score"].as_u64().unwrap() >= 93);
    assert!(v["hits"][0]["explanation"]["summary"].is_string());

    let (_, _, text) = screen(&t, r#"{"id": 7, "name": "Anna Ordinary Person", "birth_date": "1988-03-14"}"#).await;
    let v = json_of(&text);
    assert_eq!(
        (v["id"].as_str(), v["decision"].as_str(), v["result_code"].as_str()),
        (Some("7"), Some("no-match"), Some("1031"))
    );
    assert!(v["no_match_reason"].is_string());

    let (_, _, text) =
        screen(&t, r#"{"name": "Demo Sanctioned Person One", "document_number": "DEMOPP0000001"}"#).await;
    assert_eq!(json_of(&text)["decision"], "declined", "a golden key on a sanctions list is declined");

    // A policy in the body overrides the default: screening PEPs only, the sanctioned name is clear.
    let (status, _, text) = screen(
        &t,
        r#"{"name": "Zorblax Quentin FICTIVUS", "birth_date": "1965-07", "policy": {"categories": ["pep-1"]}}"#,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(json_of(&text)["decision"], "no-match");
    let (_, _, text) =
        screen(&t, r#"{"name": "Fabulon Vexmarch", "birth_date": "1958", "policy": {"categories": ["pep-1"]}}"#).await;
    assert_eq!(json_of(&text)["hits"][0]["categories"], json!(["pep-1"]));

    let after = t.node.metrics.screenings_total.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(after - before, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_screen_refuses_with_typed_errors() {
    let t = TestNode::start().await;
    let ok = r#"{"name": "Anna Ordinary Person"}"#;
    // Officers only.
    let (status, _, text) = t.post_raw("/v1/screen", &[json_type()], ok).await;
    assert_eq!((status, json_of(&text)["error"]["code"].as_str()), (401, Some("auth_missing")));
    let holder = HolderKey::generate();
    let holder_auth = ("authorization", format!("Bearer {}", mint_token(&holder, &t.url, chrono::Utc::now(), 60)));
    let (status, _, text) = t.post_raw("/v1/screen", &[holder_auth, json_type()], ok).await;
    assert_eq!((status, json_of(&text)["error"]["code"].as_str()), (403, Some("officer_required")));

    // Weights that do not sum to 100: 400 with the policy's code.
    let (status, _, text) =
        screen(&t, r#"{"name": "X Y", "policy": {"match_weights": {"name": 60, "dob": 25, "country": 20}}}"#).await;
    let v = json_of(&text);
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("policy_match_weights")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("= 105"));
    let (status, _, text) = screen(&t, r#"{"name": "X Y", "policy": {"match_treshold": 90}}"#).await;
    assert_eq!((status, json_of(&text)["error"]["code"].as_str()), (400, Some("policy_invalid")));

    for (body, status, code) in [
        ("{\"name\": ", 400, "malformed_json"),
        ("[1, 2]", 400, "invalid_request"),
        (r#"{"name": "X", "birth_date": "1990-13-01"}"#, 400, "invalid_request"),
        (r#"{"countries": ["NL"]}"#, 422, "query_empty"),
        (r#"{"name": "X", "countries": ["Netherlands"]}"#, 422, "query_bad_country"),
    ] {
        let (s, _, text) = screen(&t, body).await;
        assert_eq!((s, json_of(&text)["error"]["code"].as_str()), (status, Some(code)), "{body}: {text}");
    }
    let (status, _, text) = t.post_raw("/v1/screen", &[officer_auth(&t)], ok).await;
    assert_eq!((status, json_of(&text)["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_per_officer_and_shared_by_the_three_endpoints() {
    let t = start_compat(|c| c.screen_rate_per_minute = 3).await;
    let ok = r#"{"name": "Anna Ordinary Person"}"#;
    assert_eq!(screen(&t, ok).await.0, 200);
    assert_eq!(smile(&t, &smile_body(json!({})).to_string()).await.0, 200);
    assert_eq!(didit(&t, &didit_body(json!({}))).await.0, 200);
    // The bucket of officer A is empty, whichever endpoint asks.
    let (status, retry, text) = screen(&t, ok).await;
    let v = json_of(&text);
    assert_eq!((status, v["error"]["code"].as_str()), (429, Some("rate_limited")), "{v}");
    assert_eq!(retry.as_deref(), Some("20"));
    assert_eq!(v["error"]["details"]["retry_after_secs"], 20);
    assert_eq!(v["error"]["details"]["limit_per_minute"], 3);
    let (status, v) = smile(&t, &smile_body(json!({})).to_string()).await;
    assert_eq!((status, v["code"].as_str()), (429, Some("rate_limited")), "{v}");
    let (status, v) = didit(&t, &didit_body(json!({}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (429, Some("rate_limited")), "{v}");
    assert!(v["detail"].is_string());
    // Officer B has a bucket of their own.
    assert_eq!(didit_with(&t, COMPAT_KEY_B, DIDIT_SEED_BODY).await.0, 200);
    // One token is back after 20 s, and only one.
    t.clock.advance(chrono::Duration::seconds(20));
    assert_eq!(screen(&t, ok).await.0, 200);
    assert_eq!(screen(&t, ok).await.0, 429);

    // screen_rate_per_minute = 0 turns the standalone API off.
    let off = start_compat(|c| c.screen_rate_per_minute = 0).await;
    let (status, _, text) = screen(&off, ok).await;
    assert_eq!((status, json_of(&text)["error"]["code"].as_str()), (403, Some("screen_api_disabled")));
    let (status, v) = smile(&off, &smile_body(json!({})).to_string()).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("2414")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_not_ready_are_refused_never_passed() {
    let t = start_compat(|_| {}).await;
    t.node.lists.swap(aml_node::watchlists::Snapshot::build(Vec::new(), chrono::Utc::now()));
    let (status, _, text) = screen(&t, r#"{"name": "Anna Ordinary Person"}"#).await;
    assert_eq!((status, json_of(&text)["error"]["code"].as_str()), (503, Some("lists_unavailable")));
    let (status, v) = smile(&t, &smile_body(json!({})).to_string()).await;
    assert_eq!(status, 503, "{v}");
    assert_eq!((v["ResultCode"].as_str(), v["ResultText"].as_str()), (Some("1015"), Some("Database Unavailable")));
    assert!(v.get("Actions").is_none() && v.get("people").is_none(), "nothing reads as 'not listed': {v}");
    assert_eq!(v["PartnerParams"]["job_id"], "3ba0e15e-1a56-4799-a94d-b0e084f50256");
    let (status, v) = didit(&t, &didit_body(json!({}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("lists_unavailable")), "{v}");
    assert!(v.get("aml").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smile_id_seed_request_is_answered_in_smile_ids_shape() {
    let t = start_compat(|_| {}).await;
    // The seed's own example (John Leo Doe is on no list of this node).
    let (status, v) = smile(&t, &smile_body(json!({})).to_string()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ResultCode"], "1031");
    assert_eq!(v["ResultText"], "Not found on list");
    assert_eq!(v["Actions"], json!({"Listed": "Not Listed"}));
    assert_eq!(
        v["PartnerParams"],
        json!({"job_type": 10, "user_id": "4cb0f26-2b567-5800-b05e-c0f095g6036", "job_id": "3ba0e15e-1a56-4799-a94d-b0e084f50256"})
    );
    assert_eq!(v["StrictMatch"], true);
    assert_eq!(v["no_of_persons_found"], 0);
    assert_eq!(v["people"], json!([]));
    assert!(v["SmileJobID"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()));
    // The response is signed like the request, over the response timestamp.
    let ts = v["timestamp"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok());
    assert_eq!(v["signature"].as_str().unwrap(), smile_signature(COMPAT_KEY_A, ts, SMILE_PARTNER_A));

    // A sanctioned person: 1030, the listing in Smile ID's shape.
    let (status, v) = smile(
        &t,
        &smile_body(json!({"full_name": "Zorblax Quentin FICTIVUS", "birth_year": "1965", "countries": []}))
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!((v["ResultCode"].as_str(), v["ResultText"].as_str()), (Some("1030"), Some("Found on list")));
    assert_eq!(v["Actions"]["Listed"], "Listed");
    assert_eq!(v["no_of_persons_found"], 1);
    let p = &v["people"][0];
    assert_eq!(p["name"], "Zorblax Quentin FICTIVUS");
    assert_eq!(p["aliases"], json!(["Zorblax Fictivus", "Z. Q. Fictivus"]));
    assert_eq!(p["dates_of_birth"], json!(["1965-07"]));
    assert_eq!(p["sanctions"][0]["source_details"]["source_type"], "Sanctions");
    assert_eq!(p["sanctions"][0]["source_details"]["source_name"], "demo");
    assert_eq!(p["sanctions"][0]["date_of_birth"], "1965-07");
    assert!(p["pep"].is_null());
    for key in ["addresses", "nationalities", "adverse_media", "enforcement_action", "associations"] {
        assert!(p[key].is_array(), "{key}: {p}");
    }

    // A PEP: their level scale (1 high - 3 low); our pep-1 is their 1.
    let (_, v) =
        smile(&t, &smile_body(json!({"full_name": "Fabulon Vexmarch", "birth_year": "1958"})).to_string()).await;
    assert_eq!(v["ResultCode"], "1030", "{v}");
    assert_eq!(v["people"][0]["pep"]["pep_level"], 1);
    assert!(v["people"][0]["pep"]["political_positions"].is_array());
    assert!(v["people"][0]["sanctions"].as_array().unwrap().is_empty());

    // Adverse media only: 1017, "not found on list - warning".
    let (_, v) = smile(
        &t,
        &smile_body(json!({"full_name": "Testington Invented-Smith", "birth_year": "1988", "strict_match": false}))
            .to_string(),
    )
    .await;
    assert_eq!(
        (v["ResultCode"].as_str(), v["ResultText"].as_str()),
        (Some("1017"), Some("Not found on list - warning")),
        "{v}"
    );
    assert_eq!(v["StrictMatch"], false);
    assert_eq!(v["people"][0]["adverse_media"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smile_id_errors_carry_smile_ids_codes() {
    let t = start_compat(|_| {}).await;
    let unauthorized = json!({"code": "2205", "error": "You are not authorized to do that."});
    // The seed's body as is: its signature is "..." and its timestamp from 2021.
    assert_eq!(smile(&t, SMILE_SEED_BODY).await, (401, unauthorized.clone()));
    // A signature by another key.
    let mut b = smile_body(json!({}));
    b["signature"] = json!(smile_signature(COMPAT_KEY_B, b["timestamp"].as_str().unwrap(), SMILE_PARTNER_A));
    assert_eq!(smile(&t, &b.to_string()).await, (401, unauthorized.clone()));
    // A correct signature over a stale timestamp.
    let stale = (chrono::Utc::now() - chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let b =
        smile_body(json!({"timestamp": stale, "signature": smile_signature(COMPAT_KEY_A, &stale, SMILE_PARTNER_A)}));
    assert_eq!(smile(&t, &b.to_string()).await, (401, unauthorized.clone()));
    // A partner id no officer has (signed with A's key for it).
    let mut b = smile_body(json!({"partner_id": "999"}));
    b["signature"] = json!(smile_signature(COMPAT_KEY_A, b["timestamp"].as_str().unwrap(), "999"));
    assert_eq!(smile(&t, &b.to_string()).await, (401, unauthorized));

    for key in ["full_name", "countries", "job_id", "user_id", "signature", "timestamp", "partner_id"] {
        let b = smile_body(json!({ key: null }));
        let (status, v) = smile(&t, &b.to_string()).await;
        assert_eq!((status, v), (400, json!({"code": "2413", "error": format!("{key} is required")})));
    }
    assert_eq!(smile(&t, "{\"full_name\": \"John").await, (400, json!({"code": "2403", "error": "Invalid JSON"})));
    assert_eq!(smile(&t, "[]").await, (400, json!({"code": "2403", "error": "Invalid JSON"})));
    let (status, v) = smile(&t, &smile_body(json!({"countries": ["Nigeria"]})).to_string()).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("2403")), "{v}");
    let (status, v) = smile(&t, &smile_body(json!({"birth_year": "84"})).to_string()).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("2403")), "{v}");
    let (status, v) = smile(&t, &smile_body(json!({"search_existing_user": true})).to_string()).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("2210")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn didit_seed_request_is_answered_in_didits_shape() {
    let t = start_compat(|_| {}).await;
    // The seed's own curl example: nobody on this node's lists.
    let (status, v) = didit_with(&t, COMPAT_KEY_A, DIDIT_SEED_BODY).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["request_id"].as_str().unwrap().len(), 36);
    assert_eq!(v["vendor_data"], "user-1234");
    let aml = &v["aml"];
    assert_eq!(aml["status"], "Approved");
    assert_eq!(aml["screening_id"].as_str().unwrap().len(), 36);
    assert_eq!((aml["total_hits"].as_u64(), aml["hits"].as_array().map(Vec::len)), (Some(0), Some(0)));
    assert_eq!(aml["warnings"], json!([]));
    assert_eq!(aml["entity_type"], "person");
    assert_eq!(aml["screened_data"]["nationality"], "ES");
    // A screened nationality under FATF call for action raises HIGH_RISK_COUNTRY (alpha-3 too).
    let (_, v) = didit(&t, &didit_body(json!({"nationality": "IRN"}))).await;
    assert_eq!(v["aml"]["screened_data"]["nationality"], "IR");
    assert_eq!(warning_codes(&v["aml"]), vec!["HIGH_RISK_COUNTRY".to_owned()], "{v}");
    assert_eq!(v["aml"]["status"], "Approved");
    // The same request on the trailing-slash-less path.
    let (status, _, _) = t
        .post_raw("/v1/compat/didit/v3/aml", &[("x-api-key", COMPAT_KEY_A.into()), json_type()], DIDIT_SEED_BODY)
        .await;
    assert_eq!(status, 200);

    // A sanctioned person, even with Didit's own thresholds (approve 80, review 100): In Review,
    // because a possible sanctions match is never approved automatically.
    let body = didit_body(json!({"full_name": "Zorblax Quentin FICTIVUS", "date_of_birth": "1965-07-02",
        "nationality": null, "aml_score_approve_threshold": 80, "aml_score_review_threshold": 100}));
    let (status, v) = didit(&t, &body).await;
    assert_eq!(status, 200, "{v}");
    let aml = &v["aml"];
    assert_eq!(aml["status"], "In Review", "{aml}");
    let hit = &aml["hits"][0];
    assert_eq!(hit["id"], "demo:DEMO-002");
    assert_eq!(hit["caption"], "Zorblax Quentin FICTIVUS");
    assert_eq!(hit["review_status"], "Unreviewed");
    assert_eq!(hit["datasets"], json!(["Sanctions"]));
    assert!(hit["match_score"].as_u64().unwrap() >= 93);
    assert_eq!(aml["score"], hit["risk_score"]);
    let sm = &hit["sanction_matches"][0];
    assert_eq!(sm["sanction_program"], json!(["DEMO-PROGRAM-A"]));
    assert_eq!(sm["list_name"], json!(["demo"]));
    assert_eq!(hit["properties"]["alias"], json!(["Zorblax Fictivus", "Z. Q. Fictivus"]));
    let codes = warning_codes(aml);
    assert!(codes.contains(&"POSSIBLE_MATCH_FOUND".into()) && codes.contains(&"SANCTIONED_ENTITY".into()), "{codes:?}");
    assert!(aml["total_hits"].as_u64().unwrap() >= 1);

    // A PEP level 1: low enough risk for Didit's approve threshold of 80, which is honoured...
    let pep = didit_body(json!({"full_name": "Fabulon Vexmarch", "date_of_birth": "1958", "nationality": null}));
    let mut lenient = pep.clone();
    lenient["aml_score_approve_threshold"] = json!(80);
    let (_, v) = didit(&t, &lenient).await;
    assert_eq!(v["aml"]["status"], "Approved", "{v}");
    assert_eq!(v["aml"]["hits"][0]["datasets"], json!(["PEP Level 1"]));
    assert!(warning_codes(&v["aml"]).contains(&"PEP_MATCH".into()));
    // ...while the node's own default (approve below 40) sends it to review.
    let (_, v) = didit(&t, &pep).await;
    assert_eq!(v["aml"]["status"], "In Review", "{v}");

    // A document-number match on a sanctions list: Declined, MATCH_FOUND.
    let golden = didit_body(json!({"full_name": "Demo Sanctioned Person One", "date_of_birth": "1970-01-01",
        "nationality": "NL", "document_number": "DEMOPP0000001"}));
    let (_, v) = didit(&t, &golden).await;
    assert_eq!(v["aml"]["status"], "Declined", "{v}");
    assert_eq!(v["aml"]["hits"][0]["match_score"], 100);
    assert!(warning_codes(&v["aml"]).contains(&"MATCH_FOUND".into()));

    // Adverse media is screened only when asked for.
    let media = didit_body(
        json!({"full_name": "Testington Invented-Smith", "date_of_birth": "1988-02-10", "nationality": null}),
    );
    let (_, v) = didit(&t, &media).await;
    assert!(warning_codes(&v["aml"]).contains(&"ADVERSE_MEDIA_HIT".into()), "{v}");
    assert_eq!(v["aml"]["hits"][0]["datasets"], json!(["Adverse Media"]));
    let mut no_media = media.clone();
    no_media["include_adverse_media"] = json!(false);
    let (_, v) = didit(&t, &no_media).await;
    assert!(v["aml"]["hits"].as_array().unwrap().iter().all(|h| h["review_status"] != "Unreviewed"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn didit_refusals_follow_didits_rules() {
    let t = start_compat(|_| {}).await;
    // Weights must sum to exactly 100.
    let (status, v) =
        didit(&t, &didit_body(json!({"aml_name_weight": 60, "aml_dob_weight": 25, "aml_country_weight": 20}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("policy_match_weights")), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("sum to 100"));
    let ok = didit_body(json!({"aml_name_weight": 70, "aml_dob_weight": 20, "aml_country_weight": 10}));
    assert_eq!(didit(&t, &ok).await.0, 200);
    // Monitoring needs save_api_request; and is not available here at all.
    let (status, v) =
        didit(&t, &didit_body(json!({"include_ongoing_monitoring": true, "save_api_request": false}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("monitoring_requires_save")), "{v}");
    let (status, v) =
        didit(&t, &didit_body(json!({"include_ongoing_monitoring": true, "save_api_request": true}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (422, Some("monitoring_unsupported")), "{v}");
    // Authentication.
    let (status, _, text) = t.post_raw("/v1/compat/didit/v3/aml/", &[json_type()], DIDIT_SEED_BODY).await;
    assert_eq!((status, json_of(&text)["error"]["code"].as_str()), (401, Some("auth_missing")));
    let (status, v) = didit_with(&t, "not-a-key-of-this-node-000000000000000", DIDIT_SEED_BODY).await;
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("auth_bad_key")));
    // Bad bodies.
    let (status, v) = didit_with(&t, COMPAT_KEY_A, "{\"full_name\": ").await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("malformed_json")));
    let (status, v) = didit(&t, &json!({"entity_type": "person"})).await;
    assert_eq!((status, v["detail"].as_str()), (400, Some("full_name: This field is required.")));
    let (status, v) = didit(&t, &didit_body(json!({"entity_type": "vessel"}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (status, v) = didit(&t, &didit_body(json!({"aml_match_score_threshold": 20}))).await;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("policy_out_of_range")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screened_input_is_not_stored() {
    let mut t = start_compat(|_| {}).await;
    let name = "Quorvantha Ylmiraxe-Pendlebrook";
    let document = "QZV7730192";
    let (status, _, _) = screen(&t, &json!({"name": name, "document_number": document}).to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(smile(&t, &smile_body(json!({"full_name": name})).to_string()).await.0, 200);
    assert_eq!(didit(&t, &didit_body(json!({"full_name": name, "document_number": document}))).await.0, 200);
    t.stop().await;
    t.node.store.flush().unwrap();
    let mut stack = vec![t.data_dir()];
    let mut scanned = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            scanned += bytes.len();
            for needle in [name, "Quorvantha", "Pendlebrook", document] {
                let n = needle.as_bytes();
                assert!(!bytes.windows(n.len()).any(|w| w == n), "`{needle}` found in {}", p.display());
            }
        }
    }
    assert!(scanned > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_keys_are_checked_at_start() {
    let root = tempfile::tempdir().unwrap();
    aml_node::keys::generate_key_set(&root.path().join("officer-a"), false).unwrap();
    aml_node::keys::generate_key_set(&root.path().join("officer-b"), false).unwrap();
    let open = |adjust: &dyn Fn(&mut aml_node::config::Config)| {
        let mut c = common::config_for(root.path(), "127.0.0.1:0");
        adjust(&mut c);
        aml_node::node::Node::open(c, aml_node::clock::OffsetClock::new()).err().map(|e| e.to_string())
    };
    let short = root.path().join("short.key");
    std::fs::write(&short, "too-short").unwrap();
    let good = root.path().join("good.key");
    std::fs::write(&good, COMPAT_KEY_A).unwrap();
    let e = open(&|c| c.officers[0].smile_id_partner_id = Some("023".into())).unwrap();
    assert!(e.contains("needs compat_api_key_file"), "{e}");
    let e = open(&|c| c.officers[0].compat_api_key_file = Some(short.clone())).unwrap();
    assert!(e.contains("at least 32 characters"), "{e}");
    let e = open(&|c| {
        c.officers[0].compat_api_key_file = Some(good.clone());
        c.officers[1].compat_api_key_file = Some(good.clone());
    })
    .unwrap();
    assert!(e.contains("same compat API key"), "{e}");
    assert!(open(&|c| c.officers[0].compat_api_key_file = Some(root.path().join("missing.key"))).is_some());
}
