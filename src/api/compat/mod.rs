//! Vendor-compatible screening endpoints, so a team moving off a vendor points its existing
//! client at the node by changing only the base URL and the key:
//!
//! - [`smile_id`]: Smile ID's AML Check, `POST /v1/compat/smile-id/v1/aml` (mirrors
//!   `POST https://api.smileidentity.com/v1/aml`), signed the way Smile ID clients sign.
//! - [`didit`]: Didit's standalone AML screening, `POST /v1/compat/didit/v3/aml/` (mirrors
//!   `POST https://verification.didit.me/v3/aml/`), with `x-api-key`.
//!
//! Both run the node's own engine under the node's fixed rules and share the per-officer rate
//! limit of `/v1/screen`; `docs/compat.md` maps every field. Like `/v1/screen`, nothing about
//! the screened person is stored or logged.

mod didit;
mod smile_id;

use axum::Router;
use axum::routing::post;
use serde_json::{Map, Value};

use super::AppState;
use crate::lists::{Category, Entity, ListFormat, NameKind};
use crate::node::Node;
use crate::watchlists::Snapshot;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/compat/smile-id/v1/aml", post(smile_id::aml))
        .route("/v1/compat/smile-id/v1/aml/", post(smile_id::aml))
        .route("/v1/compat/didit/v3/aml/", post(didit::aml))
        .route("/v1/compat/didit/v3/aml", post(didit::aml))
}

/// What the node can say about the list a hit comes from.
struct SourceInfo {
    /// Human-readable name of the list (its publisher's name for official formats).
    name: String,
    /// The authority that published it, for official formats.
    authority: Option<&'static str>,
    /// The list's configured download URL, if any.
    link: Option<String>,
}

fn source_info(node: &Node, snapshot: &Snapshot, source: &str) -> SourceInfo {
    let format = snapshot.watchlists.lists().iter().find(|m| m.name == source).map(|m| m.format);
    let link = node.config.lists.iter().find(|l| l.name == source).and_then(|l| l.url.clone());
    let (name, authority) = match format {
        Some(ListFormat::OfacSdn) => {
            ("Office of Foreign Assets Control (OFAC) - Specially Designated Nationals List".to_owned(), Some("OFAC"))
        }
        Some(ListFormat::OfacCons) => {
            ("Office of Foreign Assets Control (OFAC) - Consolidated (non-SDN) List".to_owned(), Some("OFAC"))
        }
        Some(ListFormat::OfacCrypto) => {
            ("Office of Foreign Assets Control (OFAC) - sanctioned digital currency addresses".to_owned(), Some("OFAC"))
        }
        Some(ListFormat::UnXml) => {
            ("United Nations Security Council Consolidated List".to_owned(), Some("United Nations Security Council"))
        }
        Some(ListFormat::UsCsl) => ("US Consolidated Screening List (trade.gov)".to_owned(), None),
        Some(ListFormat::BisDpl) => {
            ("US Bureau of Industry and Security (BIS) - Denied Persons List".to_owned(), Some("BIS"))
        }
        Some(ListFormat::UkHmt) => ("UK HM Treasury (OFSI) Consolidated List".to_owned(), Some("HM Treasury (OFSI)")),
        Some(ListFormat::EuFsf) => {
            ("EU Financial Sanctions Files (consolidated list)".to_owned(), Some("European Union"))
        }
        Some(ListFormat::EuJournal) => ("EU Official Journal sanctions annexes".to_owned(), Some("European Union")),
        Some(ListFormat::Ftm | ListFormat::Senzing | ListFormat::Custom) | None => (source.to_owned(), None),
    };
    SourceInfo { name, authority, link }
}

/// The primary name and the other names (aliases, weak and former names), deduplicated.
fn names(entity: &Entity) -> (String, Vec<String>) {
    let primary = entity.primary_name().unwrap_or_default().to_owned();
    let mut aliases: Vec<String> = Vec::new();
    for n in &entity.names {
        if n.value != primary && !aliases.contains(&n.value) {
            aliases.push(n.value.clone());
        }
    }
    (primary, aliases)
}

