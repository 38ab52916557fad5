//! FollowTheMoney entities (OpenSanctions / yente exports), one JSON object per line:
//! `{id, caption, schema, properties{...}, target, last_change, ...}`.
//!
//! Only *target* entities of schema Person, Company, Organization, LegalEntity, Vessel or
//! Airplane become entities (native id = FtM id; an entity without `target` counts as a target).
//! Other schemata are read for what they add to those entities: `CryptoWallet` (`publicKey`,
//! `currency`, `holder`) -> a wallet of the holder; `Passport`/`Identification` (`number`,
//! `country`, `holder`) -> a document of the holder; `Sanction` (`entity`, `programId`) ->
//! programs; `Address` (`full`) -> the address of entities pointing at it via `addressEntity`.
//!
//! Properties kept: name (the caption is the primary name, other names aliases), alias,
//! weakAlias, previousName, birthDate, birthPlace, nationality, citizenship, country,
//! jurisdiction, passportNumber, idNumber, innCode, taxNumber, ogrnCode, registrationNumber,
//! leiCode, imoNumber, gender, position, address, programId, topics -> categories
//! ([`category_for_topic`]). The list date is the latest `last_change`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::countries::CountryResolver;
use super::dates::extract_dates;
use super::files::{self, ListFiles};
use super::model::{Category, DocumentKind, Entity, EntityKind, Gender, NameKind, PartialDate};
use super::{ListError, ParsedList};

/// OpenSanctions topic -> category. `role.pep` (and any `role.pep.*`) carries no level here, so
/// it is [`Category::Pep`]; relatives and close associates (`role.rca`) are level 4.
pub fn category_for_topic(topic: &str) -> Option<Category> {
    let t = topic.trim().to_ascii_lowercase();
    let c = match t.as_str() {
        "role.rca" => Category::Pep4,
        "gov.soe" => Category::Soe,
        "debarment" | "export.control" | "corp.disqual" => Category::Debarment,
        "wanted" | "poi" | "reg.warn" | "reg.action" => Category::Enforcement,
        "asset.frozen" => Category::Sanction,
        _ if t == "sanction" || t.starts_with("sanction.") => Category::Sanction,
        _ if t == "role.pep" || t.starts_with("role.pep.") => Category::Pep,
        _ if t == "crime" || t.starts_with("crime.") => Category::Enforcement,
        _ => return None,
    };
    Some(c)
}

#[derive(Debug, Deserialize)]
struct FtmRecord {
    id: String,
    schema: String,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    target: Option<bool>,
    #[serde(default)]
    last_change: Option<String>,
}

