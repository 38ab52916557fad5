//! EU Financial Sanctions Files, legacy v1.0 CSV: `;`-separated, Latin-1 (decoded as
//! Windows-1252). Some copies (the shared 2018 subset) wrap every line in one pair of double
//! quotes, doubling the inner quotes, and pad lines with tabs; such a line is unwrapped first and
//! its content read as the `;` CSV.
//!
//! Each row is a join of one entity with at most one name, address, birth, identification and
//! citizenship record, so an entity spans many rows: rows are grouped by `Entity_logical_id` (the
//! native id). Mapping: `Subject_type` P -> person, E -> organization; `Naal_wholename` (or
//! first/middle/last) -> names, the first one seen primary (spellings whose letters the Latin-1
//! export turned into `??...` are dropped); `Naal_gender`, `Naal_function` ->
//! positions; `Addr_*` -> addresses, `Addr_country` (ISO alpha-3) -> countries; `Birt_date`,
//! `Birt_place`/`Birt_country` -> birth places; `Iden_number` `X (passport-...)`/`X (id-...)` ->
//! documents; `Citi_country` -> nationalities; `Programme` -> programs; the earliest
//! `Leba_publication_date` -> listed on. The list date is `Date_file` (`dd/mm/yyyy`).

use std::borrow::Cow;
use std::collections::HashMap;

use super::countries::CountryResolver;
use super::csv_reader::{CsvReader, column};
use super::dates::{extract_dates, parse_dmy, parse_iso_prefix};
use super::files::{self, ListFiles};
use super::model::{Category, DocumentKind, Entity, EntityKind, Gender, NameKind};
use super::{ListError, ParsedList};

