//! Durability and privacy of what the node stores:
//! - every acknowledged request survives the server being killed (SIGKILL, no shutdown), because
//!   sled is flushed before the node answers;
//! - after full flows, no file under the data directory holds any of the subject's claim values,
//!   in any encoding we could think of.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aml_node::client::{NodeClient, demo_claims};
use aml_node::credentials::CredentialFormat;
use aml_node::keys::HolderKey;
use common::TestNode;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn spawn_server(config: &std::path::Path, url: &str) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_aml-node"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aml-node starts");
    let mut server = Server(child);
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{url}/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            let mut err = String::new();
            let _ = server.0.stderr.take().unwrap().read_to_string(&mut err);
            panic!("aml-node serve exited with {status}:\n{err}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aml-node serve did not become healthy at {url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_requests_survive_a_killed_server() {
    // Keys and specs from a test node's folder, served by the real binary.
    let t = TestNode::start().await;
    let root = t.root.path().to_owned();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut config = toml::to_string(&common::config_for(&root, &format!("127.0.0.1:{port}"))).unwrap();
    config = config.replace(&format!("{}/data", root.display()), &format!("{}/data-binary", root.display()));
    let config_path = root.join("node.toml");
    std::fs::write(&config_path, config).unwrap();

    let mut server = spawn_server(&config_path, &url).await;
    let client = NodeClient::new(&url);
    let holder = HolderKey::generate();
    let mut acknowledged = Vec::new();
    for i in 0..12 {
        let name = format!("Durable Person {}", ["Alpha", "Beta", "Gamma", "Delta"][i % 4]);
        let kyc = common::kyc_from(
            &t.keys.kyc,
            &holder,
            demo_claims(&name, "1979-05-05", "BE", "BE123"),
            CredentialFormat::Jose,
        )
        .await;
        let prepared = client.prepare_request(&holder, "a-basic", vec![kyc]).await.unwrap();
        let answer = client.submit(&prepared).await.unwrap();
        acknowledged.push((answer["request_id"].as_str().unwrap().to_owned(), answer["status"].clone()));
    }
    // No graceful shutdown: the process dies now.
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let mut server = spawn_server(&config_path, &url).await;
    for (id, status) in &acknowledged {
        let got = client.get(&format!("/v1/requests/{id}"), Some(&holder)).await.unwrap();
        assert_eq!(&got["status"], status, "request {id} after restart");
        if status == "issued" {
            assert!(got["certificate"].is_string(), "{id} lost its certificate");
        }
    }
    let list = client.get("/v1/requests", Some(&holder)).await.unwrap();
    assert_eq!(list["requests"].as_array().unwrap().len(), acknowledged.len());
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    // The audit chain survived the kill too; `aml-node audit verify` checks it, and catches
    // an entry edited behind the node's back.
    let data = root.join("data-binary");
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_aml-node"))
            .args(["audit", "verify", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap()
    };
    let out = verify();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["entries"].as_u64().unwrap() as usize, acknowledged.len() * 2, "a check and an issuance each");
    {
        let store = aml_node::store::Store::open_sled(&data).unwrap();
        let key = format!("{:020}", 3);
        let mut e: serde_json::Value = store.get(aml_node::audit::AUDIT_TREE, &key).unwrap().unwrap();
        e["actor"] = serde_json::json!("someone-else");
        store.put(aml_node::audit::AUDIT_TREE, &key, &e).unwrap();
        store.flush().unwrap();
    }
    let out = verify();
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["code"], "audit_edited");
}

/// Every encoding of `value` a careless store could leave on disk.
fn encodings(value: &str) -> Vec<(String, Vec<u8>)> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut out = vec![
        ("utf-8".to_string(), value.as_bytes().to_vec()),
        ("lowercase".into(), value.to_lowercase().into_bytes()),
        ("uppercase".into(), value.to_uppercase().into_bytes()),
        ("json-escaped".into(), serde_json::to_string(value).unwrap().trim_matches('"').as_bytes().to_vec()),
        (
            "json-ascii-escaped".into(),
            value
                .chars()
                .map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) })
                .collect::<String>()
                .into_bytes(),
        ),
        ("utf-16le".into(), value.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()),
        ("hex".into(), hex::encode(value).into_bytes()),
    ];
    // base64 of the value at each of the three alignments a longer plaintext could put it in.
    for pad in ["", "x", "xx"] {
        let s = format!("{pad}{value}");
        for (name, engine) in
            [("base64", &STANDARD), ("base64-nopad", &STANDARD_NO_PAD), ("base64url", &URL_SAFE_NO_PAD)]
        {
            let enc = engine.encode(s.as_bytes());
            // Drop the characters influenced by the padding prefix and by what follows.
            let skip = pad.len() * 4 / 3 + usize::from(!pad.is_empty());
            let stable = &enc[skip.min(enc.len())..enc.len().saturating_sub(4)];
            if stable.len() >= 6 {
                out.push((format!("{name}+{}", pad.len()), stable.as_bytes().to_vec()));
            }
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_claim_value_is_left_in_the_data_directory() {
    let mut t = TestNode::start().await;
    let holder = HolderKey::generate();
    // A subject whose values are distinctive, with non-ASCII letters so JSON escaping matters.
    let name = "Świętopełk Żółkiewski-Quorvath";
    let birth = "1961-09-27";
    let document = "QZX9981734";
    // Issued (JOSE and Data Integrity), in review (a listed name), and refused requests.
    let mut claims = demo_claims(name, birth, "PL", document);
    for (spec, format) in [("a-basic", CredentialFormat::Jose), ("a-enhanced", CredentialFormat::DataIntegrity)] {
        let a = t.request(&holder, spec, claims.clone(), format).await.unwrap();
        assert_eq!(a["status"], "issued", "{a}");
        let id = a["request_id"].as_str().unwrap();
        t.client.post(&format!("/v1/requests/{id}/certificates"), &serde_json::json!({}), Some(&holder)).await.unwrap();
    }
    let listed = demo_claims("Zorblax Quentin Fictivus", "1965-07-02", "PL", document);
    let a = t.request(&holder, "a-basic", listed, CredentialFormat::Jose).await.unwrap();
    assert_eq!(a["status"], "in-review");
    claims.remove("birthDate");
    assert!(t.request(&holder, "a-basic", claims, CredentialFormat::Jose).await.is_err());
    t.stop().await;
    t.node.store.flush().unwrap();

    let mut files = Vec::new();
    let mut stack = vec![t.data_dir()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() { stack.push(p) } else { files.push(p) }
        }
    }
    assert!(files.len() >= 2, "expected sled files under {}", t.data_dir().display());
    // The scan reads what the node stores in the clear (a control: the holder DID is there).
    let did = holder.did();
    assert!(files.iter().any(|f| find(&std::fs::read(f).unwrap(), did.as_bytes())), "the scan sees no stored data");
    let mut total = 0;
    for value in [name, "Świętopełk", "Żółkiewski-Quorvath", "Quorvath", birth, document] {
        for (encoding, needle) in encodings(value) {
            for f in &files {
                let bytes = std::fs::read(f).unwrap();
                total += bytes.len();
                assert!(!find(&bytes, &needle), "`{value}` ({encoding}) found in {}", f.display());
            }
        }
    }
    assert!(total > 0);
}
