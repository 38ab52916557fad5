//! The plain CSV a compliance officer writes for their own list, and the embedded demo list.
//!
//! # Format
//!
//! UTF-8, comma-separated, RFC 4180 quoting, a header row is required. Columns, in any order:
//!
//! | column | required | content |
//! |---|---|---|
//! | `id` | yes | the entry's id in this list (unique; becomes the native id) |
//! | `name` | yes | the main name |
//! | `entity_type` | no | `person`, `organization`, `vessel`, `aircraft` (empty: `unknown`) |
//! | `aliases` | no | other names, `;`-separated |
//! | `birth_dates` | no | `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, `;`-separated |
//! | `countries` | no | ISO alpha-2 codes or country names, `;`-separated (unknown ones are skipped) |
//! | `documents` | no | `passport:AB123456`, `national_id:...`, `tax_id:...`, `registration:...`, `other:...`, `;`-separated |
//! | `wallets` | no | `<CHAIN>:<address>`, e.g. `ETH:0x...`, `;`-separated |
//! | `categories` | no | [`Category::as_str`] names (`sanction`, `pep-1`, ..., `soe`), `;`-separated; default `sanction` |
//! | `programs` | no | free program names, `;`-separated |
//!
//! Unknown columns, a bad date, document kind, wallet or category are refused with the line, so a
//! typo cannot silently drop data. The format is recognized by its header (`id,name,...`).
//!
//! # Demo list
//!
//! `demo_list.csv` (embedded) holds 20 **invented** people, companies, a vessel and an aircraft
//! ("Demo Sanctioned Person One", "Zorblax Quentin FICTIVUS", ...): none refers to a real person
//! or company, and its document numbers and wallet are made up. The node screens against it when
//! no real list is configured, so that it works out of the box without shipping third-party data.

use std::borrow::Cow;
use std::collections::HashSet;

use super::countries::CountryResolver;
use super::csv_reader::{CsvReader, column};
use super::files::{self, ListFiles};
use super::model::{Category, DocumentKind, Entity, EntityKind, NameKind, PartialDate};
use super::{ListError, ListFormat, ListMeta, LoadedList, ParsedList, load_files};

/// The columns the format knows.
pub const COLUMNS: [&str; 10] = [
    "id",
    "name",
    "entity_type",
    "aliases",
    "birth_dates",
    "countries",
    "documents",
    "wallets",
    "categories",
    "programs",
];

const DEMO_CSV: &str = include_str!("demo_list.csv");

/// Whether a file's first line is a custom-list header.
pub fn is_custom_header(first_line: &str) -> bool {
    let mut cells = first_line.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase());
    cells.next().as_deref() == Some("id") && cells.next().as_deref() == Some("name")
}

fn values(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|v| !v.is_empty())
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let file = files.only()?;
    let text = files::utf8_text(file)?;
    let bad = |line: usize, m: String| ListError::malformed(&file.path, format!("line {line}"), m);
    let mut reader = CsvReader::new(text, b',');
    let mut header: Vec<Cow<'_, str>> = Vec::new();
    if reader.next_record(&mut header).map_err(|e| bad(e.line, e.message))?.is_none() {
        return Err(bad(1, "empty file: expected the header `id,name,...`".into()));
    }
    for h in &header {
        if !COLUMNS.contains(&h.trim()) {
            return Err(bad(1, format!("unknown column `{}`; known columns: {}", h.trim(), COLUMNS.join(", "))));
        }
    }
    let col = |name: &str| column(&header, name);
    let c_id = col("id").ok_or_else(|| bad(1, "the `id` column is required".into()))?;
    let c_name = col("name").ok_or_else(|| bad(1, "the `name` column is required".into()))?;
    let [c_type, c_aliases, c_births, c_countries, c_docs, c_wallets, c_categories, c_programs] =
        ["entity_type", "aliases", "birth_dates", "countries", "documents", "wallets", "categories", "programs"]
            .map(col);

    let mut countries = CountryResolver::new();
    let mut seen = HashSet::new();
    let mut entities = Vec::new();
    let mut row = Vec::with_capacity(header.len());
    while let Some(line) = reader.next_record(&mut row).map_err(|e| bad(e.line, e.message))? {
        if row.len() != header.len() {
            return Err(bad(line, format!("expected {} fields, found {}", header.len(), row.len())));
        }
        let get = |c: Option<usize>| c.and_then(|i| row.get(i)).map_or("", |v| v.trim());
        let id = row[c_id].trim();
        if id.is_empty() {
            return Err(bad(line, "empty `id`".into()));
        }
        if !seen.insert(id.to_string()) {
            return Err(bad(line, format!("duplicate id `{id}`")));
        }
        let name = row[c_name].trim();
        if name.is_empty() {
            return Err(bad(line, format!("entity without a name (id {id})")));
        }
        let kind = match get(c_type).to_ascii_lowercase().as_str() {
            "person" => EntityKind::Person,
            "organization" | "organisation" | "company" => EntityKind::Organization,
            "vessel" => EntityKind::Vessel,
            "aircraft" => EntityKind::Aircraft,
            "" | "unknown" => EntityKind::Unknown,
            other => return Err(bad(line, format!("unknown entity_type `{other}`"))),
        };
        let mut e = Entity::new(list, id, kind);
        e.add_name(name, NameKind::Primary);
        for a in values(get(c_aliases)) {
            e.add_name(a, NameKind::Alias);
        }
        for d in values(get(c_births)) {
            let date = PartialDate::parse_iso(d)
                .ok_or_else(|| bad(line, format!("birth date `{d}`: expected YYYY, YYYY-MM or YYYY-MM-DD")))?;
            e.add_birth_date(date);
        }
        for c in values(get(c_countries)) {
            if let Some(code) = countries.one(c) {
                e.add_country(code);
            }
        }
        for d in values(get(c_docs)) {
            let (kind, number) =
                d.split_once(':').ok_or_else(|| bad(line, format!("document `{d}`: expected KIND:NUMBER")))?;
            let kind = match kind.trim().to_ascii_lowercase().as_str() {
                "passport" => DocumentKind::Passport,
                "national_id" => DocumentKind::NationalId,
                "tax_id" => DocumentKind::TaxId,
                "registration" => DocumentKind::Registration,
                "other" => DocumentKind::Other,
                other => return Err(bad(line, format!("unknown document kind `{other}`"))),
            };
            e.add_document(kind, number, None);
        }
        for w in values(get(c_wallets)) {
            let (chain, address) = w
                .split_once(':')
                .filter(|(c, a)| !c.trim().is_empty() && !a.trim().is_empty())
                .ok_or_else(|| bad(line, format!("wallet `{w}`: expected CHAIN:ADDRESS")))?;
            e.add_wallet(chain, address);
        }
        for c in values(get(c_categories)) {
            let category = Category::parse(&c.to_ascii_lowercase()).ok_or_else(|| {
                let known: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                bad(line, format!("unknown category `{c}`; known: {}", known.join(", ")))
            })?;
            e.add_category(category);
        }
        if e.categories.is_empty() {
            e.add_category(Category::Sanction);
        }
        for p in values(get(c_programs)) {
            e.add_program(p);
        }
        entities.push(e);
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date: None })
}

