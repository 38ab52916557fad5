//! A real node on an ephemeral port for end-to-end tests: two officers with fresh keys, a
//! KYC provider, specs written for them, the embedded demo list, and a clock the test can
//! move.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aml_node::client::{NodeClient, demo_claims};
use aml_node::clock::OffsetClock;
use aml_node::config::{Config, OfficerConfig};
use aml_node::credentials::{CredentialFormat, SecuredCredential};
use aml_node::keys::{self, HolderKey, IssuerKey, OfficerSigningKey, SealingSecret};
use aml_node::node::Node;
use serde_json::{Map, Value, json};

pub struct Keys {
    pub dir: PathBuf,
    pub officer_a: OfficerSigningKey,
    pub sealing_a: SealingSecret,
    pub officer_b: OfficerSigningKey,
    pub kyc: IssuerKey,
    pub other_kyc: IssuerKey,
}

impl Keys {
    fn generate(root: &Path) -> Keys {
        let a = root.join("officer-a");
        let b = root.join("officer-b");
        let sa = keys::generate_key_set(&a, false).unwrap();
        keys::generate_key_set(&b, false).unwrap();
        Keys {
            dir: root.to_owned(),
            officer_a: OfficerSigningKey::load(&sa.officer_signing).unwrap(),
            sealing_a: SealingSecret::load(&sa.officer_sealing).unwrap(),
            officer_b: OfficerSigningKey::load(&b.join(keys::file_names::OFFICER_SIGNING)).unwrap(),
            kyc: IssuerKey::load(&sa.kyc_provider).unwrap(),
            other_kyc: IssuerKey::load(&b.join(keys::file_names::KYC_PROVIDER)).unwrap(),
        }
    }
}

