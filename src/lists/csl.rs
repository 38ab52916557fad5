//! US trade.gov Consolidated Screening List (CSV, UTF-8): 13 export-screening lists of three US
//! agencies in one file.
//!
//! Decision: **one entity per row**. The same party can appear once per source list (an SDN row
//! and a PLC row for the same person); rows are kept apart because each carries its own source,
//! category and programs. So that ids stay unique, the native id is `<list code>:<_id>`, the code
//! being the parenthesised abbreviation of `source` (`SDN:9659`, `PLC:9659`, `EL:dcc74...`).
//!
//! Mapping: `type` Individual/Entity/Vessel/Aircraft (empty on BIS lists: guessed from the name,
//! see [`super::dpl::guess_kind`]); `name` primary, `alt_names` (`;`-separated) aliases;
//! `programs`; `title` -> positions; `addresses` (`;`-separated, ending in an ISO code) ->
//! addresses and countries; `citizenships`/`nationalities` (ISO codes) -> nationalities;
//! `dates_of_birth`; `places_of_birth`; `ids` (`Type, Number, CC; ...`) -> documents, wallets,
//! IMO numbers and gender, using the OFAC labels of [`super::ofac_remarks::DOCUMENT_LABELS`];
//! `start_date` -> listed on. Category: BIS and State lists of parties denied exports (EL, DPL,
//! UVL, MEU, DTC) -> debarment; the Treasury and State sanctions lists -> sanction.
//!
//! The file repeats its header line (trade.gov exports it twice); a row equal to the header is
//! skipped. The list date is the latest `start_date` (the file states no publication date;
//! dates after today are typos and ignored).

use std::borrow::Cow;

use super::countries::CountryResolver;
use super::csv_reader::{CsvReader, column};
use super::dates::{extract_dates, parse_iso_prefix, today};
use super::dpl::guess_kind;
use super::files::{self, ListFiles};
use super::model::{Category, Entity, EntityKind, Gender, NameKind, PartialDate};
use super::ofac_remarks::DOCUMENT_LABELS;
use super::{ListError, ParsedList};

/// Source lists whose entries are export denials rather than sanctions.
const DEBARMENT_CODES: &[&str] = &["EL", "DPL", "UVL", "MEU", "DTC"];

