//! OFAC legacy CSV: the SDN list (`sdn.csv` + `alt.csv` + `add.csv` + `sdn_comments.csv`) and the
//! consolidated non-SDN list (`cons_prim.csv` + `cons_alt.csv` + `cons_add.csv` +
//! `cons_comments.csv`), which has the same layout.
//!
//! Layout (headerless, `-0-` = no value, trailing 0x1A byte):
//! * primary: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
//!   Vess_flag, Vess_owner, Remarks
//! * alt: ent_num, alt_num, alt_type (`aka`/`fka`/`nka`, `weak aka`), alt_name, alt_remarks
//! * add: ent_num, add_num, address, city/state/zip, country, add_remarks
//! * comments: ent_num, remarks continuation — appended to the entry's Remarks *without* a
//!   separator (OFAC cuts the field mid-word) before the remarks are parsed. Complete remarks
//!   end with `.`; remarks that do not (cut, and the comments file absent) lose their last,
//!   incomplete segment rather than yield a fragment such as a half wallet address.
//!
//! Mapping: `individual` -> person, `vessel`, `aircraft`, anything else (`-0-`) -> organization;
//! names are kept as published (`YAN, Xiaobing` is SURNAME, Given; the matcher handles order);
//! `Program` may hold several programs as `DPRK3] [CYBER2`; `Title` -> positions; `Vess_flag` and
//! address countries -> countries; the remarks per [`super::ofac_remarks`]. Every entry is a
//! sanction. Only the primary file is required; an alias, address or comment whose ent_num is not
//! in the primary file is skipped with one warning per file (not an error). No file states a
//! date, so `list_date` is `None`.

use std::collections::HashMap;

use super::countries::CountryResolver;
use super::csv_reader::{CsvReader, non_null};
use super::files::{self, ListFile, ListFiles};
use super::model::{Category, DocumentKind, Entity, EntityKind, NameKind};
use super::ofac_remarks::apply_remarks;
use super::{ListError, ParsedList};

/// Which OFAC list: the file names differ, the layout does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Sdn,
    Consolidated,
}

impl Flavor {
    fn file_names(self) -> [&'static str; 4] {
        match self {
            Flavor::Sdn => ["sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"],
            Flavor::Consolidated => ["cons_prim.csv", "cons_alt.csv", "cons_add.csv", "cons_comments.csv"],
        }
    }
}

/// Fields per primary record.
pub const PRIMARY_FIELDS: usize = 12;
const ALT_FIELDS: usize = 5;
const ADD_FIELDS: usize = 6;

/// When `line` looks like an OFAC legacy row (`<ent_num>,...`), its field count.
pub(crate) fn primary_record_fields(line: &str) -> Option<usize> {
    let (first, _) = line.split_once(',')?;
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut reader = CsvReader::new(line, b',');
    let mut fields = Vec::new();
    match reader.next_record(&mut fields) {
        Ok(Some(_)) => Some(fields.len()),
        _ => None,
    }
}

fn bad(file: &ListFile, line: usize, message: impl Into<String>) -> ListError {
    ListError::malformed(&file.path, format!("line {line}"), message)
}

fn ent_num(file: &ListFile, line: usize, field: &str) -> Result<u64, ListError> {
    field.trim().parse().map_err(|_| bad(file, line, format!("ent_num `{}` is not a number", field.trim())))
}

