//! Senzing JSON lines (OpenSanctions' Senzing exports, e.g. PEP datasets): one record per line,
//! `{DATA_SOURCE, RECORD_ID, RECORD_TYPE, LAST_CHANGE, NAMES[], DATES[], COUNTRIES[], RISKS[],
//! IDENTIFIERS[], ADDRESSES[], RELATIONSHIPS[], ...}`. Attributes are read wherever Senzing
//! allows them: inside any array of attribute objects, or flat at the top level.
//!
//! Mapping: RECORD_TYPE PERSON/ORGANIZATION/VESSEL/AIRCRAFT (missing: unknown); native id =
//! RECORD_ID; NAME_FULL / NAME_ORG / NAME_FIRST+NAME_MIDDLE+NAME_LAST with NAME_TYPE PRIMARY ->
//! primary, other types -> alias; DATE_OF_BIRTH; NATIONALITY/CITIZENSHIP -> nationalities;
//! REGISTRATION_COUNTRY, COUNTRY_OF_ASSOCIATION, ADDR_COUNTRY -> countries; PLACE_OF_BIRTH;
//! GENDER; ADDR_FULL; RISKS/TOPIC -> categories as for FtM ([`super::ftm::category_for_topic`]);
//! IDENTIFIERS: PASSPORT_NUMBER (+PASSPORT_COUNTRY), NATIONAL_ID_NUMBER (+NATIONAL_ID_COUNTRY),
//! TAX_ID_NUMBER (+TAX_ID_COUNTRY), LEI_NUMBER/DUNS_NUMBER (registration), DRIVERS_LICENSE_NUMBER
//! and OTHER_ID_NUMBER (other; OpenSanctions' and Wikidata's own ids are skipped).
//!
//! Decision: a record without RECORD_TYPE that is only a relationship anchor (REL_ANCHOR_KEY,
//! no RISKS) describes a *position* ("United States senator"), not a listed party: it becomes no
//! entity; its name becomes a position of every record pointing at it (REL_POINTER_KEY). The list
//! date is the latest LAST_CHANGE.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::countries::CountryResolver;
use super::files::{self, ListFiles};
use super::ftm::{add_birth_dates, category_for_topic};
use super::model::{DocumentKind, Entity, EntityKind, Gender, NameKind};
use super::{ListError, ParsedList};

/// One attribute object: string values by attribute name.
type Attributes<'a> = Vec<(&'a str, &'a str)>;

/// Every attribute object of a record: the members of its arrays of objects, plus one group of
/// the top-level string attributes.
fn attribute_groups(record: &Map<String, Value>) -> Vec<Attributes<'_>> {
    let mut groups = Vec::new();
    let mut top = Vec::new();
    for (key, value) in record {
        match value {
            Value::String(s) => top.push((key.as_str(), s.as_str())),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(obj) = item {
                        let g: Attributes<'_> = obj
                            .iter()
                            .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s.trim())))
                            .filter(|(_, v)| !v.is_empty())
                            .collect();
                        groups.push(g);
                    }
                }
            }
            _ => {}
        }
    }
    groups.push(top);
    groups
}

