//! US BIS Denied Persons List (tab-separated, quoted, ASCII): `Name, Street_Address, City, State,
//! Country, Postal_Code, Effective_Date, Expiration_Date, Standard_Order, Last_Update, Action,
//! FR_Citation`.
//!
//! Decision: BIS publishes one row per denied party *and address*, so a party with four
//! addresses has four rows. Rows are grouped into **one entity per party**, the party being the
//! name reduced to upper-case letters and digits (`AL-NASER  AIRLINES` and `AL NASER AIRLINES`
//! are one party; both spellings are kept as names). That key, words joined by `-`, is the
//! native id (the list has no ids of its own). Two different people with the exact same name
//! would merge; the list gives nothing to tell them apart.
//!
//! The list does not say whether a party is a person or a company: [`guess_kind`] reads legal
//! forms and business words in the name. Category: debarment. Effective_Date (`mm/dd/yyyy`) ->
//! listed on (earliest); Country (ISO alpha-2) -> countries. The list date is the latest
//! `Last_Update`, ignoring dates after today (the 2023 file carries a `3033-09-30` typo).

use std::borrow::Cow;
use std::collections::HashMap;

use super::countries::CountryResolver;
use super::csv_reader::{CsvReader, column};
use super::dates::{parse_iso_prefix, parse_mdy, today};
use super::files::{self, ListFiles};
use super::model::{Category, Entity, EntityKind, NameKind, PartialDate};
use super::{ListError, ParsedList};

/// Words that mark a name as an organization's.
const ORG_WORDS: &[&str] = &[
    "LTD",
    "LIMITED",
    "LLC",
    "INC",
    "INCORPORATED",
    "CORP",
    "CORPORATION",
    "CO",
    "COMPANY",
    "GMBH",
    "AG",
    "SA",
    "SARL",
    "SRL",
    "BV",
    "NV",
    "PLC",
    "LLP",
    "LP",
    "OOO",
    "ZAO",
    "OAO",
    "PAO",
    "AO",
    "JSC",
    "PJSC",
    "CJSC",
    "FZE",
    "FZCO",
    "FZC",
    "FZ",
    "PTE",
    "PVT",
    "PTY",
    "KG",
    "SPA",
    "EST",
    "ESTABLISHMENT",
    "AIRLINES",
    "AIRLINE",
    "AIRWAYS",
    "AVIATION",
    "AIR",
    "INDUSTRIES",
    "INDUSTRY",
    "INDUSTRIAL",
    "ENTERPRISE",
    "ENTERPRISES",
    "INTERNATIONAL",
    "TRADING",
    "TRADE",
    "GROUP",
    "HOLDING",
    "HOLDINGS",
    "TECHNOLOGY",
    "TECHNOLOGIES",
    "TECH",
    "TECHNIK",
    "SERVICES",
    "SERVICE",
    "SYSTEMS",
    "ELECTRONICS",
    "ELECTRONIC",
    "EXPORT",
    "EXPORTS",
    "IMPORT",
    "IMPORTS",
    "LOGISTICS",
    "SHIPPING",
    "FREIGHT",
    "CARGO",
    "TRANSPORT",
    "TRANSPORTATION",
    "BANK",
    "UNIVERSITY",
    "INSTITUTE",
    "ACADEMY",
    "LABORATORY",
    "LABORATORIES",
    "FACTORY",
    "PLANT",
    "ASSOCIATES",
    "PARTNERS",
    "SOLUTIONS",
    "CENTER",
    "CENTRE",
    "MINISTRY",
    "DEPARTMENT",
    "BUREAU",
    "COMMITTEE",
    "ORGANIZATION",
    "ORGANISATION",
    "FOUNDATION",
    "AGENCY",
    "DEVELOPMENT",
    "RESEARCH",
    "MANUFACTURING",
    "ENGINEERING",
    "SUPPLY",
    "SUPPLIES",
    "CONSTRUCTION",
    "PETROLEUM",
    "OIL",
    "ENERGY",
    "CHEMICAL",
    "CHEMICALS",
    "PHARMACEUTICAL",
    "PHARMACEUTICALS",
    "MACHINERY",
    "EQUIPMENT",
    "INSTRUMENTS",
    "METALS",
    "MINING",
    "SHIPYARD",
    "MARINE",
    "MARITIME",
    "GLOBAL",
    "DISTRIBUTORS",
    "ELECTRIC",
    "COMMUNICATIONS",
    "TELECOM",
    "PRODUCTS",
    "COMPONENTS",
    "PARTS",
    "SUPPLIER",
    "VENTURES",
];

/// Person or organization, from legal-form and business words in an untyped name.
pub fn guess_kind(name: &str) -> EntityKind {
    let is_org = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| ORG_WORDS.iter().any(|o| o.eq_ignore_ascii_case(w)));
    if is_org { EntityKind::Organization } else { EntityKind::Person }
}

