//! One configuration struct for the node: built-in defaults, then a TOML file, then
//! environment variables (`AML_NODE_*`), then command-line flags, each overriding the last.
//!
//! The defaults run on a fresh machine: the demo officer keys from `keys-example/`, the
//! specs in `specs/`, and the built-in fictional demo list. Every default that is unsafe for
//! production (demo keys, demo list) is reported loudly at start-up.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::lists::{ListFormat, ListSource};

/// An officer the node knows: public keys always, the signing key only when the node signs
/// for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerConfig {
    /// Short id used in specs and URLs, `[a-z0-9-]`.
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// `officer.public.json`: Ed25519 and X25519 public keys.
    pub public_key_file: PathBuf,
    /// `officer-signing.json`: present only if this node signs credentials for the officer.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// Smile ID compatibility (`/v1/compat/smile-id/v1/aml`): the `partner_id` that names this
    /// officer in requests. Needs `compat_api_key_file`.
    #[serde(default)]
    pub smile_id_partner_id: Option<String>,
    /// The officer's API key for the compatibility endpoints (Smile ID signature key, Didit
    /// `x-api-key`): a file holding one line of at least 32 printable characters.
    #[serde(default)]
    pub compat_api_key_file: Option<PathBuf>,
    /// Where the node posts this officer's events (see `src/webhooks.rs`).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
}

/// One webhook receiver of an officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// File holding the shared HMAC secret (at least 16 bytes; surrounding whitespace ignored).
    pub secret_file: PathBuf,
    /// Event types to send; empty means all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// A watchlist the node loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    pub name: String,
    pub path: PathBuf,
    #[serde(default)]
    pub format: Option<ListFormat>,
    /// Official download URL for refreshes; the node only reads `path` when absent.
    #[serde(default)]
    pub url: Option<String>,
}

