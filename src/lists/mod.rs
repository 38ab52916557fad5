//! Watchlist sources: one importer per published format, all producing [`Entity`] values.
//!
//! Lists are kept apart from search (as Watchman does): this module only turns files into
//! entities plus the facts an operator needs to trust them (count, content hash, the list's own
//! date). The screening index is built from [`LoadedList`]s elsewhere.
//!
//! A file that does not parse completely is refused with an error naming the file, the
//! line or record and what is wrong; nothing is ever half-loaded.

pub mod model;

pub use model::{
    Category, Document, DocumentKind, Entity, EntityKind, EntityName, Gender, NameKind, PartialDate, Wallet,
};

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The list formats the node can import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListFormat {
    /// OFAC SDN legacy CSV: a directory with `sdn.csv` [+ `alt.csv`, `add.csv`, `sdn_comments.csv`],
    /// or a lone `sdn.csv`.
    OfacSdn,
    /// OFAC consolidated (non-SDN) CSV: a directory with `cons_prim.csv` [+ `cons_alt.csv`, ...].
    OfacCons,
    /// UN Security Council consolidated list XML.
    UnXml,
    /// US trade.gov Consolidated Screening List CSV.
    UsCsl,
    /// US BIS Denied Persons List, tab-separated.
    BisDpl,
    /// UK HM Treasury / OFSI consolidated list CSV (legacy, Latin-1).
    UkHmt,
    /// EU Financial Sanctions Files legacy CSV (`;`-separated, Latin-1).
    EuFsf,
    /// OpenSanctions' transcription of EU Official Journal annexes: a directory of CSVs or one CSV.
    EuJournal,
    /// OpenSanctions FollowTheMoney entities, JSON lines.
    Ftm,
    /// Senzing JSON lines (OpenSanctions exports, e.g. PEP datasets).
    Senzing,
    /// OFAC sanctioned crypto addresses: a directory of per-asset `.txt`/`.json` lists, or one
    /// address-map JSON file.
    OfacCrypto,
    /// The plain CSV an officer uses for their own list (see `custom.rs` for the columns).
    Custom,
}

impl ListFormat {
    pub const ALL: [ListFormat; 12] = [
        ListFormat::OfacSdn,
        ListFormat::OfacCons,
        ListFormat::UnXml,
        ListFormat::UsCsl,
        ListFormat::BisDpl,
        ListFormat::UkHmt,
        ListFormat::EuFsf,
        ListFormat::EuJournal,
        ListFormat::Ftm,
        ListFormat::Senzing,
        ListFormat::OfacCrypto,
        ListFormat::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ListFormat::OfacSdn => "ofac-sdn",
            ListFormat::OfacCons => "ofac-cons",
            ListFormat::UnXml => "un-xml",
            ListFormat::UsCsl => "us-csl",
            ListFormat::BisDpl => "bis-dpl",
            ListFormat::UkHmt => "uk-hmt",
            ListFormat::EuFsf => "eu-fsf",
            ListFormat::EuJournal => "eu-journal",
            ListFormat::Ftm => "ftm",
            ListFormat::Senzing => "senzing",
            ListFormat::OfacCrypto => "ofac-crypto",
            ListFormat::Custom => "custom",
        }
    }
}

impl fmt::Display for ListFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ListFormat {
    type Err = ListError;
    fn from_str(s: &str) -> Result<Self, ListError> {
        ListFormat::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| ListError::BadSource {
            spec: s.to_string(),
            reason: format!(
                "unknown list format `{s}`; known formats: {}",
                ListFormat::ALL.map(|f| f.as_str()).join(", ")
            ),
        })
    }
}

/// Where a list comes from: `NAME=PATH` or `NAME=FORMAT:PATH` on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSource {
    /// Becomes the source part of entity ids; `[a-z0-9_-]+`.
    pub name: String,
    pub path: PathBuf,
    /// Forced format; detected from the content when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ListFormat>,
}

impl FromStr for ListSource {
    type Err = ListError;
    fn from_str(spec: &str) -> Result<Self, ListError> {
        let bad = |reason: &str| ListError::BadSource { spec: spec.to_string(), reason: reason.to_string() };
        let (name, rest) = spec.split_once('=').ok_or_else(|| bad("expected NAME=PATH or NAME=FORMAT:PATH"))?;
        validate_list_name(name).map_err(|r| bad(&r))?;
        if rest.is_empty() {
            return Err(bad("the path is empty"));
        }
        // `FORMAT:PATH` only when the prefix is a known format, so Windows-like or odd paths
        // containing ':' still work as plain paths.
        let (format, path) = match rest.split_once(':') {
            Some((f, p)) if ListFormat::from_str(f).is_ok() => (Some(ListFormat::from_str(f)?), p),
            _ => (None, rest),
        };
        Ok(ListSource { name: name.to_string(), path: PathBuf::from(path), format })
    }
}

/// List names end up in entity ids, URLs and logs: keep them to a safe alphabet.
pub fn validate_list_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("the list name must be 1-64 characters".into());
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        return Err(format!("the list name `{name}` may only hold a-z, 0-9, '_' and '-'"));
    }
    Ok(())
}

/// What an operator needs to know about a loaded list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListMeta {
    pub name: String,
    pub format: ListFormat,
    pub path: String,
    pub entity_count: usize,
    /// `sha256:<hex>` over the list's files (names and bytes, in a fixed order).
    pub content_hash: String,
    /// The list's own publication date when the file states one (ISO 8601), else `None`:
    /// never guessed from file times.
    pub list_date: Option<String>,
    /// When this node loaded the list (RFC 3339, UTC).
    pub loaded_at: String,
}

/// A completely parsed list.
#[derive(Debug, Clone)]
pub struct LoadedList {
    pub meta: ListMeta,
    pub entities: Vec<Entity>,
}

/// Why a list could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("invalid list source `{spec}`: {reason}")]
    BadSource { spec: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot tell the list format ({reason}); force one with NAME=FORMAT:PATH")]
    UnknownFormat { path: String, reason: String },
    #[error("{path}:{location}: {message}")]
    Malformed { path: String, location: String, message: String },
}

impl ListError {
    /// Stable error code, as the API and CLI report it.
    pub fn code(&self) -> &'static str {
        match self {
            ListError::BadSource { .. } => "list_source_invalid",
            ListError::Io { .. } => "list_io",
            ListError::UnknownFormat { .. } => "list_format_unknown",
            ListError::Malformed { .. } => "list_malformed",
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ListError::Io { path: path.display().to_string(), source }
    }

    pub fn malformed(path: &Path, location: impl Into<String>, message: impl Into<String>) -> Self {
        ListError::Malformed { path: path.display().to_string(), location: location.into(), message: message.into() }
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    #[test]
    fn parses_list_sources() {
        let s: ListSource = "us_ofac_sdn=../x/sdn".parse().unwrap();
        assert_eq!(s.name, "us_ofac_sdn");
        assert_eq!(s.format, None);
        let s: ListSource = "un=un-xml:/tmp/un.xml".parse().unwrap();
        assert_eq!(s.format, Some(ListFormat::UnXml));
        assert_eq!(s.path, PathBuf::from("/tmp/un.xml"));
        let s: ListSource = "odd=c:/weird".parse().unwrap();
        assert_eq!(s.format, None);
        assert_eq!(s.path, PathBuf::from("c:/weird"));
        for bad in ["nopath", "=x", "UPPER=x", "a=", "a b=x"] {
            assert!(bad.parse::<ListSource>().is_err(), "{bad}");
        }
    }
}
