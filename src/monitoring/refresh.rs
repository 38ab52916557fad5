//! Refreshing lists from their sources into a versioned on-disk cache.
//!
//! A source is one download URL (one-file formats), several named files downloaded together
//! (OFAC's legacy SDN CSV), or a local path that is re-read. A refresh downloads every file into
//! a temporary folder of the cache (streamed, size-capped, with timeouts; a body shorter than
//! its `Content-Length` or cut by the server is a failed download), parses the whole snapshot
//! with the list's importer, and only then accepts it: the folder is renamed into
//! `snapshots/<hash>/` and the list's state file (the current pointer) is replaced atomically.
//! A download serving the current content is reported unchanged without being parsed again.
//! Any failure leaves the previous snapshot current and is returned as a [`RefreshError`] with a
//! stable code; the attempt is also recorded in the list's [`SourceStatus`], kept on disk.
//!
//! Layout under the cache root (the node uses `<data_dir>/lists`):
//!
//! ```text
//! <list>/state.json                   SourceStatus: current snapshot, last attempt, errors
//! <list>/snapshots/<sha256 hex>/      the files of an accepted snapshot, as named
//! <list>/snapshots/<hex>/.snapshot.json  its SnapshotMeta as accepted
//! <list>/tmp/<attempt>/               downloads in progress (cleared at the next attempt)
//! <list>/rejected/                    the last download refused as malformed, for inspection
//! ```
//!
//! Every file the cache writes is written to a temporary name, fsynced and renamed; folders
//! are fsynced after renames. The last [`RefreshOptions::keep_snapshots`] snapshots are kept.
//! Refreshes of one list are serialized within a [`Refresher`]; one cache root belongs to one
//! node process.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::config::{ListConfig, check_snapshot_file_name};
use crate::lists::{self, ListError, ListFiles, ListFormat, LoadedList};
use crate::watchlists::{AgeBasis, Retrieved, Sourced};

/// The list's state file in its cache folder.
pub const STATE_FILE: &str = "state.json";
/// A snapshot's metadata inside its folder (hidden: list files never start with a dot).
pub const SNAPSHOT_META_FILE: &str = ".snapshot.json";

// ---------------------------------------------------------------------------------------------
// Sources

/// One file of a remote list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteFile {
    /// The file's name in the snapshot folder, which the importer reads (e.g. `sdn.csv`).
    pub name: String,
    pub url: String,
}

/// Where a list's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// One file downloaded from this URL; its name in the snapshot is the URL's last path
    /// segment (see [`file_name_for_url`]).
    Url(String),
    /// Several named files, downloaded together into one snapshot.
    Files(Vec<RemoteFile>),
    /// A local file or folder, re-read on each refresh.
    Local(PathBuf),
}

/// A list as refreshes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshSource {
    /// The list name: the cache folder and the source part of entity ids.
    pub name: String,
    /// Forced format; detected from the downloaded content when absent.
    pub format: Option<ListFormat>,
    pub origin: Origin,
}

impl RefreshSource {
    /// `files` when configured, else `url`, else the local `path`.
    pub fn from_config(c: &ListConfig) -> RefreshSource {
        let origin = if !c.files.is_empty() {
            Origin::Files(c.files.iter().map(|f| RemoteFile { name: f.name.clone(), url: f.url.clone() }).collect())
        } else if let Some(url) = &c.url {
            Origin::Url(url.clone())
        } else {
            Origin::Local(c.path.clone())
        };
        RefreshSource { name: c.name.clone(), format: c.format, origin }
    }

    pub fn is_remote(&self) -> bool {
        !matches!(self.origin, Origin::Local(_))
    }

    /// The files to download (empty for a local source).
    pub fn remote_files(&self) -> Vec<RemoteFile> {
        match &self.origin {
            Origin::Url(url) => vec![RemoteFile { name: file_name_for_url(url), url: url.clone() }],
            Origin::Files(files) => files.clone(),
            Origin::Local(_) => Vec::new(),
        }
    }

    /// Where the list comes from, for logs and errors.
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Url(u) => u.clone(),
            Origin::Files(f) => f.iter().map(|f| f.url.as_str()).collect::<Vec<_>>().join(", "),
            Origin::Local(p) => p.display().to_string(),
        }
    }

    fn check(&self) -> Result<(), RefreshError> {
        let bad = |reason: String| RefreshError::new(&self.name, ErrorKind::BadSource { reason });
        lists::validate_list_name(&self.name).map_err(bad)?;
        let files = self.remote_files();
        if matches!(self.origin, Origin::Files(_)) && files.is_empty() {
            return Err(bad("no file to download".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &files {
            check_snapshot_file_name(&f.name).map_err(bad)?;
            if !seen.insert(f.name.to_ascii_lowercase()) {
                return Err(bad(format!("file `{}` is listed twice", f.name)));
            }
            match reqwest::Url::parse(&f.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return Err(bad(format!("`{}` is not an http(s) URL", f.url))),
            }
        }
        Ok(())
    }
}

/// The name a downloaded one-file list gets in its snapshot folder: the URL's last path
/// segment reduced to `A-Z a-z 0-9 . _ -` (`consolidated.xml`, `sdn.csv`, `content`), or `list`.
pub fn file_name_for_url(url: &str) -> String {
    let segment = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.path_segments().and_then(|mut s| s.next_back().map(str::to_string)))
        .unwrap_or_default();
    let clean: String = segment
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .take(128)
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    if clean.is_empty() { "list".to_string() } else { clean }
}

// ---------------------------------------------------------------------------------------------
// Options

/// Limits of a refresh.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Largest accepted file (bytes); a larger `Content-Length` or body fails the download.
    pub max_file_bytes: u64,
    /// TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response (a stalled server).
    pub read_timeout: Duration,
    /// Longest time one file's request may take in all.
    pub total_timeout: Duration,
    /// Accepted snapshots kept per list, the current one included (at least 1).
    pub keep_snapshots: usize,
    /// Refuse a new snapshot holding fewer than this percentage of the current one's entities
    /// (a list that parses but was cut, or a publisher's mistake). `None`: no check.
    pub min_entity_percent: Option<u8>,
    pub user_agent: String,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        RefreshOptions {
            max_file_bytes: 512 * 1024 * 1024,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            total_timeout: Duration::from_secs(30 * 60),
            keep_snapshots: 3,
            min_entity_percent: Some(50),
            user_agent: concat!("aml-node/", env!("CARGO_PKG_VERSION"), " (watchlist refresh)").to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata and status

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub name: String,
    /// The URL it was downloaded from, or the local path it was read from.
    pub source: String,
    pub bytes: u64,
    /// `sha256:<hex>` of the file alone.
    pub sha256: String,
}

/// An accepted snapshot of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub list: String,
    /// `sha256:<hex>` over the files, as [`ListFiles::content_hash`] computes it (equal to what
    /// loading the same files from a path reports).
    pub content_hash: String,
    pub format: ListFormat,
    /// The list's own publication date when it states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_date: Option<String>,
    pub entity_count: usize,
    /// When this content was first accepted.
    pub accepted_at: DateTime<Utc>,
    /// The last time the source was found serving this content (the acceptance, or a later
    /// unchanged refresh): the list is known current as of then.
    pub retrieved_at: DateTime<Utc>,
    /// Local sources: the newest modification time of the files read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_modified_at: Option<DateTime<Utc>>,
    pub files: Vec<SnapshotFile>,
}