fn names_of_kind(entity: &Entity, kinds: &[NameKind]) -> Vec<String> {
    entity.names.iter().filter(|n| kinds.contains(&n.kind)).map(|n| n.value.clone()).collect()
}

fn birth_dates(entity: &Entity) -> Vec<String> {
    entity.birth_dates.iter().map(|d| d.to_string()).collect()
}

fn listed_on(entity: &Entity) -> String {
    entity.listed_on.map(|d| d.to_string()).unwrap_or_default()
}

/// The strongest PEP level (1 = heads of state ... 4 = relatives and close associates), and
/// whether the entity is a PEP at all (`Some(None)`: a PEP of unknown level).
fn pep_level(entity: &Entity) -> Option<Option<u8>> {
    if !entity.categories.iter().any(|c| c.is_pep()) {
        return None;
    }
    Some(entity.categories.iter().filter_map(|c| c.pep_level()).min())
}

fn has(entity: &Entity, c: Category) -> bool {
    entity.categories.contains(&c)
}

/// An ISO 3166-1 alpha-2 code from an alpha-2 or alpha-3 code, upper case.
fn country_code(s: &str) -> Option<String> {
    let s = s.trim();
    match s.len() {
        2 if s.bytes().all(|b| b.is_ascii_alphabetic()) => Some(s.to_ascii_uppercase()),
        3 if s.bytes().all(|b| b.is_ascii_alphabetic()) => crate::lists::countries::iso2(s).map(str::to_owned),
        _ => None,
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b
}

/// A random UUID (version 4), as correlation ids: the node keeps nothing to look them up by.
fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A field of a request body that has the wrong type or value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldError {
    key: &'static str,
    problem: String,
}

fn field_err(key: &'static str, problem: impl Into<String>) -> FieldError {
    FieldError { key, problem: problem.into() }
}

/// A present, non-null field.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A string field; numbers are taken as their decimal text (ids often are numbers).
fn opt_text(obj: &Map<String, Value>, key: &'static str, max: usize) -> Result<Option<String>, FieldError> {
    let s = match present(obj, key) {
        None => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(field_err(key, "must be a string")),
    };
    if s.chars().count() > max {
        return Err(field_err(key, format!("must be at most {max} characters")));
    }
    Ok(Some(s))
}

/// A boolean field; the strings `true`/`false` (any case) are accepted too.
fn opt_bool(obj: &Map<String, Value>, key: &'static str) -> Result<Option<bool>, FieldError> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(field_err(key, "must be true or false")),
    }
}

/// An integer field 0-100 (integral floats such as `80.0` are accepted).
fn opt_percent(obj: &Map<String, Value>, key: &'static str) -> Result<Option<u8>, FieldError> {
    let Some(v) = present(obj, key) else { return Ok(None) };
    let n = v.as_f64().filter(|f| f.fract() == 0.0 && (0.0..=100.0).contains(f));
    match n {
        Some(f) => Ok(Some(f as u8)),
        None => Err(field_err(key, "must be an integer between 0 and 100")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_readers() {
        let v = json!({"a": "x", "n": 23, "b": "True", "p": 80.0, "q": 80.5, "z": null, "o": {}});
        let o = v.as_object().unwrap();
        assert_eq!(opt_text(o, "a", 10).unwrap().as_deref(), Some("x"));
        assert_eq!(opt_text(o, "n", 10).unwrap().as_deref(), Some("23"));
        assert_eq!(opt_text(o, "z", 10).unwrap(), None);
        assert!(opt_text(o, "o", 10).is_err());
        assert_eq!(opt_bool(o, "b").unwrap(), Some(true));
        assert!(opt_bool(o, "a").is_err());
        assert_eq!(opt_percent(o, "p").unwrap(), Some(80));
        assert!(opt_percent(o, "q").is_err());
        assert_eq!(country_code("esp").as_deref(), Some("ES"));
        assert_eq!(country_code("us").as_deref(), Some("US"));
        assert_eq!(country_code("Spain"), None);
        let u = uuid_v4();
        assert_eq!((u.len(), &u[14..15]), (36, "4"));
    }
}
