//! Watchlist sources: one importer per published format, all producing [`Entity`] values.
//!
//! Lists are kept apart from search (as Watchman does): this module only turns files into
//! entities plus the facts an operator needs to trust them (count, content hash, the list's own
//! date). The screening index is built from [`LoadedList`]s elsewhere.
//!
//! A file that does not parse completely is refused with an error naming the file, the
//! line or record and what is wrong; nothing is ever half-loaded.
//!
//! Entry points: [`load`] (one list, format forced or detected from the content by
//! [`detect_format`]), [`load_all`] (several lists in parallel), [`load_files`] (a list already in
//! memory) and [`demo_list`] (the embedded, fictional demo list). One module per format turns
//! that format's files into a [`ParsedList`].

pub mod countries;
pub mod crypto;
pub mod csl;
mod csv_reader;
pub mod custom;
pub mod dates;
pub mod dpl;
pub mod eu_fsf;
pub mod eu_journal;
pub mod files;
pub mod ftm;
pub mod model;
pub mod ofac;
pub mod ofac_remarks;
pub mod senzing;
#[doc(hidden)]
pub mod testdata;
pub mod uk_hmt;
pub mod un;

pub use custom::demo_list;
pub use files::{ListFile, ListFiles};

pub use model::{
    Category, Document, DocumentKind, Entity, EntityKind, EntityName, Gender, NameKind, PartialDate, Wallet,
};

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
    /// An error of one list among several ([`load_all`]).
    #[error("list `{list}`: {source}")]
    InList { list: String, source: Box<ListError> },
}

impl ListError {
    /// Stable error code, as the API and CLI report it.
    pub fn code(&self) -> &'static str {
        match self {
            ListError::BadSource { .. } => "list_source_invalid",
            ListError::Io { .. } => "list_io",
            ListError::UnknownFormat { .. } => "list_format_unknown",
            ListError::Malformed { .. } => "list_malformed",
            ListError::InList { source, .. } => source.code(),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ListError::Io { path: path.display().to_string(), source }
    }

    pub fn malformed(path: &Path, location: impl Into<String>, message: impl Into<String>) -> Self {
        ListError::Malformed { path: path.display().to_string(), location: location.into(), message: message.into() }
    }
}

/// What an importer produces: every entity of the list and the date the list states for itself.
#[derive(Debug, Clone, Default)]
pub struct ParsedList {
    pub entities: Vec<Entity>,
    /// ISO 8601, at the precision the list gives (a date or a timestamp).
    pub list_date: Option<String>,
}

/// Loads one list completely, or refuses it.
pub fn load(source: &ListSource) -> Result<LoadedList, ListError> {
    validate_list_name(&source.name).map_err(|reason| ListError::BadSource { spec: source.name.clone(), reason })?;
    let format = match source.format {
        Some(f) => f,
        None => detect_format(&source.path)?,
    };
    let files = ListFiles::read(&source.path, format)?;
    load_files(&source.name, format, &files)
}

/// Parses a list whose files are already read (see [`ListFiles::from_memory`]).
pub fn load_files(name: &str, format: ListFormat, files: &ListFiles) -> Result<LoadedList, ListError> {
    let parsed = match format {
        ListFormat::OfacSdn => ofac::parse(name, files, ofac::Flavor::Sdn),
        ListFormat::OfacCons => ofac::parse(name, files, ofac::Flavor::Consolidated),
        ListFormat::UnXml => un::parse(name, files),
        ListFormat::UsCsl => csl::parse(name, files),
        ListFormat::BisDpl => dpl::parse(name, files),
        ListFormat::UkHmt => uk_hmt::parse(name, files),
        ListFormat::EuFsf => eu_fsf::parse(name, files),
        ListFormat::EuJournal => eu_journal::parse(name, files),
        ListFormat::Ftm => ftm::parse(name, files),
        ListFormat::Senzing => senzing::parse(name, files),
        ListFormat::OfacCrypto => crypto::parse(name, files),
        ListFormat::Custom => custom::parse(name, files),
    }?;
    check_entities(files, &parsed.entities)?;
    Ok(LoadedList {
        meta: ListMeta {
            name: name.to_string(),
            format,
            path: files.root.display().to_string(),
            entity_count: parsed.entities.len(),
            content_hash: files.content_hash(),
            list_date: parsed.list_date,
            loaded_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
        entities: parsed.entities,
    })
}

/// Invariants every importer must keep, checked once more for all: every entity has a name and
/// ids are unique within the list.
fn check_entities(files: &ListFiles, entities: &[Entity]) -> Result<(), ListError> {
    let mut seen = HashSet::with_capacity(entities.len());
    for e in entities {
        if e.names.is_empty() {
            return Err(ListError::malformed(
                &files.root,
                format!("record {}", e.native_id),
                "entity without any name",
            ));
        }
        if !seen.insert(e.id.as_str()) {
            return Err(ListError::malformed(
                &files.root,
                format!("record {}", e.native_id),
                format!("duplicate entity id `{}`", e.id),
            ));
        }
    }
    Ok(())
}

/// Loads several lists in parallel on the available cores. Fails with the first error (in the
/// order given), naming the list; once one list failed, lists not yet started are not loaded.
pub fn load_all(sources: &[ListSource]) -> Result<Vec<LoadedList>, ListError> {
    let mut names = HashSet::new();
    for s in sources {
        if !names.insert(s.name.as_str()) {
            return Err(ListError::BadSource {
                spec: s.name.clone(),
                reason: "two lists have this name; entity ids would collide".into(),
            });
        }
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(sources.len()).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<LoadedList, ListError>>>> = sources.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(source) = sources.get(i) else { break };
                    let result =
                        load(source).map_err(|e| ListError::InList { list: source.name.clone(), source: Box::new(e) });
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    let mut lists = Vec::with_capacity(sources.len());
    let mut first_error = None;
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(list)) => lists.push(list),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(lists),
    }
}