impl SnapshotMeta {
    /// What the node's freshness check counts from when the list states no date: the last
    /// retrieval for a download, the files' modification time for a local source.
    pub fn retrieved(&self) -> Retrieved {
        match self.file_modified_at {
            Some(at) => Retrieved { at, basis: AgeBasis::FileModified },
            None => Retrieved { at: self.retrieved_at, basis: AgeBasis::Retrieved },
        }
    }

    /// The snapshot's folder name: the hex digest.
    pub fn folder(&self) -> &str {
        self.content_hash.strip_prefix("sha256:").unwrap_or(&self.content_hash)
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// A new snapshot was accepted.
    Updated,
    /// The source serves the current snapshot.
    Unchanged,
    Failed,
}

/// The last failure of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusError {
    /// A [`RefreshError::code`].
    pub code: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// The refresh state of one list, for `/health` and metrics; kept in the list's `state.json`
/// so it survives restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub name: String,
    /// Where the list was last refreshed from (URLs or path).
    #[serde(default)]
    pub origin: String,
    /// The last good snapshot: what the node screens against.
    pub current: Option<SnapshotMeta>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<AttemptOutcome>,
    /// Duration of the last attempt, download and parse.
    pub last_duration_ms: Option<u64>,
    /// The last attempt that did not fail (updated or unchanged).
    pub last_success_at: Option<DateTime<Utc>>,
    /// The most recent failure, kept after later successes (see `consecutive_failures`).
    pub last_error: Option<StatusError>,
    /// Failed attempts since the last success; 0 when the last attempt succeeded.
    pub consecutive_failures: u32,
    /// Content hashes of the snapshots kept on disk, newest first (the current one first).
    #[serde(default)]
    pub history: Vec<String>,
}

impl SourceStatus {
    pub fn new(name: &str) -> SourceStatus {
        SourceStatus {
            name: name.to_string(),
            origin: String::new(),
            current: None,
            last_attempt_at: None,
            last_outcome: None,
            last_duration_ms: None,
            last_success_at: None,
            last_error: None,
            consecutive_failures: 0,
            history: Vec::new(),
        }
    }

    /// Whether the last attempt failed.
    pub fn failing(&self) -> bool {
        self.consecutive_failures > 0
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a refresh (or a cache read) failed. The previous snapshot always stays current.
#[derive(Debug, thiserror::Error)]
#[error("list `{list}`: {kind}")]
pub struct RefreshError {
    pub list: String,
    pub kind: Box<ErrorKind>,
}

/// What went wrong; [`ErrorKind::code`] is stable.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("invalid refresh source: {reason}")]
    BadSource { reason: String },
    #[error("{url} answered HTTP {status}{body}; check the URL in the list's configuration or retry later")]
    HttpStatus { url: String, status: u16, body: String },
    #[error("cannot reach {url}: {message}; check the network, proxy and URL")]
    Connect { url: String, message: String },
    #[error("{url} timed out after {received} bytes: {message}")]
    Timeout { url: String, received: u64, message: String },
    #[error(
        "the connection to {url} was dropped after {received} bytes: {message}; the download is incomplete and was discarded"
    )]
    Interrupted { url: String, received: u64, message: String },
    #[error(
        "{url} sent {received} of the {expected} bytes its Content-Length announced; the download is truncated and was discarded"
    )]
    Truncated { url: String, received: u64, expected: u64 },
    #[error("{url} is larger than the limit of {limit} bytes{}", announced.map(|n| format!(" (Content-Length {n})")).unwrap_or_default())]
    TooLarge { url: String, limit: u64, announced: Option<u64> },
    #[error("{file} from {origin} does not parse at {location}: {message}{}", kept_note(kept))]
    Malformed { file: String, origin: String, location: String, message: String, kept: Option<PathBuf> },
    #[error("cannot tell the list format of {origin} ({reason}); set `format` in the list's configuration")]
    FormatUnknown { origin: String, reason: String },
    #[error("the snapshot from {origin} holds no entity; refused as an empty download{}", kept_note(kept))]
    Empty { origin: String, kept: Option<PathBuf> },
    #[error(
        "the snapshot from {origin} holds {new} entities, under {min_percent}% of the current snapshot's {current}; \
         refused as a probably partial list (refresh with the check off to accept it){}",
        kept_note(kept)
    )]
    Shrunk { origin: String, new: usize, current: usize, min_percent: u8, kept: Option<PathBuf> },
    #[error("cannot read the local list {path}: {message}")]
    LocalIo { path: String, message: String },
    #[error("list cache {path}: {message}")]
    CacheIo { path: String, message: String },
    #[error("cached snapshot {path} is damaged: {reason}")]
    CacheCorrupt { path: String, reason: String },
    #[error("no snapshot of this list in the cache")]
    NotCached,
}

fn kept_note(kept: &Option<PathBuf>) -> String {
    kept.as_ref()
        .map(|p| format!(" (the refused files are kept in {} for inspection)", p.display()))
        .unwrap_or_default()
}

impl ErrorKind {
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::BadSource { .. } => "refresh_source_invalid",
            ErrorKind::HttpStatus { .. } => "refresh_http_status",
            ErrorKind::Connect { .. } => "refresh_connect",
            ErrorKind::Timeout { .. } => "refresh_timeout",
            ErrorKind::Interrupted { .. } => "refresh_interrupted",
            ErrorKind::Truncated { .. } => "refresh_truncated",
            ErrorKind::TooLarge { .. } => "refresh_too_large",
            ErrorKind::Malformed { .. } => "refresh_malformed",
            ErrorKind::FormatUnknown { .. } => "refresh_format_unknown",
            ErrorKind::Empty { .. } => "refresh_empty",
            ErrorKind::Shrunk { .. } => "refresh_shrunk",
            ErrorKind::LocalIo { .. } => "refresh_local_io",
            ErrorKind::CacheIo { .. } => "refresh_cache_io",
            ErrorKind::CacheCorrupt { .. } => "refresh_cache_corrupt",
            ErrorKind::NotCached => "refresh_not_cached",
        }
    }
}

impl RefreshError {
    pub fn new(list: &str, kind: ErrorKind) -> RefreshError {
        RefreshError { list: list.to_string(), kind: Box::new(kind) }
    }

    /// Stable, snake_case: `refresh_http_status`, `refresh_truncated`, `refresh_malformed`, ...
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// Whether the cause is on the source's side (network, server, content) rather than the
    /// node's disk or configuration.
    pub fn is_source_failure(&self) -> bool {
        !matches!(
            *self.kind,
            ErrorKind::BadSource { .. }
                | ErrorKind::CacheIo { .. }
                | ErrorKind::CacheCorrupt { .. }
                | ErrorKind::NotCached
        )
    }

