//! End to end: lists refreshed on a running node and monitored subjects re-screened against
//! what changed. A new definitive match revokes a live certificate (verified online and by
//! decoding the published status list), a new possible match suspends one, a removed or
//! updated listed entity is reported, webhooks carry `AML_MONITORING_UPDATE`, and a list that
//! has never been downloaded keeps the node from deciding until a refresh brings it.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use aml_node::config::{ListConfig, WebhookConfig};
use aml_node::credentials::{CredentialFormat, decode_encoded_list};
use aml_node::keys::HolderKey;
use aml_node::profiles::PROFILES_TREE;
use common::TestNode;
use serde_json::{Value, json};

const HEADER: &str = "id,name,entity_type,aliases,birth_dates,countries,documents,wallets,categories,programs\n";
const UNRELATED: &str = "W-001,Quillon Drabvest Ormitage,person,,1950-01-01,NO,,,sanction,TEST-PROGRAM\n";
const MARIA: &str = "W-100,Maria Elena Kowalczyk,person,,1979-04-12,PL,passport:PLX7788990,,sanction,TEST-PROGRAM\n";
const TOMASZ: &str = "W-101,Tomasz Brzezinski,person,,1982-11-03,PL,,,sanction,TEST-PROGRAM\n";

fn write_list(path: &Path, rows: &[&str]) {
    let mut text = HEADER.to_owned();
    for r in rows {
        text.push_str(r);
    }
    // Written beside and renamed, as an operator's sync would.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Collects webhook bodies.
#[derive(Clone, Default)]
struct Hooks(Arc<Mutex<Vec<Value>>>);

impl Hooks {
    async fn start() -> (String, Hooks) {
        let hooks = Hooks::default();
        let state = hooks.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    state.0.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, hooks)
    }

    /// The monitoring updates received so far, waiting up to 10 s for `n` of them.
    async fn monitoring_updates(&self, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let got: Vec<Value> =
                self.0.lock().unwrap().iter().filter(|e| e["event_type"] == "AML_MONITORING_UPDATE").cloned().collect();
            if got.len() >= n || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

async fn monitored_node(list: &Path, hook: &str) -> TestNode {
    let list = list.to_owned();
    let hook = hook.to_owned();
    TestNode::start_with(move |c| {
        let root = c.data_dir.parent().unwrap().to_owned();
        let kyc = std::fs::read_to_string(root.join("specs/a-basic.toml")).unwrap();
        let issuer = kyc.lines().find(|l| l.starts_with("accepted_issuers")).unwrap().to_owned();
        std::fs::write(
            root.join("specs/a-monitored.toml"),
            format!(
                "id = \"a-monitored\"\nofficer = \"officer-a\"\nname = \"monitored\"\n\
                 required_claims = [\"fullName\", \"birthDate\", \"nationality\", \"documentNumber\"]\n\
                 credential_format = \"jose\"\ncredential_validity_secs = 2592000\n\
                 certificate_validity_secs = 86400\nmonitoring = true\n{issuer}\n"
            ),
        )
        .unwrap();
        std::fs::write(root.join("hook.secret"), "monitoring-hook-secret-0123456789").unwrap();
        c.officers[0].webhooks =
            vec![WebhookConfig { url: hook, secret_file: root.join("hook.secret"), events: vec![] }];
        c.outbox_poll_ms = 20;
        c.lists = vec![ListConfig { name: "watch".into(), path: list, format: None, url: None, files: Vec::new() }];
    })
    .await
}

async fn verdict(t: &TestNode, certificate: &str) -> String {
    let v = t.client.post("/v1/certificates/verify", &json!({"certificate": certificate}), None).await.unwrap();
    v["verdict"].as_str().unwrap().to_owned()
}

/// The bit of a certificate's status entry (`credentialStatus` or `credentialSuspension`), read
/// from the status list credential the node publishes, as a relying party would.
async fn published_bit(certificate: &str, entry: &str) -> bool {
    let payload = certificate.split('.').nth(1).unwrap();
    let payload = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()
    };
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    let status = &claims[entry];
    let url = status["statusListCredential"].as_str().unwrap();
    let index: u64 = status["statusListIndex"].as_str().unwrap().parse().unwrap();
    let list: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let encoded = list["credentialSubject"]["encodedList"].as_str().unwrap();
    decode_encoded_list(encoded).unwrap().is_set(index).unwrap()
}

async fn officer_view(t: &TestNode, request_id: &Value) -> Value {
    let path = format!("/v1/officer/requests/{}", request_id.as_str().unwrap());
    t.client.get(&path, Some(&t.keys.officer_a)).await.unwrap()
}

async fn refresh(t: &TestNode) -> Value {
    t.client.post("/v1/officer/lists/refresh", &json!({}), Some(&t.keys.officer_a)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_changes_revoke_suspend_and_report_to_monitored_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("watch.csv");
    write_list(&list, &[UNRELATED]);
    let (hook, hooks) = Hooks::start().await;
    let t = monitored_node(&list, &hook).await;

    let maria = HolderKey::generate();
    let claims = aml_node::client::demo_claims("Maria Elena Kowalczyk", "1979-04-12", "PL", "PLX7788990");
    let a = t.request(&maria, "a-monitored", claims, CredentialFormat::Jose).await.unwrap();
    assert_eq!(a["status"], "issued", "{a:#}");
    let tomasz = HolderKey::generate();
    let claims = aml_node::client::demo_claims("Tomasz Brzezinski", "1982-11-03", "PL", "PLK1234567");
    let b = t.request(&tomasz, "a-monitored", claims.clone(), CredentialFormat::Jose).await.unwrap();
    assert_eq!(b["status"], "issued");
    // The same person under a spec without monitoring: no profile, never re-screened.
    let c = t.request(&tomasz, "a-basic", claims, CredentialFormat::Jose).await.unwrap();
    assert_eq!(c["status"], "issued");
    let (cert_a, cert_b, cert_c) =
        (a["certificate"].as_str().unwrap(), b["certificate"].as_str().unwrap(), c["certificate"].as_str().unwrap());
    for cert in [cert_a, cert_b, cert_c] {
        assert_eq!(verdict(&t, cert).await, "valid");
    }
    assert_eq!(t.node.store.scan::<Value>(PROFILES_TREE, "", None, 10).unwrap().len(), 2);

    // Nothing changed: nothing re-screened.
    let r = refresh(&t).await;
    assert_eq!(r["lists"][0]["outcome"], "unchanged", "{r:#}");
    assert_eq!(r["index_rebuilt"], false);

    // Maria is listed with her passport (a definitive match), Tomasz by name and birth date.
    write_list(&list, &[UNRELATED, MARIA, TOMASZ]);
    let r = refresh(&t).await;
    assert_eq!(r["lists"][0]["outcome"], "updated", "{r:#}");
    assert_eq!(r["lists"][0]["diff"]["added"], 2);
    assert_eq!(r["index_rebuilt"], true);
    let m = &r["monitoring"];
    assert_eq!((m["profiles"].as_u64(), m["changed_entities"].as_u64()), (Some(2), Some(2)), "{m:#}");
    assert_eq!((m["updates"].as_u64(), m["rechecks"].as_u64()), (Some(2), Some(2)), "{m:#}");
    assert_eq!((m["revoked"].as_u64(), m["suspended"].as_u64(), m["failures"].as_u64()), (Some(1), Some(1), Some(0)));

    // Relying parties see it online and in the published lists.
    assert_eq!(verdict(&t, cert_a).await, "revoked");
    assert!(published_bit(cert_a, "credentialStatus").await);
    assert_eq!(verdict(&t, cert_b).await, "suspended");
    assert!(published_bit(cert_b, "credentialSuspension").await);
    assert!(!published_bit(cert_b, "credentialStatus").await);
    // The unmonitored credential of the same person is untouched (its officer screens it again
    // only when the holder asks for a new one).
    assert_eq!(verdict(&t, cert_c).await, "valid");

    // The requests and their new checks, as the officer sees them.
    let va = officer_view(&t, &a["request_id"]).await;
    assert_eq!(va["request"]["status"], "rejected", "{va:#}");
    assert_eq!(va["case"]["status"], "confirmed-match");
    assert_eq!(va["case"]["hits"][0]["entity_id"], "watch:W-100");
    let vb = officer_view(&t, &b["request_id"]).await;
    assert_eq!(vb["request"]["status"], "in-review", "{vb:#}");
    assert_eq!(vb["case"]["status"], "pending-review");

    // One AML_MONITORING_UPDATE per subject, in Didit's shape.
    let updates = hooks.monitoring_updates(2).await;
    assert_eq!(updates.len(), 2, "{updates:#?}");
    let for_b = updates.iter().find(|u| u["data"]["verification_session_id"] == b["request_id"]).unwrap();
    let new = &for_b["data"]["aml_monitoring_update"]["new"];
    assert_eq!(new.as_array().unwrap().len(), 1);
    assert_eq!(new[0]["entity_id"], "watch:W-101");
    assert_eq!(new[0]["entity_type"], "PERSON");
    assert_eq!(new[0]["name"], "Tomasz Brzezinski");
    assert_eq!(new[0]["date_of_birth"], "1982-11-03");
    assert_eq!(new[0]["aml_hits"][0]["hit_type"], "SANCTION");
    assert_eq!(new[0]["aml_hits"][0]["source_details"]["source_id"], "watch");
    assert_eq!(for_b["data"]["case_id"], vb["case"]["id"]);
    assert!(!for_b.to_string().contains("PLK1234567"), "no claim values in events");

    // Maria's profile is gone with her credential; Tomasz is still monitored.
    assert_eq!(t.node.store.scan::<Value>(PROFILES_TREE, "", None, 10).unwrap().len(), 1);

    // The listing of Tomasz is withdrawn: reported as removed.
    write_list(&list, &[UNRELATED, MARIA]);
    let r = refresh(&t).await;
    assert_eq!(r["lists"][0]["diff"]["removed"], 1, "{r:#}");
    assert_eq!(r["monitoring"]["updates"], 1);
    assert_eq!(r["monitoring"]["rechecks"], 0);
    let updates = hooks.monitoring_updates(3).await;
    let last = updates.iter().rfind(|u| u["data"]["verification_session_id"] == b["request_id"]).unwrap();
    assert_eq!(last["data"]["aml_monitoring_update"]["removed"][0]["entity_id"], "watch:W-101");
    assert!(last["data"]["aml_monitoring_update"]["new"].as_array().unwrap().is_empty());

    // The credential's validity ends (30 days): its profile goes at the next cycle, even
    // though no list changed.
    t.advance(chrono::Duration::days(31));
    let r = refresh(&t).await;
    assert_eq!(r["index_rebuilt"], false, "{r:#}");
    assert_eq!(r["monitoring"]["profiles_removed"], 1, "{r:#}");
    assert!(t.node.store.scan::<Value>(PROFILES_TREE, "", None, 10).unwrap().is_empty());

    // Every step is in the officer's audit log.
    let log = t.client.get("/v1/officer/audit?limit=1000", Some(&t.keys.officer_a)).await.unwrap();
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for a in ["lists.refreshed", "check.monitoring", "credential.revoked", "credential.suspended", "monitoring.update"]
    {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_never_downloaded_keeps_the_node_from_deciding_until_refreshed() {
    // The list's publisher: a local HTTP server whose file can be switched on.
    let body: Arc<Mutex<Option<String>>> = Arc::default();
    let served = body.clone();
    let app = axum::Router::new().route(
        "/watch.csv",
        axum::routing::get(move || {
            let served = served.clone();
            async move {
                match served.lock().unwrap().clone() {
                    Some(b) => (axum::http::StatusCode::OK, b),
                    None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new()),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/watch.csv", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let t = TestNode::start_with(|c| {
        c.lists = vec![ListConfig {
            name: "remote".into(),
            path: Default::default(),
            format: None,
            url: Some(url),
            files: Vec::new(),
        }];
        // The start-up download is tried at once; the schedule is not waited for here.
        c.refresh_interval_hours = 24;
    })
    .await;
    // The start-up attempt fails (the publisher is down): not ready, and says why.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let health = loop {
        let (_, h) = t.raw("GET", "/health", None, None).await;
        if h["sources"][0]["consecutive_failures"].as_u64() >= Some(1) || std::time::Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(health["ready"], false, "{health:#}");
    assert_eq!(health["missing_lists"][0], "remote");
    assert!(health["sources"][0]["last_error"]["code"].is_string(), "{health:#}");
    let holder = HolderKey::generate();
    let e = t.request(&holder, "a-basic", common::person("Anna Smit"), CredentialFormat::Jose).await.unwrap_err();
    assert_eq!((common::status_of(&e), common::error_code(&e).as_str()), (503, "lists_unavailable"));
    let metrics = reqwest::get(format!("{}/metrics", t.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("aml_lists_missing 1"), "{metrics}");

    // The publisher is back; an officer refreshes on demand.
    *body.lock().unwrap() = Some(format!("{HEADER}{UNRELATED}"));
    let r = refresh(&t).await;
    assert_eq!(r["lists"][0]["outcome"], "updated", "{r:#}");
    let (_, health) = t.raw("GET", "/health", None, None).await;
    assert_eq!(health["ready"], true, "{health:#}");
    assert_eq!(health["lists"][0]["name"], "remote");
    assert_eq!(health["lists"][0]["age_basis"], "retrieved");
    let ok = t.request(&holder, "a-basic", common::person("Anna Smit"), CredentialFormat::Jose).await.unwrap();
    assert_eq!(ok["status"], "issued");
    // A restart screens on the cached download, without the network.
    *body.lock().unwrap() = None;
    let loaded = aml_node::node::load_configured_lists(&t.node.config).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!((loaded[0].list.meta.name.as_str(), loaded[0].list.entities.len()), ("remote", 1));
    // Refreshes are an officer's action.
    let e = t.client.post("/v1/officer/lists/refresh", &json!({}), None).await.unwrap_err();
    assert_eq!(common::status_of(&e), 401);
}
