//! The node as a library: every piece of state and every service the API and the CLI call,
//! built once from a [`Config`]. The HTTP layer ([`crate::api`]) is a thin adapter over it.

use std::path::Path;
use std::sync::Arc;

use hkdf::Hkdf;
use serde::Serialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::audit::{Audit, AuditEvent};
use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::config::Config;
use crate::issuer::Issuer;
use crate::lists;
use crate::metrics::Metrics;
use crate::monitoring::refresh::{ListCache, RefreshError, RefreshOptions, Refresher, SourceStatus};
use crate::officers::{OfficerError, Officers};
use crate::specs::SpecRegistry;
use crate::store::{Batch, Store, StoreError};
use crate::watchlists::{AgeBasis, ListState, LiveLists, Retrieved, Snapshot, Sourced, modified_at};
use crate::webhooks::{Event, Outbox, OutboxSettings};

/// Keys the node derives from its own secret (`<data_dir>/node.secret`, created on first
/// start, mode 0600). Losing the file makes earlier subject fingerprints unrecognizable.
pub struct NodeSecrets {
    /// Keys [`crate::cases::fingerprint`].
    pub fingerprint: [u8; 32],
    /// Keys the status-list index permutation.
    pub status_permutation: [u8; 32],
    /// Seals screening profiles ([`crate::profiles`]): monitoring and re-runs.
    pub profile: crate::keys::SealingSecret,
}

impl Drop for NodeSecrets {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.fingerprint.zeroize();
        self.status_permutation.zeroize();
    }
}

impl NodeSecrets {
    pub fn from_master(master: &[u8; 32]) -> NodeSecrets {
        let hk = Hkdf::<Sha256>::new(Some(b"aml-node/node-secret/v1"), master);
        let derive = |label: &[u8]| {
            let mut k = [0u8; 32];
            // 32 bytes is a valid HKDF-SHA256 length.
            let _ = hk.expand(label, &mut k);
            k
        };
        let mut profile = derive(b"screening-profile");
        let secrets = NodeSecrets {
            fingerprint: derive(b"subject-fingerprint"),
            status_permutation: derive(b"status-permutation"),
            profile: crate::keys::SealingSecret::from_bytes(profile),
        };
        zeroize::Zeroize::zeroize(&mut profile);
        secrets
    }

    /// Reads the node secret, creating it on first start.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<NodeSecrets> {
        let path = data_dir.join("node.secret");
        let mut master = Zeroizing::new([0u8; 32]);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() != 32 {
                    return Err(std::io::Error::other(format!("{}: expected 32 bytes", path.display())));
                }
                master.copy_from_slice(&bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut master[..]);
                std::fs::create_dir_all(data_dir)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                use std::io::Write as _;
                let mut f = options.open(&path)?;
                f.write_all(&master[..])?;
                f.sync_all()?;
            }
            Err(e) => return Err(e),
        }
        Ok(NodeSecrets::from_master(&master))
    }
}

/// Why the node could not start. Each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Officers(#[from] OfficerError),
    #[error("storage in {dir}: {source}")]
    Store { dir: String, source: StoreError },
    #[error("node secret in {dir}: {source}")]
    Secret { dir: String, source: std::io::Error },
    #[error("watchlist: {0}")]
    List(#[from] lists::ListError),
    #[error("specs: {0}")]
    Specs(crate::error::Error),
    #[error("audit log: {0}")]
    Audit(crate::error::Error),
    #[error("public URL `{0}` must be http(s)://host[:port]")]
    PublicUrl(String),
    #[error("list cache: {0}")]
    ListCache(#[from] RefreshError),
}

/// Everything the node is.
pub struct Node {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub officers: Arc<Officers>,
    pub auth: Authenticator,
    pub specs: SpecRegistry,
    pub issuer: Issuer,
    pub lists: LiveLists,
    pub secrets: NodeSecrets,
    /// `host[:port]` of the public URL: what holders' challenge messages must name.
    pub domain: String,
    pub metrics: Arc<Metrics>,
    pub audit: Audit,
    pub outbox: Arc<Outbox>,
    /// Downloads lists into `<data_dir>/lists` (see [`crate::monitoring`]).
    pub refresher: Refresher,
    /// One refresh-and-re-screen cycle at a time.
    pub refresh_lock: tokio::sync::Mutex<()>,
}

/// Where downloaded list snapshots are kept.
pub fn list_cache_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("lists")
}

