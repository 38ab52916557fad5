//! OpenSanctions' transcription of the EU Official Journal sanctions annexes: one CSV per
//! regulation (`<CELEX>.csv`, UTF-8, header `celex,recordId,programKey,annex,measure,startDate,
//! reason,schema,name,alias,...`), usually a directory of them loaded as one list.
//!
//! Decision: **one entity per row** (a row is one annex entry). `recordId` restarts in every
//! annex of a regulation and is empty in some annexes, so the native id is
//! `<celex>:<annex>:<recordId>`, or `<celex>:<annex>:line<N>` when the row has no recordId (that
//! form is only as stable as the file's row order).
//!
//! Mapping: `schema` Person -> person, Vessel -> vessel, Airplane -> aircraft, anything else
//! (LegalEntity, Company, Organization, Asset — ports, airports, economic zones) -> organization;
//! `name` primary, `alias` (`;`-separated) aliases, `weakAlias` weak, `previousName` former;
//! `nationality` -> nationalities; `country`, `jurisdiction`, `flag` -> countries; `birthDate`
//! (free text, every date in it), `birthPlace`, `position`, `gender`, `address`; documents:
//! `passportNumber` (passport, `X (Country)`), `idNumber` (national id), `taxNumber`/`innCode`
//! (tax id), `registrationNumber`/`ogrnCode`/`okpoCode`/`leiCode` (registration), `imoNumber`;
//! `programKey` -> program; `startDate` -> listed on. Category: `measure` Export control ->
//! debarment, every other measure (asset freeze, financial, transport, services, investment
//! bans) -> sanction. The list date is the latest `startDate` (not after today).

use std::borrow::Cow;

use super::countries::{CountryResolver, iso2};
use super::csv_reader::{CsvReader, column};
use super::dates::{extract_dates, today};
use super::files::{self, ListFile, ListFiles};
use super::model::{Category, DocumentKind, Entity, EntityKind, Gender, NameKind, PartialDate, name_variants};
use super::uk_hmt::document_numbers;
use super::{ListError, ParsedList};

/// How every file of this format begins.
pub const HEADER_PREFIX: &str = "celex,recordId,";

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    if files.files.is_empty() {
        return Err(ListError::malformed(&files.root, "directory", "no CSV file"));
    }
    let mut countries = CountryResolver::new();
    let mut entities = Vec::new();
    let mut latest: Option<PartialDate> = None;
    let today = today();
    for file in &files.files {
        parse_file(list, file, &mut entities, &mut countries, &mut latest, today)?;
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date: latest.map(|d| d.to_string()) })
}