/// The specs every test node starts with: officer A's sanctions spec (VC-JOSE) and
/// enhanced spec (Data Integrity, PEPs, documents), officer B's spec.
fn write_specs(dir: &Path, kyc: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let spec = |id: &str, officer: &str, claims: &str, format: &str, extra: &str| {
        format!(
            "id = \"{id}\"\nofficer = \"{officer}\"\nname = \"{id}\"\nrequired_claims = [{claims}]\n\
             credential_format = \"{format}\"\ncredential_validity_secs = 2592000\ncertificate_validity_secs = 86400\n\
             accepted_issuers = {{ \"*\" = [\"{kyc}\"] }}\n{extra}"
        )
    };
    std::fs::write(
        dir.join("a-basic.toml"),
        spec(
            "a-basic",
            "officer-a",
            "\"givenName\", \"familyName\", \"birthDate\", \"nationality\"",
            "jose",
            "[policy]\ncategories = [\"sanction\"]\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("a-enhanced.toml"),
        spec(
            "a-enhanced",
            "officer-a",
            "\"fullName\", \"birthDate\", \"nationality\", \"documentNumber\"",
            "data-integrity",
            "monitoring = true\n[policy]\napprove_below = 0\nauto_decline = \"never\"\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("a-docs.toml"),
        spec(
            "a-docs",
            "officer-a",
            "\"fullName\", \"documentNumber\"",
            "jose",
            "[policy]\ncategories = [\"sanction\"]\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("a-pep.toml"),
        spec(
            "a-pep",
            "officer-a",
            "\"fullName\", \"birthDate\"",
            "jose",
            "[policy]\ncategories = [\"pep-1\", \"pep-2\", \"pep-3\", \"pep-4\", \"pep\"]\napprove_below = 89\n",
        ),
    )
    .unwrap();
    std::fs::write(dir.join("b-basic.toml"), spec("b-basic", "officer-b", "\"fullName\"", "jose", "")).unwrap();
}

pub struct TestNode {
    pub url: String,
    pub node: Arc<Node>,
    pub client: NodeClient,
    pub clock: Arc<OffsetClock>,
    pub keys: Keys,
    pub root: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn config_for(root: &Path, listen: &str) -> Config {
    let officer = |id: &str, dir: &str| OfficerConfig {
        id: id.into(),
        name: id.into(),
        public_key_file: root.join(dir).join(keys::file_names::OFFICER_PUBLIC),
        signing_key_file: Some(root.join(dir).join(keys::file_names::OFFICER_SIGNING)),
        webhooks: Vec::new(),
        smile_id_partner_id: None,
        compat_api_key_file: None,
    };
    Config {
        listen: listen.into(),
        public_url: Some(format!("http://{listen}")),
        data_dir: root.join("data"),
        specs_dir: root.join("specs"),
        officers: vec![officer("officer-a", "officer-a"), officer("officer-b", "officer-b")],
        ..Config::default()
    }
}

impl TestNode {
    pub async fn start() -> TestNode {
        let root = tempfile::tempdir().unwrap();
        let keys = Keys::generate(root.path());
        write_specs(&root.path().join("specs"), &keys.kyc.did());
        Self::start_in(root, keys, |_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestNode {
        let root = tempfile::tempdir().unwrap();
        let keys = Keys::generate(root.path());
        write_specs(&root.path().join("specs"), &keys.kyc.did());
        Self::start_in(root, keys, adjust).await
    }

    async fn start_in(root: tempfile::TempDir, keys: Keys, adjust: impl FnOnce(&mut Config)) -> TestNode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listen = listener.local_addr().unwrap().to_string();
        let mut config = config_for(root.path(), &listen);
        adjust(&mut config);
        let clock = OffsetClock::new();
        let node = Arc::new(Node::open(config, clock.clone()).expect("node opens"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let n = node.clone();
        let task = tokio::spawn(async move {
            aml_node::api::serve(n, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let url = format!("http://{listen}");
        TestNode { client: NodeClient::new(&url), url, node, clock, keys, root, shutdown: Some(tx), task: Some(task) }
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Moves the node's clock (and the test client's token clock) forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
        self.client.advance_clock(by.num_seconds());
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// A KYC credential from the node's accepted provider.
    pub async fn kyc(
        &self,
        holder: &HolderKey,
        claims: Map<String, Value>,
        format: CredentialFormat,
    ) -> SecuredCredential {
        kyc_from(&self.keys.kyc, holder, claims, format).await
    }

    /// The whole holder flow; returns the node's answer (or its error).
    pub async fn request(
        &self,
        holder: &HolderKey,
        spec: &str,
        claims: Map<String, Value>,
        format: CredentialFormat,
    ) -> Result<Value, aml_node::client::ClientError> {
        let c = self.kyc(holder, claims, format).await;
        let prepared = self.client.prepare_request(holder, spec, vec![c]).await?;
        self.client.submit(&prepared).await
    }

    /// A raw HTTP call: status and JSON body.
    pub async fn raw(&self, method: &str, path: &str, body: Option<&str>, content_type: Option<&str>) -> (u16, Value) {
        let http = reqwest::Client::new();
        let mut req = http.request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(b) = body {
            req = req.body(b.to_owned());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn kyc_from(
    issuer: &IssuerKey,
    holder: &HolderKey,
    claims: Map<String, Value>,
    format: CredentialFormat,
) -> SecuredCredential {
    // Long-lived, so that tests can move the node's clock a year ahead.
    aml_node::claims::issue_kyc_credential(issuer, &holder.did(), claims, chrono::Duration::days(1000), format)
        .await
        .unwrap()
}

/// The claims of an ordinary person who is on no list.
pub fn person(name: &str) -> Map<String, Value> {
    demo_claims(name, "1988-03-14", "NL", "NLP1234567")
}

pub fn error_code(e: &aml_node::client::ClientError) -> String {
    e.code().unwrap_or("<no code>").to_owned()
}

pub fn status_of(e: &aml_node::client::ClientError) -> u16 {
    match e {
        aml_node::client::ClientError::Api { status, .. } => *status,
        _ => 0,
    }
}

pub fn details(e: &aml_node::client::ClientError) -> Value {
    match e {
        aml_node::client::ClientError::Api { body, .. } => body["error"]["details"].clone(),
        _ => json!(null),
    }
}

/// Compatibility API keys of officers A and B (`tests/screen_api.rs`).
pub const COMPAT_KEY_A: &str = "compat-key-officer-a-7f3c9e21b4d85a60e1f2c3d4";
pub const COMPAT_KEY_B: &str = "compat-key-officer-b-0a9b8c7d6e5f40312e1d0c9b";
/// The Smile ID `partner_id` naming officer A (the seed example's).
pub const SMILE_PARTNER_A: &str = "023";

/// A node whose officers have compatibility API keys (A also a Smile ID partner id).
pub async fn start_compat(adjust: impl FnOnce(&mut Config)) -> TestNode {
    TestNode::start_with(|c| {
        let root = c.data_dir.parent().unwrap().to_owned();
        for (i, key) in [COMPAT_KEY_A, COMPAT_KEY_B].into_iter().enumerate() {
            let path = root.join(format!("compat-{i}.key"));
            std::fs::write(&path, format!("{key}\n")).unwrap();
            c.officers[i].compat_api_key_file = Some(path);
        }
        c.officers[0].smile_id_partner_id = Some(SMILE_PARTNER_A.into());
        adjust(c);
    })
    .await
}

impl TestNode {
    /// A raw POST with extra headers: status, `Retry-After` and the body text.
    pub async fn post_raw(&self, path: &str, headers: &[(&str, String)], body: &str) -> (u16, Option<String>, String) {
        let mut req = reqwest::Client::new().post(format!("{}{path}", self.url)).body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let retry = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, retry, resp.text().await.unwrap())
    }
}
