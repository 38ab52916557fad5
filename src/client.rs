//! A small client of the node's API: what a wallet or dApp does (challenge, sign, present,
//! request) and what an officer's tools do (token-authenticated calls). Used by
//! `aml-node demo`, `aml-node decrypt --server`, the end-to-end tests and the load tool.

use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::auth::{TokenSigner, mint_token};
use crate::claims::{ChallengeMessage, Nonce, Presentation};
use crate::credentials::SecuredCredential;
use crate::keys::{HolderKey, b64u};

/// A client failure: transport, or the node's typed error answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the node answered {status}: {body}")]
    Api { status: u16, body: Value },
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// The node's error code, when the node answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => body["error"]["code"].as_str(),
            _ => None,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// A node at a base URL.
#[derive(Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    base: String,
    /// Seconds added to the local clock when minting tokens (tests whose node clock runs ahead).
    clock_offset: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// A prepared submission: the body of `POST /v1/requests`.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub body: Value,
}

impl NodeClient {
    pub fn new(base: &str) -> NodeClient {
        NodeClient {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            clock_offset: Default::default(),
        }
    }

    /// Mints tokens as if the clock were `secs` later (shared by clones).
    pub fn advance_clock(&self, secs: i64) {
        self.clock_offset.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }

    fn now(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.clock_offset.load(std::sync::atomic::Ordering::SeqCst))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn answer(resp: reqwest::Response) -> ClientResult<Value> {
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&status) { Ok(body) } else { Err(ClientError::Api { status, body }) }
    }

    /// `GET path`, optionally with a token signed by `signer`.
    pub async fn get(&self, path: &str, signer: Option<&dyn TokenSigner>) -> ClientResult<Value> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(s) = signer {
            req = req.bearer_auth(mint_token(s, &self.base, self.now(), 120));
        }
        Self::answer(req.send().await?).await
    }

    /// `POST path` with a JSON body, optionally with a token signed by `signer`.
    pub async fn post(&self, path: &str, body: &Value, signer: Option<&dyn TokenSigner>) -> ClientResult<Value> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(s) = signer {
            req = req.bearer_auth(mint_token(s, &self.base, self.now(), 120));
        }
        Self::answer(req.send().await?).await
    }

    /// `POST path` with a JSON body and no token. Unlike [`NodeClient::post`] its future is
    /// `Send` (no `&dyn TokenSigner` is held across the await), so it can be spawned.
    pub async fn post_unsigned(&self, path: &str, body: &Value) -> ClientResult<Value> {
        Self::answer(self.http.post(format!("{}{path}", self.base)).json(body).send().await?).await
    }

    /// Takes a challenge and signs a presentation of `credentials` for `spec_id`.
    pub async fn prepare_request(
        &self,
        holder: &HolderKey,
        spec_id: &str,
        credentials: Vec<SecuredCredential>,
    ) -> ClientResult<PreparedRequest> {
        let did = holder.did();
        let c = self.post_unsigned("/v1/challenges", &json!({"holder_did": did, "spec_id": spec_id})).await?;
        let field = |k: &str| {
            c[k].as_str().map(str::to_owned).ok_or_else(|| ClientError::Local(format!("challenge without {k}")))
        };
        let nonce = Nonce::parse(&field("nonce")?).map_err(|e| ClientError::Local(e.to_string()))?;
        let presentation = String::from_utf8(Presentation::new(&did, credentials).to_bytes())
            .map_err(|e| ClientError::Local(e.to_string()))?;
        let message =
            ChallengeMessage::new(&field("domain")?, &did, spec_id, presentation.as_bytes(), &nonce, Utc::now())
                .map_err(|e| ClientError::Local(e.to_string()))?
                .to_string();
        let signature = b64u(&holder.sign(message.as_bytes()).to_bytes());
        Ok(PreparedRequest {
            body: json!({"spec_id": spec_id, "presentation": presentation, "message": message, "signature": signature}),
        })
    }

    /// Submits a prepared request.
    pub async fn submit(&self, prepared: &PreparedRequest) -> ClientResult<Value> {
        self.post_unsigned("/v1/requests", &prepared.body).await
    }
}

/// The demo person's KYC claims for a name ("Given Middle Family" -> given + family).
pub fn demo_claims(name: &str, birth_date: &str, nationality: &str, document_number: &str) -> Map<String, Value> {
    let name = name.trim();
    let (given, family) = match name.rsplit_once(' ') {
        Some((g, f)) => (g.trim(), f.trim()),
        None => ("", name),
    };
    let mut m = Map::new();
    if !given.is_empty() {
        m.insert("givenName".into(), json!(given));
    }
    m.insert("familyName".into(), json!(family));
    m.insert("fullName".into(), json!(name));
    m.insert("birthDate".into(), json!(birth_date));
    m.insert("nationality".into(), json!(nationality));
    m.insert("documentNumber".into(), json!(document_number));
    m.insert("liveness".into(), json!(true));
    m
}
