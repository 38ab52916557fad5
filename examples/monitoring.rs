//! Load tool for monitoring: one re-screening pass of many monitored subjects against a list
//! update, timed, with the process's peak memory.
//!
//! ```text
//! cargo run --release --example monitoring -- [SUBJECTS] [CHANGED] [MATCHING]
//! ```
//!
//! Defaults: 100,000 monitored subjects (sealed profiles and their requests, in sled, under
//! the `enhanced-due-diligence` spec of `specs/`), 1,000 changed entities (added to a list),
//! 100 of which name a monitored subject, so that 100 subjects get a new possible match and a
//! full new check. Also screens 2,000 subjects against the whole lists the node holds, side by
//! side, to show what screening against the changes alone saves. Run from the repository root.

use std::sync::Arc;
use std::time::Instant;

use aml_node::cases::fingerprint;
use aml_node::clock::SystemClock;
use aml_node::config::Config;
use aml_node::lists::{Category, Entity, EntityKind, NameKind, PartialDate};
use aml_node::monitoring::diff::ListDiff;
use aml_node::monitoring::rescreen::{Changes, rescreen};
use aml_node::node::Node;
use aml_node::profiles::{PROFILES_TREE, ProfilePurpose, StoredProfile, seal_profile};
use aml_node::requests::{REQUESTS_TREE, RequestRecord, RequestStatus};
use aml_node::screening::{Query, SubjectType};
use aml_node::store::Batch;
use aml_node::watchlists::Sourced;

const GIVEN: [&str; 24] = [
    "Anna", "Jan", "Maria", "Pieter", "Sofia", "Lukas", "Elena", "Mateo", "Ines", "Noah", "Clara", "Hugo", "Lea",
    "Oskar", "Nora", "Emil", "Ida", "Felix", "Mila", "Arvid", "Zoe", "Tomas", "Vera", "Bruno",
];
const FAMILY: [&str; 24] = [
    "Jansen",
    "Kowalski",
    "Rossi",
    "Novak",
    "Lindqvist",
    "Moreau",
    "Horvath",
    "Silva",
    "Berg",
    "Keller",
    "Dubois",
    "Varga",
    "Costa",
    "Nieminen",
    "Popescu",
    "Schmidt",
    "Ferreira",
    "Kovac",
    "Larsen",
    "Meyer",
    "Santos",
    "Wojcik",
    "Bianchi",
    "Hansen",
];