/// Reads every record of `file`, checking the field count, and hands it to `each`.
fn for_each_record(
    file: &ListFile,
    expected: usize,
    mut each: impl FnMut(usize, &[std::borrow::Cow<'_, str>]) -> Result<(), ListError>,
) -> Result<(), ListError> {
    let text = files::utf8_or_latin1_text(file);
    let mut reader = CsvReader::new(&text, b',');
    let mut fields = Vec::with_capacity(expected);
    while let Some(line) = reader.next_record(&mut fields).map_err(|e| bad(file, e.line, e.message))? {
        if fields.len() != expected {
            return Err(bad(file, line, format!("expected {expected} fields, found {}", fields.len())));
        }
        each(line, &fields)?;
    }
    Ok(())
}

/// Skipped rows whose ent_num is not in the primary file, reported once per file.
fn warn_orphans(file: &ListFile, orphans: &[u64]) {
    if !orphans.is_empty() {
        let sample: Vec<String> = orphans.iter().take(10).map(u64::to_string).collect();
        tracing::warn!(
            file = %file.path.display(),
            count = orphans.len(),
            ent_nums = %sample.join(", "),
            "rows whose ent_num is not in the primary file were skipped"
        );
    }
}

pub fn parse(list: &str, files: &ListFiles, flavor: Flavor) -> Result<ParsedList, ListError> {
    let [prim_name, alt_name, add_name, comments_name] = flavor.file_names();
    let primary = match files.get(prim_name) {
        Some(f) => f,
        // A lone file given directly (e.g. `sdn_2024-05.csv`) is the primary file.
        None if files.files.len() == 1 => &files.files[0],
        None => {
            return Err(ListError::malformed(&files.root, "directory", format!("{prim_name} is missing")));
        }
    };
    let mut countries = CountryResolver::new();
    let mut entities: Vec<Entity> = Vec::new();
    let mut remarks: Vec<String> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();

    for_each_record(primary, PRIMARY_FIELDS, |line, f| {
        let num = ent_num(primary, line, &f[0])?;
        let Some(name) = non_null(&f[1]) else {
            return Err(bad(primary, line, format!("entity without a name (ent_num {num})")));
        };
        if index.insert(num, entities.len()).is_some() {
            return Err(bad(primary, line, format!("duplicate ent_num {num}")));
        }
        let kind = match non_null(&f[2]).map(str::to_ascii_lowercase).as_deref() {
            Some("individual") => EntityKind::Person,
            Some("vessel") => EntityKind::Vessel,
            Some("aircraft") => EntityKind::Aircraft,
            _ => EntityKind::Organization,
        };
        let mut e = Entity::new(list, &num.to_string(), kind);
        e.add_name(name, NameKind::Primary);
        e.add_category(Category::Sanction);
        if let Some(programs) = non_null(&f[3]) {
            for p in programs.split("] [") {
                e.add_program(p.trim_matches(['[', ']', ' ']));
            }
        }
        if let Some(title) = non_null(&f[4]) {
            e.add_position(title);
        }
        if let Some(call_sign) = non_null(&f[5]) {
            e.add_document(DocumentKind::Other, call_sign, None);
        }
        if let Some(flag) = non_null(&f[9]) {
            for c in countries.many(flag) {
                e.add_country(c);
            }
        }
        remarks.push(non_null(&f[11]).unwrap_or("").to_string());
        entities.push(e);
        Ok(())
    })?;

    if let Some(file) = files.get(comments_name) {
        let mut orphans = Vec::new();
        let mut reader_fields = 0usize;
        let text = files::utf8_or_latin1_text(file);
        let mut reader = CsvReader::new(&text, b',');
        let mut fields = Vec::new();
        while let Some(line) = reader.next_record(&mut fields).map_err(|e| bad(file, e.line, e.message))? {
            reader_fields += 1;
            if fields.len() < 2 {
                return Err(bad(file, line, format!("expected 2 fields, found {}", fields.len())));
            }
            let num = ent_num(file, line, &fields[0])?;
            match index.get(&num) {
                // Some exports split a continuation into several fields: keep them all.
                Some(&i) => {
                    for part in &fields[1..] {
                        if let Some(p) = non_null(part) {
                            remarks[i].push_str(p);
                        }
                    }
                }
                None => orphans.push(num),
            }
        }
        tracing::debug!(file = %file.path.display(), rows = reader_fields, "remarks continuations read");
        warn_orphans(file, &orphans);
    }

    if let Some(file) = files.get(alt_name) {
        let mut orphans = Vec::new();
        for_each_record(file, ALT_FIELDS, |line, f| {
            let num = ent_num(file, line, &f[0])?;
            let Some(&i) = index.get(&num) else {
                orphans.push(num);
                return Ok(());
            };
            let Some(name) = non_null(&f[3]) else {
                return Err(bad(file, line, format!("alias without a name (ent_num {num})")));
            };
            let alt_type = non_null(&f[2]).unwrap_or("aka").to_ascii_lowercase();
            let weak_remark = non_null(&f[4]).is_some_and(|r| r.to_ascii_lowercase().contains("weak"));
            let kind = if alt_type.contains("weak") || weak_remark {
                NameKind::Weak
            } else if alt_type == "fka" {
                NameKind::Former
            } else {
                NameKind::Alias
            };
            entities[i].add_name(name, kind);
            Ok(())
        })?;
        warn_orphans(file, &orphans);
    }

    if let Some(file) = files.get(add_name) {
        let mut orphans = Vec::new();
        for_each_record(file, ADD_FIELDS, |line, f| {
            let num = ent_num(file, line, &f[0])?;
            let Some(&i) = index.get(&num) else {
                orphans.push(num);
                return Ok(());
            };
            let parts: Vec<&str> = [&f[2], &f[3], &f[4]].into_iter().filter_map(|x| non_null(x)).collect();
            if !parts.is_empty() {
                entities[i].add_address(&parts.join(", "));
            }
            if let Some(country) = non_null(&f[4]) {
                for c in countries.many(country) {
                    entities[i].add_country(c);
                }
            }
            Ok(())
        })?;
        warn_orphans(file, &orphans);
    }

    let mut cut = Vec::new();
    for (e, r) in entities.iter_mut().zip(&remarks) {
        if r.is_empty() {
            continue;
        }
        // OFAC cuts Remarks at 1,000 characters and continues them in the comments file; a
        // complete remark ends with `.`. Without its continuation the last segment is a
        // fragment (`Digital Currency Address - XBT 1Gq`) and is not read.
        let complete = r.trim_end().ends_with('.');
        let usable = if complete { r.as_str() } else { r.rfind(';').map_or("", |p| &r[..p]) };
        if !complete {
            cut.push(e.native_id.clone());
        }
        apply_remarks(e, usable, &mut countries);
    }
    if !cut.is_empty() {
        tracing::warn!(
            list,
            count = cut.len(),
            ent_nums = %cut.iter().take(10).cloned().collect::<Vec<_>>().join(", "),
            "remarks cut at OFAC's field limit without a continuation ({comments_name} missing?): \
             their last, incomplete segment was ignored"
        );
    }
    countries.log_unknown(list);
    Ok(ParsedList { entities, list_date: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::model::{Category, DocumentKind, Gender, PartialDate};
    use crate::lists::testdata::shared_path;
    use crate::lists::{ListFormat, ListSource, load};

    fn mem(files: Vec<(&str, &str)>) -> ListFiles {
        ListFiles::from_memory("/mem/ofac", files.into_iter().map(|(n, t)| (n, t.as_bytes().to_vec())).collect())
    }

    const SDN: &str = "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\
        28263,\"TIAN, Yinyin\",\"individual\",\"DPRK3] [CYBER2\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 12 Jul 1986; a.k.a. 'snowsjo\"\r\n\x1a";

    #[test]
    fn joins_the_four_files() {
        let files = mem(vec![
            ("sdn.csv", SDN),
            (
                "alt.csv",
                "36,12,\"aka\",\"AERO-CARIBBEAN\",-0- \r\n36,13,\"fka\",\"OLD AERO\",-0- \r\n99,1,\"aka\",\"ORPHAN\",-0- \r\n\x1a",
            ),
            ("add.csv", "36,25,-0- ,\"Havana\",\"Cuba\",-0- \r\n\x1a"),
            ("sdn_comments.csv", "28263,\"hn'; Linked To: LAZARUS GROUP.\"\r\n\x1a"),
        ]);
        let parsed = parse("t", &files, Flavor::Sdn).unwrap();
        assert_eq!(parsed.entities.len(), 2);
        let aero = &parsed.entities[0];
        assert_eq!(aero.kind, EntityKind::Organization);
        assert_eq!(aero.names.len(), 3);
        assert_eq!(aero.names[2].kind, NameKind::Former);
        assert_eq!(aero.countries, ["CU"]);
        assert_eq!(aero.addresses, ["Havana, Cuba"]);
        let tian = &parsed.entities[1];
        assert_eq!(tian.programs, ["DPRK3", "CYBER2"]);
        assert_eq!(tian.names[1].value, "snowsjohn", "comment continues the cut alias");
        assert_eq!(tian.birth_dates, [PartialDate::new(1986, Some(7), Some(12)).unwrap()]);
        assert_eq!(tian.categories, [Category::Sanction]);
    }

    #[test]
    fn a_cut_remark_without_continuation_drops_its_fragment() {
        let files = mem(vec![(
            "sdn.csv",
            "1,\"A\",\"individual\",\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 1970; Digital Currency Address - XBT 1Gq\"\r\n",
        )]);
        let p = parse("t", &files, Flavor::Sdn).unwrap();
        assert!(p.entities[0].wallets.is_empty());
        assert_eq!(p.entities[0].birth_dates, [PartialDate::year(1970)]);
    }

    #[test]
    fn refuses_bad_rows_with_file_and_line() {
        let files =
            mem(vec![("sdn.csv", "1,\"A\",-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n2,\"B\",-0- \r\n")]);
        let err = parse("t", &files, Flavor::Sdn).unwrap_err().to_string();
        assert!(err.contains("sdn.csv:line 2") && err.contains("expected 12 fields, found 3"), "{err}");

        let files = mem(vec![("sdn.csv", "1,\"A,-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n")]);
        let err = parse("t", &files, Flavor::Sdn).unwrap_err().to_string();
        assert!(err.contains("sdn.csv:line 1"), "{err}");

        let files = mem(vec![("sdn.csv", "1,-0- ,-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n")]);
        let err = parse("t", &files, Flavor::Sdn).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("without a name"), "{err}");
    }

    #[test]
    fn real_sdn_2021_with_aliases_addresses_and_comments() {
        let Some(dir) = shared_path("ofac_sdn_legacy_2021") else {
            return;
        };
        let list = load(&ListSource { name: "us_ofac_sdn".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::OfacSdn);
        assert_eq!(list.meta.entity_count, 8_976);
        assert_eq!(list.meta.list_date, None);
        let count = |k: EntityKind| list.entities.iter().filter(|e| e.kind == k).count();
        assert_eq!(count(EntityKind::Person), 4_620);
        assert_eq!(count(EntityKind::Vessel), 406);
        assert_eq!(count(EntityKind::Aircraft), 277);
        assert_eq!(count(EntityKind::Organization), 3_673);
        assert!(list.entities.iter().all(|e| e.categories == [Category::Sanction]));
        // alt.csv: 11,910 aliases over 4,139 entities, plus the remarks' a.k.a./f.k.a. names;
        // exact repeats of one entity's name are kept once: 14,340 names besides the primary.
        let with_alt = list.entities.iter().filter(|e| e.names.len() > 1).count();
        assert_eq!(with_alt, 4_590);
        let extra_names: usize = list.entities.iter().map(|e| e.names.len() - 1).sum();
        assert_eq!(extra_names, 14_340);
        let with_dob = list.entities.iter().filter(|e| !e.birth_dates.is_empty()).count();
        assert_eq!(with_dob, 4_428);
        // 15 entries carry digital currency addresses in sdn.csv (+ continuations).
        let with_wallets = list.entities.iter().filter(|e| !e.wallets.is_empty()).count();
        assert_eq!(with_wallets, 15);
        let wallets: usize = list.entities.iter().map(|e| e.wallets.len()).sum();
        assert_eq!(wallets, 96, "81 in sdn.csv + 15 in sdn_comments.csv");

        let yan = list.entities.iter().find(|e| e.native_id == "25308").unwrap();
        assert_eq!(yan.id, "us_ofac_sdn:25308");
        assert_eq!(yan.primary_name(), Some("YAN, Xiaobing"));
        assert_eq!(yan.kind, EntityKind::Person);
        assert_eq!(yan.birth_dates, [PartialDate::new(1977, Some(3), Some(25)).unwrap()]);
        assert_eq!(yan.wallets.len(), 6);
        assert!(yan.wallets.iter().all(|w| w.chain == "XBT"));
        assert!(yan.names.iter().any(|n| n.value == "ZHOU, William" && n.kind == NameKind::Alias));
        assert_eq!(yan.nationalities, ["CN"]);
        assert_eq!(yan.gender, Some(Gender::Male));
        assert!(yan.documents.iter().any(|d| d.kind == DocumentKind::NationalId && d.number == "421002197703250019"));
        assert_eq!(yan.programs, ["SDNTK"]);
        assert_eq!(yan.addresses, ["Wuhan, Hubei, China"]);

        // A continuation from sdn_comments.csv completes the remarks of 28263.
        let tian = list.entities.iter().find(|e| e.native_id == "28263").unwrap();
        assert!(tian.names.iter().any(|n| n.value == "snowsjohn"));
        assert!(tian.documents.iter().any(|d| d.number == "321284198607120616" && d.country.as_deref() == Some("CN")));

        // Vessels carry their IMO number in one canonical form.
        let vessels_with_imo = list
            .entities
            .iter()
            .filter(|e| e.kind == EntityKind::Vessel && e.documents.iter().any(|d| d.number.starts_with("IMO")))
            .count();
        assert!(vessels_with_imo >= 380, "{vessels_with_imo}");
    }

    #[test]
    fn real_sdn_2024_05_file_alone() {
        let Some(file) = shared_path("ofac_sdn_legacy_2024-05/sdn.csv") else {
            return;
        };
        let list = load(&ListSource { name: "sdn".into(), path: file, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::OfacSdn);
        assert_eq!(list.meta.entity_count, 14_965);
        let count = |k: EntityKind| list.entities.iter().filter(|e| e.kind == k).count();
        assert_eq!(count(EntityKind::Person), 6_854);
        assert_eq!(count(EntityKind::Vessel), 851);
        assert_eq!(count(EntityKind::Aircraft), 376);
        // "Digital Currency Address" occurs 295 times. No sdn_comments.csv comes with this
        // snapshot, so 17 remarks are cut at 1,000 characters; 7 mentions sit in a cut last
        // segment and are not read (fragments like `XBT 1Gq`), and 7 repeat an address of the
        // same entry under another chain (wallets are matched by address): 281 wallets.
        let wallets: usize = list.entities.iter().map(|e| e.wallets.len()).sum();
        assert_eq!(wallets, 281);
        assert!(list.entities.iter().flat_map(|e| &e.wallets).all(|w| w.address.len() >= 25), "no fragments");
        let mut chains: Vec<&str> =
            list.entities.iter().flat_map(|e| e.wallets.iter().map(|w| w.chain.as_str())).collect();
        chains.sort_unstable();
        chains.dedup();
        for c in ["XBT", "ETH", "USDT", "XMR", "TRX", "LTC", "ZEC"] {
            assert!(chains.contains(&c), "{c} in {chains:?}");
        }
        assert_eq!(list.meta.content_hash.len(), "sha256:".len() + 64);
    }

    #[test]
    fn real_consolidated_non_sdn() {
        let Some(dir) = shared_path("ofac_consolidated_non_sdn_2025-12") else {
            return;
        };
        let list = load(&ListSource { name: "us_ofac_cons".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::OfacCons);
        assert_eq!(list.meta.entity_count, 442);
        let ukraine = list.entities.iter().filter(|e| e.programs.iter().any(|p| p == "UKRAINE-EO13662")).count();
        assert!(ukraine >= 197, "{ukraine}");
        let aliases: usize = list.entities.iter().map(|e| e.names.len() - 1).sum();
        assert!(aliases >= 1_073, "{aliases}");
    }

    #[test]
    fn alt_and_add_without_sdn_is_refused() {
        let Some(dir) = shared_path("ofac_sdn_legacy_2025-12_alt_add_only") else {
            return;
        };
        let err = load(&ListSource { name: "x".into(), path: dir, format: None }).unwrap_err();
        assert_eq!(err.code(), "list_format_unknown");
        assert!(err.to_string().contains("sdn.csv"), "{err}");
    }
}
