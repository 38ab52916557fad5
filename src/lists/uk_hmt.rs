//! UK HM Treasury / OFSI consolidated list, legacy CSV (Windows-1252/Latin-1, decoded with
//! encoding_rs). First line `Last Updated,dd/mm/yyyy` (the list date), then a header `Name 6,
//! Name 1, ..., Group ID`; columns are found by name, so the later OFSI layout with extra columns
//! reads too.
//!
//! Each row is one name (× one birth date) of a designation; rows are grouped by `Group ID`
//! (the native id) into one entity. `Name 1`..`Name 5` then `Name 6` (the surname, or the whole
//! name of an entity) make the name; `Alias Type` `Prime Alias` -> primary (a second, different
//! prime name -> alias), `AKA` -> alias, `FKA` -> former name. `Group Type` Individual -> person,
//! Entity -> organization, Ship -> vessel. DOB (`dd/mm/yyyy`, `00` for unknown parts),
//! Town/Country of Birth, Nationality (`(1) Somali (2) Swedish` enumerations), Position,
//! Address 1-6 + Post/Zip Code + Country, Regime -> programs, Listed On. `Passport Details` and
//! `NI Number` are free text: the document numbers are the number-like tokens of each
//! enumerated item ([`document_numbers`]). Category: sanction.

use std::borrow::Cow;
use std::collections::HashMap;

use super::countries::CountryResolver;
use super::csv_reader::{CsvReader, column};
use super::dates::parse_dmy;
use super::files::{self, ListFiles};
use super::model::{Category, DocumentKind, Entity, EntityKind, NameKind};
use super::{ListError, ParsedList};