impl ListConfig {
    pub fn source(&self) -> ListSource {
        ListSource { name: self.name.clone(), path: self.path.clone(), format: self.format }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// sled database and node-generated secrets live here.
    pub data_dir: PathBuf,
    /// The URL relying parties and holders reach the node at (status lists, `@vocab`,
    /// did:web). Defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// Credential specs loaded at start-up.
    pub specs_dir: PathBuf,
    /// Claims every spec requires, whatever the officer wrote.
    pub mandatory_claims: Vec<String>,
    pub officers: Vec<OfficerConfig>,
    pub lists: Vec<ListConfig>,
    /// Use the built-in fictional demo list when no list is configured.
    pub demo_list: bool,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How long a holder challenge stays valid.
    pub challenge_ttl_secs: u64,
    /// Refuse to decide when the oldest list snapshot is older than this (hours).
    pub max_list_age_hours: u64,
    /// Standalone screening API: requests per officer per minute.
    pub screen_rate_per_minute: u32,
    /// First webhook retry delay; doubles per failed attempt (capped at one hour).
    pub webhook_retry_base_ms: u64,
    /// Attempts before a webhook delivery is given up (kept in the dead-letter tree).
    pub webhook_max_attempts: u32,
    /// Timeout of one webhook delivery.
    pub webhook_timeout_ms: u64,
    /// How often the outbox worker looks for due deliveries when not woken.
    pub outbox_poll_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            public_url: None,
            specs_dir: PathBuf::from("specs"),
            mandatory_claims: vec!["liveness".into()],
            officers: vec![OfficerConfig {
                id: "demo-officer".into(),
                name: "Demo AML Officer (demo keys)".into(),
                public_key_file: PathBuf::from("keys-example/officer.public.json"),
                signing_key_file: Some(PathBuf::from("keys-example/officer-signing.json")),
                webhooks: Vec::new(),
                smile_id_partner_id: None,
                compat_api_key_file: None,
            }],
            lists: Vec::new(),
            demo_list: true,
            max_body_bytes: 256 * 1024,
            challenge_ttl_secs: 300,
            max_list_age_hours: 7 * 24,
            screen_rate_per_minute: 600,
            webhook_retry_base_ms: 1000,
            webhook_max_attempts: 15,
            webhook_timeout_ms: 5000,
            outbox_poll_ms: 500,
        }
    }
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: &'static str, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, overridden by the file (if any), then by `AML_NODE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::File { path: path.display().to_string(), message: e.to_string() })?;
                let mut c: Config = toml::from_str(&text)
                    .map_err(|e| ConfigError::File { path: path.display().to_string(), message: e.to_string() })?;
                // Relative paths in a config file are relative to the file.
                if let Some(base) = path.parent() {
                    c.rebase(base);
                }
                c
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        config.validate()?;
        Ok(config)
    }

    fn rebase(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.data_dir);
        fix(&mut self.specs_dir);
        for o in &mut self.officers {
            fix(&mut o.public_key_file);
            if let Some(s) = &mut o.signing_key_file {
                fix(s);
            }
            for w in &mut o.webhooks {
                fix(&mut w.secret_file);
            }
            if let Some(k) = &mut o.compat_api_key_file {
                fix(k);
            }
        }
        for l in &mut self.lists {
            fix(&mut l.path);
        }
    }

    /// Applies `AML_NODE_*` overrides. `AML_NODE_LISTS` holds `NAME=[FORMAT:]PATH` entries
    /// separated by `;` and replaces the configured lists.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("AML_NODE_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("AML_NODE_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("AML_NODE_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = get("AML_NODE_SPECS_DIR") {
            self.specs_dir = PathBuf::from(v);
        }
        if let Some(v) = get("AML_NODE_LISTS") {
            let mut lists = Vec::new();
            for part in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let src: ListSource = part.parse().map_err(|e: crate::lists::ListError| ConfigError::Env {
                    var: "AML_NODE_LISTS",
                    message: e.to_string(),
                })?;
                lists.push(ListConfig { name: src.name, path: src.path, format: src.format, url: None });
            }
            self.lists = lists;
        }
        if let Some(v) = get("AML_NODE_MAX_LIST_AGE_HOURS") {
            self.max_list_age_hours = v.parse().map_err(|_| ConfigError::Env {
                var: "AML_NODE_MAX_LIST_AGE_HOURS",
                message: format!("`{v}` is not a number"),
            })?;
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "listen `{}` is not an address like 127.0.0.1:8080",
                self.listen
            )));
        }
        let mut ids = std::collections::HashSet::new();
        for o in &self.officers {
            let ok =
                !o.id.is_empty() && o.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(ConfigError::Invalid(format!("officer id `{}` may only hold a-z, 0-9 and '-'", o.id)));
            }
            if !ids.insert(&o.id) {
                return Err(ConfigError::Invalid(format!("officer `{}` is configured twice", o.id)));
            }
            for w in &o.webhooks {
                if !(w.url.starts_with("https://") || w.url.starts_with("http://")) {
                    return Err(ConfigError::Invalid(format!(
                        "officer `{}`: webhook URL `{}` is not http(s)",
                        o.id, w.url
                    )));
                }
                if let Some(e) = w.events.iter().find(|e| !crate::webhooks::types::ALL.contains(&e.as_str())) {
                    return Err(ConfigError::Invalid(format!(
                        "officer `{}`: unknown webhook event `{e}`; known: {}",
                        o.id,
                        crate::webhooks::types::ALL.join(", ")
                    )));
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for l in &self.lists {
            crate::lists::validate_list_name(&l.name).map_err(ConfigError::Invalid)?;
            if !names.insert(&l.name) {
                return Err(ConfigError::Invalid(format!("list `{}` is configured twice", l.name)));
            }
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid("max_body_bytes must be at least 1024".into()));
        }
        if self.webhook_max_attempts == 0 || self.webhook_timeout_ms == 0 || self.outbox_poll_ms == 0 {
            return Err(ConfigError::Invalid("webhook attempts, timeout and outbox poll must be positive".into()));
        }
        if !(10..=3600).contains(&self.challenge_ttl_secs) {
            return Err(ConfigError::Invalid("challenge_ttl_secs must be between 10 and 3600".into()));
        }
        Ok(())
    }

    /// The URL the node is reached at, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether the node runs on anything published with the sources (demo keys).
    pub fn uses_demo_keys(&self) -> bool {
        self.officers.iter().any(|o| {
            o.public_key_file.starts_with("keys-example")
                || o.signing_key_file.as_ref().is_some_and(|p| p.starts_with("keys-example"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
        assert_eq!(Config::default().public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn env_overrides_file() {
        let mut c: Config =
            toml::from_str("listen = \"127.0.0.1:9000\"\n[[lists]]\nname = \"a\"\npath = \"x\"\n").unwrap();
        c.apply_env(|k| match k {
            "AML_NODE_LISTEN" => Some("127.0.0.1:9001".into()),
            "AML_NODE_LISTS" => Some("un=un-xml:/tmp/un.xml; sdn=/tmp/sdn".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9001");
        assert_eq!(c.lists.len(), 2);
        assert_eq!(c.lists[0].format, Some(ListFormat::UnXml));
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_are_refused() {
        let c: Config = toml::from_str("listen = \"nowhere\"").unwrap();
        assert!(c.validate().is_err());
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let mut c = Config::default();
        assert!(c.apply_env(|k| (k == "AML_NODE_LISTS").then(|| "BAD NAME=x".to_string())).is_err());
    }
}
