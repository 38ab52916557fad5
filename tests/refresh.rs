//! List refresh end to end: the real shared list files served over HTTP by a small server the
//! test starts on an ephemeral port, fetched into a cache, versioned, diffed, and refused when
//! the download is bad (truncated, cut, dropped, server error, stalled, oversize) with the
//! previous snapshot kept current, on disk and after a restart.
//!
//! The lists are read from `../shared/data/watchlists` (or `$AML_SHARED_DATA`); when absent the
//! tests say so loudly and skip.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aml_node::lists::testdata::shared_path;
use aml_node::lists::{Entity, ListFormat};
use aml_node::monitoring::diff::{EntityField, diff};
use aml_node::monitoring::refresh::{
    AttemptOutcome, ListCache, Origin, RefreshOptions, RefreshOutcome, RefreshSource, Refresher, RemoteFile,
};
use aml_node::watchlists::AgeBasis;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server whose answers the test sets per path.

#[derive(Clone)]
enum Reply {
    /// 200 with the body and its exact Content-Length.
    Body(Vec<u8>),
    /// This status with a short text body.
    Status(u16),
    /// 200 announcing `claimed` bytes in Content-Length, sending only `body`, then closing.
    ShortBody { body: Vec<u8>, claimed: usize },
    /// 200, chunked; the first `keep` bytes of `body`, then the connection is dropped.
    DropAfter { body: Vec<u8>, keep: usize },
    /// 200 headers, then nothing (a stalled server).
    Stall,
}