/// `Specially Designated Nationals (SDN) - Treasury Department` -> `SDN`;
/// `Non-SDN Menu-Based Sanctions List (NS-MBS List) - ...` -> `NS-MBS`.
pub fn source_code(source: &str) -> String {
    let inner = source.rfind('(').and_then(|open| {
        let close = source[open..].find(')')?;
        Some(&source[open + 1..open + close])
    });
    let code = inner.unwrap_or(source).trim();
    let code = code.strip_suffix(" List").unwrap_or(code);
    code.chars().map(|c| if c.is_alphanumeric() || c == '-' { c } else { '-' }).collect()
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let file = files.only()?;
    let text = files::utf8_text(file)?;
    let bad = |line: usize, m: String| ListError::malformed(&file.path, format!("line {line}"), m);
    let mut reader = CsvReader::new(text, b',');
    let mut header: Vec<Cow<'_, str>> = Vec::new();
    if reader.next_record(&mut header).map_err(|e| bad(e.line, e.message))?.is_none() {
        return Err(bad(1, "empty file: expected the CSL header".into()));
    }
    let col = |name: &str| column(&header, name).ok_or_else(|| bad(1, format!("header lacks the `{name}` column")));
    let c_id = col("_id")?;
    let c_source = col("source")?;
    let c_name = col("name")?;
    let opt = |name: &str| column(&header, name);
    let (c_type, c_programs, c_title, c_addresses, c_start) =
        (opt("type"), opt("programs"), opt("title"), opt("addresses"), opt("start_date"));
    let (c_alt, c_cit, c_dob, c_nat, c_pob, c_ids, c_flag) = (
        opt("alt_names"),
        opt("citizenships"),
        opt("dates_of_birth"),
        opt("nationalities"),
        opt("places_of_birth"),
        opt("ids"),
        opt("vessel_flag"),
    );

    let today = today();
    let mut countries = CountryResolver::new();
    let mut entities = Vec::new();
    let mut latest: Option<PartialDate> = None;
    let mut row = Vec::with_capacity(header.len());
    while let Some(line) = reader.next_record(&mut row).map_err(|e| bad(e.line, e.message))? {
        if row.len() != header.len() {
            return Err(bad(line, format!("expected {} fields, found {}", header.len(), row.len())));
        }
        if row == header {
            continue;
        }
        let get = |c: Option<usize>| c.and_then(|i| row.get(i)).map_or("", |v| v.trim());
        let id = row[c_id].trim();
        if id.is_empty() {
            return Err(bad(line, "row without an `_id`".into()));
        }
        let name = row[c_name].trim();
        if name.is_empty() {
            return Err(bad(line, format!("entity without a name (_id {id})")));
        }
        let code = source_code(row[c_source].trim());
        let kind = match get(c_type).to_ascii_lowercase().as_str() {
            "individual" => EntityKind::Person,
            "entity" => EntityKind::Organization,
            "vessel" => EntityKind::Vessel,
            "aircraft" => EntityKind::Aircraft,
            _ => guess_kind(name),
        };
        let mut e = Entity::new(list, &format!("{code}:{id}"), kind);
        e.add_name(name, NameKind::Primary);
        for alias in get(c_alt).split(';') {
            e.add_name(alias, NameKind::Alias);
        }
        e.add_category(if DEBARMENT_CODES.contains(&code.as_str()) { Category::Debarment } else { Category::Sanction });
        for p in get(c_programs).split(';') {
            e.add_program(p);
        }
        e.add_position(get(c_title));
        for address in get(c_addresses).split(';') {
            let address = address.trim();
            e.add_address(address);
            // Addresses end with an ISO alpha-2 code: `..., Medellin, CO`.
            if let Some((_, last)) = address.rsplit_once(", ")
                && last.len() == 2
                && last.bytes().all(|b| b.is_ascii_uppercase())
                && let Some(c) = countries.one(last)
            {
                e.add_country(c);
            }
        }
        for c in get(c_cit).split(';').chain(get(c_nat).split(';')) {
            if let Some(code) = countries.one(c) {
                e.add_nationality(code);
            }
        }
        for d in extract_dates(get(c_dob)) {
            e.add_birth_date(d);
        }
        for place in get(c_pob).split(';') {
            e.add_birth_place(place);
        }
        for c in countries.many(get(c_flag)) {
            e.add_country(c);
        }
        apply_ids(&mut e, get(c_ids), &mut countries);
        if let Some(d) = parse_iso_prefix(get(c_start)) {
            e.set_listed_on(d);
            if d <= today && latest.is_none_or(|l| d > l) {
                latest = Some(d);
            }
        }
        entities.push(e);
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date: latest.map(|d| d.to_string()) })
}