/// Loads the configured lists, or the embedded demo list when none is configured. A list
/// with a download source is read from the cache (its last accepted snapshot), else from its
/// `path` seed when it has one; a list with neither is left out (the node reports it missing
/// and is not ready until a refresh brings it).
pub fn load_configured_lists(config: &Config) -> Result<Vec<Sourced>, StartError> {
    let cache = ListCache::open(list_cache_dir(config))?;
    let mut out = Vec::new();
    let mut from_path = Vec::new();
    for l in &config.lists {
        if !l.is_remote() {
            from_path.push(l.source());
            continue;
        }
        match cache.load_current(&l.name) {
            Ok(Some(cached)) => out.push(cached.sourced()),
            Ok(None) => {}
            Err(e) => tracing::error!(list = %l.name, error = %e, "cached snapshot unreadable; refresh to replace it"),
        }
        if !out.iter().any(|s| s.list.meta.name == l.name) && !l.path.as_os_str().is_empty() {
            from_path.push(l.source());
        }
    }
    for list in lists::load_all(&from_path)? {
        let retrieved =
            modified_at(Path::new(&list.meta.path)).map(|at| Retrieved { at, basis: AgeBasis::FileModified });
        out.push(Sourced { list, retrieved });
    }
    // In configuration order, so that entity order (and ties) do not depend on the cache.
    out.sort_by_key(|s| config.lists.iter().position(|l| l.name == s.list.meta.name));
    if out.is_empty() && config.lists.is_empty() && config.demo_list {
        out.push(Sourced { list: lists::demo_list(), retrieved: None });
    }
    Ok(out)
}

/// `host[:port]` of an http(s) URL.
pub fn url_domain(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains('@')).then(|| host.to_ascii_lowercase())
}

impl Node {
    /// Opens the node on a configuration: keys, storage, secrets, specs, lists.
    pub fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Node, StartError> {
        let loaded = load_configured_lists(&config)?;
        Node::open_with_lists(config, clock, loaded)
    }

