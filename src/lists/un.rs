//! UN Security Council consolidated list (XML, schema `sc-sanctions.xsd`), read as a stream with
//! quick-xml: one `<INDIVIDUAL>` or `<ENTITY>` becomes one entity, native id = `DATAID`.
//!
//! Mapping: FIRST..FOURTH_NAME joined with spaces -> primary name; NAME_ORIGINAL_SCRIPT and
//! aliases with quality `Good`/`a.k.a.` -> alias, `Low` -> weak alias, `f.k.a.` -> former name;
//! NATIONALITY -> nationalities; addresses -> addresses and countries; DATE_OF_BIRTH: `DATE`,
//! `YEAR`, `FROM_YEAR`..`TO_YEAR` (every year, see [`super::dates`]), else dates in `NOTE`;
//! PLACE_OF_BIRTH -> birth places; documents (passport / national identification / other) with
//! their issuing country; DESIGNATION -> positions; UN_LIST_TYPE -> program; LISTED_ON; GENDER.
//! The list date is the root's `dateGenerated`.
//!
//! A file that is not well-formed, or ends before its elements are closed (a truncated
//! download), is refused with the byte offset; it never loads as a shorter list.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::countries::CountryResolver;
use super::dates::{extract_dates, parse_iso_prefix, year_range};
use super::files::{self, ListFiles};
use super::model::{Category, DocumentKind, Entity, EntityKind, Gender, NameKind};
use super::{ListError, ParsedList};

const ROOT: &str = "CONSOLIDATED_LIST";

/// Elements whose children are collected and read together when the element closes.
const GROUPS: &[&str] = &[
    "INDIVIDUAL_ALIAS",
    "ENTITY_ALIAS",
    "INDIVIDUAL_ADDRESS",
    "ENTITY_ADDRESS",
    "INDIVIDUAL_DATE_OF_BIRTH",
    "INDIVIDUAL_PLACE_OF_BIRTH",
    "INDIVIDUAL_DOCUMENT",
];

/// The record being read.
struct Record {
    entity: Entity,
    number: usize,
    offset: u64,
    data_id: Option<String>,
    name_parts: [String; 4],
    /// Children of the open group element, as (name, text).
    group: Vec<(String, String)>,
}

impl Record {
    fn get(&self, child: &str) -> &str {
        self.group.iter().find(|(n, _)| n == child).map_or("", |(_, v)| v.as_str())
    }
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let file = files.only()?;
    let text = files::utf8_text(file)?;
    let at = |offset: u64, message: String| ListError::malformed(&file.path, format!("byte offset {offset}"), message);

    let mut reader = Reader::from_str(text);
    let mut countries = CountryResolver::new();
    let mut stack: Vec<String> = Vec::new();
    let mut value = String::new();
    let mut record: Option<Record> = None;
    let mut records = 0usize;
    let mut entities = Vec::new();
    let mut list_date = None;
    let mut saw_root = false;

