//! OFAC sanctioned digital-currency addresses, in the two shapes public mirrors publish:
//!
//! * **Per-asset lists** (0xB10C's nightly extraction from `sdn_advanced.xml`): a directory of
//!   `sanctioned_addresses_<ASSET>.txt` (one address per line) and/or `.json` (an array of
//!   strings). One entity per (asset, address): native id `<ASSET>:<address>`, kind unknown (the
//!   files do not say who holds the address), name = the address (the only identifier the list
//!   gives), one wallet with chain = ASSET, category sanction. A `.txt` and `.json` of the same
//!   asset are read as one set. No date in the files.
//! * **Address map** (`sanctioned-addresses.json`, thomasgregg/crypto-sanctions-list):
//!   `{metadata{sdnListDate, ...}, addresses{<address>: {type, entries[{entity, program, type,
//!   uid, akas}]}}}`. Entries are grouped by `uid` (the SDN ent_num, the native id) so one entity
//!   carries its names (entity primary, akas aliases), programs and every wallet; chain = the
//!   ticker of the entry's `Digital Currency Address - <TICKER>` type. That tool lower-cases every
//!   address (base58 and EIP-55 case is lost): addresses are kept as given. The list date is
//!   `metadata.sdnListDate` (`mm/dd/yyyy`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::dates::parse_mdy;
use super::files::{self, ListFile, ListFiles};
use super::model::{Category, Entity, EntityKind, NameKind};
use super::{ListError, ParsedList};

const PER_ASSET_PREFIX: &str = "sanctioned_addresses_";

#[derive(Deserialize)]
struct AddressMap {
    #[serde(default)]
    metadata: Metadata,
    addresses: BTreeMap<String, AddressInfo>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default, rename = "sdnListDate")]
    sdn_list_date: Option<String>,
}

#[derive(Deserialize)]
struct AddressInfo {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    entries: Vec<AddressEntry>,
}

#[derive(Deserialize)]
struct AddressEntry {
    entity: String,
    #[serde(default)]
    program: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    uid: String,
    #[serde(default)]
    akas: Vec<String>,
}

/// `Digital Currency Address - XBT` -> `XBT`.
fn ticker(address_type: &str) -> &str {
    address_type.rsplit_once(" - ").map_or(address_type, |(_, t)| t).trim()
}

/// The asset of a per-asset file name: `sanctioned_addresses_XBT.txt` -> `XBT`.
fn asset_of(name: &str) -> Option<&str> {
    let rest = name
        .get(PER_ASSET_PREFIX.len()..)
        .filter(|_| name.get(..PER_ASSET_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(PER_ASSET_PREFIX)))?;
    let (asset, _ext) = rest.rsplit_once('.')?;
    if asset.is_empty() { None } else { Some(asset) }
}

fn json_error(file: &ListFile, e: &serde_json::Error, what: &str) -> ListError {
    ListError::malformed(&file.path, format!("line {} column {}", e.line(), e.column()), format!("bad {what}: {e}"))
}

pub fn parse(list: &str, files: &ListFiles) -> Result<ParsedList, ListError> {
    let mut entities = Vec::new();
    let mut list_date = None;
    // Asset -> addresses in first-seen order (a .txt and its .json are one set).
    let mut per_asset: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files.files {
        let lower = file.name.to_ascii_lowercase();
        if let Some(asset) = asset_of(&file.name) {
            let text = files::utf8_text(file)?;
            let addresses: Vec<String> = if lower.ends_with(".json") {
                serde_json::from_str::<Vec<String>>(text).map_err(|e| json_error(file, &e, "address array"))?
            } else {
                let mut v = Vec::new();
                for (i, line) in text.lines().enumerate() {
                    let a = line.trim();
                    if a.is_empty() {
                        continue;
                    }
                    if a.contains(char::is_whitespace) {
                        return Err(ListError::malformed(&file.path, format!("line {}", i + 1), "not one address"));
                    }
                    v.push(a.to_string());
                }
                v
            };
            let set = per_asset.entry(asset.to_ascii_uppercase()).or_default();
            for a in addresses {
                let a = a.trim().to_string();
                if !a.is_empty() && !set.contains(&a) {
                    set.push(a);
                }
            }
        } else {
            let text = files::utf8_text(file)?;
            let map: AddressMap = serde_json::from_str(text).map_err(|e| json_error(file, &e, "address map"))?;
            list_date = map.metadata.sdn_list_date.as_deref().and_then(parse_mdy).map(|d| d.to_string());
            entities.extend(group_by_uid(list, &map));
        }
    }
    for (asset, addresses) in per_asset {
        for address in addresses {
            let mut e = Entity::new(list, &format!("{asset}:{address}"), EntityKind::Unknown);
            e.add_name(&address, NameKind::Primary);
            e.add_wallet(&asset, &address);
            e.add_category(Category::Sanction);
            entities.push(e);
        }
    }
    Ok(ParsedList { entities, list_date })
}