    fn cache_io(list: &str, path: &Path, e: impl fmt::Display) -> RefreshError {
        RefreshError::new(list, ErrorKind::CacheIo { path: path.display().to_string(), message: e.to_string() })
    }
}

impl From<RefreshError> for crate::error::Error {
    fn from(e: RefreshError) -> Self {
        use crate::error::{Error, ErrorKind as K};
        let kind = match *e.kind {
            ErrorKind::BadSource { .. } => K::BadRequest,
            ErrorKind::NotCached => K::NotFound,
            ErrorKind::CacheIo { .. } | ErrorKind::CacheCorrupt { .. } => K::Internal,
            _ => K::Unavailable,
        };
        Error::new(kind, e.code(), e.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Results

/// A snapshot read from the cache.
#[derive(Debug, Clone)]
pub struct CachedList {
    pub list: LoadedList,
    pub snapshot: SnapshotMeta,
}

impl CachedList {
    /// As the node holds lists.
    pub fn sourced(self) -> Sourced {
        let retrieved = Some(self.snapshot.retrieved());
        Sourced { list: self.list, retrieved }
    }
}

/// What a successful refresh did.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per refresh; boxing the list would buy nothing
pub enum RefreshOutcome {
    /// A new snapshot was accepted and is now current.
    Updated {
        list: LoadedList,
        snapshot: SnapshotMeta,
        /// The snapshot it replaces (its entities: [`ListCache::load_snapshot`]).
        previous: Option<SnapshotMeta>,
    },
    /// The source serves the current snapshot; its `retrieved_at` moved forward.
    Unchanged { snapshot: SnapshotMeta },
}

impl RefreshOutcome {
    pub fn snapshot(&self) -> &SnapshotMeta {
        match self {
            RefreshOutcome::Updated { snapshot, .. } | RefreshOutcome::Unchanged { snapshot } => snapshot,
        }
    }

    pub fn is_updated(&self) -> bool {
        matches!(self, RefreshOutcome::Updated { .. })
    }

    /// The new list as the node holds lists, when there is one.
    pub fn sourced(&self) -> Option<Sourced> {
        match self {
            RefreshOutcome::Updated { list, snapshot, .. } => {
                Some(Sourced { list: list.clone(), retrieved: Some(snapshot.retrieved()) })
            }
            RefreshOutcome::Unchanged { .. } => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The cache on disk

/// The list cache: per list, accepted snapshots by content hash and a state file.
#[derive(Debug, Clone)]
pub struct ListCache {
    root: PathBuf,
}

impl ListCache {
    /// The cache under `root` (created when missing).
    pub fn open(root: impl Into<PathBuf>) -> Result<ListCache, RefreshError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| RefreshError::cache_io("*", &root, e))?;
        Ok(ListCache { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one list.
    pub fn list_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn snapshots_dir(&self, name: &str) -> PathBuf {
        self.list_dir(name).join("snapshots")
    }

    /// The folder of one snapshot.
    pub fn snapshot_dir(&self, name: &str, content_hash: &str) -> PathBuf {
        self.snapshots_dir(name).join(content_hash.strip_prefix("sha256:").unwrap_or(content_hash))
    }

    /// Names of the lists that have a state file.
    pub fn lists(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join(STATE_FILE).is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| lists::validate_list_name(n).is_ok())
            .collect();
        names.sort();
        names
    }

    /// The list's refresh status; a fresh one when the list was never refreshed.
    pub fn status(&self, name: &str) -> Result<SourceStatus, RefreshError> {
        lists::validate_list_name(name).map_err(|reason| RefreshError::new(name, ErrorKind::BadSource { reason }))?;
        let path = self.list_dir(name).join(STATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RefreshError::new(
                    name,
                    ErrorKind::CacheCorrupt { path: path.display().to_string(), reason: e.to_string() },
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SourceStatus::new(name)),
            Err(e) => Err(RefreshError::cache_io(name, &path, e)),
        }
    }

    /// Every cached list's status.
    pub fn statuses(&self) -> Vec<SourceStatus> {
        self.lists().iter().filter_map(|n| self.status(n).ok()).collect()
    }

    fn write_status(&self, status: &SourceStatus) -> Result<(), RefreshError> {
        let dir = self.list_dir(&status.name);
        fs::create_dir_all(&dir).map_err(|e| RefreshError::cache_io(&status.name, &dir, e))?;
        let path = dir.join(STATE_FILE);
        let bytes = serde_json::to_vec_pretty(status).map_err(|e| RefreshError::cache_io(&status.name, &path, e))?;
        write_atomic(&path, &bytes).map_err(|e| RefreshError::cache_io(&status.name, &path, e))
    }

    /// The list's current snapshot, read and parsed from the cache without the network; `None`
    /// when the list has none. When the current snapshot's files are damaged (their hash no
    /// longer matches), the newest older snapshot that loads becomes current (and the damage is
    /// recorded in the status); an error only when none loads.
    pub fn load_current(&self, name: &str) -> Result<Option<CachedList>, RefreshError> {
        let mut status = self.status(name)?;
        let Some(current) = status.current.clone() else {
            return Ok(None);
        };
        let first_error = match self.load_snapshot_meta(name, current.clone()) {
            Ok(list) => return Ok(Some(list)),
            Err(e) => e,
        };
        tracing::error!(list = name, error = %first_error, "the current cached snapshot does not load; trying older ones");
        for hash in status.history.clone().iter().filter(|h| **h != current.content_hash) {
            let Ok(meta) = self.read_snapshot_meta(name, hash) else { continue };
            if let Ok(list) = self.load_snapshot_meta(name, meta) {
                status.current = Some(list.snapshot.clone());
                status.history.retain(|h| h != &current.content_hash);
                status.last_error = Some(StatusError {
                    code: first_error.code().to_string(),
                    message: first_error.to_string(),
                    at: Utc::now(),
                });
                self.write_status(&status)?;
                tracing::warn!(list = name, snapshot = %list.snapshot.content_hash, "fell back to an older cached snapshot");
                return Ok(Some(list));
            }
        }
        Err(first_error)
    }

    /// One kept snapshot of a list, by content hash (e.g. the previous one, to diff against).
    pub fn load_snapshot(&self, name: &str, content_hash: &str) -> Result<CachedList, RefreshError> {
        let meta = self.read_snapshot_meta(name, content_hash)?;
        self.load_snapshot_meta(name, meta)
    }

    /// The kept snapshots of a list, newest first.
    pub fn snapshots(&self, name: &str) -> Result<Vec<SnapshotMeta>, RefreshError> {
        let status = self.status(name)?;
        Ok(status.history.iter().filter_map(|h| self.read_snapshot_meta(name, h).ok()).collect())
    }

    fn read_snapshot_meta(&self, name: &str, content_hash: &str) -> Result<SnapshotMeta, RefreshError> {
        let hex = content_hash.strip_prefix("sha256:").unwrap_or(content_hash);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RefreshError::new(
                name,
                ErrorKind::BadSource { reason: format!("`{content_hash}` is not a sha256 content hash") },
            ));
        }
        let path = self.snapshot_dir(name, hex).join(SNAPSHOT_META_FILE);
        let bytes = fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RefreshError::new(name, ErrorKind::NotCached)
            } else {
                RefreshError::cache_io(name, &path, e)
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            RefreshError::new(name, ErrorKind::CacheCorrupt { path: path.display().to_string(), reason: e.to_string() })
        })
    }

    fn load_snapshot_meta(&self, name: &str, meta: SnapshotMeta) -> Result<CachedList, RefreshError> {
        let dir = self.snapshot_dir(name, &meta.content_hash);
        let corrupt = |reason: String| {
            RefreshError::new(name, ErrorKind::CacheCorrupt { path: dir.display().to_string(), reason })
        };
        let mut files = Vec::with_capacity(meta.files.len());
        for f in &meta.files {
            stored_name(&f.name).map_err(corrupt)?;
            let bytes = fs::read(dir.join(&f.name)).map_err(|e| corrupt(format!("{}: {e}", f.name)))?;
            files.push((f.name.as_str(), bytes));
        }
        let files = ListFiles::from_memory(&dir, files);
        let hash = files.content_hash();
        if hash != meta.content_hash {
            return Err(corrupt(format!("its files hash to {hash}, not {}", meta.content_hash)));
        }
        let list = lists::load_files(name, meta.format, &files).map_err(|e| corrupt(e.to_string()))?;
        Ok(CachedList { list, snapshot: meta })
    }

    /// A fresh, empty folder for one attempt's files; earlier attempts' leftovers (a crash
    /// mid-download) are removed.
    fn new_attempt_dir(&self, name: &str) -> Result<PathBuf, RefreshError> {
        let tmp = self.list_dir(name).join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| RefreshError::cache_io(name, &tmp, e))?;
        }
        let dir = tmp.join(format!("{}-{}", Utc::now().format("%Y%m%dT%H%M%S%.f"), std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| RefreshError::cache_io(name, &dir, e))?;
        Ok(dir)
    }

    /// Moves a refused attempt's files to `rejected/` (replacing the previous ones).
    fn keep_rejected(&self, name: &str, attempt: &Path) -> Option<PathBuf> {
        let rejected = self.list_dir(name).join("rejected");
        let _ = fs::remove_dir_all(&rejected);
        match fs::rename(attempt, &rejected) {
            Ok(()) => Some(rejected),
            Err(e) => {
                tracing::warn!(list = name, error = %e, "could not keep the refused download");
                let _ = fs::remove_dir_all(attempt);
                None
            }
        }
    }

    /// Moves an attempt's folder into `snapshots/<hex>/` (an existing folder of the same
    /// content is kept) and writes the snapshot's metadata there.
    fn install(&self, attempt: &Path, meta: &SnapshotMeta) -> Result<PathBuf, RefreshError> {
        let name = &meta.list;
        let snapshots = self.snapshots_dir(name);
        fs::create_dir_all(&snapshots).map_err(|e| RefreshError::cache_io(name, &snapshots, e))?;
        let dir = self.snapshot_dir(name, &meta.content_hash);
        if dir.is_dir() {
            let _ = fs::remove_dir_all(attempt);
        } else {
            fsync_files(attempt).map_err(|e| RefreshError::cache_io(name, attempt, e))?;
            fs::rename(attempt, &dir).map_err(|e| RefreshError::cache_io(name, &dir, e))?;
            sync_dir(&snapshots).map_err(|e| RefreshError::cache_io(name, &snapshots, e))?;
        }
        let path = dir.join(SNAPSHOT_META_FILE);
        let bytes = serde_json::to_vec_pretty(meta).map_err(|e| RefreshError::cache_io(name, &path, e))?;
        write_atomic(&path, &bytes).map_err(|e| RefreshError::cache_io(name, &path, e))?;
        Ok(dir)
    }

    /// Removes snapshot folders beyond the newest `keep` of the history (and any folder the
    /// history does not name, left by a crash between install and the state write).
    fn prune(&self, status: &mut SourceStatus, keep: usize) {
        status.history.truncate(keep.max(1));
        let kept: Vec<&str> = status.history.iter().map(|h| h.strip_prefix("sha256:").unwrap_or(h)).collect();
        let snapshots = self.snapshots_dir(&status.name);
        for entry in fs::read_dir(&snapshots).into_iter().flatten().flatten() {
            let folder = entry.file_name().to_string_lossy().into_owned();
            if !kept.contains(&folder.as_str())
                && let Err(e) = fs::remove_dir_all(entry.path())
            {
                tracing::warn!(list = %status.name, folder, error = %e, "could not prune an old snapshot");
            }
        }
    }
}

/// Writes `bytes` to `path` through a temporary file, fsynced, renamed, folder fsynced.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn fsync_files(dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::File::open(entry.path())?.sync_all()?;
        }
    }
    sync_dir(dir)
}