    loop {
        let offset = reader.buffer_position();
        let event =
            reader.read_event().map_err(|e| at(reader.error_position(), format!("XML not well-formed: {e}")))?;
        match event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if saw_root || name != ROOT {
                        return Err(at(offset, format!("expected one <{ROOT}> root element, found <{name}>")));
                    }
                    saw_root = true;
                    if let Ok(Some(attr)) = start.try_get_attribute("dateGenerated")
                        && let Ok(v) = attr.unescape_value()
                    {
                        list_date = Some(v.trim().to_string());
                    }
                } else if stack.len() == 2 && (name == "INDIVIDUAL" || name == "ENTITY") {
                    records += 1;
                    let kind = if name == "INDIVIDUAL" { EntityKind::Person } else { EntityKind::Organization };
                    record = Some(Record {
                        entity: Entity::new(list, "", kind),
                        number: records,
                        offset,
                        data_id: None,
                        name_parts: Default::default(),
                        group: Vec::new(),
                    });
                } else if GROUPS.contains(&name.as_str())
                    && let Some(r) = record.as_mut()
                {
                    r.group.clear();
                }
                stack.push(name);
                value.clear();
            }
            Event::Empty(_) if stack.is_empty() => {
                return Err(at(offset, format!("expected a <{ROOT}> root element with content")));
            }
            Event::Text(t) => {
                value.push_str(&t.decode().map_err(|e| at(offset, format!("bad text: {e}")))?);
            }
            Event::CData(t) => {
                value.push_str(&t.decode().map_err(|e| at(offset, format!("bad CDATA: {e}")))?);
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten()
                } else {
                    let name = r.decode().map_err(|e| at(offset, format!("bad entity: {e}")))?;
                    quick_xml::escape::resolve_predefined_entity(&name).and_then(|s| s.chars().next())
                };
                match resolved {
                    Some(c) => value.push(c),
                    None => {
                        return Err(at(offset, format!("unknown entity `&{};`", String::from_utf8_lossy(&r))));
                    }
                }
            }
            Event::End(_) => {
                let Some(name) = stack.pop() else {
                    return Err(at(offset, "closing tag without an open element".into()));
                };
                let text = value.trim();
                if let Some(r) = record.as_mut() {
                    let parent = stack.last().map_or("", String::as_str);
                    if GROUPS.contains(&parent) {
                        r.group.push((name.clone(), text.to_string()));
                    } else if GROUPS.contains(&name.as_str()) {
                        close_group(r, &name, &mut countries);
                    } else if name == "VALUE" {
                        list_value(r, parent, text, &mut countries);
                    } else if parent == "INDIVIDUAL" || parent == "ENTITY" {
                        record_field(r, &name, text);
                    }
                }
                if stack.len() == 2
                    && (name == "INDIVIDUAL" || name == "ENTITY")
                    && let Some(r) = record.take()
                {
                    entities.push(finish(list, r, &file.path)?);
                }
                value.clear();
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(at(
                        text.len() as u64,
                        format!("XML truncated: <{open}> and {} enclosing element(s) never closed", stack.len() - 1),
                    ));
                }
                if !saw_root {
                    return Err(at(0, format!("no <{ROOT}> root element")));
                }
                break;
            }
            _ => {}
        }
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date })
}

/// `<NATIONALITY><VALUE>`, `<DESIGNATION><VALUE>`, ...
fn list_value(r: &mut Record, parent: &str, text: &str, countries: &mut CountryResolver) {
    if text.is_empty() {
        return;
    }
    match parent {
        // "na" is the UN's "not available" here, not Namibia.
        "NATIONALITY" if !text.eq_ignore_ascii_case("na") => {
            for c in countries.many(text) {
                r.entity.add_nationality(c);
            }
        }
        "DESIGNATION" => r.entity.add_position(text),
        _ => {}
    }
}

fn record_field(r: &mut Record, name: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    let part = |i: usize, r: &mut Record| r.name_parts[i] = text.to_string();
    match name {
        "DATAID" => r.data_id = Some(text.to_string()),
        "FIRST_NAME" => part(0, r),
        "SECOND_NAME" => part(1, r),
        "THIRD_NAME" => part(2, r),
        "FOURTH_NAME" => part(3, r),
        "NAME_ORIGINAL_SCRIPT" => r.entity.add_name(text, NameKind::Alias),
        "UN_LIST_TYPE" => r.entity.add_program(text),
        "LISTED_ON" => {
            if let Some(d) = parse_iso_prefix(text) {
                r.entity.set_listed_on(d);
            }
        }
        "GENDER" => {
            r.entity.gender = match text.to_ascii_lowercase().as_str() {
                "male" => Some(Gender::Male),
                "female" => Some(Gender::Female),
                _ => r.entity.gender,
            }
        }
        _ => {}
    }
}

fn join_parts(parts: &[&str]) -> String {
    parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(", ")
}