/// Splits free text into enumerated items: on `;` and on `(1)`, `(2)`, `(a)`, `(b)` markers.
pub(crate) fn split_enumeration(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut items = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b';' {
            items.push(&text[start..i]);
            i += 1;
            start = i;
            continue;
        }
        if b[i] == b'('
            && let Some(close) = text[i..].find(')')
        {
            let inner = &text[i + 1..i + close];
            let marker = (!inner.is_empty() && inner.len() <= 2 && inner.bytes().all(|x| x.is_ascii_digit()))
                || (inner.len() == 1 && inner.bytes().all(|x| x.is_ascii_lowercase()));
            if marker {
                items.push(&text[start..i]);
                i += close + 1;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    items.push(&text[start..]);
    items.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// The document number of each enumerated item of a free-text field: the first token of at
/// least 5 characters made of letters, digits, `-` and `/` with at least 4 digits, that is not a
/// date (`Passport No: 592667 (Qatari passport issued on 3 May 2007)` -> `592667`).
pub(crate) fn document_numbers(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for item in split_enumeration(text) {
        let found = item
            .split_whitespace()
            .map(|t| t.trim_matches(|c: char| matches!(c, ',' | '.' | ';' | ':' | '(' | ')' | '"' | '\'')))
            .find(|t| {
                t.len() >= 5
                    && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/')
                    && t.bytes().filter(u8::is_ascii_digit).count() >= 4
                    && parse_dmy(t).is_none()
            });
        if let Some(n) = found
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let file = files.only()?;
    let text = files::latin1_text(file);
    let bad = |line: usize, m: String| ListError::malformed(&file.path, format!("line {line}"), m);
    let mut reader = CsvReader::new(&text, b',');
    let mut header: Vec<Cow<'_, str>> = Vec::new();
    let mut list_date = None;
    let Some(first_line) = reader.next_record(&mut header).map_err(|e| bad(e.line, e.message))? else {
        return Err(bad(1, "empty file: expected `Last Updated,dd/mm/yyyy` and the header".into()));
    };
    if header.first().is_some_and(|f| f.trim() == "Last Updated") {
        list_date = header.get(1).and_then(|d| parse_dmy(d)).map(|d| d.to_string());
        if reader.next_record(&mut header).map_err(|e| bad(e.line, e.message))?.is_none() {
            return Err(bad(first_line + 1, "missing header line".into()));
        }
    }
    let col = |name: &str| column(&header, name).ok_or_else(|| bad(2, format!("header lacks the `{name}` column")));
    let c_group = col("Group ID")?;
    let name_cols = ["Name 1", "Name 2", "Name 3", "Name 4", "Name 5"].map(|n| column(&header, n));
    let c_surname = col("Name 6")?;
    let opt = |name: &str| column(&header, name);
    let address_cols =
        ["Address 1", "Address 2", "Address 3", "Address 4", "Address 5", "Address 6", "Post/Zip Code", "Country"]
            .map(opt);
    let (c_dob, c_town, c_cob, c_nat, c_pass, c_ni, c_pos, c_country) = (
        opt("DOB"),
        opt("Town of Birth"),
        opt("Country of Birth"),
        opt("Nationality"),
        opt("Passport Details"),
        opt("NI Number"),
        opt("Position"),
        opt("Country"),
    );
    let (c_type, c_alias, c_regime, c_listed) = (opt("Group Type"), opt("Alias Type"), opt("Regime"), opt("Listed On"));

    let mut countries = CountryResolver::new();
    let mut entities: Vec<Entity> = Vec::new();
    let mut by_group: HashMap<String, usize> = HashMap::new();
    let mut row = Vec::with_capacity(header.len());
    while let Some(line) = reader.next_record(&mut row).map_err(|e| bad(e.line, e.message))? {
        if row.len() != header.len() {
            return Err(bad(line, format!("expected {} fields, found {}", header.len(), row.len())));
        }
        let get = |c: Option<usize>| c.and_then(|i| row.get(i)).map_or("", |v| v.trim());
        let group = row[c_group].trim();
        if group.is_empty() {
            return Err(bad(line, "row without a Group ID".into()));
        }
        let mut parts: Vec<&str> = name_cols.iter().map(|&c| get(c)).filter(|p| !p.is_empty()).collect();
        let surname = row[c_surname].trim();
        if !surname.is_empty() {
            parts.push(surname);
        }
        let name = parts.join(" ");
        if name.is_empty() {
            return Err(bad(line, format!("entity without a name (Group ID {group})")));
        }
        let i = match by_group.get(group) {
            Some(&i) => i,
            None => {
                let kind = match get(c_type).to_ascii_lowercase().as_str() {
                    "individual" => EntityKind::Person,
                    "ship" => EntityKind::Vessel,
                    _ => EntityKind::Organization,
                };
                let mut e = Entity::new(list, group, kind);
                e.add_category(Category::Sanction);
                entities.push(e);
                by_group.insert(group.to_string(), entities.len() - 1);
                entities.len() - 1
            }
        };
        let e = &mut entities[i];
        let has_primary = e.names.iter().any(|n| n.kind == NameKind::Primary);
        let kind = match get(c_alias).to_ascii_lowercase().as_str() {
            "prime alias" if !has_primary => NameKind::Primary,
            "fka" => NameKind::Former,
            _ => NameKind::Alias,
        };
        e.add_name(&name, kind);
        if let Some(d) = parse_dmy(get(c_dob)) {
            e.add_birth_date(d);
        }
        let birth_place: Vec<&str> = [get(c_town), get(c_cob)].into_iter().filter(|p| !p.is_empty()).collect();
        e.add_birth_place(&birth_place.join(", "));
        for c in countries.many(get(c_nat)) {
            e.add_nationality(c);
        }
        for n in document_numbers(get(c_pass)) {
            e.add_document(DocumentKind::Passport, n, None);
        }
        for n in document_numbers(get(c_ni)) {
            e.add_document(DocumentKind::NationalId, n, None);
        }
        e.add_position(get(c_pos));
        let address: Vec<&str> = address_cols.iter().map(|&c| get(c)).filter(|p| !p.is_empty()).collect();
        e.add_address(&address.join(", "));
        for c in countries.many(get(c_country)) {
            e.add_country(c);
        }
        e.add_program(get(c_regime));
        if let Some(d) = parse_dmy(get(c_listed)) {
            e.set_listed_on(d);
        }
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::model::PartialDate;
    use crate::lists::testdata::shared_path;
    use crate::lists::{ListFormat, ListSource, load};

    #[test]
    fn document_numbers_from_free_text() {
        assert_eq!(document_numbers("Passport No: 592667 (Qatari passport issued on 3 May 2007)."), ["592667"]);
        assert_eq!(
            document_numbers(
                "(1) Provisional 28642163 (German) issued by the city of Hamburg (2) 954242 (Moroccan) issued on 28 June 1995"
            ),
            ["28642163", "954242"]
        );
        assert_eq!(document_numbers("Tunisia number G557170 issued on 16 Nov 1989."), ["G557170"]);
        assert_eq!(document_numbers("issued 03/07/1996"), Vec::<&str>::new());
    }

    #[test]
    fn groups_rows_and_decodes_latin1() {
        let text = b"Last Updated,13/04/2018\nName 6,Name 1,Name 2,Name 3,Name 4,Name 5,Title,DOB,Town of Birth,Country of Birth,Nationality,Passport Details,NI Number,Position,Address 1,Address 2,Address 3,Address 4,Address 5,Address 6,Post/Zip Code,Country,Other Information,Group Type,Alias Type,Regime,Listed On,Last Updated,Group ID\n\
            AL-QAHTANI,Farooq,,,,,,00/00/1980,,Saudi Arabia,1) Saudi Arabia 2) Qatar,Passport No: 592667,,,,,,,,,,Afghanistan (since 2009),,Individual,Prime Alias,Afghanistan,01/04/2016,01/04/2016,13349\n\
            AL-QAHTANI,Far\xf6oq,,,,,,00/00/1981,,Saudi Arabia,,,,,,,,,,,,,,Individual,AKA,Afghanistan,01/04/2016,01/04/2016,13349\n";
        let files = ListFiles::from_memory("/mem", vec![("conlist.csv", text.to_vec())]);
        let p = parse("uk", &files).unwrap();
        assert_eq!(p.list_date.as_deref(), Some("2018-04-13"));
        assert_eq!(p.entities.len(), 1);
        let e = &p.entities[0];
        assert_eq!(e.id, "uk:13349");
        assert_eq!(e.primary_name(), Some("Farooq AL-QAHTANI"));
        assert_eq!(e.names[1].value, "Faröoq AL-QAHTANI");
        assert_eq!(e.birth_dates, [PartialDate::year(1980), PartialDate::year(1981)]);
        assert_eq!(e.countries, ["AF"]);
        assert_eq!(e.documents[0].number, "592667");
        assert_eq!(e.listed_on, PartialDate::new(2016, Some(4), Some(1)));
    }

    #[test]
    fn real_uk_hmt() {
        let Some(dir) = shared_path("uk_hmt_conlist_2018") else {
            return;
        };
        let list = load(&ListSource { name: "uk_hmt".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::UkHmt);
        assert_eq!(list.meta.entity_count, 2_106);
        assert_eq!(list.meta.list_date.as_deref(), Some("2018-04-13"));
        // 9,487 name rows repeat a name per birth date: 5,548 distinct names per group.
        let names: usize = list.entities.iter().map(|e| e.names.len()).sum();
        assert_eq!(names, 5_548);
        assert!(list.entities.iter().all(|e| e.primary_name().is_some()));
        let with_nat = list.entities.iter().filter(|e| !e.nationalities.is_empty()).count();
        // 677 of 1,426 individuals state a nationality; a few (`Congolese`, `Possibly Ethiopian`)
        // name no single country and are skipped.
        assert!(with_nat >= 650, "{with_nat}");
        // Latin-1 accents decode (no U+FFFD replacement characters).
        assert!(list.entities.iter().flat_map(|e| &e.names).all(|n| !n.value.contains('\u{FFFD}')));
    }
}