/// A file name that can be stored in a snapshot folder: what a local folder holds (spaces and
/// accents allowed), never a path, never hidden. Names of downloaded files are stricter
/// ([`check_snapshot_file_name`]).
fn stored_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.len() <= 255 && !name.starts_with('.') && !name.contains(['/', '\\', '\0']);
    if ok { Ok(()) } else { Err(format!("file name `{name}` cannot be stored in the list cache")) }
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

// ---------------------------------------------------------------------------------------------
// Refreshing

/// Refreshes lists into a [`ListCache`]. Cheap to share (`Arc`); refreshes of the same list are
/// serialized, different lists may refresh concurrently.
pub struct Refresher {
    cache: ListCache,
    http: reqwest::Client,
    options: RefreshOptions,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Refresher {
    pub fn new(cache_root: impl Into<PathBuf>, options: RefreshOptions) -> Result<Refresher, RefreshError> {
        let cache = ListCache::open(cache_root)?;
        let http = reqwest::Client::builder()
            .user_agent(options.user_agent.clone())
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .timeout(options.total_timeout)
            .build()
            .map_err(|e| RefreshError::new("*", ErrorKind::BadSource { reason: format!("HTTP client: {e}") }))?;
        Ok(Refresher { cache, http, options, locks: Mutex::new(HashMap::new()) })
    }

    pub fn cache(&self) -> &ListCache {
        &self.cache
    }

    pub fn options(&self) -> &RefreshOptions {
        &self.options
    }

    /// The list's status (see [`ListCache::status`]).
    pub fn status(&self, name: &str) -> Result<SourceStatus, RefreshError> {
        self.cache.status(name)
    }

    fn lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(name.to_string()).or_default().clone()
    }

