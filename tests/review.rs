//! Officer review end to end: the lifecycle and its forbidden transitions, both outcomes of a
//! concurrent decision, suppression (and its expiry a year later), each inheritance reason and
//! its priority, the audit chain, and webhooks to a receiver that fails and then recovers.

mod common;

use std::sync::{Arc, Mutex};

use aml_node::client::demo_claims;
use aml_node::credentials::CredentialFormat;
use aml_node::keys::HolderKey;
use aml_node::requests::REJECTION_REASON;
use chrono::Duration;
use common::{TestNode, error_code, status_of};
use serde_json::{Map, Value, json};

/// A person on the demo list (sanction, born 1965-07): every check of them has one hit.
fn listed(document: &str) -> Map<String, Value> {
    demo_claims("Zorblax Quentin Fictivus", "1965-07-02", "NL", document)
}

async fn case_of(t: &TestNode, answer: &Value) -> Value {
    let id = answer["request_id"].as_str().unwrap();
    let view = t.client.get(&format!("/v1/officer/requests/{id}"), Some(&t.keys.officer_a)).await.unwrap();
    view["case"].clone()
}

async fn post_a(t: &TestNode, path: &str, body: Value) -> Result<Value, aml_node::client::ClientError> {
    t.client.post(path, &body, Some(&t.keys.officer_a)).await
}