/// How many bytes of a file are sniffed to tell its format.
const SNIFF_BYTES: u64 = 64 * 1024;

/// Tells a list's format from its content: the first bytes and lines of a file, or the file
/// names (and headers) inside a directory.
pub fn detect_format(path: &Path) -> Result<ListFormat, ListError> {
    let unknown = |reason: String| ListError::UnknownFormat { path: path.display().to_string(), reason };
    let meta = std::fs::metadata(path).map_err(|e| ListError::io(path, e))?;
    if !meta.is_dir() {
        let head = read_head(path)?;
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        return sniff(&name, &head).map_err(unknown);
    }
    let names = files::dir_file_names(path)?;
    let has = |wanted: &str| names.iter().any(|n| n.eq_ignore_ascii_case(wanted));
    if has("sdn.csv") {
        return Ok(ListFormat::OfacSdn);
    }
    if has("cons_prim.csv") {
        return Ok(ListFormat::OfacCons);
    }
    if !files::files_for_format(ListFormat::OfacCrypto, &names).is_empty() {
        return Ok(ListFormat::OfacCrypto);
    }
    let data: Vec<&String> = names.iter().filter(|n| !files::is_doc_file(n)).collect();
    let csvs: Vec<&&String> = data.iter().filter(|n| n.to_ascii_lowercase().ends_with(".csv")).collect();
    if !csvs.is_empty() && csvs.len() == data.len() {
        let mut all_journal = true;
        for n in &csvs {
            let head = read_head(&path.join(n))?;
            if !strip_bom(&head).starts_with(eu_journal::HEADER_PREFIX.as_bytes()) {
                all_journal = false;
                break;
            }
        }
        if all_journal {
            return Ok(ListFormat::EuJournal);
        }
    }
    if let [only] = data.as_slice() {
        let file = path.join(only);
        let head = read_head(&file)?;
        return sniff(&only.to_ascii_lowercase(), &head).map_err(unknown);
    }
    if has("alt.csv") || has("add.csv") {
        return Err(unknown("OFAC alt.csv/add.csv without sdn.csv: the SDN primary records are required".into()));
    }
    Err(unknown(format!("no known list layout among {} files in the directory", data.len())))
}