    /// Refreshes one list: downloads (or re-reads) it, accepts it only when it parses
    /// completely, and records the attempt in the list's status. On error the previous snapshot
    /// stays current on disk and the caller keeps screening against it.
    pub async fn refresh(&self, source: &RefreshSource) -> Result<RefreshOutcome, RefreshError> {
        self.refresh_with(source, &self.options).await
    }

    /// [`Refresher::refresh`] with other limits for this call (an operator accepting a list
    /// that shrank: `min_entity_percent: None`).
    pub async fn refresh_with(
        &self,
        source: &RefreshSource,
        options: &RefreshOptions,
    ) -> Result<RefreshOutcome, RefreshError> {
        source.check()?;
        let lock = self.lock(&source.name);
        let _serialized = lock.lock().await;
        let started = Utc::now();
        let clock = Instant::now();
        let status = {
            let cache = self.cache.clone();
            let name = source.name.clone();
            blocking(&source.name, move || cache.status(&name)).await
        };
        let mut status = match status {
            Ok(s) => s,
            Err(e) if matches!(*e.kind, ErrorKind::CacheCorrupt { .. }) => {
                tracing::error!(list = %source.name, error = %e, "unreadable refresh state; starting a fresh one");
                SourceStatus::new(&source.name)
            }
            Err(e) => return Err(e),
        };
        let result = self.attempt(source, options, started, status.current.clone()).await;
        status.origin = source.describe();
        status.last_attempt_at = Some(started);
        status.last_duration_ms = Some(clock.elapsed().as_millis() as u64);
        let cache = self.cache.clone();
        let keep = options.keep_snapshots;
        match result {
            Ok(outcome) => {
                let snapshot = outcome.snapshot().clone();
                status.last_outcome =
                    Some(if outcome.is_updated() { AttemptOutcome::Updated } else { AttemptOutcome::Unchanged });
                status.last_success_at = Some(Utc::now());
                status.consecutive_failures = 0;
                status.history.retain(|h| *h != snapshot.content_hash);
                status.history.insert(0, snapshot.content_hash.clone());
                status.current = Some(snapshot);
                blocking(&source.name, move || {
                    cache.write_status(&status)?;
                    cache.prune(&mut status, keep);
                    cache.write_status(&status)
                })
                .await?;
                match &outcome {
                    RefreshOutcome::Updated { snapshot, .. } => tracing::info!(
                        list = %source.name, hash = %snapshot.content_hash, entities = snapshot.entity_count,
                        "new list snapshot accepted"
                    ),
                    RefreshOutcome::Unchanged { .. } => tracing::debug!(list = %source.name, "list unchanged"),
                }
                Ok(outcome)
            }
            Err(e) => {
                status.last_outcome = Some(AttemptOutcome::Failed);
                status.consecutive_failures += 1;
                status.last_error =
                    Some(StatusError { code: e.code().to_string(), message: e.to_string(), at: started });
                tracing::warn!(
                    list = %source.name, code = e.code(), error = %e, failures = status.consecutive_failures,
                    "list refresh failed; the previous snapshot stays current"
                );
                let name = source.name.clone();
                if let Err(w) = blocking(&name, move || cache.write_status(&status)).await {
                    tracing::error!(list = %source.name, error = %w, "could not record the failed refresh");
                }
                Err(e)
            }
        }
    }

    /// Refreshes every source in turn, each with its own result.
    pub async fn refresh_all(&self, sources: &[RefreshSource]) -> Vec<(String, Result<RefreshOutcome, RefreshError>)> {
        let mut out = Vec::with_capacity(sources.len());
        for s in sources {
            out.push((s.name.clone(), self.refresh(s).await));
        }
        out
    }

    async fn attempt(
        &self,
        source: &RefreshSource,
        options: &RefreshOptions,
        started: DateTime<Utc>,
        current: Option<SnapshotMeta>,
    ) -> Result<RefreshOutcome, RefreshError> {
        let name = source.name.clone();
        let attempt_dir = {
            let cache = self.cache.clone();
            let name = name.clone();
            blocking(&source.name, move || cache.new_attempt_dir(&name)).await?
        };
        let accept = Accept {
            cache: self.cache.clone(),
            name: name.clone(),
            forced: source.format,
            attempt_dir: attempt_dir.clone(),
            current,
            started,
            min_entity_percent: options.min_entity_percent,
        };
        match &source.origin {
            Origin::Local(path) => {
                let path = path.clone();
                blocking(&name, move || accept.local(&path)).await
            }
            _ => {
                let mut files = Vec::new();
                for f in source.remote_files() {
                    match self.download(&name, &f, &attempt_dir.join(&f.name), options.max_file_bytes).await {
                        Ok(file) => files.push(file),
                        Err(e) => {
                            let _ = tokio::fs::remove_dir_all(&attempt_dir).await;
                            return Err(e);
                        }
                    }
                }
                blocking(&name, move || accept.downloaded(files)).await
            }
        }
    }

    /// Streams one file to `dest`, hashing it; refuses HTTP errors, oversize bodies and bodies
    /// that end before their `Content-Length`.
    async fn download(
        &self,
        list: &str,
        file: &RemoteFile,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<SnapshotFile, RefreshError> {
        let url = &file.url;
        let fail = |kind: ErrorKind| RefreshError::new(list, kind);
        let mut response = self.http.get(url).send().await.map_err(|e| fail(network_error(url, &e, 0, None)))?;
        let status = response.status();
        if !status.is_success() {
            let mut body = String::new();
            if let Ok(Some(chunk)) = response.chunk().await {
                let text: String = String::from_utf8_lossy(&chunk[..chunk.len().min(200)])
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if !text.is_empty() {
                    body = format!(" ({text})");
                }
            }
            return Err(fail(ErrorKind::HttpStatus { url: url.clone(), status: status.as_u16(), body }));
        }
        let expected = response.content_length();
        if expected.is_some_and(|n| n > max_bytes) {
            return Err(fail(ErrorKind::TooLarge { url: url.clone(), limit: max_bytes, announced: expected }));
        }
        let mut out = tokio::fs::File::create(dest).await.map_err(|e| RefreshError::cache_io(list, dest, e))?;
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    received += chunk.len() as u64;
                    if received > max_bytes {
                        return Err(fail(ErrorKind::TooLarge {
                            url: url.clone(),
                            limit: max_bytes,
                            announced: expected,
                        }));
                    }
                    hasher.update(&chunk);
                    out.write_all(&chunk).await.map_err(|e| RefreshError::cache_io(list, dest, e))?;
                }
                Ok(None) => break,
                Err(e) => return Err(fail(network_error(url, &e, received, expected))),
            }
        }
        if let Some(expected) = expected.filter(|&n| n != received) {
            return Err(fail(ErrorKind::Truncated { url: url.clone(), received, expected }));
        }
        out.flush().await.map_err(|e| RefreshError::cache_io(list, dest, e))?;
        drop(out);
        Ok(SnapshotFile {
            name: file.name.clone(),
            source: url.clone(),
            bytes: received,
            sha256: format!("sha256:{}", hex::encode(hasher.finalize())),
        })
    }
}