fn group_by_uid(list: &str, map: &AddressMap) -> Vec<Entity> {
    // uid -> entity, ordered by numeric uid for a stable result.
    let mut by_uid: BTreeMap<(u64, String), Entity> = BTreeMap::new();
    for (address, info) in &map.addresses {
        for entry in &info.entries {
            let uid = entry.uid.trim();
            let key = (uid.parse().unwrap_or(u64::MAX), uid.to_string());
            let e = by_uid.entry(key).or_insert_with(|| {
                let mut e = Entity::new(list, uid, EntityKind::Unknown);
                e.add_category(Category::Sanction);
                e
            });
            let has_primary = e.names.iter().any(|n| n.kind == NameKind::Primary);
            e.add_name(&entry.entity, if has_primary { NameKind::Alias } else { NameKind::Primary });
            for aka in &entry.akas {
                e.add_name(aka, NameKind::Alias);
            }
            for p in entry.program.as_deref().unwrap_or("").split(',') {
                e.add_program(p);
            }
            let chain = entry.kind.as_deref().or(info.kind.as_deref()).map_or("UNKNOWN", ticker);
            e.add_wallet(chain, address);
        }
    }
    by_uid.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::testdata::shared_path;
    use crate::lists::{ListFormat, ListSource, load};

    #[test]
    fn per_asset_files_merge_txt_and_json() {
        let files = ListFiles::from_memory(
            "/mem",
            vec![
                ("sanctioned_addresses_XBT.txt", b"1abc\n1def\n".to_vec()),
                ("sanctioned_addresses_XBT.json", b"[\"1abc\", \"1xyz\"]".to_vec()),
                ("sanctioned_addresses_ETH.txt", b"0xAbC\n".to_vec()),
            ],
        );
        let p = parse("c", &files).unwrap();
        let ids: Vec<&str> = p.entities.iter().map(|e| e.native_id.as_str()).collect();
        // Files are read in name order (.json before .txt); an address in both is one entity.
        assert_eq!(ids, ["ETH:0xAbC", "XBT:1abc", "XBT:1xyz", "XBT:1def"]);
        assert_eq!(p.entities[0].wallets[0].chain, "ETH");
        assert_eq!(p.entities[0].kind, EntityKind::Unknown);
    }

    #[test]
    fn bad_json_is_refused_with_position() {
        let files = ListFiles::from_memory("/mem", vec![("sanctioned_addresses_XBT.json", b"[\"1abc\",\n".to_vec())]);
        let err = parse("c", &files).unwrap_err().to_string();
        assert!(err.contains("/mem/sanctioned_addresses_XBT.json:line 2"), "{err}");
    }

    #[test]
    fn address_map_groups_by_uid() {
        let text = r#"{"metadata":{"sdnListDate":"08/20/2026"},"addresses":{
            "0xd882":{"type":"Digital Currency Address - ETH","entries":[{"entity":"Dmitrii KARASAVIDI","program":"CYBER2","type":"Digital Currency Address - ETH","uid":"29585","akas":["Dmitriy KARASAVIDI"]}]},
            "1abc":{"type":"Digital Currency Address - XBT","entries":[{"entity":"Dmitrii KARASAVIDI","program":"CYBER2","type":"Digital Currency Address - XBT","uid":"29585","akas":[]}]}}}"#;
        let files = ListFiles::from_memory("/mem", vec![("sanctioned-addresses.json", text.as_bytes().to_vec())]);
        let p = parse("c", &files).unwrap();
        assert_eq!(p.list_date.as_deref(), Some("2026-08-20"));
        assert_eq!(p.entities.len(), 1);
        let e = &p.entities[0];
        assert_eq!(e.id, "c:29585");
        assert_eq!(e.names.len(), 2);
        assert_eq!(e.wallets.len(), 2);
        assert_eq!(e.programs, ["CYBER2"]);
    }

    #[test]
    fn real_0xb10c_directory() {
        let Some(dir) = shared_path("ofac_crypto_addresses/0xb10c_lists_2024-09-27") else {
            return;
        };
        let list = load(&ListSource { name: "crypto".into(), path: dir, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::OfacCrypto);
        assert_eq!(list.meta.entity_count, 654);
        let xbt = list.entities.iter().filter(|e| e.wallets[0].chain == "XBT").count();
        assert_eq!(xbt, 435);
        let eth = list.entities.iter().filter(|e| e.wallets[0].chain == "ETH").count();
        assert_eq!(eth, 152);
        assert_eq!(list.meta.list_date, None);
    }

    #[test]
    fn real_thomasgregg_map() {
        let Some(file) = shared_path("ofac_crypto_addresses/thomasgregg_2026-08-22/sanctioned-addresses.json") else {
            return;
        };
        let list = load(&ListSource { name: "crypto_map".into(), path: file, format: None }).unwrap();
        assert_eq!(list.meta.format, ListFormat::OfacCrypto);
        assert_eq!(list.meta.list_date.as_deref(), Some("2026-08-20"));
        // 961 addresses, 977 (address, entry) pairs, 94 distinct SDN entries.
        assert_eq!(list.meta.entity_count, 94);
        let mut addresses: Vec<&str> =
            list.entities.iter().flat_map(|e| e.wallets.iter().map(|w| w.address.as_str())).collect();
        addresses.sort_unstable();
        addresses.dedup();
        assert_eq!(addresses.len(), 961);
        let bank = list.entities.iter().find(|e| e.native_id == "4632").unwrap();
        assert_eq!(bank.primary_name(), Some("BANK MARKAZI JOMHOURI ISLAMI IRAN"));
        assert!(bank.names.iter().any(|n| n.value == "CENTRAL BANK OF IRAN"));
        assert!(bank.wallets.iter().any(|w| w.chain == "TRX"));
    }
}
