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
    /// A local file or folder. Without `url`/`files` it is the list (re-read on refresh);
    /// with them it is an optional seed, read only while the cache holds no download yet.
    #[serde(default)]
    pub path: PathBuf,
    #[serde(default)]
    pub format: Option<ListFormat>,
    /// Official download URL for refreshes; the node only reads `path` when absent.
    #[serde(default)]
    pub url: Option<String>,
    /// The files of a multi-file list and where each is downloaded from (OFAC SDN legacy CSV:
    /// `sdn.csv`, `alt.csv`, `add.csv`, `sdn_comments.csv`), downloaded together into one
    /// snapshot. Instead of `url`, never with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ListFileConfig>,
}

/// One file of a multi-file list: its name in the snapshot (what the importer looks for) and
/// its download URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFileConfig {
    pub name: String,
    pub url: String,
}

impl ListConfig {
    pub fn source(&self) -> ListSource {
        ListSource { name: self.name.clone(), path: self.path.clone(), format: self.format }
    }

    /// Whether refreshes download this list (`url` or `files`) rather than re-read `path`.
    pub fn is_remote(&self) -> bool {
        self.url.is_some() || !self.files.is_empty()
    }

    /// Checks the name, the download URLs and the file names.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| ConfigError::Invalid(format!("list `{}`: {m}", self.name));
        crate::lists::validate_list_name(&self.name).map_err(ConfigError::Invalid)?;
        if !self.is_remote() && self.path.as_os_str().is_empty() {
            return Err(bad("give a local `path`, or a download `url` or `files`".into()));
        }
        if let Some(url) = &self.url {
            check_download_url(url).map_err(bad)?;
            if !self.files.is_empty() {
                return Err(bad("give either `url` (one file) or `files` (several), not both".into()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for f in &self.files {
            check_snapshot_file_name(&f.name).map_err(bad)?;
            check_download_url(&f.url).map_err(|m| bad(format!("file `{}`: {m}", f.name)))?;
            if !seen.insert(f.name.to_ascii_lowercase()) {
                return Err(bad(format!("file `{}` is listed twice", f.name)));
            }
        }
        if let (Some(format), false) = (self.format, self.files.is_empty()) {
            let names: Vec<String> = self.files.iter().map(|f| f.name.clone()).collect();
            let used = crate::lists::files::files_for_format(format, &names);
            let unused: Vec<&str> = names.iter().filter(|n| !used.contains(n)).map(String::as_str).collect();
            if !unused.is_empty() {
                return Err(bad(format!(
                    "a `{format}` list does not read {}; a one-file format takes `url`, a multi-file \
                     format its own file names (ofac-sdn: sdn.csv, alt.csv, add.csv, sdn_comments.csv)",
                    unused.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// A download URL: `http(s)://host/...`.
fn check_download_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(u) => Err(format!("download URL `{url}` must be http(s)://host/..., not `{}:`", u.scheme())),
        Err(e) => Err(format!("download URL `{url}` is invalid: {e}")),
    }
}

/// A file name inside a snapshot folder: 1-128 of `A-Z a-z 0-9 . _ -`, not starting with a dot.
pub fn check_snapshot_file_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "file name `{name}` must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', '-', not starting with '.'"
        ))
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
    /// How often every list is refreshed from its source (and monitored subjects re-screened
    /// against what changed). 0 turns the schedule off; on-demand refreshes still work.
    pub refresh_interval_hours: u64,
    /// Under load, durable flushes start at most once per this many microseconds, so the
    /// requests committed meanwhile share one write and sync (0: flush at once). A request
    /// after a quiet spell never waits.
    pub group_commit_window_us: u64,
    /// Memory sled may use for its page cache, in MiB. Every page written stays cached until
    /// the cap, so the cap is where the node's memory stops growing; pages beyond it are read
    /// back from disk when asked for (old records, which issuance does not touch).
    pub store_cache_mb: u64,
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
            refresh_interval_hours: 12,
            group_commit_window_us: 5000,
            store_cache_mb: crate::store::DEFAULT_CACHE_MB,
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
            if !l.path.as_os_str().is_empty() {
                fix(&mut l.path);
            }
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
                lists.push(ListConfig {
                    name: src.name,
                    path: src.path,
                    format: src.format,
                    url: None,
                    files: Vec::new(),
                });
            }
            self.lists = lists;
        }
        let number = |var: &'static str, field: &mut u64| -> Result<(), ConfigError> {
            if let Some(v) = get(var) {
                *field = v.parse().map_err(|_| ConfigError::Env { var, message: format!("`{v}` is not a number") })?;
            }
            Ok(())
        };
        number("AML_NODE_MAX_LIST_AGE_HOURS", &mut self.max_list_age_hours)?;
        number("AML_NODE_REFRESH_INTERVAL_HOURS", &mut self.refresh_interval_hours)?;
        number("AML_NODE_GROUP_COMMIT_WINDOW_US", &mut self.group_commit_window_us)?;
        number("AML_NODE_STORE_CACHE_MB", &mut self.store_cache_mb)?;
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
            l.validate()?;
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
        if self.group_commit_window_us > 100_000 {
            return Err(ConfigError::Invalid("group_commit_window_us must be at most 100000 (0.1 s)".into()));
        }
        if !(8..=1 << 20).contains(&self.store_cache_mb) {
            return Err(ConfigError::Invalid("store_cache_mb must be between 8 and 1048576".into()));
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
    fn the_example_file_is_a_valid_configuration() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.refresh_interval_hours, 12);
        assert_eq!(c.officers[0].webhooks.len(), 1);
        assert_eq!(c.lists.len(), 3);
        assert!(!c.lists[0].is_remote() && c.lists[1].is_remote() && c.lists[2].files.len() == 4);
        assert!(c.lists[0].path.is_absolute(), "relative to the file");
    }

    #[test]
    fn env_overrides_file() {
        let mut c: Config =
            toml::from_str("listen = \"127.0.0.1:9000\"\n[[lists]]\nname = \"a\"\npath = \"x\"\n").unwrap();
        c.apply_env(|k| match k {
            "AML_NODE_LISTEN" => Some("127.0.0.1:9001".into()),
            "AML_NODE_LISTS" => Some("un=un-xml:/tmp/un.xml; sdn=/tmp/sdn".into()),
            "AML_NODE_STORE_CACHE_MB" => Some("512".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9001");
        assert_eq!(c.store_cache_mb, 512);
        assert_eq!(c.lists.len(), 2);
        assert_eq!(c.lists[0].format, Some(ListFormat::UnXml));
        c.validate().unwrap();
    }

    /// The list download fields as the README documents them.
    const REMOTE_LISTS: &str = r#"
[[lists]]
name = "us_ofac_sdn"
path = "lists/ofac_sdn"
format = "ofac-sdn"
files = [
  { name = "sdn.csv", url = "https://www.treasury.gov/ofac/downloads/sdn.csv" },
  { name = "alt.csv", url = "https://www.treasury.gov/ofac/downloads/alt.csv" },
  { name = "add.csv", url = "https://www.treasury.gov/ofac/downloads/add.csv" },
  { name = "sdn_comments.csv", url = "https://www.treasury.gov/ofac/downloads/sdn_comments.csv" },
]

[[lists]]
name = "un_sc"
path = "lists/un_consolidated.xml"
format = "un-xml"
url = "https://scsanctions.un.org/resources/xml/en/consolidated.xml"
"#;

    #[test]
    fn list_download_fields_parse_and_validate() {
        let c: Config = toml::from_str(REMOTE_LISTS).unwrap();
        c.validate().unwrap();
        assert_eq!(c.lists[0].files.len(), 4);
        assert_eq!(c.lists[0].files[3].name, "sdn_comments.csv");
        assert!(c.lists[0].is_remote() && c.lists[1].is_remote());
        assert!(c.lists[1].files.is_empty());
        // Round trip: `files` is omitted when empty.
        let back = toml::to_string(&c.lists[1]).unwrap();
        assert!(!back.contains("files"), "{back}");

        let with = |name: &str, extra: &str| -> Result<(), ConfigError> {
            let text = format!("[[lists]]\nname = \"{name}\"\npath = \"x\"\n{extra}\n");
            let c: Config = toml::from_str(&text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
            c.validate()
        };
        with("ok", "url = \"http://127.0.0.1:9/x.xml\"").unwrap();
        with("ok", "format = \"ofac-sdn\"\nfiles = [{name = \"sdn.csv\", url = \"https://h/sdn.csv\"}]").unwrap();
        let refused = [
            "url = \"ftp://h/x\"",
            "url = \"file:///etc/passwd\"",
            "url = \"not a url\"",
            "url = \"https://h/x\"\nfiles = [{name = \"sdn.csv\", url = \"https://h/sdn.csv\"}]",
            "files = [{name = \"../sdn.csv\", url = \"https://h/sdn.csv\"}]",
            "files = [{name = \".hidden\", url = \"https://h/sdn.csv\"}]",
            "files = [{name = \"sdn.csv\", url = \"https://h/a\"}, {name = \"SDN.CSV\", url = \"https://h/b\"}]",
            "files = [{name = \"sdn.csv\", url = \"mailto:x@y\"}]",
            "format = \"ofac-sdn\"\nfiles = [{name = \"sdn.csv\", url = \"https://h/a\"}, {name = \"extra.txt\", url = \"https://h/b\"}]",
            "format = \"un-xml\"\nfiles = [{name = \"a.xml\", url = \"https://h/a\"}, {name = \"b.xml\", url = \"https://h/b\"}]",
            "files = [{name = \"sdn.csv\", url = \"https://h/a\", extra = 1}]",
        ];
        for extra in refused {
            assert!(with("l", extra).is_err(), "{extra}");
        }
        let err = with("l", "format = \"ofac-sdn\"\nfiles = [{name = \"sdn.csv\", url = \"https://h/a\"}, {name = \"x.csv\", url = \"https://h/b\"}]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("list `l`") && err.contains("x.csv"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        let c: Config = toml::from_str("listen = \"nowhere\"").unwrap();
        assert!(c.validate().is_err());
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let mut c = Config::default();
        assert!(c.apply_env(|k| (k == "AML_NODE_LISTS").then(|| "BAD NAME=x".to_string())).is_err());
        for mb in [0, 7, (1 << 20) + 1] {
            let c = Config { store_cache_mb: mb, ..Config::default() };
            assert!(c.validate().is_err(), "store_cache_mb = {mb}");
        }
    }
}