impl FtmRecord {
    fn values(&self, prop: &str) -> impl Iterator<Item = &str> {
        self.properties.get(prop).into_iter().flatten().map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

fn kind_for_schema(schema: &str) -> Option<EntityKind> {
    match schema {
        "Person" => Some(EntityKind::Person),
        "Company" | "Organization" | "LegalEntity" => Some(EntityKind::Organization),
        "Vessel" => Some(EntityKind::Vessel),
        "Airplane" => Some(EntityKind::Aircraft),
        _ => None,
    }
}

/// A birth date as FtM writes it (`1988-01-07`, `1988`), or any dates in free text.
pub(crate) fn add_birth_dates(e: &mut Entity, value: &str) {
    match PartialDate::parse_iso(value) {
        Some(d) => e.add_birth_date(d),
        None => extract_dates(value).into_iter().for_each(|d| e.add_birth_date(d)),
    }
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let file = files.only()?;
    let text = files::utf8_text(file)?;
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: FtmRecord = serde_json::from_str(line).map_err(|e| {
            ListError::malformed(&file.path, format!("line {}", i + 1), format!("bad FollowTheMoney JSON: {e}"))
        })?;
        records.push((i + 1, record));
    }

    let mut countries = CountryResolver::new();
    let mut entities = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut list_date: Option<&str> = None;
    for (line, r) in &records {
        if let Some(lc) = r.last_change.as_deref()
            && list_date.is_none_or(|d| lc > d)
        {
            list_date = Some(lc);
        }
        let Some(kind) = kind_for_schema(&r.schema) else {
            continue;
        };
        if r.target == Some(false) {
            continue;
        }
        let mut e = Entity::new(list, &r.id, kind);
        if let Some(caption) = r.caption.as_deref() {
            e.add_name(caption, NameKind::Primary);
        }
        for (prop, name_kind) in [
            ("name", NameKind::Alias),
            ("alias", NameKind::Alias),
            ("weakAlias", NameKind::Weak),
            ("previousName", NameKind::Former),
        ] {
            for n in r.values(prop) {
                let name_kind = if e.names.is_empty() { NameKind::Primary } else { name_kind };
                e.add_name(n, name_kind);
            }
        }
        if e.names.is_empty() {
            return Err(ListError::malformed(
                &file.path,
                format!("line {line}"),
                format!("entity without any name ({})", r.id),
            ));
        }
        for t in r.values("topics") {
            if let Some(c) = category_for_topic(t) {
                e.add_category(c);
            }
        }
        for d in r.values("birthDate") {
            add_birth_dates(&mut e, d);
        }
        for p in r.values("birthPlace") {
            e.add_birth_place(p);
        }
        for c in r.values("nationality").chain(r.values("citizenship")) {
            if let Some(code) = countries.one(c) {
                e.add_nationality(code);
            }
        }
        for c in r.values("country").chain(r.values("jurisdiction")) {
            if let Some(code) = countries.one(c) {
                e.add_country(code);
            }
        }
        for (prop, doc_kind) in [
            ("passportNumber", DocumentKind::Passport),
            ("idNumber", DocumentKind::NationalId),
            ("innCode", DocumentKind::TaxId),
            ("taxNumber", DocumentKind::TaxId),
            ("ogrnCode", DocumentKind::Registration),
            ("registrationNumber", DocumentKind::Registration),
            ("leiCode", DocumentKind::Registration),
        ] {
            for v in r.values(prop) {
                e.add_document(doc_kind, v, None);
            }
        }
        for v in r.values("imoNumber") {
            e.add_imo(v);
        }
        for g in r.values("gender") {
            match g.to_ascii_lowercase().as_str() {
                "male" => e.gender = Some(Gender::Male),
                "female" => e.gender = Some(Gender::Female),
                _ => {}
            }
        }
        for p in r.values("position") {
            e.add_position(p);
        }
        for a in r.values("address") {
            e.add_address(a);
        }
        for p in r.values("programId") {
            e.add_program(p);
        }
        index.insert(r.id.as_str(), entities.len());
        entities.push(e);
    }

    // Second pass: facts that other records attach to the kept entities.
    let addresses: HashMap<&str, &str> = records
        .iter()
        .filter(|(_, r)| r.schema == "Address")
        .filter_map(|(_, r)| r.values("full").next().map(|full| (r.id.as_str(), full)))
        .collect();
    for (_, r) in &records {
        match r.schema.as_str() {
            "CryptoWallet" => {
                let chain = r.values("currency").next().unwrap_or("UNKNOWN");
                for holder in r.values("holder") {
                    if let Some(&i) = index.get(holder) {
                        for key in r.values("publicKey") {
                            entities[i].add_wallet(chain, key);
                        }
                    }
                }
            }
            "Passport" | "Identification" => {
                let kind = if r.schema == "Passport" { DocumentKind::Passport } else { DocumentKind::NationalId };
                let country = r.values("country").next().and_then(|c| countries.one(c));
                for holder in r.values("holder") {
                    if let Some(&i) = index.get(holder) {
                        for n in r.values("number").chain(r.values("passportNumber")) {
                            entities[i].add_document(kind, n, country);
                        }
                    }
                }
            }
            "Sanction" => {
                for target in r.values("entity") {
                    if let Some(&i) = index.get(target) {
                        for p in r.values("programId") {
                            entities[i].add_program(p);
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(&i) = index.get(r.id.as_str()) {
            for a in r.values("addressEntity") {
                if let Some(full) = addresses.get(a) {
                    entities[i].add_address(full);
                }
            }
        }
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date: list_date.map(str::to_string) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::testdata::shared_path;
    use crate::lists::{ListFormat, ListSource, load};

    #[test]
    fn topics_map_to_categories() {
        assert_eq!(category_for_topic("sanction"), Some(Category::Sanction));
        assert_eq!(category_for_topic("sanction.linked"), Some(Category::Sanction));
        assert_eq!(category_for_topic("role.pep"), Some(Category::Pep));
        assert_eq!(category_for_topic("role.rca"), Some(Category::Pep4));
        assert_eq!(category_for_topic("crime.fin"), Some(Category::Enforcement));
        assert_eq!(category_for_topic("wanted"), Some(Category::Enforcement));
        assert_eq!(category_for_topic("export.control"), Some(Category::Debarment));
        assert_eq!(category_for_topic("gov.soe"), Some(Category::Soe));
        assert_eq!(category_for_topic("poi"), Some(Category::Enforcement));
        assert_eq!(category_for_topic("corp.offshore"), None);
    }

    #[test]
    fn wallets_attach_to_their_holder() {
        let text = r#"{"id":"p1","schema":"Person","caption":"Ann Example","properties":{"name":["Ann Example"],"topics":["sanction"],"nationality":["ru"],"birthDate":["1970-05"]},"target":true,"last_change":"2024-01-02T00:00:00"}
{"id":"w1","schema":"CryptoWallet","properties":{"publicKey":["0xabc"],"currency":["ETH"],"holder":["p1"]},"target":false,"last_change":"2024-03-04T00:00:00"}
{"id":"a1","schema":"Address","properties":{"full":["1 Main St"]},"target":false}
{"id":"c1","schema":"Company","caption":"Shell Co","properties":{"name":["Shell Co"],"addressEntity":["a1"]},"target":false}
"#;
        let files = ListFiles::from_memory("/mem", vec![("x.ftm.json", text.as_bytes().to_vec())]);
        let p = parse("ftm", &files).unwrap();
        assert_eq!(p.entities.len(), 1, "non-target company dropped");
        let ann = &p.entities[0];
        assert_eq!(ann.wallets[0].address, "0xabc");
        assert_eq!(ann.wallets[0].chain, "ETH");
        assert_eq!(ann.nationalities, ["RU"]);
        assert_eq!(ann.birth_dates, [PartialDate::new(1970, Some(5), None).unwrap()]);
        assert_eq!(p.list_date.as_deref(), Some("2024-03-04T00:00:00"));
    }

    #[test]
    fn bad_json_names_the_line() {
        let text = "{\"id\":\"p1\",\"schema\":\"Person\",\"properties\":{\"name\":[\"A\"]}}\n{\"id\": oops}\n";
        let files = ListFiles::from_memory("/mem", vec![("x.json", text.as_bytes().to_vec())]);
        let err = parse("ftm", &files).unwrap_err().to_string();
        assert!(err.contains("/mem/x.json:line 2") && err.contains("bad FollowTheMoney JSON"), "{err}");
    }

    #[test]
    fn real_ftm_zala_and_t1() {
        let Some(zala) = shared_path("ftm_samples/yente_zala_entities.ftm.json") else {
            return;
        };
        let list = load(&ListSource { name: "zala".into(), path: zala, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::Ftm);
        // 91 records: 6 target Person + 8 target Company kept (3 non-target companies dropped).
        assert_eq!(list.meta.entity_count, 14);
        assert_eq!(list.entities.iter().filter(|e| e.kind == EntityKind::Person).count(), 6);
        assert_eq!(list.meta.list_date.as_deref(), Some("2026-04-29T07:55:02"));
        let maria = list.entities.iter().find(|e| e.native_id == "NK-2Tbri3s6GgNtAwsSXh4qpL").unwrap();
        assert_eq!(maria.primary_name(), Some("Maria Aleksandrovna Osetrova"));
        assert!(maria.names.iter().any(|n| n.value == "Мария Александровна Осетрова"));
        assert!(maria.categories.contains(&Category::Sanction) && maria.categories.contains(&Category::Debarment));
        assert_eq!(maria.nationalities, ["RU"]);
        assert!(maria.documents.iter().any(|d| d.number == "183116181362" && d.kind == DocumentKind::TaxId));

        let Some(t1) = shared_path("ftm_samples/yente_t1_entities.ftm.json") else {
            return;
        };
        let list = load(&ListSource { name: "t1".into(), path: t1, format: None }).unwrap();
        assert_eq!(list.meta.entity_count, 6);
        assert_eq!(list.meta.list_date.as_deref(), Some("2024-03-28T18:57:01"));
        assert!(list.entities.iter().all(|e| e.categories == [Category::Sanction]));
    }
}