    /// [`Node::open`] with lists already loaded (tests and benchmarks load them once).
    pub fn open_with_lists(config: Config, clock: Arc<dyn Clock>, loaded: Vec<Sourced>) -> Result<Node, StartError> {
        let public_url = config.public_url();
        let domain = url_domain(&public_url).ok_or_else(|| StartError::PublicUrl(public_url.clone()))?;
        let officers = Arc::new(Officers::load(&config.officers)?);
        let dir = config.data_dir.display().to_string();
        let store = Store::open_sled_with_cache(&config.data_dir, config.store_cache_mb)
            .map_err(|source| StartError::Store { dir: dir.clone(), source })?
            .with_group_commit_window(std::time::Duration::from_micros(config.group_commit_window_us));
        let secrets =
            NodeSecrets::load_or_create(&config.data_dir).map_err(|source| StartError::Secret { dir, source })?;
        let auth = Authenticator::new(&public_url, officers.clone(), store.clone(), clock.clone());
        let specs = SpecRegistry::new(store.clone(), officers.clone(), config.mandatory_claims.clone());
        specs.seed_from_dir(&config.specs_dir).map_err(StartError::Specs)?;
        let issuer =
            Issuer::new(store.clone(), clock.clone(), officers.clone(), &public_url, secrets.status_permutation);
        let missing: Vec<String> = config
            .lists
            .iter()
            .filter(|l| !loaded.iter().any(|s| s.list.meta.name == l.name))
            .map(|l| l.name.clone())
            .collect();
        let snapshot = Snapshot::build_with_missing(loaded, missing, clock.now());
        let refresher = Refresher::new(list_cache_dir(&config), RefreshOptions::default())?;
        let lists = LiveLists::new(snapshot, config.max_list_age_hours);
        let audit = Audit::open(store.clone()).map_err(StartError::Audit)?;
        let outbox = Arc::new(Outbox::new(
            store.clone(),
            clock.clone(),
            officers.clone(),
            OutboxSettings {
                retry_base: std::time::Duration::from_millis(config.webhook_retry_base_ms),
                max_attempts: config.webhook_max_attempts,
                timeout: std::time::Duration::from_millis(config.webhook_timeout_ms),
                poll: std::time::Duration::from_millis(config.outbox_poll_ms),
            },
        ));
        Ok(Node {
            config,
            store,
            clock,
            officers,
            auth,
            specs,
            issuer,
            lists,
            secrets,
            domain,
            metrics: Arc::new(Metrics::default()),
            audit,
            outbox,
            refresher,
            refresh_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Commits a batch with its audit entries and webhook events, atomically. Returns `false`
    /// (nothing written) when a precondition failed. The caller flushes before answering.
    pub fn commit(&self, batch: Batch, audit: Vec<AuditEvent>, events: &[Event]) -> crate::error::Result<bool> {
        let ok = self.audit.commit(self.with_events(batch, events)?, audit, self.clock.now())?;
        self.committed(ok, events);
        Ok(ok)
    }

    /// [`Node::commit`] for request handlers: waiting for the log does not block a worker.
    pub async fn commit_async(
        &self,
        batch: Batch,
        audit: Vec<AuditEvent>,
        events: &[Event],
    ) -> crate::error::Result<bool> {
        let ok = self.audit.commit_async(self.with_events(batch, events)?, audit, self.clock.now()).await?;
        self.committed(ok, events);
        Ok(ok)
    }

    /// The batch with its events' webhook deliveries staged in the outbox.
    fn with_events(&self, mut batch: Batch, events: &[Event]) -> crate::error::Result<Batch> {
        for e in events {
            self.outbox.stage(&mut batch, e)?;
        }
        Ok(batch)
    }

    fn committed(&self, ok: bool, events: &[Event]) {
        if ok && !events.is_empty() {
            self.outbox.wake();
        }
    }

    /// Audits one standalone screening (an officer action). Nothing about the screened person
    /// is recorded: the endpoint, the decision, the result code and the matched entities.
    pub fn record_screening(&self, officer: &str, endpoint: &str, screening: &crate::screening::Screening) {
        let details = serde_json::json!({
            "endpoint": endpoint,
            "decision": screening.decision,
            "result_code": screening.result_code.code(),
            "hits": screening.hits.iter().map(|h| &h.entity_id).collect::<Vec<_>>(),
        });
        let event = AuditEvent::new(officer, officer, "screening.performed", endpoint, details);
        if let Err(e) = self.commit(Batch::new(), vec![event], &[]) {
            tracing::error!(error = %e, "auditing a screening failed");
        }
    }

    /// What `/health` answers.
    pub fn health(&self) -> Health {
        let now = self.clock.now();
        let snapshot = self.lists.current();
        let ready = self.lists.ready(now);
        Health {
            status: if ready.is_ok() { "ready" } else { "not-ready" },
            ready: ready.is_ok(),
            reason: ready.err().map(|e| e.message),
            demo_keys: self.officers.iter().any(|o| o.demo_keys),
            demo_list: snapshot.is_demo(),
            max_list_age_hours: self.lists.max_age_hours(),
            lists: snapshot
                .lists
                .iter()
                .map(|l| ListHealth {
                    age_hours: (l.age_hours(now) * 10.0).round() / 10.0,
                    stale: l.age_hours(now) > self.lists.max_age_hours(),
                    list: l.clone(),
                })
                .collect(),
            missing_lists: snapshot.missing.clone(),
            sources: self.refresher.cache().statuses(),
            entities: snapshot.watchlists.entity_count(),
            officers: self.officers.iter().map(|o| o.id.clone()).collect(),
        }
    }
}

/// `/health`: whether the node can decide, and the state of every list.
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub demo_keys: bool,
    pub demo_list: bool,
    pub max_list_age_hours: f64,
    pub entities: usize,
    pub lists: Vec<ListHealth>,
    /// Configured lists without any snapshot yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_lists: Vec<String>,
    /// Each refreshed list's source: last attempt, outcome, consecutive failures, last error.
    pub sources: Vec<SourceStatus>,
    pub officers: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ListHealth {
    #[serde(flatten)]
    pub list: ListState,
    pub age_hours: f64,
    pub stale: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_persist_and_differ_per_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let a = NodeSecrets::load_or_create(dir.path()).unwrap();
        let b = NodeSecrets::load_or_create(dir.path()).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, a.status_permutation);
        assert_eq!(url_domain("http://127.0.0.1:8080/x"), Some("127.0.0.1:8080".into()));
        assert_eq!(url_domain("ftp://x"), None);
    }
}