fn parse_file(
    list: &str,
    file: &ListFile,
    entities: &mut Vec<Entity>,
    countries: &mut CountryResolver,
    latest: &mut Option<PartialDate>,
    today: PartialDate,
) -> Result<(), ListError> {
    let text = files::utf8_text(file)?;
    let bad = |line: usize, m: String| ListError::malformed(&file.path, format!("line {line}"), m);
    let mut reader = CsvReader::new(text, b',');
    let mut header: Vec<Cow<'_, str>> = Vec::new();
    if reader.next_record(&mut header).map_err(|e| bad(e.line, e.message))?.is_none() {
        return Err(bad(1, "empty file: expected the header".into()));
    }
    let col = |name: &str| column(&header, name).ok_or_else(|| bad(1, format!("header lacks the `{name}` column")));
    let (c_celex, c_record, c_name) = (col("celex")?, col("recordId")?, col("name")?);
    let opt = |name: &str| column(&header, name);
    let (c_program, c_annex, c_measure, c_start, c_schema) =
        (opt("programKey"), opt("annex"), opt("measure"), opt("startDate"), opt("schema"));
    let (c_alias, c_weak, c_previous) = (opt("alias"), opt("weakAlias"), opt("previousName"));
    let (c_country, c_nationality, c_jurisdiction, c_flag) =
        (opt("country"), opt("nationality"), opt("jurisdiction"), opt("flag"));
    let (c_birth, c_birth_place, c_position, c_gender, c_address) =
        (opt("birthDate"), opt("birthPlace"), opt("position"), opt("gender"), opt("address"));
    let (c_passport, c_id) = (opt("passportNumber"), opt("idNumber"));
    let simple_docs = [
        ("taxNumber", DocumentKind::TaxId),
        ("innCode", DocumentKind::TaxId),
        ("registrationNumber", DocumentKind::Registration),
        ("ogrnCode", DocumentKind::Registration),
        ("okpoCode", DocumentKind::Registration),
        ("leiCode", DocumentKind::Registration),
    ]
    .map(|(n, k)| (opt(n), k));
    let c_imo = opt("imoNumber");

    let mut row = Vec::with_capacity(header.len());
    while let Some(line) = reader.next_record(&mut row).map_err(|e| bad(e.line, e.message))? {
        if row.len() != header.len() {
            return Err(bad(line, format!("expected {} fields, found {}", header.len(), row.len())));
        }
        let get = |c: Option<usize>| c.and_then(|i| row.get(i)).map_or("", |v| v.trim());
        let celex = row[c_celex].trim();
        let annex = get(c_annex);
        let record = row[c_record].trim();
        let native_id =
            if record.is_empty() { format!("{celex}:{annex}:line{line}") } else { format!("{celex}:{annex}:{record}") };
        let name = row[c_name].trim();
        if name.is_empty() {
            return Err(bad(line, format!("entity without a name ({native_id})")));
        }
        let kind = match get(c_schema) {
            "Person" => EntityKind::Person,
            "Vessel" => EntityKind::Vessel,
            "Airplane" => EntityKind::Aircraft,
            _ => EntityKind::Organization,
        };
        let mut e = Entity::new(list, &native_id, kind);
        // Annex names carry spelling variants in parentheses; each becomes a name.
        let (primary, variants) = name_variants(name);
        e.add_name(&primary, NameKind::Primary);
        for v in variants {
            e.add_name(&v, NameKind::Alias);
        }
        for (c, k) in [(c_alias, NameKind::Alias), (c_weak, NameKind::Weak), (c_previous, NameKind::Former)] {
            for n in get(c).split(';') {
                let (base, variants) = name_variants(n);
                e.add_name(&base, k);
                for v in variants {
                    e.add_name(&v, k);
                }
            }
        }
        e.add_category(if get(c_measure).eq_ignore_ascii_case("Export control") {
            Category::Debarment
        } else {
            Category::Sanction
        });
        e.add_program(get(c_program));
        for c in countries.many(get(c_nationality)) {
            e.add_nationality(c);
        }
        for field in [c_country, c_jurisdiction, c_flag] {
            for c in countries.many(get(field)) {
                e.add_country(c);
            }
        }
        for d in extract_dates(get(c_birth)) {
            e.add_birth_date(d);
        }
        e.add_birth_place(get(c_birth_place));
        e.add_position(get(c_position));
        match get(c_gender).trim_end_matches('.').to_ascii_lowercase().as_str() {
            "male" => e.gender = Some(Gender::Male),
            "female" => e.gender = Some(Gender::Female),
            _ => {}
        }
        e.add_address(get(c_address));
        for item in get(c_passport).split(';') {
            let (number, rest) = item.trim().split_once(" (").unwrap_or((item.trim(), ""));
            // `(Iran)`, `(Afghan passport)`, `(diplomatic)`: a country when one is named, else a
            // note (not counted as an unknown country).
            let note = rest.split(')').next().unwrap_or("");
            let country = iso2(note).or_else(|| note.split(" passport").next().and_then(iso2));
            if number.bytes().any(|b| b.is_ascii_digit()) {
                e.add_document(DocumentKind::Passport, number, country);
            }
        }
        for number in document_numbers(get(c_id)) {
            e.add_document(DocumentKind::NationalId, number, None);
        }
        for (c, k) in simple_docs {
            for v in get(c).split(';') {
                e.add_document(k, v, None);
            }
        }
        for v in get(c_imo).split(';') {
            if !v.trim().is_empty() {
                e.add_imo(v);
            }
        }
        if let Some(d) = extract_dates(get(c_start)).into_iter().next() {
            e.set_listed_on(d);
            if d <= today && latest.is_none_or(|l| d > l) {
                *latest = Some(d);
            }
        }
        entities.push(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::testdata::shared_path;
    use crate::lists::{ListFormat, ListSource, load};

    #[test]
    fn one_entity_per_row_with_unique_ids() {
        let text = "celex,recordId,programKey,annex,measure,startDate,schema,name,alias,nationality,birthDate,passportNumber,imoNumber\n\
            32001R2580,1,EU-TERR,1,Asset freeze,23.2.2022,Person,A B,C D; E F,Iranian,\"(a) 17.8.1957, (b) 17.8.1958\",C2002515 (Iran); 477845448 (USA),\n\
            32001R2580,1,EU-TERR,2,Export control,,Vessel,SHIP,,,,,9333670\n\
            32001R2580,,EU-TERR,2,Asset freeze,,LegalEntity,ACME,,,,,\n";
        let files = ListFiles::from_memory("/mem", vec![("32001R2580.csv", text.as_bytes().to_vec())]);
        let p = parse("eu", &files).unwrap();
        let ids: Vec<&str> = p.entities.iter().map(|e| e.native_id.as_str()).collect();
        assert_eq!(ids, ["32001R2580:1:1", "32001R2580:2:1", "32001R2580:2:line4"]);
        let a = &p.entities[0];
        assert_eq!(a.names.len(), 3);
        assert_eq!(a.nationalities, ["IR"]);
        assert_eq!(a.birth_dates.len(), 2);
        assert_eq!(a.documents.len(), 2);
        assert_eq!(a.documents[1].country.as_deref(), Some("US"));
        assert_eq!(p.entities[1].categories, [Category::Debarment]);
        assert_eq!(p.entities[1].documents[0].number, "IMO9333670");
        assert_eq!(p.list_date.as_deref(), Some("2022-02-23"));
    }

    #[test]
    fn real_eu_journal_directory() {
        let Some(dir) = shared_path("eu_official_journal_opensanctions/consolidated") else {
            return;
        };
        let list = load(&ListSource { name: "eu_journal".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::EuJournal);
        assert_eq!(list.meta.entity_count, 8_017);
        assert_eq!(list.entities.iter().filter(|e| e.kind == EntityKind::Person).count(), 4_500);
        assert_eq!(list.entities.iter().filter(|e| e.kind == EntityKind::Vessel).count(), 708);
        assert_eq!(list.meta.list_date.as_deref(), Some("2026-07-30"));
        let russians = list.entities.iter().filter(|e| e.nationalities.iter().any(|n| n == "RU")).count();
        assert!(russians >= 1_096, "{russians}");
        let with_imo = list.entities.iter().filter(|e| e.documents.iter().any(|d| d.number.starts_with("IMO"))).count();
        assert!(with_imo >= 700, "{with_imo}");
    }
}