struct Server {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, h) = (routes.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (r, h) = (r.clone(), h.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, r, h).await;
                });
            }
        });
        Server { addr, routes, hits, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(format!("/{path}"), reply);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let reply = routes.lock().unwrap().get(&path).cloned().unwrap_or(Reply::Status(404));
    let header = |status: &str, extra: &str| format!("HTTP/1.1 {status}\r\nConnection: close\r\n{extra}\r\n");
    match reply {
        Reply::Body(body) => {
            stream.write_all(header("200 OK", &format!("Content-Length: {}\r\n", body.len())).as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Reply::Status(code) => {
            let body = format!("server says {code}");
            let h = header(&format!("{code} Error"), &format!("Content-Length: {}\r\n", body.len()));
            stream.write_all(h.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
        }
        Reply::ShortBody { body, claimed } => {
            stream.write_all(header("200 OK", &format!("Content-Length: {claimed}\r\n")).as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Reply::DropAfter { body, keep } => {
            stream.write_all(header("200 OK", "Transfer-Encoding: chunked\r\n").as_bytes()).await?;
            stream.write_all(format!("{keep:x}\r\n").as_bytes()).await?;
            stream.write_all(&body[..keep]).await?;
            stream.write_all(b"\r\n").await?;
            stream.flush().await?;
            // Dropped here: no final zero-length chunk.
        }
        Reply::Stall => {
            stream.write_all(header("200 OK", "Content-Length: 1000\r\n").as_bytes()).await?;
            stream.flush().await?;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const SDN_FILES: [&str; 4] = ["sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"];

struct Fixture {
    sdn_2021: HashMap<&'static str, Vec<u8>>,
    sdn_2024: Vec<u8>,
}

fn fixture() -> Option<Fixture> {
    let dir_2021 = shared_path("ofac_sdn_legacy_2021")?;
    let file_2024 = shared_path("ofac_sdn_legacy_2024-05/sdn.csv")?;
    let sdn_2021 = SDN_FILES.iter().map(|n| (*n, std::fs::read(dir_2021.join(n)).unwrap())).collect();
    Some(Fixture { sdn_2021, sdn_2024: std::fs::read(file_2024).unwrap() })
}

/// The four-file OFAC SDN source, served under `v1/`.
fn sdn_source(server: &Server) -> RefreshSource {
    RefreshSource {
        name: "us_ofac_sdn".into(),
        format: Some(ListFormat::OfacSdn),
        origin: Origin::Files(
            SDN_FILES.iter().map(|n| RemoteFile { name: n.to_string(), url: server.url(&format!("v1/{n}")) }).collect(),
        ),
    }
}

fn serve_2021(server: &Server, fx: &Fixture) {
    for n in SDN_FILES {
        server.set(&format!("v1/{n}"), Reply::Body(fx.sdn_2021[n].clone()));
    }
}

fn options() -> RefreshOptions {
    RefreshOptions {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        total_timeout: Duration::from_secs(60),
        ..RefreshOptions::default()
    }
}

/// A server serving the 2021 SDN snapshot and a cache that accepted it.
async fn accepted_2021(cache: &Path, fx: &Fixture) -> (Server, Refresher, RefreshSource, String) {
    let server = Server::start().await;
    serve_2021(&server, fx);
    let refresher = Refresher::new(cache, options()).unwrap();
    let source = sdn_source(&server);
    let outcome = refresher.refresh(&source).await.expect("the 2021 snapshot is accepted");
    assert!(outcome.is_updated());
    let hash = outcome.snapshot().content_hash.clone();
    (server, refresher, source, hash)
}

/// The `ent_num`s of an OFAC primary file, read without the importer.
fn ent_nums(sdn_csv: &[u8]) -> BTreeSet<String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(sdn_csv);
    reader
        .records()
        .filter_map(|r| r.ok())
        .filter_map(|r| r.get(0).map(|f| f.trim().to_string()))
        .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// Cuts `bytes` in the middle of the record around `at`: after the record's first field.
fn cut_mid_record(bytes: &[u8], at: usize) -> Vec<u8> {
    let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let comma = line_start + bytes[line_start..].iter().position(|&b| b == b',').unwrap();
    bytes[..comma + 3].to_vec()
}

/// The current snapshot on disk is still `hash`, also for a cache opened afresh.
fn assert_current(cache: &Path, hash: &str) {
    let cache = ListCache::open(cache).unwrap();
    let status = cache.status("us_ofac_sdn").unwrap();
    assert_eq!(status.current.as_ref().map(|c| c.content_hash.as_str()), Some(hash));
    let loaded = cache.load_current("us_ofac_sdn").unwrap().expect("a cached snapshot");
    assert_eq!(loaded.snapshot.content_hash, hash);
}

// ---------------------------------------------------------------------------------------------
// Tests

/// The 2021 snapshot (four files) is accepted; fetched again it is unchanged (no new snapshot,
/// not parsed); the 2024-05 `sdn.csv` is accepted as a new version with a diff whose counts
/// match the ent_nums of the two files; after a restart the current snapshot loads from the
/// cache with the server gone.
#[tokio::test]
async fn sdn_2021_then_2024_versions_and_diff() {
    let Some(fx) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache_root = tmp.path().join("lists");
    let server = Server::start().await;
    serve_2021(&server, &fx);
    let refresher = Refresher::new(&cache_root, options()).unwrap();
    let source = sdn_source(&server);

    let t = Instant::now();
    let first = refresher.refresh(&source).await.unwrap();
    let first_took = t.elapsed();
    let RefreshOutcome::Updated { list: old_list, snapshot: old, previous: None } = first else {
        panic!("the first fetch must be a new snapshot without a previous one")
    };
    assert_eq!(old.entity_count, 8_976);
    assert_eq!(old_list.entities.len(), 8_976);
    assert_eq!(old.files.len(), 4);
    assert_eq!(
        old.files.iter().map(|f| f.bytes).sum::<u64>(),
        fx.sdn_2021.values().map(|b| b.len() as u64).sum::<u64>()
    );
    // The same hash as loading the shared folder from disk.
    let from_disk = aml_node::lists::load(&aml_node::lists::ListSource {
        name: "us_ofac_sdn".into(),
        path: shared_path("ofac_sdn_legacy_2021").unwrap(),
        format: None,
    })
    .unwrap();
    assert_eq!(old.content_hash, from_disk.meta.content_hash);
    assert_eq!(old.retrieved().basis, AgeBasis::Retrieved);
    assert!(old.list_date.is_none(), "the legacy CSVs state no date");

    // Unchanged: four downloads, no new snapshot, retrieved_at moves on.
    let hits = server.hits();
    let t = Instant::now();
    let again = refresher.refresh(&source).await.unwrap();
    let unchanged_took = t.elapsed();
    assert!(matches!(&again, RefreshOutcome::Unchanged { snapshot } if snapshot.content_hash == old.content_hash));
    assert!(again.snapshot().retrieved_at >= old.retrieved_at);
    assert_eq!(again.snapshot().accepted_at, old.accepted_at);
    assert_eq!(server.hits(), hits + 4);
    let status = refresher.status("us_ofac_sdn").unwrap();
    assert_eq!(status.last_outcome, Some(AttemptOutcome::Unchanged));
    assert_eq!(status.history, vec![old.content_hash.clone()]);

    // The 2024-05 sdn.csv: the operator's source now has the one file.
    server.set("v2/sdn.csv", Reply::Body(fx.sdn_2024.clone()));
    let source_2024 = RefreshSource {
        origin: Origin::Files(vec![RemoteFile { name: "sdn.csv".into(), url: server.url("v2/sdn.csv") }]),
        ..source.clone()
    };
    let t = Instant::now();
    let second = refresher.refresh(&source_2024).await.unwrap();
    let second_took = t.elapsed();
    let RefreshOutcome::Updated { list: new_list, snapshot: new, previous: Some(previous) } = second else {
        panic!("the 2024 list must be a new snapshot replacing the 2021 one")
    };
    assert_eq!(previous.content_hash, old.content_hash);
    assert_eq!(new.entity_count, 14_965);
    assert_eq!(new.files.len(), 1);
    assert_eq!(new.files[0].sha256, new.content_hash, "one file: the hash is the file's own sha256");
    assert!(new.content_hash.starts_with("sha256:210ca6b4a8187a34"), "as in SHA256SUMS: {}", new.content_hash);

    // The diff, old snapshot read back from the cache as the node would.
    let cache = refresher.cache();
    let old_cached = cache.load_snapshot("us_ofac_sdn", &previous.content_hash).unwrap();
    assert_eq!(old_cached.list.entities, old_list.entities);
    let t = Instant::now();
    let d = diff(&old_cached.list.entities, &new_list.entities);
    let diff_took = t.elapsed();
    let summary = d.summary();

    let old_ids = ent_nums(&fx.sdn_2021["sdn.csv"]);
    let new_ids = ent_nums(&fx.sdn_2024);
    assert_eq!((old_ids.len(), new_ids.len()), (8_976, 14_965));
    let added = new_ids.difference(&old_ids).count();
    let removed = old_ids.difference(&new_ids).count();
    let common = old_ids.intersection(&new_ids).count();
    assert_eq!(summary.added, added);
    assert_eq!(summary.removed, removed);
    assert_eq!(summary.updated + summary.unchanged, common);
    let native = |v: &[Entity]| -> BTreeSet<String> { v.iter().map(|e| e.native_id.clone()).collect() };
    assert_eq!(native(&d.added), new_ids.difference(&old_ids).cloned().collect());
    assert_eq!(native(&d.removed), old_ids.difference(&new_ids).cloned().collect());
    // Pinned after checking entries by hand (see `an_updated_entry_by_hand` below).
    for u in &d.updated {
        assert!(!u.fields.is_empty());
        assert_eq!(aml_node::monitoring::diff::changed_fields(&u.old, &u.new), u.fields);
    }
    an_updated_entry_by_hand(&d);
    eprintln!(
        "FIGURES: first fetch+parse (2021, 4 files, 3.5 MB) {first_took:?}; unchanged refetch {unchanged_took:?}; \
         2024 fetch+parse (3.9 MB) {second_took:?}; diff 8,976 vs 14,965 entities {diff_took:?}; summary {}",
        serde_json::to_string(&summary).unwrap()
    );
    assert_eq!((summary.added, summary.removed, summary.updated, summary.unchanged), PINNED_DIFF);

    // Restart with the server gone: the 2024 snapshot loads from the cache.
    drop(refresher);
    drop(server);
    let cache = ListCache::open(&cache_root).unwrap();
    let cached = cache.load_current("us_ofac_sdn").unwrap().expect("the current snapshot is cached");
    assert_eq!(cached.snapshot.content_hash, new.content_hash);
    assert_eq!(cached.list.entities.len(), 14_965);
    assert_eq!(cached.list.meta.content_hash, new.content_hash);
    let sourced = cached.sourced();
    assert_eq!(sourced.retrieved.map(|r| r.basis), Some(AgeBasis::Retrieved));
    let kept: Vec<String> = cache.snapshots("us_ofac_sdn").unwrap().into_iter().map(|s| s.content_hash).collect();
    assert_eq!(kept, vec![new.content_hash.clone(), old.content_hash.clone()]);
    let status = cache.status("us_ofac_sdn").unwrap();
    assert_eq!((status.consecutive_failures, status.last_outcome), (0, Some(AttemptOutcome::Updated)));
}

/// added, removed, updated, unchanged between the 2021 and the 2024-05 SDN snapshots. Added and
/// removed are also computed above from the files' ent_nums. Most updates lose aliases and
/// addresses: the 2024-05 snapshot has no `alt.csv`/`add.csv` (PROVENANCE.md), so only the
/// aliases written in its Remarks remain.
const PINNED_DIFF: (usize, usize, usize, usize) = (6_870, 881, 6_832, 1_263);

/// Entries checked by hand against the two files.
fn an_updated_entry_by_hand(d: &aml_node::monitoring::diff::ListDiff) {
    use EntityField as F;
    let get = |id: &str| d.updated.iter().find(|u| u.id() == id).unwrap_or_else(|| panic!("{id} not updated"));
    // 36 AEROCARIBBEAN AIRLINES: same sdn.csv row in both; 2021 had alias AERO-CARIBBEAN
    // (alt.csv) and an address in Havana (add.csv).
    let u = get("us_ofac_sdn:36");
    assert_eq!(u.fields, [F::Names, F::Countries, F::Addresses]);
    assert!(u.old.names.iter().any(|n| n.value == "AERO-CARIBBEAN") && u.new.names.len() == 1);
    assert_eq!((u.old.countries.as_slice(), u.new.countries.len()), (&["CU".to_string()][..], 0));
    // 4691 AUM SHINRIKYO: "FTO] [SDGT" in 2021, "SDGT" in 2024 (the FTO designation was revoked).
    let u = get("us_ofac_sdn:4691");
    assert!(u.fields.contains(&F::Programs));
    assert_eq!((u.old.programs.len(), u.new.programs.as_slice()), (2, &["SDGT".to_string()][..]));
    // 2677: "AL-ZUMAR, Abbud" became "AL-ZOMOR, Abboud Abdul Latif Hassan" with DOB 19 Apr 1947,
    // nationality Egypt and gender added to the remarks.
    let u = get("us_ofac_sdn:2677");
    for f in [F::Names, F::BirthDates, F::Nationalities, F::Gender] {
        assert!(u.fields.contains(&f), "{f}: {:?}", u.fields);
    }
    assert_eq!(u.new.primary_name(), Some("AL-ZOMOR, Abboud Abdul Latif Hassan"));
    assert_eq!(u.new.birth_dates.iter().map(|b| b.to_string()).collect::<Vec<_>>(), ["1947-04-19"]);
    assert!(u.affects_matching());
    // Removed entries are gone from the 2024 file, added ones absent from the 2021 file (checked
    // over all ent_nums above); 306 BANCO NACIONAL DE CUBA keeps its Remarks alias BNC.
    let u = get("us_ofac_sdn:306");
    assert!(
        u.new.names.iter().any(|n| n.value == "BNC") && !u.new.names.iter().any(|n| n.value.contains("NATIONAL BANK"))
    );
}

/// A file served with a larger `Content-Length` than its body, and a file cut in the middle
/// of a record (served whole): both refused, the 2021 snapshot kept current; the refusals are
/// in the status, which survives a restart; the cut file is kept for inspection.
#[tokio::test]
async fn truncated_downloads_are_refused_and_the_old_snapshot_kept() {
    let Some(fx) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache_root = tmp.path().join("lists");
    let (server, refresher, source, hash) = accepted_2021(&cache_root, &fx).await;

    let new = &fx.sdn_2024;
    let half = new.len() / 2;
    server.set("v1/sdn.csv", Reply::ShortBody { body: new[..half].to_vec(), claimed: new.len() });
    let err = refresher.refresh(&source).await.unwrap_err();
    assert_eq!(err.code(), "refresh_truncated", "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("{half} of the {} bytes", new.len())) && msg.contains("v1/sdn.csv"), "{msg}");
    assert_current(&cache_root, &hash);

    let cut = cut_mid_record(new, half);
    let cut_line = 1 + cut.iter().filter(|&&b| b == b'\n').count();
    server.set("v1/sdn.csv", Reply::Body(cut));
    let err = refresher.refresh(&source).await.unwrap_err();
    assert_eq!(err.code(), "refresh_malformed", "{err}");
    let msg = err.to_string();
    assert!(msg.contains("sdn.csv from http://") && msg.contains(&format!("line {cut_line}")), "{msg}");
    assert!(msg.contains("rejected"), "the refused files' place is named: {msg}");
    assert!(cache_root.join("us_ofac_sdn/rejected/sdn.csv").is_file());
    assert_current(&cache_root, &hash);

    // The failures are recorded and survive a restart.
    drop(refresher);
    let refresher = Refresher::new(&cache_root, options()).unwrap();
    let status = refresher.status("us_ofac_sdn").unwrap();
    assert_eq!(status.consecutive_failures, 2);
    assert_eq!(status.last_outcome, Some(AttemptOutcome::Failed));
    assert_eq!(status.last_error.as_ref().map(|e| e.code.as_str()), Some("refresh_malformed"));
    assert_eq!(status.current.as_ref().map(|c| c.entity_count), Some(8_976));
    assert!(status.last_success_at.is_some() && status.last_attempt_at > status.last_success_at);
    // Nothing half-written is left behind.
    assert!(!cache_root.join("us_ofac_sdn/tmp").exists() || dir_is_empty(&cache_root.join("us_ofac_sdn/tmp")));
    assert_eq!(std::fs::read_dir(cache_root.join("us_ofac_sdn/snapshots")).unwrap().count(), 1);

    // A good download again: accepted, the failure count reset.
    serve_2021(&server, &fx);
    assert!(matches!(refresher.refresh(&source).await.unwrap(), RefreshOutcome::Unchanged { .. }));
    let status = refresher.status("us_ofac_sdn").unwrap();
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.last_error.as_ref().map(|e| e.code.as_str()), Some("refresh_malformed"), "kept for the record");
}

fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}

/// A server dropping the connection in the middle of the third file of four: refused, the
/// 2021 snapshot kept.
#[tokio::test]
async fn a_connection_dropped_mid_download_is_refused() {
    let Some(fx) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache_root = tmp.path().join("lists");
    let (server, refresher, source, hash) = accepted_2021(&cache_root, &fx).await;
    let add = fx.sdn_2021["add.csv"].clone();
    let keep = add.len() / 3;
    server.set("v1/sdn.csv", Reply::Body(fx.sdn_2024.clone()));
    server.set("v1/add.csv", Reply::DropAfter { body: add, keep });
    let err = refresher.refresh(&source).await.unwrap_err();
    assert_eq!(err.code(), "refresh_interrupted", "{err}");
    assert!(
        err.to_string().contains("v1/add.csv") && err.to_string().contains(&format!("after {keep} bytes")),
        "{err}"
    );
    assert_current(&cache_root, &hash);
    assert_eq!(refresher.status("us_ofac_sdn").unwrap().last_error.unwrap().code, "refresh_interrupted");
}

/// HTTP errors (500, 404) refused with the status and the server's words; the 2021
/// snapshot kept.
#[tokio::test]
async fn server_errors_are_refused() {
    let Some(fx) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache_root = tmp.path().join("lists");
    let (server, refresher, source, hash) = accepted_2021(&cache_root, &fx).await;
    server.set("v1/alt.csv", Reply::Status(500));
    let err = refresher.refresh(&source).await.unwrap_err();
    assert_eq!(err.code(), "refresh_http_status");
    let msg = err.to_string();
    assert!(msg.contains("v1/alt.csv answered HTTP 500 (server says 500)"), "{msg}");
    server.set("v1/alt.csv", Reply::Status(404));
    let err = refresher.refresh(&source).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert_current(&cache_root, &hash);
    let status = refresher.status("us_ofac_sdn").unwrap();
    assert_eq!(status.consecutive_failures, 2);
    let api: aml_node::error::Error = err.into();
    assert_eq!((api.code, api.status()), ("refresh_http_status", 503));
}

/// A stalled server times out, an oversize file is refused before it fills the disk, a closed
/// port cannot be reached: all refused, the 2021 snapshot kept.
#[tokio::test]
async fn stalled_oversize_and_unreachable_sources_are_refused() {
    let Some(fx) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache_root = tmp.path().join("lists");
    let (server, _, source, hash) = accepted_2021(&cache_root, &fx).await;

    let impatient = RefreshOptions { read_timeout: Duration::from_millis(300), ..options() };
    let refresher = Refresher::new(&cache_root, impatient).unwrap();
    server.set("v1/sdn.csv", Reply::Stall);
    let t = Instant::now();
    let err = refresher.refresh(&source).await.unwrap_err();
    assert_eq!(err.code(), "refresh_timeout", "{err}");
    assert!(t.elapsed() < Duration::from_secs(10));

    let small = RefreshOptions { max_file_bytes: 1_000_000, ..options() };
    let refresher = Refresher::new(&cache_root, small).unwrap();
    server.set("v1/sdn.csv", Reply::Body(fx.sdn_2024.clone()));
    let err = refresher.refresh(&source).await.unwrap_err();
    assert_eq!(err.code(), "refresh_too_large", "{err}");
    assert!(err.to_string().contains("Content-Length 3909739"), "{err}");
    // Without a Content-Length the cap holds while streaming.
    server.set("v1/sdn.csv", Reply::DropAfter { body: fx.sdn_2024.clone(), keep: 2_000_000 });
    assert_eq!(refresher.refresh(&source).await.unwrap_err().code(), "refresh_too_large");

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let unreachable = RefreshSource {
        origin: Origin::Files(vec![RemoteFile { name: "sdn.csv".into(), url: format!("http://{closed}/sdn.csv") }]),
        ..source.clone()
    };
    let err = refresher.refresh(&unreachable).await.unwrap_err();
    assert_eq!(err.code(), "refresh_connect", "{err}");
    assert_current(&cache_root, &hash);
    assert_eq!(refresher.status("us_ofac_sdn").unwrap().consecutive_failures, 4);
}

/// The UN list from one URL, format detected from the content, its own date kept; the same
/// file cut mid-element is refused.
#[tokio::test]
async fn un_list_from_one_url() {
    let Some(un) = shared_path("un_sc_consolidated/UN_consolidated.xml") else { return };
    let bytes = std::fs::read(un).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start().await;
    server.set("resources/xml/en/consolidated.xml", Reply::Body(bytes.clone()));
    let refresher = Refresher::new(tmp.path(), options()).unwrap();
    let source = RefreshSource {
        name: "un_sc".into(),
        format: None,
        origin: Origin::Url(server.url("resources/xml/en/consolidated.xml")),
    };
    let outcome = refresher.refresh(&source).await.unwrap();
    let snapshot = outcome.snapshot().clone();
    assert_eq!(snapshot.format, ListFormat::UnXml);
    assert_eq!(snapshot.entity_count, 1_003);
    assert_eq!(snapshot.files[0].name, "consolidated.xml");
    assert!(snapshot.list_date.as_deref().is_some_and(|d| d.starts_with("2026-02-27")), "{:?}", snapshot.list_date);
    assert!(snapshot.content_hash.starts_with("sha256:66b392a4090868d2"));
    let sourced = outcome.sourced().unwrap();
    assert_eq!(sourced.list.entities.len(), 1_003);

    server.set("resources/xml/en/consolidated.xml", Reply::Body(bytes[..bytes.len() * 2 / 3].to_vec()));
    let err = refresher.refresh(&source).await.unwrap_err();
    assert_eq!(err.code(), "refresh_malformed", "{err}");
    assert!(err.to_string().contains("consolidated.xml"), "{err}");
    let status = refresher.status("un_sc").unwrap();
    assert_eq!(status.current.map(|c| c.content_hash), Some(snapshot.content_hash));
}