fn close_group(r: &mut Record, name: &str, countries: &mut CountryResolver) {
    match name {
        "INDIVIDUAL_ALIAS" | "ENTITY_ALIAS" => {
            let alias = r.get("ALIAS_NAME").to_string();
            let kind = match r.get("QUALITY").to_ascii_lowercase().as_str() {
                "low" => NameKind::Weak,
                "f.k.a." | "fka" => NameKind::Former,
                _ => NameKind::Alias,
            };
            r.entity.add_name(&alias, kind);
        }
        "INDIVIDUAL_ADDRESS" | "ENTITY_ADDRESS" => {
            let country = r.get("COUNTRY").to_string();
            let address =
                join_parts(&[r.get("STREET"), r.get("CITY"), r.get("STATE_PROVINCE"), r.get("ZIP_CODE"), &country]);
            r.entity.add_address(&address);
            for c in countries.many(&country) {
                r.entity.add_country(c);
            }
        }
        "INDIVIDUAL_DATE_OF_BIRTH" => {
            let mut dates = Vec::new();
            if let Some(d) = parse_iso_prefix(r.get("DATE")) {
                dates.push(d);
            } else if let Ok(y) = r.get("YEAR").parse::<u16>() {
                year_range(y, y, &mut dates);
            } else if let (Ok(from), Ok(to)) = (r.get("FROM_YEAR").parse::<u16>(), r.get("TO_YEAR").parse::<u16>()) {
                year_range(from, to, &mut dates);
            } else {
                dates = extract_dates(r.get("NOTE"));
            }
            for d in dates.into_iter().filter(|d| (1800..=2100).contains(&d.year)) {
                r.entity.add_birth_date(d);
            }
        }
        "INDIVIDUAL_PLACE_OF_BIRTH" => {
            let place = join_parts(&[r.get("STREET"), r.get("CITY"), r.get("STATE_PROVINCE"), r.get("COUNTRY")]);
            r.entity.add_birth_place(&place);
        }
        "INDIVIDUAL_DOCUMENT" => {
            let number = r.get("NUMBER").to_string();
            if number.is_empty() {
                return;
            }
            let doc_type = r.get("TYPE_OF_DOCUMENT").to_lowercase();
            let kind = if ["passport", "pasaporte", "passeport"].iter().any(|k| doc_type.contains(k)) {
                DocumentKind::Passport
            } else if doc_type.contains("national id") || doc_type.contains("identity card") {
                DocumentKind::NationalId
            } else {
                DocumentKind::Other
            };
            let issuer = [r.get("ISSUING_COUNTRY"), r.get("COUNTRY_OF_ISSUE")]
                .into_iter()
                .find(|c| !c.is_empty())
                .unwrap_or("")
                .to_string();
            let country = countries.one(&issuer);
            r.entity.add_document(kind, &number, country);
        }
        _ => {}
    }
}