fn read_head(path: &Path) -> Result<Vec<u8>, ListError> {
    let file = std::fs::File::open(path).map_err(|e| ListError::io(path, e))?;
    let mut head = Vec::new();
    file.take(SNIFF_BYTES).read_to_end(&mut head).map_err(|e| ListError::io(path, e))?;
    Ok(head)
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

/// Recognizes one file's format from its (lower-cased) name and first bytes.
fn sniff(name: &str, head: &[u8]) -> Result<ListFormat, String> {
    let text = String::from_utf8_lossy(strip_bom(head));
    let body = text.trim_start();
    let first_line = body.lines().next().unwrap_or("").trim_end_matches('\r');
    if body.starts_with('<') {
        return if body.contains("<CONSOLIDATED_LIST") {
            Ok(ListFormat::UnXml)
        } else {
            Err("an XML file that is not the UN Security Council consolidated list".into())
        };
    }
    if body.starts_with('[') && name.starts_with("sanctioned_addresses_") {
        return Ok(ListFormat::OfacCrypto);
    }
    if body.starts_with('{') {
        if let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(first_line) {
            if obj.contains_key("schema") && obj.contains_key("properties") {
                return Ok(ListFormat::Ftm);
            }
            if obj.contains_key("RECORD_ID") || obj.contains_key("DATA_SOURCE") {
                return Ok(ListFormat::Senzing);
            }
        }
        if body.contains("\"addresses\"") && (body.contains("sdnListDate") || body.contains("Digital Currency Address"))
        {
            return Ok(ListFormat::OfacCrypto);
        }
        return Err("JSON that is neither FollowTheMoney, Senzing nor an OFAC crypto address map".into());
    }
    if first_line.starts_with(eu_journal::HEADER_PREFIX) {
        return Ok(ListFormat::EuJournal);
    }
    if first_line.starts_with("_id,source,entity_number,") {
        return Ok(ListFormat::UsCsl);
    }
    if first_line.replace('"', "").starts_with("Name\tStreet_Address") {
        return Ok(ListFormat::BisDpl);
    }
    if first_line.starts_with("Last Updated,") || first_line.starts_with("Name 6,") {
        return Ok(ListFormat::UkHmt);
    }
    if first_line.contains("Date_file") && first_line.contains("Entity_logical_id") {
        return Ok(ListFormat::EuFsf);
    }
    if custom::is_custom_header(first_line) {
        return Ok(ListFormat::Custom);
    }
    if name.starts_with("sanctioned_addresses_") && name.ends_with(".txt") {
        return Ok(ListFormat::OfacCrypto);
    }
    if let Some(count) = ofac::primary_record_fields(first_line) {
        if count == ofac::PRIMARY_FIELDS {
            return Ok(if name.starts_with("cons_") { ListFormat::OfacCons } else { ListFormat::OfacSdn });
        }
        return Err(format!(
            "an OFAC-style CSV with {count} fields per row (alt.csv/add.csv?); point to the directory holding sdn.csv"
        ));
    }
    Err("unrecognized content".into())
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

#[cfg(test)]
mod load_tests {
    use super::testdata::{shared_path, shared_watchlists_dir};
    use super::*;
    use proptest::prelude::*;

    /// Every shared list folder with the format it must be detected as.
    use super::testdata::SHARED;

    #[test]
    fn detects_every_shared_format_from_content() {
        let Some(root) = shared_watchlists_dir() else {
            return;
        };
        for (_, rel, format) in SHARED {
            assert_eq!(detect_format(&root.join(rel)).unwrap(), *format, "{rel}");
        }
        assert_eq!(detect_format(&root.join("ofac_sdn_legacy_2021/sdn.csv")).unwrap(), ListFormat::OfacSdn);
        assert_eq!(
            detect_format(&root.join("ofac_consolidated_non_sdn_2025-12/cons_prim.csv")).unwrap(),
            ListFormat::OfacCons
        );
        let alt = detect_format(&root.join("ofac_sdn_legacy_2021/alt.csv")).unwrap_err();
        assert!(alt.to_string().contains("5 fields"), "{alt}");
        let err = detect_format(&root.join("name_variants")).unwrap_err();
        assert_eq!(err.code(), "list_format_unknown");
    }

    #[test]
    fn sniffs_formats_from_first_bytes() {
        let cases: &[(&str, &str, ListFormat)] = &[
            ("a.xml", "<?xml version=\"1.0\"?>\n<CONSOLIDATED_LIST dateGenerated=\"x\">", ListFormat::UnXml),
            ("a.json", "{\"id\":\"x\",\"schema\":\"Person\",\"properties\":{}}\n", ListFormat::Ftm),
            ("a.json", "{\"DATA_SOURCE\":\"X\",\"RECORD_ID\":\"1\"}\n", ListFormat::Senzing),
            ("a.json", "{\n  \"metadata\": {\"sdnListDate\": \"x\"},\n  \"addresses\": {}", ListFormat::OfacCrypto),
            ("sanctioned_addresses_xbt.txt", "1abc\n", ListFormat::OfacCrypto),
            ("a.csv", "celex,recordId,programKey\n", ListFormat::EuJournal),
            ("a.csv", "_id,source,entity_number,type\n", ListFormat::UsCsl),
            ("a.txt", "\"Name\"\t\"Street_Address\"\t\"City\"\n", ListFormat::BisDpl),
            ("a.csv", "Last Updated,13/04/2018\nName 6,Name 1\n", ListFormat::UkHmt),
            ("a.csv", "\"Date_file;Entity_logical_id;Subject_type\"\n", ListFormat::EuFsf),
            ("a.csv", "\u{feff}id,name,aliases\n", ListFormat::Custom),
            ("sdn.csv", "36,\"A\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n", ListFormat::OfacSdn),
            ("cons_prim.csv", "36,\"A\",-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n", ListFormat::OfacCons),
        ];
        for (name, head, format) in cases {
            assert_eq!(sniff(name, head.as_bytes()), Ok(*format), "{name}: {head}");
        }
        assert!(sniff("a.bin", b"\x00\x01garbage").is_err());
        assert!(sniff("a.xml", b"<html></html>").is_err());
    }

    #[test]
    fn load_all_names_the_failing_list() {
        let Some(root) = shared_watchlists_dir() else {
            return;
        };
        let sources = vec![
            ListSource { name: "un".into(), path: root.join("un_sc_consolidated"), format: None },
            ListSource { name: "bad_csl".into(), path: root.join("us_trade_csl"), format: None },
        ];
        let err = load_all(&sources).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("list `bad_csl`:") && msg.contains("csl.csv:line 4233"), "{msg}");
        assert_eq!(err.code(), "list_malformed");

        let dup = vec![sources[0].clone(), sources[0].clone()];
        assert_eq!(load_all(&dup).unwrap_err().code(), "list_source_invalid");
        assert!(load_all(&[]).unwrap().is_empty());
    }

    #[test]
    fn meta_reports_count_hash_and_dates() {
        let Some(dir) = shared_path("ofac_consolidated_non_sdn_2025-12") else {
            return;
        };
        let a = load(&ListSource { name: "cons".into(), path: dir.clone(), format: None }).unwrap();
        let b = load(&ListSource { name: "cons".into(), path: dir, format: Some(ListFormat::OfacCons) }).unwrap();
        assert_eq!(a.meta.content_hash, b.meta.content_hash, "the hash is over content only");
        assert_eq!(a.meta.entity_count, a.entities.len());
        assert!(chrono::DateTime::parse_from_rfc3339(&a.meta.loaded_at).is_ok());
        // One file: the hash is the file's own SHA-256 (as in the shared SHA256SUMS).
        let Some(un) = shared_path("un_sc_consolidated/UN_consolidated.xml") else {
            return;
        };
        let list = load(&ListSource { name: "un".into(), path: un, format: None }).unwrap();
        assert!(list.meta.content_hash.starts_with("sha256:66b392a4090868d2"), "{}", list.meta.content_hash);
    }

    #[test]
    fn forced_format_on_wrong_file_fails_cleanly() {
        let Some(file) = shared_path("us_bis_dpl/dpl.txt") else {
            return;
        };
        let err = load(&ListSource { name: "x".into(), path: file, format: Some(ListFormat::UnXml) }).unwrap_err();
        assert_eq!(err.code(), "list_malformed");
    }

    use super::testdata::all_shared_sources;

    #[test]
    fn loads_every_shared_list_together() {
        let Ok(tmp) = tempfile::tempdir() else { return };
        let Some(sources) = all_shared_sources(tmp.path()) else {
            return;
        };
        let lists = load_all(&sources).unwrap();
        assert_eq!(lists.len(), SHARED.len());
        for (list, (name, _, format)) in lists.iter().zip(SHARED) {
            assert_eq!(list.meta.name, *name);
            assert_eq!(list.meta.format, *format);
            assert!(list.meta.entity_count > 0);
            assert!(list.entities.iter().all(|e| e.source == *name && !e.names.is_empty()));
        }
        let total: usize = lists.iter().map(|l| l.meta.entity_count).sum();
        assert_eq!(total, 8_976 + 14_965 + 442 + 1_003 + 544 + 2_106 + 93 + 8_017 + 14 + 6 + 1_317 + 654 + 94 + 4_226);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Arbitrary bytes never panic any importer: they load or are refused.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            for format in ListFormat::ALL {
                let names: &[&str] = match format {
                    ListFormat::OfacSdn => &["sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"],
                    ListFormat::OfacCons => &["cons_prim.csv"],
                    ListFormat::OfacCrypto => &["sanctioned_addresses_XBT.json", "sanctioned-addresses.json"],
                    _ => &["list"],
                };
                for name in names {
                    let files = ListFiles::from_memory("/fuzz", vec![(name, bytes.clone())]);
                    let _ = load_files("fuzz", format, &files);
                }
            }
        }

        /// CSV-like text (quotes, delimiters, newlines) never panics the CSV importers.
        #[test]
        fn csv_like_text_never_panics(
            parts in prop::collection::vec(prop::sample::select(vec!["\"", ",", ";", "\t", "\n", "\r\n", "-0- ", "1", "a", "é", "id", "name", "DOB 1970"]), 0..80)
        ) {
            let text: String = parts.concat();
            for format in [ListFormat::OfacSdn, ListFormat::UsCsl, ListFormat::BisDpl, ListFormat::UkHmt, ListFormat::EuFsf, ListFormat::EuJournal, ListFormat::Custom] {
                let files = ListFiles::from_memory("/fuzz", vec![("sdn.csv", text.clone().into_bytes())]);
                let _ = load_files("fuzz", format, &files);
            }
        }
    }
}