/// Runs disk and parse work off the async threads.
async fn blocking<T: Send + 'static>(
    list: &str,
    f: impl FnOnce() -> Result<T, RefreshError> + Send + 'static,
) -> Result<T, RefreshError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(RefreshError::new(
            list,
            ErrorKind::CacheIo { path: "-".into(), message: format!("refresh task failed: {e}") },
        ))
    })
}

/// A reqwest failure as an error kind: a timeout, a failed connection, or a body cut short.
fn network_error(url: &str, e: &reqwest::Error, received: u64, expected: Option<u64>) -> ErrorKind {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let url = url.to_string();
    if e.is_timeout() {
        ErrorKind::Timeout { url, received, message }
    } else if e.is_connect() || (e.is_request() && received == 0 && !e.is_body()) {
        ErrorKind::Connect { url, message }
    } else if let Some(expected) = expected.filter(|&n| received < n) {
        ErrorKind::Truncated { url, received, expected }
    } else {
        ErrorKind::Interrupted { url, received, message }
    }
}

/// The checks and moves that turn an attempt's files into the current snapshot.
struct Accept {
    cache: ListCache,
    name: String,
    forced: Option<ListFormat>,
    attempt_dir: PathBuf,
    current: Option<SnapshotMeta>,
    started: DateTime<Utc>,
    min_entity_percent: Option<u8>,
}

impl Accept {
    fn fail(&self, kind: ErrorKind) -> RefreshError {
        RefreshError::new(&self.name, kind)
    }

    /// The current snapshot, seen again.
    fn unchanged(&self, hash: &str, modified: Option<DateTime<Utc>>) -> Option<RefreshOutcome> {
        let current = self.current.as_ref().filter(|c| c.content_hash == hash)?;
        let mut snapshot = current.clone();
        snapshot.retrieved_at = self.started;
        if modified.is_some() {
            snapshot.file_modified_at = modified;
        }
        Some(RefreshOutcome::Unchanged { snapshot })
    }

    /// Downloaded files in the attempt folder.
    fn downloaded(self, files: Vec<SnapshotFile>) -> Result<RefreshOutcome, RefreshError> {
        let mut contents = Vec::with_capacity(files.len());
        for f in &files {
            let path = self.attempt_dir.join(&f.name);
            let bytes = fs::read(&path).map_err(|e| RefreshError::cache_io(&self.name, &path, e))?;
            contents.push((f.name.as_str(), bytes));
        }
        let list_files = ListFiles::from_memory(&self.attempt_dir, contents);
        let hash = list_files.content_hash();
        if let Some(same) = self.unchanged(&hash, None) {
            let _ = fs::remove_dir_all(&self.attempt_dir);
            return Ok(same);
        }
        let origin = files.iter().map(|f| f.source.as_str()).collect::<Vec<_>>().join(", ");
        let format = match self.forced {
            Some(f) => f,
            None => {
                let probe = match files.as_slice() {
                    [one] => self.attempt_dir.join(&one.name),
                    _ => self.attempt_dir.clone(),
                };
                match lists::detect_format(&probe) {
                    Ok(f) => f,
                    Err(e) => {
                        let kept = self.cache.keep_rejected(&self.name, &self.attempt_dir);
                        return Err(self.list_error(e, &files, &origin, kept));
                    }
                }
            }
        };
        let list = match self.parse(format, &list_files, &origin) {
            Ok(list) => list,
            Err(Refused::List(e)) => {
                let kept = self.cache.keep_rejected(&self.name, &self.attempt_dir);
                return Err(self.list_error(e, &files, &origin, kept));
            }
            Err(Refused::Check(mut kind)) => {
                let kept = self.cache.keep_rejected(&self.name, &self.attempt_dir);
                set_kept(&mut kind, kept);
                return Err(self.fail(kind));
            }
        };
        drop(list_files);
        self.accept(list, files, None)
    }

    /// A local file or folder, re-read.
    fn local(self, path: &Path) -> Result<RefreshOutcome, RefreshError> {
        let origin = path.display().to_string();
        let result = (|| {
            let format = match self.forced {
                Some(f) => f,
                None => lists::detect_format(path)?,
            };
            Ok::<_, ListError>((format, ListFiles::read(path, format)?))
        })();
        let (format, list_files) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = fs::remove_dir_all(&self.attempt_dir);
                return Err(self.list_error(e, &[], &origin, None));
            }
        };
        let modified = crate::watchlists::modified_at(path);
        let hash = list_files.content_hash();
        if let Some(same) = self.unchanged(&hash, modified) {
            let _ = fs::remove_dir_all(&self.attempt_dir);
            return Ok(same);
        }
        let files: Vec<SnapshotFile> = list_files
            .files
            .iter()
            .map(|f| SnapshotFile {
                name: f.name.clone(),
                source: f.path.display().to_string(),
                bytes: f.bytes.len() as u64,
                sha256: sha256_hex(&f.bytes),
            })
            .collect();
        let list = match self.parse(format, &list_files, &origin) {
            Ok(list) => list,
            Err(refused) => {
                let _ = fs::remove_dir_all(&self.attempt_dir);
                return Err(match refused {
                    Refused::List(e) => self.list_error(e, &files, &origin, None),
                    Refused::Check(kind) => self.fail(kind),
                });
            }
        };
        for f in &list_files.files {
            if let Err(reason) = stored_name(&f.name) {
                let _ = fs::remove_dir_all(&self.attempt_dir);
                return Err(self.fail(ErrorKind::LocalIo { path: f.path.display().to_string(), message: reason }));
            }
            let dest = self.attempt_dir.join(&f.name);
            fs::write(&dest, &f.bytes).map_err(|e| RefreshError::cache_io(&self.name, &dest, e))?;
        }
        drop(list_files);
        let modified = modified.or(Some(self.started));
        self.accept(list, files, modified)
    }

    /// Parses the whole snapshot and applies the acceptance checks.
    fn parse(&self, format: ListFormat, files: &ListFiles, origin: &str) -> Result<LoadedList, Refused> {
        let list = lists::load_files(&self.name, format, files).map_err(Refused::List)?;
        let new = list.entities.len();
        if new == 0 {
            return Err(Refused::Check(ErrorKind::Empty { origin: origin.to_string(), kept: None }));
        }
        if let (Some(min_percent), Some(current)) = (self.min_entity_percent, &self.current)
            && (new as u128) * 100 < (current.entity_count as u128) * (min_percent as u128)
        {
            return Err(Refused::Check(ErrorKind::Shrunk {
                origin: origin.to_string(),
                new,
                current: current.entity_count,
                min_percent,
                kept: None,
            }));
        }
        Ok(list)
    }

    /// Installs the attempt folder as a snapshot. The state file (the current pointer) is
    /// written by the caller.
    fn accept(
        self,
        mut list: LoadedList,
        files: Vec<SnapshotFile>,
        file_modified_at: Option<DateTime<Utc>>,
    ) -> Result<RefreshOutcome, RefreshError> {
        let snapshot = SnapshotMeta {
            list: self.name.clone(),
            content_hash: list.meta.content_hash.clone(),
            format: list.meta.format,
            list_date: list.meta.list_date.clone(),
            entity_count: list.meta.entity_count,
            accepted_at: self.started,
            retrieved_at: self.started,
            file_modified_at,
            files,
        };
        let dir = self.cache.install(&self.attempt_dir, &snapshot)?;
        list.meta.path = dir.display().to_string();
        Ok(RefreshOutcome::Updated { list, snapshot, previous: self.current })
    }

    /// An importer's error, naming the file and where it came from.
    fn list_error(&self, e: ListError, files: &[SnapshotFile], origin: &str, kept: Option<PathBuf>) -> RefreshError {
        let file_of = |path: &str| -> (String, String) {
            let p = Path::new(path);
            let hit = files.iter().find(|f| {
                p.file_name().is_some_and(|n| n.to_string_lossy() == f.name.as_str())
                    && (p.starts_with(&self.attempt_dir) || Path::new(&f.source) == p)
            });
            match hit {
                Some(f) => (f.name.clone(), f.source.clone()),
                None => ("the snapshot".to_string(), origin.to_string()),
            }
        };
        let kind = match e {
            ListError::InList { source, .. } => return self.list_error(*source, files, origin, kept),
            ListError::Malformed { path, location, message } => {
                let (file, origin) = file_of(&path);
                ErrorKind::Malformed { file, origin, location, message, kept }
            }
            ListError::UnknownFormat { reason, .. } => ErrorKind::FormatUnknown { origin: origin.to_string(), reason },
            ListError::Io { path, source } => ErrorKind::LocalIo { path, message: source.to_string() },
            ListError::BadSource { reason, .. } => ErrorKind::BadSource { reason },
        };
        self.fail(kind)
    }
}