fn attr<'a>(g: &Attributes<'a>, name: &str) -> Option<&'a str> {
    g.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).filter(|v| !v.is_empty())
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let file = files.only()?;
    let text = files::utf8_text(file)?;
    let mut countries = CountryResolver::new();
    let mut entities: Vec<Entity> = Vec::new();
    let mut list_date: Option<String> = None;
    // Anchor key -> position name; (entity index, pointer key).
    let mut anchors: HashMap<String, String> = HashMap::new();
    let mut pointers: Vec<(usize, String)> = Vec::new();

    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", i + 1);
        let record: Map<String, Value> = serde_json::from_str(line)
            .map_err(|e| ListError::malformed(&file.path, at.clone(), format!("bad Senzing JSON: {e}")))?;
        let Some(record_id) = record.get("RECORD_ID").and_then(Value::as_str).filter(|s| !s.trim().is_empty()) else {
            return Err(ListError::malformed(&file.path, at, "record without a RECORD_ID"));
        };
        if let Some(lc) = record.get("LAST_CHANGE").and_then(Value::as_str)
            && list_date.as_deref().is_none_or(|d| lc > d)
        {
            list_date = Some(lc.to_string());
        }
        let groups = attribute_groups(&record);
        let record_type = record.get("RECORD_TYPE").and_then(Value::as_str).map(str::to_ascii_uppercase);
        let has_risks = groups.iter().any(|g| attr(g, "TOPIC").is_some());
        let anchor = groups.iter().find_map(|g| attr(g, "REL_ANCHOR_KEY"));
        if record_type.is_none()
            && !has_risks
            && let Some(anchor) = anchor
        {
            let name = groups.iter().find_map(|g| attr(g, "NAME_FULL").or_else(|| attr(g, "NAME_ORG")));
            if let Some(name) = name {
                anchors.insert(anchor.to_string(), name.to_string());
            }
            continue;
        }
        let kind = match record_type.as_deref() {
            Some("PERSON") => EntityKind::Person,
            Some("ORGANIZATION") => EntityKind::Organization,
            Some("VESSEL") => EntityKind::Vessel,
            Some("AIRCRAFT") => EntityKind::Aircraft,
            _ => EntityKind::Unknown,
        };
        let mut e = Entity::new(list, record_id.trim(), kind);
        for g in &groups {
            read_group(&mut e, g, &mut countries);
            if let Some(key) = attr(g, "REL_POINTER_KEY") {
                pointers.push((entities.len(), key.to_string()));
            }
        }
        if e.names.is_empty() {
            return Err(ListError::malformed(&file.path, at, format!("entity without any name ({record_id})")));
        }
        entities.push(e);
    }
    for (i, key) in pointers {
        if let Some(position) = anchors.get(&key) {
            entities[i].add_position(position);
        }
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date })
}

