//! End to end against a real node on an ephemeral port: the holder flow, its refusals, the
//! certificate verdicts, officer isolation, typed errors for bad bodies, and the spec API.

mod common;

use aml_node::auth::{SolanaWallet, mint_token};
use aml_node::cases::CASES_TREE;
use aml_node::claims::{ChallengeMessage, Nonce, Presentation};
use aml_node::clock::Clock;
use aml_node::credentials::{CredentialFormat, SecuredCredential};
use aml_node::keys::{HolderKey, OfficerSigningKey, SOLANA_MAINNET};
use aml_node::requests::{REJECTION_REASON, REQUESTS_TREE};
use chrono::Duration;
use common::{TestNode, details, error_code, person, status_of};
use serde_json::{Value, json};

fn b64u(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn b64u_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_issues_a_credential_and_certificates_the_holder_can_fetch() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", person("Maria Jansen"), CredentialFormat::Jose).await.unwrap();
    assert_eq!(answer["status"], "issued", "{answer:#}");
    assert_eq!(answer["decision"], "Approved");
    let request_id = answer["request_id"].as_str().unwrap().to_owned();

    // The AML credential verifies offline, names the holder, and carries no PII.
    let credential: SecuredCredential = serde_json::from_value(answer["credential"].clone()).unwrap();
    assert_eq!(credential.format(), CredentialFormat::Jose);
    let v = aml_node::credentials::verify_credential(&credential, chrono::Utc::now()).await.unwrap();
    assert_eq!(v.issuer, t.keys.officer_a.did());
    let subject = &v.credential["credentialSubject"];
    assert_eq!(subject["id"], holder.did());
    assert_eq!(subject["specId"], "a-basic");
    assert_eq!(subject["result"], "passed");
    let text = serde_json::to_string(&v.credential).unwrap();
    assert!(!text.contains("Jansen") && !text.contains("1988-03-14"), "PII in the credential: {text}");
    assert_eq!(v.credential["credentialStatus"][0]["type"], "BitstringStatusListEntry");
    assert_eq!(v.credential["credentialStatus"][1]["statusPurpose"], "suspension");

    // The certificate verifies at the node.
    let cert = answer["certificate"].as_str().unwrap();
    let verdict = t.client.post("/v1/certificates/verify", &json!({"certificate": cert}), None).await.unwrap();
    assert_eq!(verdict["verdict"], "valid", "{verdict}");
    assert_eq!(verdict["claims"]["sub"], holder.did());
    assert_eq!(verdict["claims"]["spec"]["id"], "a-basic");

    // The holder reads its own request, credential and certificates, and gets a new certificate.
    let mine = t.client.get(&format!("/v1/requests/{request_id}"), Some(&holder)).await.unwrap();
    assert_eq!(mine["status"], "issued");
    let c = t.client.get(&format!("/v1/requests/{request_id}/credential"), Some(&holder)).await.unwrap();
    assert_eq!(c["credential"], answer["credential"]);
    let fresh = t
        .client
        .post(
            &format!("/v1/requests/{request_id}/certificates"),
            &json!({"audience": "https://dapp.example"}),
            Some(&holder),
        )
        .await
        .unwrap();
    assert_ne!(fresh["certificate"], answer["certificate"]);
    let certs = t.client.get(&format!("/v1/requests/{request_id}/certificates"), Some(&holder)).await.unwrap();
    assert_eq!(certs["certificates"].as_array().unwrap().len(), 2);
    let list = t.client.get("/v1/requests", Some(&holder)).await.unwrap();
    assert_eq!(list["requests"][0]["request_id"], request_id.as_str());

    // Somebody else's token sees nothing of it.
    let stranger = HolderKey::generate();
    let e = t.client.get(&format!("/v1/requests/{request_id}"), Some(&stranger)).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (404, "request_not_found"));
    let e = t.client.get(&format!("/v1/requests/{request_id}"), None).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (401, "auth_missing"));

    // Relying parties find the officer key in both published documents.
    let jwks = t.client.get("/.well-known/jwks.json", None).await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == t.keys.officer_a.verification_method()));
    let did = t.client.get("/.well-known/did.json", None).await.unwrap();
    assert!(did["alsoKnownAs"].as_array().unwrap().contains(&json!(t.keys.officer_a.did())));
    let health = t.client.get("/health", None).await.unwrap();
    assert_eq!(health["ready"], true);
    assert_eq!(health["lists"][0]["entity_count"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_integrity_and_solana_wallet_holders() {
    let t = TestNode::start().await;
    // A Solana wallet key as did:pkh, Data Integrity KYC credential, Data Integrity spec.
    let key = HolderKey::generate();
    let did = key.did_pkh_solana(SOLANA_MAINNET);
    let claims = person("Pieter de Vries");
    let kyc = aml_node::claims::issue_kyc_credential(
        &t.keys.kyc,
        &did,
        claims,
        Duration::days(30),
        CredentialFormat::DataIntegrity,
    )
    .await
    .unwrap();
    let c = t.client.post("/v1/challenges", &json!({"holder_did": did, "spec_id": "a-enhanced"}), None).await.unwrap();
    let presentation = String::from_utf8(Presentation::new(&did, vec![kyc]).to_bytes()).unwrap();
    let nonce = Nonce::parse(c["nonce"].as_str().unwrap()).unwrap();
    let message = ChallengeMessage::new(
        c["domain"].as_str().unwrap(),
        &did,
        "a-enhanced",
        presentation.as_bytes(),
        &nonce,
        chrono::Utc::now(),
    )
    .unwrap()
    .to_string();
    // Solana wallets return base58 signatures.
    let signature = bs58::encode(key.sign(message.as_bytes()).to_bytes()).into_string();
    let body =
        json!({"spec_id": "a-enhanced", "presentation": presentation, "message": message, "signature": signature});
    let answer = t.client.post("/v1/requests", &body, None).await.unwrap();
    assert_eq!(answer["status"], "issued", "{answer:#}");
    assert_eq!(answer["credential"]["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    let cred: SecuredCredential = serde_json::from_value(answer["credential"].clone()).unwrap();
    aml_node::credentials::verify_credential(&cred, chrono::Utc::now()).await.unwrap();
    // The wallet authenticates with a token it signed itself.
    let wallet = SolanaWallet(&key, SOLANA_MAINNET);
    let id = answer["request_id"].as_str().unwrap();
    let mine = t.client.get(&format!("/v1/requests/{id}"), Some(&wallet)).await.unwrap();
    assert_eq!(mine["request_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn possible_and_definitive_matches_are_not_issued() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    // A listed (fictional) sanctioned person: goes to review, nothing issued.
    let claims = aml_node::client::demo_claims("Zorblax Quentin Fictivus", "1965-07-02", "NL", "X123456");
    let answer = t.request(&holder, "a-basic", claims, CredentialFormat::Jose).await.unwrap();
    assert_eq!(answer["status"], "in-review", "{answer:#}");
    assert_eq!(answer["decision"], "In Review");
    assert!(answer.get("credential").is_none() && answer.get("certificate").is_none());
    // The holder sees nothing about the hit.
    let text = answer.to_string();
    assert!(!text.contains("DEMO-002") && !text.to_lowercase().contains("fictivus"), "{text}");
    // The officer sees the hit with its scores and explanation, without the query's values.
    let id = answer["request_id"].as_str().unwrap();
    let view = t.client.get(&format!("/v1/officer/requests/{id}"), Some(&t.keys.officer_a)).await.unwrap();
    let hit = &view["case"]["hits"][0];
    assert_eq!(hit["entity_id"], "demo:DEMO-002");
    assert!(hit["match_score"].as_u64().unwrap() >= 93);
    assert!(hit["explanation"]["name_score"].is_u64());
    assert_eq!(view["case"]["status"], "pending-review");

    // A spec that never declines automatically sends even a golden key to review.
    let claims = aml_node::client::demo_claims("Demo Sanctioned Person One", "1970-01-01", "NL", "DEMOPP0000001");
    let answer = t.request(&holder, "a-enhanced", claims, CredentialFormat::Jose).await.unwrap();
    assert_eq!(answer["status"], "in-review");

    // Under the default policy a listed document number on a sanctions list (a golden key)
    // is declined outright, whatever the name; the holder learns nothing about the hit.
    let claims = aml_node::client::demo_claims("Someone Else Entirely", "1990-01-01", "DE", "DEMO PP 0000001");
    let answer = t.request(&holder, "a-docs", claims, CredentialFormat::Jose).await.unwrap();
    assert_eq!(answer["status"], "rejected", "{answer:#}");
    assert_eq!(answer["decision"], "Declined");
    assert_eq!(answer["reason"], REJECTION_REASON);
    let id = answer["request_id"].as_str().unwrap();
    let view = t.client.get(&format!("/v1/officer/requests/{id}"), Some(&t.keys.officer_a)).await.unwrap();
    assert_eq!(view["case"]["status"], "confirmed-match");
    assert_eq!(view["case"]["hits"][0]["match_score"], 100);
    assert_eq!(view["case"]["decision"]["by"], "engine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_claims_and_unaccepted_issuers_are_listed_and_nothing_is_screened() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let mut claims = person("Anna Smit");
    claims.remove("birthDate");
    let e = t.request(&holder, "a-basic", claims, CredentialFormat::Jose).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (422, "claims_missing"));
    let d = details(&e);
    assert_eq!(d["missing"][0]["claim"], "birthDate");
    assert_eq!(d["missing"][0]["accepted_issuers"][0], t.keys.kyc.did());

    // Every claim from a KYC provider the spec does not accept: all missing, naming it.
    let c = common::kyc_from(&t.keys.other_kyc, &holder, person("Anna Smit"), CredentialFormat::Jose).await;
    let prepared = t.client.prepare_request(&holder, "a-basic", vec![c]).await.unwrap();
    let e = t.client.submit(&prepared).await.unwrap_err();
    assert_eq!(error_code(&e), "claims_missing");
    let d = details(&e);
    let missing: Vec<&str> = d["missing"].as_array().unwrap().iter().map(|m| m["claim"].as_str().unwrap()).collect();
    assert_eq!(missing, ["givenName", "familyName", "birthDate", "nationality", "liveness"]);
    assert_eq!(d["missing"][0]["presented_by_unaccepted_issuers"][0], t.keys.other_kyc.did());

    // Nothing was screened or stored.
    assert!(t.node.store.scan::<Value>(REQUESTS_TREE, "", None, 10).unwrap().is_empty());
    assert!(t.node.store.scan::<Value>(CASES_TREE, "", None, 10).unwrap().is_empty());
    assert_eq!(t.node.metrics.requests_total.load(std::sync::atomic::Ordering::Relaxed), 0);

    // The challenge was not consumed: the same one works once the claims are there.
    let c = t.kyc(&holder, person("Anna Smit"), CredentialFormat::Jose).await;
    let mut body = prepared.body.clone();
    let presentation = String::from_utf8(Presentation::new(&holder.did(), vec![c]).to_bytes()).unwrap();
    let old = ChallengeMessage::parse(body["message"].as_str().unwrap()).unwrap();
    let message = ChallengeMessage::new(
        &old.domain,
        &holder.did(),
        "a-basic",
        presentation.as_bytes(),
        &old.nonce,
        old.issued_at,
    )
    .unwrap()
    .to_string();
    body["presentation"] = json!(presentation);
    body["signature"] = json!(b64u(&holder.sign(message.as_bytes()).to_bytes()));
    body["message"] = json!(message);
    let ok = t.client.post("/v1/requests", &body, None).await.unwrap();
    assert_eq!(ok["status"], "issued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_holders_and_challenges_are_refused() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let other = HolderKey::generate();

    // A KYC credential about somebody else.
    let c = t.kyc(&other, person("Jan Bakker"), CredentialFormat::Jose).await;
    let prepared = t.client.prepare_request(&holder, "a-basic", vec![c]).await.unwrap();
    let e = t.client.submit(&prepared).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (422, "kyc_subject_mismatch"));

    // A message signed by another key than the holder DID's.
    let c = t.kyc(&holder, person("Jan Bakker"), CredentialFormat::Jose).await;
    let mut prepared = t.client.prepare_request(&holder, "a-basic", vec![c]).await.unwrap();
    let genuine = prepared.body["signature"].clone();
    let msg = prepared.body["message"].as_str().unwrap().to_owned();
    prepared.body["signature"] = json!(b64u(&other.sign(msg.as_bytes()).to_bytes()));
    let e = t.client.submit(&prepared).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (401, "holder_signature_invalid"));
    // A presentation that is not the one signed.
    prepared.body["signature"] = genuine;
    let original = prepared.body["presentation"].clone();
    prepared.body["presentation"] = json!(format!("{} ", original.as_str().unwrap()));
    let e = t.client.submit(&prepared).await.unwrap_err();
    assert_eq!(error_code(&e), "challenge_mismatch");
    prepared.body["presentation"] = original;

    // The genuine request passes once; its replay is refused, naming the request.
    let ok = t.client.submit(&prepared).await.unwrap();
    assert_eq!(ok["status"], "issued");
    let e = t.client.submit(&prepared).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (409, "challenge_used"));
    assert_eq!(details(&e)["request_id"], ok["request_id"]);

    // The same request sent four times at once: exactly one is issued, the others are told
    // which request used the challenge.
    let c = t.kyc(&holder, person("Jan Bakker"), CredentialFormat::Jose).await;
    let prepared = t.client.prepare_request(&holder, "a-basic", vec![c]).await.unwrap();
    let (a, b, c, d) = tokio::join!(
        t.client.submit(&prepared),
        t.client.submit(&prepared),
        t.client.submit(&prepared),
        t.client.submit(&prepared)
    );
    let (issued, refused): (Vec<_>, Vec<_>) = [a, b, c, d].into_iter().partition(|r| r.is_ok());
    assert_eq!(issued.len(), 1, "{refused:?}");
    let winner = issued[0].as_ref().unwrap()["request_id"].clone();
    for e in refused.iter().map(|r| r.as_ref().unwrap_err()) {
        assert_eq!((status_of(e), error_code(e).as_str()), (409, "challenge_used"));
        assert_eq!(details(e)["request_id"], winner);
    }

    // An expired challenge.
    let c = t.kyc(&holder, person("Jan Bakker"), CredentialFormat::Jose).await;
    let prepared = t.client.prepare_request(&holder, "a-basic", vec![c]).await.unwrap();
    t.clock.advance(Duration::seconds(t.node.config.challenge_ttl_secs as i64 + 5));
    let e = t.client.submit(&prepared).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (401, "challenge_expired"));

    // A nonce the node never issued.
    let c = t.kyc(&holder, person("Jan Bakker"), CredentialFormat::Jose).await;
    let presentation = String::from_utf8(Presentation::new(&holder.did(), vec![c]).to_bytes()).unwrap();
    let domain = aml_node::node::url_domain(&t.url).unwrap();
    let message = ChallengeMessage::new(
        &domain,
        &holder.did(),
        "a-basic",
        presentation.as_bytes(),
        &Nonce::generate(),
        t.clock.now(),
    )
    .unwrap()
    .to_string();
    let body = json!({"spec_id": "a-basic", "presentation": presentation, "signature": b64u(&holder.sign(message.as_bytes()).to_bytes()), "message": message});
    let e = t.client.post("/v1/requests", &body, None).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (401, "challenge_unknown"));
    // A message for another node.
    let message = ChallengeMessage::new(
        "evil.example",
        &holder.did(),
        "a-basic",
        presentation.as_bytes(),
        &Nonce::generate(),
        t.clock.now(),
    )
    .unwrap()
    .to_string();
    let body = json!({"spec_id": "a-basic", "presentation": presentation, "signature": b64u(&holder.sign(message.as_bytes()).to_bytes()), "message": message});
    let e = t.client.post("/v1/requests", &body, None).await.unwrap_err();
    assert_eq!(error_code(&e), "challenge_wrong_domain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_verdicts_for_relying_parties() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", person("Sanne Visser"), CredentialFormat::Jose).await.unwrap();
    let cert = answer["certificate"].as_str().unwrap().to_owned();
    let verify = |token: String| {
        let client = t.client.clone();
        async move { client.post("/v1/certificates/verify", &json!({"certificate": token}), None).await.unwrap() }
    };
    assert_eq!(verify(cert.clone()).await["verdict"], "valid");

    // Tampered claims: the signature no longer verifies.
    let parts: Vec<&str> = cert.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64u_decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!(HolderKey::generate().did());
    let tampered = format!("{}.{}.{}", parts[0], b64u(&serde_json::to_vec(&claims).unwrap()), parts[2]);
    let v = verify(tampered).await;
    assert_eq!(v["verdict"], "bad_signature", "{v}");
    assert!(v["reason"].as_str().unwrap().len() > 5);

    // Signed by a key that is not one of this node's officers.
    let foreign = OfficerSigningKey::generate();
    let forged = aml_node::credentials::issue_certificate(
        &foreign,
        &aml_node::credentials::CertificateRequest {
            holder_did: holder.did(),
            audience: None,
            spec_id: "a-basic".into(),
            spec_version: 1,
            credential_id: "urn:uuid:x".into(),
            status: aml_node::credentials::StatusEntry {
                status_list_credential: format!("{}/v1/status/officer-a/revocation/0", t.url),
                index: 1,
            },
            suspension: None,
            issued_at: chrono::Utc::now(),
            valid_for: Duration::hours(1),
        },
    )
    .unwrap();
    assert_eq!(verify(forged.token).await["verdict"], "unknown_issuer");
    assert_eq!(verify("not a jwt".into()).await["verdict"], "malformed");

    // Revoked: the credential's bit is set.
    let credential_id = answer["credential_id"].as_str().unwrap();
    t.node.issuer.revoke(credential_id, "officer-a", "test").unwrap();
    let v = verify(cert.clone()).await;
    assert_eq!(v["verdict"], "revoked", "{v}");

    // Expired: past exp (+ leeway).
    let other = t.request(&holder, "a-basic", person("Sanne Visser"), CredentialFormat::Jose).await.unwrap();
    t.clock.advance(Duration::days(2));
    let v = verify(other["certificate"].as_str().unwrap().to_owned()).await;
    assert_eq!(v["verdict"], "expired", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_see_only_their_own_specs_and_records() {
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    let answer = t.request(&holder, "a-basic", person("Eva Mulder"), CredentialFormat::Jose).await.unwrap();
    let id = answer["request_id"].as_str().unwrap();
    let (a, b) = (&t.keys.officer_a, &t.keys.officer_b);

    assert_eq!(t.client.get(&format!("/v1/officer/requests/{id}"), Some(a)).await.unwrap()["request"]["id"], id);
    for path in [
        format!("/v1/officer/requests/{id}"),
        format!("/v1/officer/requests/{id}/sealed"),
        "/v1/officer/specs/a-basic".into(),
    ] {
        let e = t.client.get(&path, Some(b)).await.unwrap_err();
        assert_eq!(status_of(&e), 404, "{path}: {e}");
    }
    let mine = t.client.get("/v1/officer/specs", Some(b)).await.unwrap();
    let ids: Vec<&str> = mine["specs"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["b-basic"]);
    // B cannot publish a version of A's spec or deactivate it.
    let body = json!({"name": "hijack", "required_claims": ["fullName"], "accepted_issuers": {"*": [t.keys.kyc.did()]},
                      "credential_validity_secs": 86400, "certificate_validity_secs": 3600});
    let e = t.client.post("/v1/officer/specs/a-basic/versions", &body, Some(b)).await.unwrap_err();
    assert_eq!(status_of(&e), 404);
    let e = t.client.post("/v1/officer/specs/a-basic/deactivate", &json!({}), Some(b)).await.unwrap_err();
    assert_eq!(status_of(&e), 404);
    // Holders are not officers.
    let e = t.client.get("/v1/officer/specs", Some(&holder)).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (403, "officer_required"));

    // A opens its sealed record offline with its own sealing key; B's key cannot.
    let sealed: aml_node::seal::SealedRecord =
        serde_json::from_value(t.client.get(&format!("/v1/officer/requests/{id}/sealed"), Some(a)).await.unwrap())
            .unwrap();
    let plain = aml_node::seal::open(&t.keys.sealing_a, &sealed, id).unwrap();
    let v: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(v["claims"]["familyName"]["value"], "Mulder");
    let b_sealing = aml_node::keys::SealingSecret::load(&t.keys.dir.join("officer-b/officer-sealing.json")).unwrap();
    assert!(aml_node::seal::open(&b_sealing, &sealed, id).is_err());
    // A replayed officer token is refused.
    let token = mint_token(a, &t.url, chrono::Utc::now(), 60);
    let http = reqwest::Client::new();
    let get = || http.get(format!("{}/v1/officer/specs", t.url)).bearer_auth(&token).send();
    assert_eq!(get().await.unwrap().status(), 200);
    let again = get().await.unwrap();
    assert_eq!(again.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_typed_errors() {
    let t = TestNode::start().await;
    let json = Some("application/json");
    let (s, v) = t.raw("POST", "/v1/requests", Some("{\"spec_id\": "), json).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("malformed_json")));
    let (s, v) = t.raw("POST", "/v1/requests", Some("{\"spec_id\": 5}"), json).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (s, v) = t
        .raw("POST", "/v1/challenges", Some("{\"holder_did\": \"x\", \"spec_id\": \"a-basic\", \"extra\": 1}"), json)
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (s, v) =
        t.raw("POST", "/v1/challenges", Some("{\"holder_did\": \"did:web:x\", \"spec_id\": \"a-basic\"}"), json).await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("did_method_unsupported")));
    let (s, v) = t.raw("POST", "/v1/challenges", Some("{}"), Some("text/plain")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    let big = format!("{{\"certificate\": \"{}\"}}", "a".repeat(t.node.config.max_body_bytes + 10));
    let (s, v) = t.raw("POST", "/v1/certificates/verify", Some(&big), json).await;
    assert_eq!((s, v["error"]["code"].as_str()), (413, Some("body_too_large")));
    let (s, v) = t.raw("GET", "/v1/nothing-here", None, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("route_not_found")));
    let (s, v) = t.raw("DELETE", "/v1/specs", None, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    let (s, v) =
        t.raw("POST", "/v1/challenges", Some("{\"holder_did\": \"did:key:z6Mkx\", \"spec_id\": \"nope\"}"), json).await;
    assert_eq!(s / 100, 4, "{v}");
    let (s, v) = t.raw("GET", "/v1/officer/specs", None, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("auth_missing")));
    // The node still serves after all that.
    assert_eq!(t.raw("GET", "/health", None, None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_json_ld_cannot_hold_are_refused_not_crashed_on() {
    // ssi's JSON-LD conversion panics on such numbers; the node refuses them as malformed.
    let t = TestNode::start().await;
    let holder = HolderKey::generate();
    for number in ["12345678901234567890", "1e21"] {
        let number: Value = serde_json::from_str(number).unwrap();
        let SecuredCredential::DataIntegrity(mut c) =
            t.kyc(&holder, person("Anna Smit"), CredentialFormat::DataIntegrity).await
        else {
            panic!("a Data Integrity credential was asked for")
        };
        c["credentialSubject"]["score"] = number;
        let prepared =
            t.client.prepare_request(&holder, "a-basic", vec![SecuredCredential::DataIntegrity(c)]).await.unwrap();
        let e = t.client.submit(&prepared).await.unwrap_err();
        assert_eq!((status_of(&e), error_code(&e).as_str()), (422, "kyc_malformed"), "{e}");
    }
    assert_eq!(t.raw("GET", "/health", None, None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_manage_versioned_specs_with_typed_validation_errors() {
    let t = TestNode::start().await;
    let a = &t.keys.officer_a;
    let kyc = t.keys.kyc.did();
    let spec = |extra: Value| {
        let mut s = json!({"id": "a-new", "name": "New spec", "required_claims": ["fullName", "birthDate"],
                           "accepted_issuers": {"*": [kyc]}, "credential_validity_secs": 86400, "certificate_validity_secs": 3600});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    };
    let created = t.client.post("/v1/officer/specs", &spec(json!({})), Some(a)).await.unwrap();
    assert_eq!(created["version"], 1);
    assert_eq!(created["officer"], "officer-a");
    // The node's mandatory claim is added.
    assert!(created["required_claims"].as_array().unwrap().contains(&json!("liveness")));
    let e = t.client.post("/v1/officer/specs", &spec(json!({})), Some(a)).await.unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (409, "spec_exists"));

    let v2 = t
        .client
        .post("/v1/officer/specs/a-new/versions", &spec(json!({"name": "New spec v2"})), Some(a))
        .await
        .unwrap();
    assert_eq!(v2["version"], 2);
    let got = t.client.get("/v1/officer/specs/a-new", Some(a)).await.unwrap();
    assert_eq!(got["spec"]["version"], 2);
    assert_eq!(got["versions"].as_array().unwrap().len(), 2);
    assert_eq!(t.client.get("/v1/specs/a-new", None).await.unwrap()["version"], 2);

    for (extra, code) in [
        (json!({"id": "a-x1", "required_claims": ["shoeSize"]}), "spec_unknown_claim"),
        (
            json!({"id": "a-x2", "policy": {"match_weights": {"name": 60, "dob": 25, "country": 20}}}),
            "policy_match_weights",
        ),
        (json!({"id": "a-x3", "policy": {"match_threshold": 120}}), "policy_out_of_range"),
        (json!({"id": "a-x4", "credential_validity_secs": 400 * 86400}), "spec_validity_out_of_range"),
        (json!({"id": "a-x5", "certificate_validity_secs": 30 * 86400}), "spec_validity_out_of_range"),
        (json!({"id": "A X"}), "spec_bad_id"),
    ] {
        let e = t.client.post("/v1/officer/specs", &spec(extra.clone()), Some(a)).await.unwrap_err();
        assert_eq!((status_of(&e), error_code(&e)), (422, code.to_owned()), "{extra}");
    }
    let e = t
        .client
        .post("/v1/officer/specs", &spec(json!({"policy": {"match_threshold": 300}})), Some(a))
        .await
        .unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (400, "invalid_request"));

    // Deactivated: no new requests.
    t.client.post("/v1/officer/specs/a-new/deactivate", &json!({}), Some(a)).await.unwrap();
    let holder = HolderKey::generate();
    let e = t
        .client
        .post("/v1/challenges", &json!({"holder_did": holder.did(), "spec_id": "a-new"}), None)
        .await
        .unwrap_err();
    assert_eq!((status_of(&e), error_code(&e).as_str()), (409, "spec_inactive"));
}