/// A deterministic, distinct subject name: two given names and a family name plus a suffix
/// made of letters, so that no two subjects share a name.
fn subject_name(i: usize) -> String {
    let letters = |mut n: usize| {
        let mut s = String::new();
        for _ in 0..4 {
            s.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
        }
        s
    };
    format!("{} {} {}{}", GIVEN[i % 24], GIVEN[(i / 24) % 24], FAMILY[(i / 576) % 24], letters(i))
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, d: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (subjects, changed, matching) = (arg(1, 100_000), arg(2, 1_000), arg(3, 100));
    let dir = tempfile::tempdir()?;
    let config = Config { data_dir: dir.path().join("data"), ..Config::default() };
    // The base lists: OFAC SDN (2024-05) from the shared data when it is beside the checkout,
    // else the demo list. Monitoring screens against the changes only; the base matters for
    // the side-by-side full screening and for the new checks.
    let sdn = std::path::Path::new("../shared/data/watchlists/ofac_sdn_legacy_2024-05");
    let base_list = if sdn.is_dir() {
        let src: aml_node::lists::ListSource = format!("us_ofac_sdn={}", sdn.display()).parse()?;
        aml_node::lists::load_all(&[src])?.remove(0)
    } else {
        eprintln!("!! {} is absent: using the demo list as the base", sdn.display());
        aml_node::lists::demo_list()
    };
    let base_name = base_list.meta.name.clone();
    let base = vec![Sourced { list: base_list, retrieved: None }];
    let node = Node::open_with_lists(config, Arc::new(SystemClock), base)?;
    let spec = node.specs.version("enhanced-due-diligence", 1)?.ok_or("spec enhanced-due-diligence missing")?;
    let now = chrono::Utc::now();

    // Monitored subjects, as submissions leave them: a sealed profile and a request each.
    let t = Instant::now();
    let key = node.secrets.profile.public_key();
    let query = |i: usize| Query {
        name: Some(subject_name(i)),
        entity_type: Some(SubjectType::Person),
        birth_date: Some(PartialDate {
            year: 1950 + (i % 50) as u16,
            month: Some(1 + (i % 12) as u8),
            day: Some(1 + (i % 28) as u8),
        }),
        countries: vec!["NL".into()],
        ..Query::default()
    };
    for chunk in (0..subjects).collect::<Vec<_>>().chunks(5_000) {
        let mut batch = Batch::new();
        for &i in chunk {
            let id = format!("req_{i:08}");
            let q = query(i);
            batch.put(
                REQUESTS_TREE,
                &id,
                &RequestRecord {
                    id: id.clone(),
                    holder: format!("did:key:holder{i}"),
                    officer: spec.officer.clone(),
                    spec_id: spec.id.clone(),
                    spec_version: spec.version,
                    status: RequestStatus::Issued,
                    case_id: format!("case_{i:08}"),
                    credential_id: None,
                    rejection_reason: None,
                    subject: fingerprint(&node.secrets.fingerprint, &q),
                    presentation_digest: String::new(),
                    kyc_issuers: Vec::new(),
                    created_at: now,
                    updated_at: now,
                },
            )?;
            let profile = StoredProfile {
                request_id: id.clone(),
                officer: spec.officer.clone(),
                spec_id: spec.id.clone(),
                purpose: ProfilePurpose::Monitoring,
                expires_at: None,
                sealed: seal_profile(&key, &id, &q)?,
            };
            batch.put(PROFILES_TREE, &id, &profile)?;
        }
        node.commit(batch, Vec::new(), &[])?;
    }
    node.store.flush()?;
    eprintln!("{subjects} monitored subjects stored in {:.2?}", t.elapsed());

    // The list update: `changed` new entities, `matching` of them naming a subject (same
    // birth date), the rest unrelated names.
    let mut added = Vec::with_capacity(changed);
    for j in 0..changed {
        let mut e = Entity::new(&base_name, &format!("NEW-{j:05}"), EntityKind::Person);
        if j < matching {
            let i = j * (subjects / matching.max(1)).max(1);
            let q = query(i);
            e.add_name(q.name.as_deref().unwrap_or_default(), NameKind::Primary);
            e.birth_dates = q.birth_date.into_iter().collect();
        } else {
            e.add_name(&format!("Xavrel Qundoth Ymbrisk{}", subject_name(j + 7_777_777)), NameKind::Primary);
        }
        e.categories = vec![Category::Sanction];
        added.push(e);
    }
    let meta = node.lists.current().lists[0].meta.clone();
    let mut snapshot_lists = vec![node.lists.current().loaded(&base_name).ok_or("base list")?];
    snapshot_lists[0].list.entities.extend(added.iter().cloned());
    let new_snapshot = aml_node::watchlists::Snapshot::build(snapshot_lists, now);
    node.lists.swap(new_snapshot);
    let snapshot = node.lists.current();
    let diff = ListDiff { added, ..ListDiff::default() };
    let rss_before = peak_rss_mib();

    let t = Instant::now();
    let report = rescreen(&node, Changes::new(&[(meta, diff)]), &snapshot).await?;
    let pass = t.elapsed();
    let rss_after = peak_rss_mib();

    // Side by side: the same subjects screened against everything the node holds.
    let sample = subjects.min(2_000);
    let t = Instant::now();
    for i in 0..sample {
        let _ = snapshot.watchlists.screen(&query(i), &spec.policy)?;
    }
    let full_per_subject = t.elapsed().as_secs_f64() / sample as f64;

    println!("{}", serde_json::to_string_pretty(&report)?);
    println!(
        "re-screen pass: {subjects} subjects x {changed} changed entities in {:.2} s ({:.1} us/subject), \
         {} new checks; peak RSS {rss_before:.0} MiB before, {rss_after:.0} MiB after",
        pass.as_secs_f64(),
        pass.as_secs_f64() * 1e6 / subjects as f64,
        report.rechecks,
    );
    println!(
        "screening one subject against all {} listed entities: {:.1} us (changes only: {:.1} us incl. opening the profile)",
        snapshot.watchlists.entity_count(),
        full_per_subject * 1e6,
        pass.as_secs_f64() * 1e6 / subjects as f64,
    );
    Ok(())
}