fn finish(list: &str, r: Record, path: &std::path::Path) -> Result<Entity, ListError> {
    let location = format!("record {} (byte offset {})", r.number, r.offset);
    let Some(data_id) = r.data_id else {
        return Err(ListError::malformed(path, location, "record without a DATAID"));
    };
    let primary = r.name_parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    if primary.is_empty() {
        return Err(ListError::malformed(path, location, format!("entity without any name (DATAID {data_id})")));
    }
    let mut e = r.entity;
    e.id = format!("{list}:{data_id}");
    e.native_id = data_id;
    let others = std::mem::take(&mut e.names);
    e.add_name(&primary, NameKind::Primary);
    for n in others {
        e.add_name(&n.value, n.kind);
    }
    e.add_category(Category::Sanction);
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::model::PartialDate;
    use crate::lists::testdata::shared_path;
    use crate::lists::{ListFormat, ListSource, load};

    const SMALL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2026-02-27T00:00:09.554Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>1</DATAID><FIRST_NAME>ERIC</FIRST_NAME><SECOND_NAME>BADEGE</SECOND_NAME>
      <UN_LIST_TYPE>DRC</UN_LIST_TYPE><LISTED_ON>2012-12-31</LISTED_ON><GENDER>Male</GENDER>
      <NATIONALITY><VALUE>Democratic Republic of the Congo</VALUE></NATIONALITY>
      <INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>Er&#233;c &amp; Co</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>BETWEEN</TYPE_OF_DATE><FROM_YEAR>1973</FROM_YEAR><TO_YEAR>1974</TO_YEAR></INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>Passport</TYPE_OF_DOCUMENT><NUMBER>OB 0243318</NUMBER><ISSUING_COUNTRY>Democratic Republic of the Congo</ISSUING_COUNTRY></INDIVIDUAL_DOCUMENT>
    </INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES>
    <ENTITY><DATAID>2</DATAID><FIRST_NAME>ADF</FIRST_NAME>
      <ENTITY_ALIAS><QUALITY>f.k.a.</QUALITY><ALIAS_NAME>NALU</ALIAS_NAME></ENTITY_ALIAS>
      <ENTITY_ADDRESS><CITY>Beni</CITY><COUNTRY>Democratic Republic of the Congo</COUNTRY></ENTITY_ADDRESS>
    </ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>
"#;

    fn mem(text: &str) -> ListFiles {
        ListFiles::from_memory("/mem", vec![("un.xml", text.as_bytes().to_vec())])
    }

    #[test]
    fn reads_individuals_and_entities() {
        let p = parse("un", &mem(SMALL)).unwrap();
        assert_eq!(p.list_date.as_deref(), Some("2026-02-27T00:00:09.554Z"));
        assert_eq!(p.entities.len(), 2);
        let eric = &p.entities[0];
        assert_eq!(eric.id, "un:1");
        assert_eq!(eric.primary_name(), Some("ERIC BADEGE"));
        assert_eq!(eric.names[1].value, "Eréc & Co");
        assert_eq!(eric.names[1].kind, NameKind::Weak);
        assert_eq!(eric.birth_dates, [PartialDate::year(1973), PartialDate::year(1974)]);
        assert_eq!(eric.nationalities, ["CD"]);
        assert_eq!(eric.documents[0].number, "OB 0243318");
        assert_eq!(eric.documents[0].country.as_deref(), Some("CD"));
        assert_eq!(eric.listed_on, PartialDate::new(2012, Some(12), Some(31)));
        let adf = &p.entities[1];
        assert_eq!(adf.kind, EntityKind::Organization);
        assert_eq!(adf.names[1].kind, NameKind::Former);
        assert_eq!(adf.countries, ["CD"]);
        assert_eq!(adf.addresses, ["Beni, Democratic Republic of the Congo"]);
    }

    #[test]
    fn truncated_xml_is_refused() {
        for cut in [SMALL.len() / 2, SMALL.len() - 30, SMALL.len() - 2] {
            let err = parse("un", &mem(&SMALL[..cut])).unwrap_err().to_string();
            assert!(err.contains("/mem/un.xml:byte offset"), "{cut}: {err}");
        }
    }

    #[test]
    fn mismatched_tags_and_nameless_records_are_refused() {
        let bad = SMALL.replace("</SECOND_NAME>", "</THIRD_NAME>");
        let err = parse("un", &mem(&bad)).unwrap_err().to_string();
        assert!(err.contains("byte offset") && err.contains("not well-formed"), "{err}");
        let nameless = SMALL.replace("<FIRST_NAME>ADF</FIRST_NAME>", "");
        let err = parse("un", &mem(&nameless)).unwrap_err().to_string();
        assert!(err.contains("record 2") && err.contains("without any name"), "{err}");
    }

    #[test]
    fn real_un_list() {
        let Some(dir) = shared_path("un_sc_consolidated") else {
            return;
        };
        let list = load(&ListSource { name: "un".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::UnXml);
        assert_eq!(list.meta.entity_count, 1_003);
        assert_eq!(list.entities.iter().filter(|e| e.kind == EntityKind::Person).count(), 730);
        assert_eq!(list.entities.iter().filter(|e| e.kind == EntityKind::Organization).count(), 273);
        assert_eq!(list.meta.list_date.as_deref(), Some("2026-02-27T00:00:09.554Z"));
        // 3,043 alias elements (some empty, some repeats) + NAME_ORIGINAL_SCRIPT.
        let aliases: usize = list.entities.iter().map(|e| e.names.len() - 1).sum();
        assert_eq!(aliases, 3_118);
        let badege = list.entities.iter().find(|e| e.native_id == "6907993").unwrap();
        assert_eq!(badege.primary_name(), Some("ERIC BADEGE"));
        assert_eq!(badege.nationalities, ["CD"]);
        assert_eq!(badege.birth_dates, [PartialDate::year(1971)]);
        let with_passport =
            list.entities.iter().filter(|e| e.documents.iter().any(|d| d.kind == DocumentKind::Passport)).count();
        assert!(with_passport > 100, "{with_passport}");
    }

    #[test]
    fn real_un_list_truncated_fails() {
        let Some(file) = shared_path("un_sc_consolidated/UN_consolidated.xml") else {
            return;
        };
        let Ok(bytes) = std::fs::read(&file) else {
            return;
        };
        let cut = bytes[..bytes.len() * 2 / 3].to_vec();
        let files = ListFiles::from_memory("/mem", vec![("UN_consolidated.xml", cut)]);
        let err = parse("un", &files).unwrap_err();
        assert_eq!(err.code(), "list_malformed");
        assert!(err.to_string().contains("byte offset"), "{err}");
    }
}