/// The embedded, entirely fictional demo list (list name `demo`), for a node with no real list.
pub fn demo_list() -> LoadedList {
    let files = ListFiles::from_memory("<embedded>", vec![("demo_list.csv", DEMO_CSV.as_bytes().to_vec())]);
    match load_files("demo", ListFormat::Custom, &files) {
        Ok(list) => list,
        Err(e) => {
            // Unreachable while the unit test below passes; never take the node down for it.
            tracing::error!(error = %e, "the embedded demo list does not parse");
            LoadedList {
                meta: ListMeta {
                    name: "demo".into(),
                    format: ListFormat::Custom,
                    path: "<embedded>".into(),
                    entity_count: 0,
                    content_hash: files.content_hash(),
                    list_date: None,
                    loaded_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                },
                entities: Vec::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_list_loads_and_is_fictional() {
        let demo = demo_list();
        assert_eq!(demo.meta.name, "demo");
        assert_eq!(demo.meta.entity_count, 20);
        assert!((15..=25).contains(&demo.entities.len()));
        assert!(demo.entities.iter().any(|e| e.categories.iter().any(|c| c.is_pep())));
        assert_eq!(demo.entities.iter().filter(|e| !e.wallets.is_empty()).count(), 1);
        assert!(demo.entities.iter().any(|e| e.documents.iter().any(|d| d.kind == DocumentKind::Passport)));
        let zorblax = demo.entities.iter().find(|e| e.id == "demo:DEMO-002").unwrap();
        assert_eq!(zorblax.primary_name(), Some("Zorblax Quentin FICTIVUS"));
        assert_eq!(zorblax.birth_dates, [PartialDate::new(1965, Some(7), None).unwrap()]);
        assert!(demo.meta.content_hash.starts_with("sha256:"));
    }

    #[test]
    fn header_detection() {
        assert!(is_custom_header("id,name,entity_type"));
        assert!(is_custom_header("\"id\",\"name\""));
        assert!(!is_custom_header("_id,source,name"));
    }

    fn parse_text(t: &str) -> Result<ParsedList, ListError> {
        parse("mine", &ListFiles::from_memory("/mem", vec![("mine.csv", t.as_bytes().to_vec())]))
    }

    #[test]
    fn minimal_columns_and_defaults() {
        let p = parse_text("id,name\n1,Some Body\n").unwrap();
        assert_eq!(p.entities[0].categories, [Category::Sanction]);
        assert_eq!(p.entities[0].kind, EntityKind::Unknown);
    }

    #[test]
    fn mistakes_are_refused_with_their_line() {
        for (text, needle) in [
            ("id,name,colour\n1,A,red\n", "line 1: unknown column `colour`"),
            ("id,name,birth_dates\n1,A,1970\n2,B,31/12/1970\n", "line 3: birth date"),
            ("id,name,categories\n1,A,pep-9\n", "line 2: unknown category"),
            ("id,name,wallets\n1,A,0xabc\n", "line 2: wallet"),
            ("id,name,documents\n1,A,visa:123\n", "line 2: unknown document kind"),
            ("id,name\n1,A\n1,B\n", "line 3: duplicate id"),
            ("id,name\n1,\n", "line 2: entity without a name"),
            ("id,name\n1,\"A\n", "line 2: unterminated"),
        ] {
            let err = parse_text(text).unwrap_err().to_string();
            assert!(err.contains("/mem/mine.csv:") && err.contains(needle), "{needle}: {err}");
        }
    }
}