/// Reads one logical record: unwraps a quoted line when `wrapped`.
struct Records<'a> {
    outer: CsvReader<'a>,
    wrapped: bool,
    line_buf: Vec<Cow<'a, str>>,
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Self {
        let first = text.lines().next().unwrap_or("").trim_end();
        let wrapped = first.starts_with('"') && first.ends_with('"') && first.contains("Date_file");
        // A byte that never occurs in the file as delimiter: each physical line is one field.
        let delimiter = if wrapped { 0x1F } else { b';' };
        Records { outer: CsvReader::new(text, delimiter), wrapped, line_buf: Vec::new() }
    }

    /// The record's fields and starting line, or `None` at the end.
    fn next(&mut self, fields: &mut Vec<String>) -> Result<Option<usize>, (usize, String)> {
        let Some(line) = self.outer.next_record(&mut self.line_buf).map_err(|e| (e.line, e.message))? else {
            return Ok(None);
        };
        fields.clear();
        if self.wrapped {
            let [inner] = self.line_buf.as_slice() else {
                return Err((line, format!("expected one quoted line, found {} fields", self.line_buf.len())));
            };
            let inner = inner.trim_end_matches(['\t', ' ']);
            let mut reader = CsvReader::new(inner, b';');
            let mut cells = Vec::new();
            reader.next_record(&mut cells).map_err(|e| (line, e.message))?;
            fields.extend(cells.iter().map(|c| c.trim().to_string()));
            if reader.next_record(&mut cells).map_err(|e| (line, e.message))?.is_some() {
                return Err((line, "a line break inside a wrapped record".into()));
            }
        } else {
            fields.extend(self.line_buf.iter().map(|c| c.trim().trim_end_matches('\t').to_string()));
        }
        Ok(Some(line))
    }
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let file = files.only()?;
    let text = files::latin1_text(file);
    let bad = |line: usize, m: String| ListError::malformed(&file.path, format!("line {line}"), m);
    let mut records = Records::new(&text);
    let mut header: Vec<String> = Vec::new();
    if records.next(&mut header).map_err(|(l, m)| bad(l, m))?.is_none() {
        return Err(bad(1, "empty file: expected the FSF header".into()));
    }
    let header_cow: Vec<Cow<'_, str>> = header.iter().map(|h| Cow::Borrowed(h.as_str())).collect();
    let col = |name: &str| column(&header_cow, name).ok_or_else(|| bad(1, format!("header lacks the `{name}` column")));
    let c_date = header.iter().position(|h| h.starts_with("Date_file"));
    let c_entity = col("Entity_logical_id")?;
    let opt = |name: &str| column(&header_cow, name);
    let (c_type, c_programme, c_published) = (opt("Subject_type"), opt("Programme"), opt("Leba_publication_date"));
    let (c_whole, c_first, c_middle, c_last, c_gender, c_function) = (
        opt("Naal_wholename"),
        opt("Naal_firstname"),
        opt("Naal_middlename"),
        opt("Naal_lastname"),
        opt("Naal_gender"),
        opt("Naal_function"),
    );
    let address_cols = ["Addr_number", "Addr_street", "Addr_zipcode", "Addr_city", "Addr_country"].map(opt);
    let c_addr_country = opt("Addr_country");
    let (c_birth, c_birth_place, c_birth_country) = (opt("Birt_date"), opt("Birt_place"), opt("Birt_country"));
    let (c_iden, c_iden_country, c_citizen) = (opt("Iden_number"), opt("Iden_country"), opt("Citi_country"));

    let mut countries = CountryResolver::new();
    let mut entities: Vec<Entity> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut list_date = None;
    let mut row = Vec::with_capacity(header.len());
    while let Some(line) = records.next(&mut row).map_err(|(l, m)| bad(l, m))? {
        if row.len() != header.len() {
            return Err(bad(line, format!("expected {} fields, found {}", header.len(), row.len())));
        }
        let get = |c: Option<usize>| c.and_then(|i| row.get(i)).map_or("", |v| v.trim());
        let id = row[c_entity].trim();
        if id.is_empty() {
            return Err(bad(line, "row without an Entity_logical_id".into()));
        }
        if list_date.is_none() {
            list_date = parse_dmy(get(c_date)).map(|d| d.to_string());
        }
        let i = match by_id.get(id) {
            Some(&i) => i,
            None => {
                let kind = if get(c_type) == "P" { EntityKind::Person } else { EntityKind::Organization };
                let mut e = Entity::new(list, id, kind);
                e.add_category(Category::Sanction);
                entities.push(e);
                by_id.insert(id.to_string(), entities.len() - 1);
                entities.len() - 1
            }
        };
        let e = &mut entities[i];
        e.add_program(get(c_programme));
        if let Some(d) = parse_iso_prefix(get(c_published)) {
            e.set_listed_on(d);
        }
        let whole = get(c_whole);
        let name = if whole.is_empty() {
            [get(c_first), get(c_middle), get(c_last)]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            whole.to_string()
        };
        // `??????? Abu Nidal`: a Greek or Cyrillic spelling whose letters the Latin-1 export
        // replaced by `?`. It no longer names anyone; matching on it would only add noise.
        if !name.contains("??") {
            let kind = if e.names.is_empty() { NameKind::Primary } else { NameKind::Alias };
            e.add_name(&name, kind);
        }
        match get(c_gender) {
            "M" => e.gender = Some(Gender::Male),
            "F" => e.gender = Some(Gender::Female),
            _ => {}
        }
        e.add_position(get(c_function));
        let address: Vec<&str> = address_cols.iter().map(|&c| get(c)).filter(|p| !p.is_empty()).collect();
        e.add_address(&address.join(", "));
        if let Some(c) = countries.one(get(c_addr_country)) {
            e.add_country(c);
        }
        let birth = get(c_birth);
        match parse_iso_prefix(birth) {
            Some(d) => e.add_birth_date(d),
            None => extract_dates(birth).into_iter().for_each(|d| e.add_birth_date(d)),
        }
        let place: Vec<&str> =
            [get(c_birth_place), get(c_birth_country)].into_iter().filter(|p| !p.is_empty()).collect();
        e.add_birth_place(&place.join(", "));
        let iden = get(c_iden).trim_matches('"').trim();
        if !iden.is_empty() {
            let (number, rest) = iden.split_once(" (").unwrap_or((iden, ""));
            let kind = if rest.starts_with("passport") {
                DocumentKind::Passport
            } else if rest.starts_with("id-") {
                DocumentKind::NationalId
            } else {
                DocumentKind::Other
            };
            let country = countries.one(get(c_iden_country));
            e.add_document(kind, number, country);
        }
        if let Some(c) = countries.one(get(c_citizen)) {
            e.add_nationality(c);
        }
    }
    for e in &entities {
        if e.names.is_empty() {
            return Err(ListError::malformed(
                &file.path,
                format!("record Entity_logical_id {}", e.native_id),
                "entity without any name",
            ));
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
    fn plain_semicolon_layout() {
        let text = "Date_file;Entity_logical_id;Subject_type;Programme;Naal_wholename;Naal_gender;Birt_date;Citi_country;Iden_number;Iden_country\n\
            04/07/2018;13;P;IRQ;Saddam Hussein Al-Tikriti;M;1937-04-28;IRQ;;\n\
            04/07/2018;13;P;IRQ;Abu Ali;;;;\"AD001095 (passport-National passport) ((passport))\";IRQ\n";
        let files = ListFiles::from_memory("/mem", vec![("fsf.csv", text.as_bytes().to_vec())]);
        let p = parse("eu", &files).unwrap();
        assert_eq!(p.list_date.as_deref(), Some("2018-07-04"));
        let e = &p.entities[0];
        assert_eq!(e.names.len(), 2);
        assert_eq!(e.nationalities, ["IQ"]);
        assert_eq!(e.birth_dates, [PartialDate::new(1937, Some(4), Some(28)).unwrap()]);
        assert_eq!(e.documents[0].number, "AD001095");
        assert_eq!(e.documents[0].kind, DocumentKind::Passport);
        assert_eq!(e.documents[0].country.as_deref(), Some("IQ"));
    }

    #[test]
    fn real_eu_fsf_subset() {
        let Some(dir) = shared_path("eu_fsf_legacy_csv_2018_subset") else {
            return;
        };
        let list = load(&ListSource { name: "eu_fsf".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::EuFsf);
        assert_eq!(list.meta.entity_count, 93);
        assert_eq!(list.meta.list_date.as_deref(), Some("2018-07-04"));
        let mugabe = list.entities.iter().find(|e| e.native_id == "1").unwrap();
        assert_eq!(mugabe.primary_name(), Some("Robert Gabriel Mugabe"));
        assert_eq!(mugabe.kind, EntityKind::Person);
        assert_eq!(mugabe.birth_dates, [PartialDate::new(1924, Some(2), Some(21)).unwrap()]);
        assert!(mugabe.documents.iter().any(|d| d.number == "AD001095" && d.kind == DocumentKind::Passport));
        let ano = list.entities.iter().find(|e| e.native_id == "201").unwrap();
        assert_eq!(ano.primary_name(), Some("Abu Nidal Organisation"));
        assert!(ano.names.iter().all(|n| !n.value.contains("??")));
        let quoted = list.entities.iter().find(|e| e.native_id == "43").unwrap();
        assert!(quoted.positions.iter().any(|p| p.starts_with("Former Governor of Karbala")), "{:?}", quoted.positions);
        let people = list.entities.iter().filter(|e| e.kind == EntityKind::Person).count();
        assert!(people > 0 && people < 93);
    }
}