/// Opens and decides a case; returns the decision answer.
async fn review(t: &TestNode, case_id: &str, outcome: &str, hits: Value) -> Value {
    let opened = post_a(t, &format!("/v1/officer/cases/{case_id}/open"), json!({})).await.unwrap();
    post_a(
        t,
        &format!("/v1/officer/cases/{case_id}/decision"),
        json!({"outcome": outcome, "reason": "checked the passport photo", "revision": opened["revision"], "hits": hits}),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_positive_review_issues_the_credential() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", listed("P1"), CredentialFormat::Jose).await.unwrap();
    assert_eq!(answer["status"], "in-review");
    let request_id = answer["request_id"].as_str().unwrap();

    // The queue holds the case, oldest first, with its hits.
    let q = t.client.get("/v1/officer/cases", Some(&t.keys.officer_a)).await.unwrap();
    let case = &q["cases"][0];
    assert_eq!(case["status"], "pending-review");
    assert_eq!(case["request_id"], request_id);
    let case_id = case["id"].as_str().unwrap().to_owned();
    let entity = case["hits"][0]["entity_id"].as_str().unwrap().to_owned();
    // Officer B's queue is empty.
    let qb = t.client.get("/v1/officer/cases", Some(&t.keys.officer_b)).await.unwrap();
    assert!(qb["cases"].as_array().unwrap().is_empty());

    let opened = post_a(&t, &format!("/v1/officer/cases/{case_id}/open"), json!({})).await.unwrap();
    assert_eq!(opened["status"], "in-review");
    assert_eq!(opened["assignee"], "officer-a");
    let hit = post_a(
        &t,
        &format!("/v1/officer/cases/{case_id}/hits/{entity}/decision"),
        json!({"decision": "false-positive", "reason": "different birth place", "revision": opened["revision"]}),
    )
    .await
    .unwrap();
    assert_eq!(hit["hits"][0]["status"], "false-positive");
    let decided = post_a(
        &t,
        &format!("/v1/officer/cases/{case_id}/decision"),
        json!({"outcome": "false-positive", "reason": "not the listed person", "revision": hit["revision"]}),
    )
    .await
    .unwrap();
    assert_eq!(decided["case"]["status"], "false-positive");
    assert_eq!(decided["case"]["decision"]["by"], "officer-a");
    assert_eq!(decided["request"]["status"], "issued");

    // The holder now gets the credential and a certificate that verifies.
    let mine = t.client.get(&format!("/v1/requests/{request_id}"), Some(&holder)).await.unwrap();
    assert_eq!(mine["status"], "issued");
    assert_eq!(mine["decision"], "Approved");
    let v = t.client.post("/v1/certificates/verify", &json!({"certificate": mine["certificate"]}), None).await.unwrap();
    assert_eq!(v["verdict"], "valid");
    // Closed cases leave the queue but stay listable by status.
    let q = t.client.get("/v1/officer/cases", Some(&t.keys.officer_a)).await.unwrap();
    assert!(q["cases"].as_array().unwrap().is_empty());
    let closed = t.client.get("/v1/officer/cases?status=false-positive", Some(&t.keys.officer_a)).await.unwrap();
    assert_eq!(closed["cases"][0]["id"], case_id.as_str());

    // Every step is in the audit log, whose chain verifies.
    let log = t.client.get("/v1/officer/audit", Some(&t.keys.officer_a)).await.unwrap();
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["check.completed", "case.opened", "hit.decided", "case.decided", "credential.issued"]);
    assert_eq!(aml_node::audit::verify(&t.node.store).unwrap().entries, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_match_rejects_without_revealing_the_hit() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", listed("P2"), CredentialFormat::Jose).await.unwrap();
    let case = case_of(&t, &answer).await;
    let case_id = case["id"].as_str().unwrap();
    let entity = case["hits"][0]["entity_id"].as_str().unwrap();
    let decided = review(&t, case_id, "confirmed-match", json!({entity: "confirmed-match"})).await;
    assert_eq!(decided["case"]["status"], "confirmed-match");
    let id = answer["request_id"].as_str().unwrap();
    let mine = t.client.get(&format!("/v1/requests/{id}"), Some(&holder)).await.unwrap();
    assert_eq!(mine["status"], "rejected");
    assert_eq!(mine["decision"], "Declined");
    assert_eq!(mine["reason"], REJECTION_REASON);
    let text = mine.to_string();
    assert!(!text.contains("DEMO") && !text.contains("entity") && !text.contains("sanction"), "{text}");
    let e = t.client.post(&format!("/v1/requests/{id}/certificates"), &json!({}), Some(&holder)).await.unwrap_err();
    assert_eq!(error_code(&e), "credential_not_issued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_transitions_are_typed_conflicts() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", listed("P3"), CredentialFormat::Jose).await.unwrap();
    let case = case_of(&t, &answer).await;
    let id = case["id"].as_str().unwrap();
    let entity = case["hits"][0]["entity_id"].as_str().unwrap();
    let path = |action: &str| format!("/v1/officer/cases/{id}/{action}");
    let code = |r: Result<Value, aml_node::client::ClientError>| {
        let e = r.unwrap_err();
        (status_of(&e), error_code(&e))
    };
    let decision = |outcome: &str, revision: &Value| json!({"outcome": outcome, "reason": "x", "revision": revision});

    // Pending review: no decision, no release.
    assert_eq!(
        code(post_a(&t, &path("decision"), decision("false-positive", &case["revision"])).await),
        (409, "case_not_in_review".into())
    );
    assert_eq!(code(post_a(&t, &path("release"), json!({})).await), (409, "case_not_in_review".into()));
    // Stale revision.
    assert_eq!(code(post_a(&t, &path("open"), json!({"revision": 99})).await), (409, "case_conflict".into()));
    let opened = post_a(&t, &path("open"), json!({})).await.unwrap();
    assert_eq!(code(post_a(&t, &path("open"), json!({})).await), (409, "case_in_review".into()));
    let rev = &opened["revision"];
    // A confirmed case needs a confirmed hit; a false positive may not have one.
    assert_eq!(
        code(post_a(&t, &path("decision"), decision("confirmed-match", rev)).await),
        (422, "no_confirmed_hit".into())
    );
    let mut bad = decision("false-positive", rev);
    bad["hits"] = json!({entity: "confirmed-match"});
    assert_eq!(code(post_a(&t, &path("decision"), bad).await), (422, "case_has_confirmed_hit".into()));
    assert_eq!(
        code(
            post_a(
                &t,
                &format!("/v1/officer/cases/{id}/hits/nope:1/decision"),
                json!({"decision": "inconclusive", "reason": "x", "revision": rev})
            )
            .await
        ),
        (404, "hit_not_found".into())
    );
    assert_eq!(
        code(post_a(&t, &path("decision"), json!({"outcome": "false-positive", "reason": " ", "revision": rev})).await),
        (400, "reason_required".into())
    );
    assert_eq!(
        code(post_a(&t, &path("decision"), json!({"outcome": "unreviewed", "reason": "x", "revision": rev})).await),
        (400, "invalid_request".into())
    );
    // Released and reopened, then closed: nothing more.
    let released = post_a(&t, &path("release"), json!({"revision": rev})).await.unwrap();
    assert_eq!(released["status"], "pending-review");
    assert!(released["assignee"].is_null());
    let reopened = post_a(&t, &path("open"), json!({"revision": released["revision"]})).await.unwrap();
    post_a(&t, &path("decision"), decision("false-positive", &reopened["revision"])).await.unwrap();
    let closed = t.client.get(&format!("/v1/officer/cases/{id}"), Some(&t.keys.officer_a)).await.unwrap();
    assert_eq!(code(post_a(&t, &path("open"), json!({})).await), (409, "case_closed".into()));
    assert_eq!(
        code(post_a(&t, &path("decision"), decision("false-positive", &closed["revision"])).await),
        (409, "case_closed".into())
    );
    assert_eq!(code(post_a(&t, &path("rerun"), json!({})).await), (409, "case_not_failed".into()));
    // A no-match check has nothing to review; officer B cannot see officer A's case.
    let clean = t.request(&holder, "a-basic", common::person("Clean Person"), CredentialFormat::Jose).await.unwrap();
    let clean_case = case_of(&t, &clean).await;
    assert_eq!(clean_case["status"], "no-match");
    let clean_id = clean_case["id"].as_str().unwrap();
    assert_eq!(
        code(post_a(&t, &format!("/v1/officer/cases/{clean_id}/open"), json!({})).await),
        (409, "case_not_reviewable".into())
    );
    let e = t.client.post(&path("open"), &json!({}), Some(&t.keys.officer_b)).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (404, "case_not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_officers_deciding_one_case_one_wins_one_gets_409() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", listed("P4"), CredentialFormat::Jose).await.unwrap();
    let case = case_of(&t, &answer).await;
    let id = case["id"].as_str().unwrap().to_owned();
    let opened = post_a(&t, &format!("/v1/officer/cases/{id}/open"), json!({})).await.unwrap();
    let entity = case["hits"][0]["entity_id"].as_str().unwrap().to_owned();
    let bodies = [
        json!({"outcome": "false-positive", "reason": "first", "revision": opened["revision"]}),
        json!({"outcome": "confirmed-match", "reason": "second", "revision": opened["revision"], "hits": {entity: "confirmed-match"}}),
    ];
    let mut tasks = Vec::new();
    for b in bodies {
        // Both tokens minted up front, so the two posts race for real.
        let token = aml_node::auth::mint_token(&t.keys.officer_a, &t.url, chrono::Utc::now(), 60);
        let url = format!("{}/v1/officer/cases/{id}/decision", t.url);
        tasks.push(tokio::spawn(async move {
            let resp = reqwest::Client::new().post(url).bearer_auth(token).json(&b).send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            if status == 200 { Ok(body) } else { Err(aml_node::client::ClientError::Api { status, body }) }
        }));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!((status_of(&e), error_code(&e).as_str()), (409, "case_conflict"), "{e}");
                conflicts += 1;
            }
        }
    }
    assert_eq!((ok, conflicts), (1, 1));
    let after = t.client.get(&format!("/v1/officer/cases/{id}"), Some(&t.keys.officer_a)).await.unwrap();
    assert!(after["status"] == "false-positive" || after["status"] == "confirmed-match");
    // Exactly one decision was audited.
    let log = t.client.get("/v1/officer/audit", Some(&t.keys.officer_a)).await.unwrap();
    let decided = log["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "case.decided").count();
    assert_eq!(decided, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn false_positives_are_suppressed_for_a_year_then_raised_again() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let first = t.request(&holder, "a-basic", listed("P5"), CredentialFormat::Jose).await.unwrap();
    let case = case_of(&t, &first).await;
    let entity = case["hits"][0]["entity_id"].as_str().unwrap().to_owned();
    review(&t, case["id"].as_str().unwrap(), "false-positive", json!({})).await;

    // The same subject again (another holder, same identifying claims): the hit is left out,
    // and the check says so.
    let other = HolderKey::generate();
    let again = t.request(&other, "a-basic", listed("P5"), CredentialFormat::Jose).await.unwrap();
    assert_eq!(again["status"], "issued", "{again}");
    let c = case_of(&t, &again).await;
    assert_eq!(c["status"], "no-match");
    assert_eq!(c["no_match_reason"], "suppressed_false_positives");
    assert_eq!(c["suppressed"][0]["entity_id"], entity.as_str());
    assert_eq!(c["suppressed"][0]["cleared_in"], case["id"]);

    // A year and a day later the suppression has expired: the hit is raised again, and the
    // year-old review is not inherited either.
    t.advance(Duration::days(366));
    let later = t.request(&holder, "a-basic", listed("P5"), CredentialFormat::Jose).await.unwrap();
    assert_eq!(later["status"], "in-review", "{later}");
    let c = case_of(&t, &later).await;
    assert_eq!(c["status"], "pending-review");
    assert!(c.get("suppressed").is_none() && c.get("inherited_from").is_none(), "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inheritance_reasons_and_their_priority() {
    let t = TestNode::start().await;
    let (h1, h2) = (HolderKey::generate(), HolderKey::generate());
    // Checked under the enhanced spec, whose fingerprint covers the document number.
    let claims = |doc: &str| {
        let mut c = listed(doc);
        c.remove("givenName");
        c
    };
    // Subject S (document D1) under holder 1: confirmed match by the officer.
    let a = t.request(&h1, "a-enhanced", claims("D1"), CredentialFormat::Jose).await.unwrap();
    let case_a = case_of(&t, &a).await;
    let entity = case_a["hits"][0]["entity_id"].as_str().unwrap().to_owned();
    review(&t, case_a["id"].as_str().unwrap(), "confirmed-match", json!({entity.clone(): "confirmed-match"})).await;

    // Same identity under another holder: inherits, rejected at once.
    let b = t.request(&h2, "a-enhanced", claims("D1"), CredentialFormat::Jose).await.unwrap();
    assert_eq!(b["status"], "rejected");
    let case_b = case_of(&t, &b).await;
    assert_eq!(case_b["status"], "confirmed-match");
    assert_eq!(case_b["inherited_from"]["case_id"], case_a["id"]);
    assert_eq!(case_b["inherited_from"]["reason"], "same_identity");
    assert_eq!(case_b["hits"][0]["status"], "confirmed-match");

    // Same holder with other identifying data (another document): same holder DID.
    let c = t.request(&h1, "a-enhanced", claims("D2"), CredentialFormat::Jose).await.unwrap();
    let case_c = case_of(&t, &c).await;
    assert_eq!(case_c["inherited_from"]["reason"], "same_holder", "{case_c}");
    assert_eq!(case_c["inherited_from"]["case_id"], case_a["id"]);

    // Holder 1 with S again: both its own earlier check (A) and the newer related check (B,
    // same identity) qualify; the same subject's own check wins.
    let d = t.request(&h1, "a-enhanced", claims("D1"), CredentialFormat::Jose).await.unwrap();
    let case_d = case_of(&t, &d).await;
    assert_eq!(case_d["inherited_from"]["reason"], "same_subject");
    assert_eq!(case_d["inherited_from"]["case_id"], case_a["id"]);
    assert_eq!(d["status"], "rejected");

    // A check with another hit set inherits nothing (a second listed entity joins the hits).
    let unrelated = t
        .request(&h1, "a-enhanced", demo_claims("Fabulon Vexmarch", "1958-01-01", "NL", "D1"), CredentialFormat::Jose)
        .await
        .unwrap();
    let case_u = case_of(&t, &unrelated).await;
    assert_eq!(case_u["status"], "pending-review");
    assert!(case_u.get("inherited_from").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_approved_then_confirmed_revokes_the_live_certificate() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    // A low-risk PEP (level 4) under a spec that approves low risk: issued at once, reviewed after.
    let answer = t
        .request(
            &holder,
            "a-pep",
            demo_claims("Yorrick Placeholder-Jones", "1975-12-31", "NL", "P9"),
            CredentialFormat::Jose,
        )
        .await
        .unwrap();
    assert_eq!(answer["status"], "issued", "{answer}");
    let case = case_of(&t, &answer).await;
    assert_eq!(case["status"], "pending-review");
    assert_eq!(case["engine_decision"], "approved");
    let cert = answer["certificate"].as_str().unwrap().to_owned();
    let body = json!({"certificate": cert});
    let verify = || t.client.post("/v1/certificates/verify", &body, None);
    assert_eq!(verify().await.unwrap()["verdict"], "valid");
    let entity = case["hits"][0]["entity_id"].as_str().unwrap();
    review(&t, case["id"].as_str().unwrap(), "confirmed-match", json!({entity: "confirmed-match"})).await;
    assert_eq!(verify().await.unwrap()["verdict"], "revoked");
    let log = t.client.get("/v1/officer/audit", Some(&t.keys.officer_a)).await.unwrap();
    assert!(log["entries"].as_array().unwrap().iter().any(|e| e["action"] == "credential.revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_the_audit_log_is_detected() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    for doc in ["A1", "A2", "A3"] {
        t.request(&holder, "a-basic", listed(doc), CredentialFormat::Jose).await.unwrap();
    }
    let store = &t.node.store;
    assert_eq!(aml_node::audit::verify(store).unwrap().entries, 3);
    let key = format!("{:020}", 2);
    let mut entry: Value = store.get(aml_node::audit::AUDIT_TREE, &key).unwrap().unwrap();
    entry["details"]["status"] = json!("no-match");
    store.put(aml_node::audit::AUDIT_TREE, &key, &entry).unwrap();
    assert_eq!(aml_node::audit::verify(store).unwrap_err().code(), "audit_edited");
    store.remove::<Value>(aml_node::audit::AUDIT_TREE, &key).unwrap();
    assert_eq!(aml_node::audit::verify(store).unwrap_err().code(), "audit_gap");
}

/// One call a receiver got: headers and raw body.
type Call = (axum::http::HeaderMap, Vec<u8>);

/// A webhook receiver that fails its first `failures` calls, then records what it gets.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<Call>>>,
    failures: Arc<std::sync::atomic::AtomicUsize>,
}

async fn start_receiver(failures: usize) -> (String, Receiver) {
    let r = Receiver::default();
    r.failures.store(failures, std::sync::atomic::Ordering::SeqCst);
    let state = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                state.calls.lock().unwrap().push((headers, body.to_vec()));
                let left = state.failures.load(std::sync::atomic::Ordering::SeqCst);
                if left > 0 {
                    state.failures.store(left - 1, std::sync::atomic::Ordering::SeqCst);
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_never_block_requests() {
    let (url, receiver) = start_receiver(2).await;
    let secret = "test-webhook-secret-0123456789";
    let t = TestNode::start_with(|c| {
        let secret_file = c.data_dir.parent().unwrap().join("hook.secret");
        std::fs::write(&secret_file, secret).unwrap();
        c.officers[0].webhooks =
            vec![aml_node::config::WebhookConfig { url: url.clone(), secret_file, events: vec![] }];
        // A receiver that never answers.
        c.officers[1].webhooks = vec![aml_node::config::WebhookConfig {
            url: "http://127.0.0.1:9/never".into(),
            secret_file: c.data_dir.parent().unwrap().join("hook.secret"),
            events: vec![],
        }];
        c.webhook_retry_base_ms = 50;
        c.outbox_poll_ms = 20;
    })
    .await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", listed("W1"), CredentialFormat::Jose).await.unwrap();
    assert_eq!(answer["status"], "in-review");

    // Delivered after two failed attempts, same event id every time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ok = receiver.calls.lock().unwrap().len() >= 3;
        if ok || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let calls = receiver.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "expected 2 failures and a delivery");
    let ids: Vec<&str> = calls.iter().map(|(h, _)| h["aml-event-id"].to_str().unwrap()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]));
    let (headers, body) = &calls[2];
    assert_eq!(headers["idempotency-key"], ids[0]);
    assert_eq!(headers["aml-event-type"], "case.created");
    let now = chrono::Utc::now().timestamp();
    assert!(aml_node::webhooks::verify_signature(
        secret.as_bytes(),
        headers["aml-signature"].to_str().unwrap(),
        body,
        now,
        300
    ));
    assert!(!aml_node::webhooks::verify_signature(
        b"wrong-secret-wrong-secret",
        headers["aml-signature"].to_str().unwrap(),
        body,
        now,
        300
    ));
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "case.created");
    assert_eq!(event["data"]["request_id"], answer["request_id"]);
    assert!(!String::from_utf8_lossy(body).contains("1965-07-02"), "no claim values in events");
    // Nothing left pending for officer A once delivered.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(t.node.outbox.pending().unwrap().iter().all(|d| d.event.officer != "officer-a"));

    // Officer B's receiver is dead: B's requests are answered as fast as ever.
    let started = std::time::Instant::now();
    for i in 0..3 {
        let kyc =
            t.kyc(&holder, demo_claims(&format!("Person B{i}"), "1990-01-01", "NL", "X"), CredentialFormat::Jose).await;
        let p = t.client.prepare_request(&holder, "b-basic", vec![kyc]).await.unwrap();
        assert_eq!(t.client.submit(&p).await.unwrap()["status"], "issued");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let pending: Vec<_> =
        t.node.outbox.pending().unwrap().into_iter().filter(|d| d.event.officer == "officer-b").collect();
    assert!(!pending.is_empty(), "B's deliveries wait in the outbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_blocks_issuance_and_can_be_re_run() {
    use aml_node::cases::{CASES_TREE, Case, CaseStatus};
    use aml_node::profiles::{PROFILES_TREE, ProfilePurpose, StoredProfile, seal_profile};
    use aml_node::requests::{REQUESTS_TREE, RequestRecord, RequestStatus};
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", listed("E1"), CredentialFormat::Jose).await.unwrap();
    let id = answer["request_id"].as_str().unwrap();
    // Put the request in the state a failed screening leaves: an error check (never a pass)
    // and the re-run profile sealed under the node's key.
    let store = &t.node.store;
    let mut request: RequestRecord = store.get(REQUESTS_TREE, id).unwrap().unwrap();
    let mut case: Case = store.get(CASES_TREE, &request.case_id).unwrap().unwrap();
    case.status = CaseStatus::Error;
    case.hits.clear();
    store.put(CASES_TREE, &case.id, &case).unwrap();
    request.status = RequestStatus::Error;
    store.put(REQUESTS_TREE, id, &request).unwrap();
    let query = aml_node::screening::Query {
        name: Some("Zorblax Quentin Fictivus".into()),
        birth_date: aml_node::lists::PartialDate::parse_iso("1965-07-02"),
        countries: vec!["NL".into()],
        ..Default::default()
    };
    let sealed = seal_profile(&t.node.secrets.profile.public_key(), id, &query).unwrap();
    let profile = StoredProfile {
        request_id: id.into(),
        officer: "officer-a".into(),
        spec_id: "a-basic".into(),
        purpose: ProfilePurpose::Rerun,
        expires_at: None,
        sealed,
    };
    store.put(PROFILES_TREE, id, &profile).unwrap();

    let mine = t.client.get(&format!("/v1/requests/{id}"), Some(&holder)).await.unwrap();
    assert_eq!(mine["status"], "error");
    assert!(mine.get("credential").is_none());
    let e = post_a(&t, &format!("/v1/officer/cases/{}/open", case.id), json!({})).await.unwrap_err();
    assert_eq!(error_code(&e), "case_not_reviewable");

    let rerun = post_a(&t, &format!("/v1/officer/cases/{}/rerun", case.id), json!({})).await.unwrap();
    assert_ne!(rerun["case"]["id"], json!(case.id));
    assert_eq!(rerun["case"]["status"], "pending-review");
    assert_eq!(rerun["request"]["status"], "in-review");
    assert_eq!(rerun["request"]["case_id"], rerun["case"]["id"]);
    // The re-run profile is gone (the spec does not monitor); a second re-run is refused.
    assert!(store.get::<StoredProfile>(PROFILES_TREE, id).unwrap().is_none());
    let e = post_a(&t, &format!("/v1/officer/cases/{}/rerun", case.id), json!({})).await.unwrap_err();
    assert_eq!(error_code(&e), "case_superseded");
}