/// Why a parsed snapshot was refused.
enum Refused {
    List(ListError),
    Check(ErrorKind),
}

fn set_kept(kind: &mut ErrorKind, dir: Option<PathBuf>) {
    match kind {
        ErrorKind::Empty { kept, .. } | ErrorKind::Shrunk { kept, .. } | ErrorKind::Malformed { kept, .. } => {
            *kept = dir
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDN_A: &str = "10,\"ALPHA, Anna\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 01 Jan 1970.\"\r\n\
                         20,\"BETA TRADING\",-0- ,\"IRAN\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n";
    const SDN_B: &str = "10,\"ALPHA, Anna\",\"individual\",\"SDGT] [IRAN\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 01 Jan 1970.\"\r\n\
                         30,\"GAMMA LTD\",-0- ,\"IRAN\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n";

    fn local_source(path: &Path) -> RefreshSource {
        RefreshSource { name: "sdn".into(), format: None, origin: Origin::Local(path.to_path_buf()) }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn file_names_from_urls() {
        assert_eq!(
            file_name_for_url("https://scsanctions.un.org/resources/xml/en/consolidated.xml"),
            "consolidated.xml"
        );
        assert_eq!(file_name_for_url("https://www.treasury.gov/ofac/downloads/sdn.csv"), "sdn.csv");
        assert_eq!(
            file_name_for_url("https://webgate.ec.europa.eu/fsd/fsf/public/files/x/content?token=abc"),
            "content"
        );
        assert_eq!(file_name_for_url("https://h/"), "list");
        assert_eq!(file_name_for_url("https://h/..%2F..%2Fetc"), "_2F.._2Fetc");
        assert_eq!(file_name_for_url("https://h/a%20b.csv"), "a_20b.csv");
        assert!(check_snapshot_file_name(&file_name_for_url("https://h/.hidden")).is_ok());
    }

    #[test]
    fn sources_from_config() {
        let mut c =
            ListConfig { name: "un".into(), path: "/l/un.xml".into(), format: None, url: None, files: Vec::new() };
        assert_eq!(RefreshSource::from_config(&c).origin, Origin::Local("/l/un.xml".into()));
        c.url = Some("https://h/consolidated.xml".into());
        let s = RefreshSource::from_config(&c);
        assert!(s.is_remote());
        assert_eq!(s.remote_files()[0].name, "consolidated.xml");
        c.files = vec![crate::config::ListFileConfig { name: "sdn.csv".into(), url: "https://h/sdn.csv".into() }];
        assert!(matches!(RefreshSource::from_config(&c).origin, Origin::Files(ref f) if f.len() == 1));
        let bad = RefreshSource { name: "Bad Name".into(), format: None, origin: Origin::Url("https://h/x".into()) };
        assert_eq!(bad.check().unwrap_err().code(), "refresh_source_invalid");
        let bad = RefreshSource { name: "x".into(), format: None, origin: Origin::Url("ftp://h/x".into()) };
        assert_eq!(bad.check().unwrap_err().code(), "refresh_source_invalid");
    }

    /// A local source: first read accepted, same content unchanged, new content a new
    /// snapshot, a broken file refused with the previous snapshot kept, the status on disk.
    #[test]
    fn local_refresh_versions_and_refuses() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("sdn.csv");
        fs::write(&file, SDN_A).unwrap();
        let refresher = Refresher::new(tmp.path().join("cache"), RefreshOptions::default()).unwrap();
        let source = local_source(&file);
        let rt = runtime();

        let first = rt.block_on(refresher.refresh(&source)).unwrap();
        let RefreshOutcome::Updated { list, snapshot, previous } = &first else { panic!("not updated") };
        assert!(previous.is_none());
        assert_eq!(list.entities.len(), 2);
        assert_eq!(snapshot.entity_count, 2);
        assert_eq!(snapshot.format, ListFormat::OfacSdn);
        assert_eq!(snapshot.content_hash, sha256_hex(SDN_A.as_bytes()), "one file: its own sha256");
        assert_eq!(snapshot.retrieved().basis, AgeBasis::FileModified);
        let first_hash = snapshot.content_hash.clone();
        let dir = refresher.cache().snapshot_dir("sdn", &first_hash);
        assert!(dir.join("sdn.csv").is_file() && dir.join(SNAPSHOT_META_FILE).is_file());
        assert_eq!(list.meta.path, dir.display().to_string());

        let again = rt.block_on(refresher.refresh(&source)).unwrap();
        assert!(matches!(again, RefreshOutcome::Unchanged { .. }));
        assert_eq!(again.snapshot().content_hash, first_hash);

        fs::write(&file, SDN_B).unwrap();
        let second = rt.block_on(refresher.refresh(&source)).unwrap();
        let RefreshOutcome::Updated { previous, snapshot, .. } = &second else { panic!("not updated") };
        assert_eq!(previous.as_ref().map(|p| p.content_hash.as_str()), Some(first_hash.as_str()));
        let second_hash = snapshot.content_hash.clone();

        // Cut mid-record: refused, naming the file and line; the second snapshot stays.
        fs::write(&file, &SDN_B[..SDN_B.len() - 30]).unwrap();
        let err = rt.block_on(refresher.refresh(&source)).unwrap_err();
        assert_eq!(err.code(), "refresh_malformed");
        let msg = err.to_string();
        assert!(msg.contains("list `sdn`") && msg.contains("sdn.csv") && msg.contains("line 2"), "{msg}");
        // An empty file: its format cannot be told; forced, it parses to no entity. Refused.
        fs::write(&file, "").unwrap();
        assert_eq!(rt.block_on(refresher.refresh(&source)).unwrap_err().code(), "refresh_format_unknown");
        let forced = RefreshSource { format: Some(ListFormat::OfacSdn), ..source.clone() };
        assert_eq!(rt.block_on(refresher.refresh(&forced)).unwrap_err().code(), "refresh_empty");
        fs::remove_file(&file).unwrap();
        assert_eq!(rt.block_on(refresher.refresh(&source)).unwrap_err().code(), "refresh_local_io");

        let status = refresher.status("sdn").unwrap();
        assert_eq!(status.current.as_ref().map(|c| c.content_hash.as_str()), Some(second_hash.as_str()));
        assert_eq!(status.consecutive_failures, 4);
        assert_eq!(status.last_outcome, Some(AttemptOutcome::Failed));
        assert_eq!(status.last_error.as_ref().map(|e| e.code.as_str()), Some("refresh_local_io"));
        assert_eq!(status.history, vec![second_hash.clone(), first_hash.clone()]);

        // After a restart, without the source: the current snapshot loads from the cache.
        let cache = ListCache::open(tmp.path().join("cache")).unwrap();
        let cached = cache.load_current("sdn").unwrap().unwrap();
        assert_eq!(cached.snapshot.content_hash, second_hash);
        assert_eq!(cached.list.entities.len(), 2);
        assert!(cached.list.entities.iter().any(|e| e.native_id == "30"));
        let previous = cache.load_snapshot("sdn", &first_hash).unwrap();
        assert!(previous.list.entities.iter().any(|e| e.native_id == "20"));
        assert_eq!(cache.snapshots("sdn").unwrap().len(), 2);
        assert_eq!(cache.lists(), vec!["sdn".to_string()]);
        assert_eq!(cache.load_current("other").unwrap().map(|c| c.snapshot), None);
    }

    #[test]
    fn shrink_check_and_pruning() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("sdn.csv");
        let rows = |from: u32, n: u32| -> String {
            (from..from + n)
                .map(|i| format!("{i},\"NAME {i}\",-0- ,\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n"))
                .collect()
        };
        let options = RefreshOptions { keep_snapshots: 2, ..RefreshOptions::default() };
        let refresher = Refresher::new(tmp.path().join("cache"), options).unwrap();
        let source = local_source(&file);
        let rt = runtime();
        let mut hashes = Vec::new();
        for v in 0..3 {
            fs::write(&file, rows(v * 100, 10)).unwrap();
            hashes.push(rt.block_on(refresher.refresh(&source)).unwrap().snapshot().content_hash.clone());
        }
        let status = refresher.status("sdn").unwrap();
        assert_eq!(status.history, vec![hashes[2].clone(), hashes[1].clone()]);
        assert!(!refresher.cache().snapshot_dir("sdn", &hashes[0]).exists(), "pruned");
        assert!(refresher.cache().snapshot_dir("sdn", &hashes[1]).exists());

        // 4 of 10 entities left: refused unless the check is turned off for this call.
        fs::write(&file, rows(0, 4)).unwrap();
        let err = rt.block_on(refresher.refresh(&source)).unwrap_err();
        assert_eq!(err.code(), "refresh_shrunk");
        assert!(err.to_string().contains("4 entities") && err.to_string().contains("10"), "{err}");
        let lenient = RefreshOptions { min_entity_percent: None, ..refresher.options().clone() };
        let ok = rt.block_on(refresher.refresh_with(&source, &lenient)).unwrap();
        assert_eq!(ok.snapshot().entity_count, 4);
        assert_eq!(refresher.status("sdn").unwrap().consecutive_failures, 0);

        // Back to an already kept content: a new current pointer, no new folder.
        fs::write(&file, rows(200, 10)).unwrap();
        let back = rt.block_on(refresher.refresh(&source)).unwrap();
        assert!(back.is_updated());
        assert_eq!(back.snapshot().content_hash, hashes[2]);
    }

    #[test]
    fn damaged_current_snapshot_falls_back_to_an_older_one() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("sdn.csv");
        let refresher = Refresher::new(tmp.path().join("cache"), RefreshOptions::default()).unwrap();
        let source = local_source(&file);
        let rt = runtime();
        fs::write(&file, SDN_A).unwrap();
        let first = rt.block_on(refresher.refresh(&source)).unwrap().snapshot().content_hash.clone();
        fs::write(&file, SDN_B).unwrap();
        let second = rt.block_on(refresher.refresh(&source)).unwrap().snapshot().content_hash.clone();
        let damaged = refresher.cache().snapshot_dir("sdn", &second).join("sdn.csv");
        fs::write(&damaged, "garbage").unwrap();
        let cache = ListCache::open(tmp.path().join("cache")).unwrap();
        let loaded = cache.load_current("sdn").unwrap().unwrap();
        assert_eq!(loaded.snapshot.content_hash, first);
        let status = cache.status("sdn").unwrap();
        assert_eq!(status.current.map(|c| c.content_hash), Some(first.clone()));
        assert_eq!(status.last_error.map(|e| e.code), Some("refresh_cache_corrupt".to_string()));
        // Nothing loads: an error, not a silent empty list.
        fs::write(refresher.cache().snapshot_dir("sdn", &first).join("sdn.csv"), "x").unwrap();
        assert_eq!(cache.load_current("sdn").unwrap_err().code(), "refresh_cache_corrupt");
        // A damaged state file is reported, and the next refresh starts a fresh state.
        fs::write(cache.list_dir("sdn").join(STATE_FILE), "{").unwrap();
        assert_eq!(cache.status("sdn").unwrap_err().code(), "refresh_cache_corrupt");
        assert!(rt.block_on(refresher.refresh(&source)).unwrap().is_updated());
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("state.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn errors_have_stable_codes_and_map_to_api_errors() {
        let e = RefreshError::new(
            "un",
            ErrorKind::HttpStatus { url: "https://h/x".into(), status: 500, body: " (oops)".into() },
        );
        assert_eq!(e.code(), "refresh_http_status");
        assert!(e.to_string().starts_with("list `un`: https://h/x answered HTTP 500 (oops)"), "{e}");
        assert!(e.is_source_failure());
        let api: crate::error::Error = e.into();
        assert_eq!((api.code, api.status()), ("refresh_http_status", 503));
        let api: crate::error::Error = RefreshError::new("un", ErrorKind::NotCached).into();
        assert_eq!(api.status(), 404);
    }
}
