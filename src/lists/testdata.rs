//! Locating the shared real list files for tests (never copied into the repository).
//!
//! Order: the `AML_SHARED_DATA` environment variable (pointing at the `watchlists` folder), then
//! `$CARGO_MANIFEST_DIR/../shared/data/watchlists`. Tests that need the files call
//! [`shared_watchlists_dir`] and return early when it is `None`; the function prints a loud line
//! to stderr so a skipped test is never mistaken for a passing one.

use std::path::{Path, PathBuf};

use super::{ListFormat, ListSource};

/// The shared `watchlists` folder, or `None` (with a loud message on stderr) when it is absent.
pub fn shared_watchlists_dir() -> Option<PathBuf> {
    let from_env = std::env::var_os("AML_SHARED_DATA").map(PathBuf::from);
    let beside_repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/watchlists"));
    let candidates: Vec<PathBuf> = from_env.into_iter().chain(std::iter::once(beside_repo)).collect();
    if let Some(found) = candidates.iter().find(|p| p.is_dir()) {
        return Some(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "SKIPPED: shared watchlists not found at {}; set AML_SHARED_DATA to the `watchlists` folder",
        tried.join(" or ")
    );
    None
}

/// A file or folder under the shared `watchlists` folder, or `None` (loudly) when absent.
pub fn shared_path(relative: &str) -> Option<PathBuf> {
    let p = shared_watchlists_dir()?.join(relative);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: shared list `{}` not found", p.display());
        None
    }
}

/// Every shared list folder or file as the node loads it: list name, path under `watchlists`,
/// format it must be detected as.
pub const SHARED: &[(&str, &str, ListFormat)] = &[
    ("us_ofac_sdn_2021", "ofac_sdn_legacy_2021", ListFormat::OfacSdn),
    ("us_ofac_sdn_2024", "ofac_sdn_legacy_2024-05", ListFormat::OfacSdn),
    ("us_ofac_cons", "ofac_consolidated_non_sdn_2025-12", ListFormat::OfacCons),
    ("un_sc", "un_sc_consolidated", ListFormat::UnXml),
    ("us_bis_dpl", "us_bis_dpl", ListFormat::BisDpl),
    ("uk_hmt", "uk_hmt_conlist_2018", ListFormat::UkHmt),
    ("eu_fsf", "eu_fsf_legacy_csv_2018_subset", ListFormat::EuFsf),
    ("eu_journal", "eu_official_journal_opensanctions/consolidated", ListFormat::EuJournal),
    ("ftm_zala", "ftm_samples/yente_zala_entities.ftm.json", ListFormat::Ftm),
    ("ftm_t1", "ftm_samples/yente_t1_entities.ftm.json", ListFormat::Ftm),
    ("us_congress", "opensanctions_peps_senzing", ListFormat::Senzing),
    ("crypto_0xb10c", "ofac_crypto_addresses/0xb10c_lists_2024-09-27", ListFormat::OfacCrypto),
    ("crypto_map", "ofac_crypto_addresses/thomasgregg_2026-08-22", ListFormat::OfacCrypto),
    ("us_csl", "us_trade_csl", ListFormat::UsCsl),
];

/// Sources for every shared list, as one node would load them all together. The shared
/// `csl.csv` is truncated mid-row and refused as it is; a copy without the cut row is written
/// to `tmp` and used instead. `None` (loudly) when the shared data is absent.
pub fn all_shared_sources(tmp: &Path) -> Option<Vec<ListSource>> {
    let root = shared_watchlists_dir()?;
    let csl = std::fs::read(root.join("us_trade_csl/csl.csv")).ok()?;
    let end = csl.iter().rposition(|&b| b == b'\n')?;
    std::fs::write(tmp.join("csl.csv"), &csl[..=end]).ok()?;
    Some(
        SHARED
            .iter()
            .map(|(name, rel, _)| {
                let path = if *name == "us_csl" { tmp.join("csl.csv") } else { root.join(rel) };
                ListSource { name: name.to_string(), path, format: None }
            })
            .collect(),
    )
}