/// The grouping key and native id: letters and digits, upper case, words joined by `-`.
pub fn party_key(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_uppercase())
        .collect::<Vec<_>>()
        .join("-")
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let file = files.only()?;
    let text = files::utf8_text(file)?;
    let bad = |line: usize, m: String| ListError::malformed(&file.path, format!("line {line}"), m);
    let mut reader = CsvReader::new(text, b'\t');
    let mut header: Vec<Cow<'_, str>> = Vec::new();
    if reader.next_record(&mut header).map_err(|e| bad(e.line, e.message))?.is_none() {
        return Err(bad(1, "empty file: expected the DPL header".into()));
    }
    let col = |name: &str| column(&header, name).ok_or_else(|| bad(1, format!("header lacks the `{name}` column")));
    let c_name = col("Name")?;
    let opt = |name: &str| column(&header, name);
    let parts = ["Street_Address", "City", "State", "Postal_Code", "Country"].map(opt);
    let (c_country, c_effective, c_update) = (opt("Country"), opt("Effective_Date"), opt("Last_Update"));

    let today = today();
    let mut countries = CountryResolver::new();
    let mut entities: Vec<Entity> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut latest: Option<PartialDate> = None;
    let mut row = Vec::with_capacity(header.len());
    while let Some(line) = reader.next_record(&mut row).map_err(|e| bad(e.line, e.message))? {
        if row.len() != header.len() {
            return Err(bad(line, format!("expected {} fields, found {}", header.len(), row.len())));
        }
        let get = |c: Option<usize>| c.and_then(|i| row.get(i)).map_or("", |v| v.trim());
        let name = row[c_name].trim();
        let key = party_key(name);
        if key.is_empty() {
            return Err(bad(line, "entity without a name".into()));
        }
        let i = *by_key.entry(key).or_insert_with_key(|key| {
            let mut e = Entity::new(list, key, guess_kind(name));
            e.add_category(Category::Debarment);
            entities.push(e);
            entities.len() - 1
        });
        let e = &mut entities[i];
        e.add_name(name, if e.names.is_empty() { NameKind::Primary } else { NameKind::Alias });
        let address: Vec<&str> = parts.iter().map(|&c| get(c)).filter(|p| !p.is_empty()).collect();
        e.add_address(&address.join(", "));
        if let Some(c) = countries.one(get(c_country)) {
            e.add_country(c);
        }
        if let Some(d) = parse_mdy(get(c_effective)) {
            e.set_listed_on(d);
        }
        if let Some(d) = parse_iso_prefix(get(c_update))
            && d <= today
            && latest.is_none_or(|l| d > l)
        {
            latest = Some(d);
        }
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date: latest.map(|d| d.to_string()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::testdata::shared_path;
    use crate::lists::{ListFormat, ListSource, load};

    #[test]
    fn kinds_and_keys() {
        assert_eq!(guess_kind("AIR FREIGHT LTD"), EntityKind::Organization);
        assert_eq!(guess_kind("ADVANCED WEB SERVICES"), EntityKind::Organization);
        assert_eq!(guess_kind("ZIMO SHENG"), EntityKind::Person);
        assert_eq!(party_key("AL-NASER  AIRLINES"), party_key("AL NASER AIRLINES"));
        assert_eq!(party_key(" I. ASH"), "I-ASH");
    }

    #[test]
    fn groups_rows_of_one_party() {
        let text = "\"Name\"\t\"Street_Address\"\t\"City\"\t\"State\"\t\"Country\"\t\"Postal_Code\"\t\"Effective_Date\"\t\"Expiration_Date\"\t\"Standard_Order\"\t\"Last_Update\"\t\"Action\"\t\"FR_Citation\"\n\
            \"ZIMO SHENG\"\t\"3975 N. CRAMER STREET\"\t\"MILWAUKEE\"\t\"WI\"\t\"\"\t\"53211\"\t\"03/16/2020\"\t\"12/13/2028\"\t\"Y\"\t\"2020-03-20\"\t\"\"\t\"\"\n\
            \"ZIMO SHENG\"\t\"JINXIUYUAN 17-403\"\t\"JIANGSU\"\t\"\"\t\"CN\"\t\"215500\"\t\"03/16/2020\"\t\"12/13/2028\"\t\"Y\"\t\"3033-09-30\"\t\"\"\t\"\"\n";
        let files = ListFiles::from_memory("/mem", vec![("dpl.txt", text.as_bytes().to_vec())]);
        let p = parse("dpl", &files).unwrap();
        assert_eq!(p.entities.len(), 1);
        let e = &p.entities[0];
        assert_eq!(e.id, "dpl:ZIMO-SHENG");
        assert_eq!(e.addresses.len(), 2);
        assert_eq!(e.countries, ["CN"]);
        assert_eq!(e.listed_on, PartialDate::new(2020, Some(3), Some(16)));
        assert_eq!(p.list_date.as_deref(), Some("2020-03-20"), "the 3033 typo is ignored");
    }

    #[test]
    fn real_dpl() {
        let Some(dir) = shared_path("us_bis_dpl") else {
            return;
        };
        let list = load(&ListSource { name: "dpl".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::BisDpl);
        // 665 rows -> 544 parties (546 distinct raw names; 2 differ only in spacing/punctuation).
        assert_eq!(list.meta.entity_count, 544);
        let addresses: usize = list.entities.iter().map(|e| e.addresses.len()).sum();
        assert!(addresses >= 600, "{addresses}");
        assert_eq!(list.meta.list_date.as_deref(), Some("2023-11-28"));
        let air = list.entities.iter().find(|e| e.native_id == "AIR-FREIGHT-LTD").unwrap();
        assert_eq!(air.kind, EntityKind::Organization);
        assert_eq!(air.addresses.len(), 4);
    }
}