/// `Passport, U00242309, TR; Gender, Male; Digital Currency Address - XBT, 1abc...; ...`
fn apply_ids(e: &mut Entity, ids: &str, countries: &mut CountryResolver) {
    for item in ids.split(';') {
        let mut parts = item.split(", ");
        let (Some(kind), Some(value)) = (parts.next().map(str::trim), parts.next().map(str::trim)) else {
            continue;
        };
        let country = parts.next().map(str::trim).filter(|c| c.len() == 2).and_then(|c| countries.one(c));
        if kind.eq_ignore_ascii_case("Gender") {
            match value.to_ascii_lowercase().as_str() {
                "male" => e.gender = Some(Gender::Male),
                "female" => e.gender = Some(Gender::Female),
                _ => {}
            }
        } else if let Some(chain) = kind.strip_prefix("Digital Currency Address - ") {
            e.add_wallet(chain, value);
        } else if let Some(n) = value.strip_prefix("IMO ") {
            e.add_imo(n);
        } else if let Some((_, doc_kind)) = DOCUMENT_LABELS.iter().find(|(l, _)| l.eq_ignore_ascii_case(kind))
            && value.bytes().any(|b| b.is_ascii_digit())
        {
            e.add_document(*doc_kind, value, country);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::model::DocumentKind;
    use crate::lists::testdata::shared_path;

    const HEADER: &str = "_id,source,entity_number,type,programs,name,title,addresses,federal_register_notice,start_date,end_date,standard_order,license_requirement,license_policy,call_sign,vessel_type,gross_tonnage,gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,alt_names,citizenships,dates_of_birth,nationalities,places_of_birth,source_information_url,ids";

    #[test]
    fn source_codes() {
        assert_eq!(source_code("Specially Designated Nationals (SDN) - Treasury Department"), "SDN");
        assert_eq!(source_code("Non-SDN Menu-Based Sanctions List (NS-MBS List) - Treasury Department"), "NS-MBS");
        assert_eq!(source_code("ITAR Debarred (DTC) - State Department"), "DTC");
    }

    #[test]
    fn reads_rows_and_skips_the_repeated_header() {
        let row = r#""9659","Specially Designated Nationals (SDN) - Treasury Department","9659","Individual","SDGT; NS-PLC","HAMMAD, Fathi","","Gaza, PS","","2006-01-01","","","","","","","","","","","","","HAMMAD, Fathi A.","PS","1961; 1963","","Gaza","","Passport, 123456, PS; Gender, Male; Digital Currency Address - XBT, 1Abc""#;
        let text = format!("{HEADER}\n{HEADER}\n{row}\n");
        let files = ListFiles::from_memory("/mem", vec![("csl.csv", text.into_bytes())]);
        let p = parse("csl", &files).unwrap();
        assert_eq!(p.entities.len(), 1);
        let e = &p.entities[0];
        assert_eq!(e.id, "csl:SDN:9659");
        assert_eq!(e.programs, ["SDGT", "NS-PLC"]);
        assert_eq!(e.birth_dates, [PartialDate::year(1961), PartialDate::year(1963)]);
        assert_eq!(e.nationalities, ["PS"]);
        assert_eq!(e.countries, ["PS"]);
        assert_eq!(e.documents[0].kind, DocumentKind::Passport);
        assert_eq!(e.wallets[0].chain, "XBT");
        assert_eq!(e.gender, Some(Gender::Male));
        assert_eq!(p.list_date.as_deref(), Some("2006-01-01"));
    }

    #[test]
    fn a_row_with_a_missing_quote_is_refused() {
        let text = format!("{HEADER}\n\"1\",\"SDN (SDN)\",\"1\",\"Entity\",\"\",\"ACME,\"\",\"\"\n");
        let files = ListFiles::from_memory("/mem", vec![("csl.csv", text.into_bytes())]);
        let err = parse("csl", &files).unwrap_err().to_string();
        assert!(err.contains("/mem/csl.csv:line 2"), "{err}");
    }

    /// The shared csl.csv ends in the middle of its last row (no closing quote, no newline): the
    /// whole file is refused, naming the line. Its 4,226 complete rows load when the cut row is
    /// removed.
    #[test]
    fn real_csl() {
        let Some(file) = shared_path("us_trade_csl/csl.csv") else {
            return;
        };
        let Ok(bytes) = std::fs::read(&file) else {
            return;
        };
        let files = ListFiles::from_memory(file.parent().unwrap_or(&file), vec![("csl.csv", bytes.clone())]);
        let err = parse("csl", &files).unwrap_err().to_string();
        assert!(err.contains("csl.csv:line 4233") && err.contains("unterminated quoted field"), "{err}");

        let Some(last_newline) = bytes.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let complete = bytes[..=last_newline].to_vec();
        let files = ListFiles::from_memory("/mem", vec![("csl.csv", complete)]);
        let p = parse("csl", &files).unwrap();
        assert_eq!(p.entities.len(), 4_226);
        assert_eq!(p.list_date.as_deref(), Some("2023-11-16"));
        let by = |code: &str| p.entities.iter().filter(|e| e.native_id.starts_with(&format!("{code}:"))).count();
        assert_eq!(by("SDN"), 1_737);
        assert_eq!(by("EL"), 919);
        assert_eq!(by("DPL"), 577);
        assert_eq!(by("SSI"), 288);
        let debarred = p.entities.iter().filter(|e| e.categories == [Category::Debarment]).count();
        assert_eq!(debarred, 919 + 577 + 186 + 71 + 142);
        let hammad = p.entities.iter().filter(|e| e.native_id.ends_with(":9659")).count();
        assert_eq!(hammad, 2, "one row per source list");
    }
}