fn read_group(e: &mut Entity, g: &Attributes<'_>, countries: &mut CountryResolver) {
    let name_kind = match attr(g, "NAME_TYPE").map(str::to_ascii_uppercase).as_deref() {
        Some("PRIMARY") | None => NameKind::Primary,
        _ => NameKind::Alias,
    };
    let full = attr(g, "NAME_FULL").or_else(|| attr(g, "NAME_ORG")).map(str::to_string).or_else(|| {
        let parts: Vec<&str> = ["NAME_FIRST", "NAME_MIDDLE", "NAME_LAST"].iter().filter_map(|k| attr(g, k)).collect();
        if parts.is_empty() { None } else { Some(parts.join(" ")) }
    });
    if let Some(name) = full {
        let has_primary = e.names.iter().any(|n| n.kind == NameKind::Primary);
        e.add_name(&name, if name_kind == NameKind::Primary && has_primary { NameKind::Alias } else { name_kind });
    }
    if let Some(d) = attr(g, "DATE_OF_BIRTH") {
        add_birth_dates(e, d);
    }
    for key in ["NATIONALITY", "CITIZENSHIP"] {
        if let Some(code) = attr(g, key).and_then(|c| countries.one(c)) {
            e.add_nationality(code);
        }
    }
    for key in ["REGISTRATION_COUNTRY", "COUNTRY_OF_ASSOCIATION", "ADDR_COUNTRY"] {
        if let Some(code) = attr(g, key).and_then(|c| countries.one(c)) {
            e.add_country(code);
        }
    }
    if let Some(p) = attr(g, "PLACE_OF_BIRTH") {
        e.add_birth_place(p);
    }
    if let Some(g) = attr(g, "GENDER") {
        match g.to_ascii_lowercase().as_str() {
            "m" | "male" => e.gender = Some(Gender::Male),
            "f" | "female" => e.gender = Some(Gender::Female),
            _ => {}
        }
    }
    if let Some(a) = attr(g, "ADDR_FULL") {
        e.add_address(a);
    }
    if let Some(c) = attr(g, "TOPIC").and_then(category_for_topic) {
        e.add_category(c);
    }
    for (number, country, kind) in [
        ("PASSPORT_NUMBER", Some("PASSPORT_COUNTRY"), DocumentKind::Passport),
        ("NATIONAL_ID_NUMBER", Some("NATIONAL_ID_COUNTRY"), DocumentKind::NationalId),
        ("TAX_ID_NUMBER", Some("TAX_ID_COUNTRY"), DocumentKind::TaxId),
        ("LEI_NUMBER", None, DocumentKind::Registration),
        ("DUNS_NUMBER", None, DocumentKind::Registration),
        ("DRIVERS_LICENSE_NUMBER", None, DocumentKind::Other),
    ] {
        if let Some(n) = attr(g, number) {
            let c = country.and_then(|k| attr(g, k)).and_then(|c| countries.one(c));
            e.add_document(kind, n, c);
        }
    }
    if let Some(n) = attr(g, "OTHER_ID_NUMBER") {
        let own_ids = ["OPEN_SANCTIONS", "WIKIDATA"];
        if !attr(g, "OTHER_ID_TYPE").is_some_and(|t| own_ids.contains(&t)) {
            e.add_document(DocumentKind::Other, n, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::model::{Category, PartialDate};
    use crate::lists::testdata::shared_path;
    use crate::lists::{ListFormat, ListSource, load};

    #[test]
    fn reads_nested_and_flat_attributes() {
        let text = r#"{"DATA_SOURCE":"X","RECORD_ID":"p1","RECORD_TYPE":"PERSON","LAST_CHANGE":"2024-03-21T08:44:01","NAMES":[{"NAME_TYPE":"PRIMARY","NAME_FIRST":"Jane","NAME_LAST":"Roe"},{"NAME_TYPE":"ALIAS","NAME_FULL":"J. Roe"}],"RISKS":[{"TOPIC":"role.pep"}],"DATES":[{"DATE_OF_BIRTH":"1972"}],"COUNTRIES":[{"NATIONALITY":"us"}],"IDENTIFIERS":[{"PASSPORT_NUMBER":"123456789","PASSPORT_COUNTRY":"US"}],"RELATIONSHIPS":[{"REL_POINTER_KEY":"Q1","REL_POINTER_ROLE":"Occupancy"}]}
{"DATA_SOURCE":"X","RECORD_ID":"Q1","RECORD_TYPE":null,"NAMES":[{"NAME_TYPE":"PRIMARY","NAME_FULL":"Senator"}],"RELATIONSHIPS":[{"REL_ANCHOR_KEY":"Q1"}]}
{"DATA_SOURCE":"X","RECORD_ID":"o1","RECORD_TYPE":"ORGANIZATION","NAME_ORG":"Acme Ltd","GENDER":"","RISKS":[{"TOPIC":"sanction"}]}
"#;
        let files = ListFiles::from_memory("/mem", vec![("s.json", text.as_bytes().to_vec())]);
        let p = parse("sz", &files).unwrap();
        assert_eq!(p.entities.len(), 2);
        let jane = &p.entities[0];
        assert_eq!(jane.primary_name(), Some("Jane Roe"));
        assert_eq!(jane.names[1].kind, NameKind::Alias);
        assert_eq!(jane.categories, [Category::Pep]);
        assert_eq!(jane.birth_dates, [PartialDate::year(1972)]);
        assert_eq!(jane.nationalities, ["US"]);
        assert_eq!(jane.documents[0].country.as_deref(), Some("US"));
        assert_eq!(jane.positions, ["Senator"]);
        assert_eq!(p.entities[1].kind, EntityKind::Organization);
        assert_eq!(p.list_date.as_deref(), Some("2024-03-21T08:44:01"));
    }

    #[test]
    fn bad_json_line_is_refused() {
        let text = "{\"RECORD_ID\":\"1\",\"NAME_FULL\":\"A\"}\n{\"RECORD_ID\":\n";
        let files = ListFiles::from_memory("/mem", vec![("s.json", text.as_bytes().to_vec())]);
        let err = parse("sz", &files).unwrap_err().to_string();
        assert!(err.contains("/mem/s.json:line 2") && err.contains("bad Senzing JSON"), "{err}");
    }

    #[test]
    fn real_us_congress() {
        let Some(dir) = shared_path("opensanctions_peps_senzing") else {
            return;
        };
        let list = load(&ListSource { name: "us_congress".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::Senzing);
        // 1,319 records: 1,317 people + 2 position anchors (not entities).
        assert_eq!(list.meta.entity_count, 1_317);
        assert!(list.entities.iter().all(|e| e.kind == EntityKind::Person && e.categories == [Category::Pep]));
        assert_eq!(list.meta.list_date.as_deref(), Some("2025-12-08T08:44:02"));
        let mcclellan = list.entities.iter().find(|e| e.native_id == "NK-AQ4HymsADSK2D63MkyTqfC").unwrap();
        assert_eq!(mcclellan.primary_name(), Some("Jennifer L. McClellan"));
        assert_eq!(mcclellan.birth_dates, [PartialDate::year(1972)]);
        assert_eq!(mcclellan.nationalities, ["US"]);
        assert_eq!(mcclellan.positions, ["United States representative"]);
        let with_alias = list.entities.iter().filter(|e| e.names.len() > 1).count();
        assert!(with_alias >= 30, "{with_alias}");
    }
}
