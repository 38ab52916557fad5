//! Where the time of one issuance goes: each stage of `requests::submit`, timed in-process
//! on one thread, then the whole `submit` in-process (no HTTP) with concurrent requests.
//!
//! ```text
//! cargo run --release --example stages -- [--iterations 300] [--concurrency 64]
//! ```
//!
//! Run from the repository root (it opens a node on a temporary data directory with the
//! demo keys and specs, like `aml-node serve`).

#[path = "support/proc_stat.rs"]
mod proc_stat;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aml_node::cases::fingerprint;
use aml_node::claims::{
    ChallengeMessage, Nonce, Presentation, check_binding, issue_kyc_credential, verify_holder_signature,
    verify_kyc_credential,
};
use aml_node::client::demo_claims;
use aml_node::config::Config;
use aml_node::credentials::{CredentialFormat, SecuredCredential};
use aml_node::keys::{HolderKey, IssuerKey, file_names};
use aml_node::node::Node;
use aml_node::requests::{self, Submission};
use aml_node::store::Batch;
use base64::Engine as _;
use clap::Parser;
use proc_stat::{idle_and_steal, machine_ticks, process_cpu};

#[derive(Parser)]
#[command(about = "Per-stage cost of the issuance path, in-process")]
struct Cli {
    /// Iterations per stage.
    #[arg(long, default_value_t = 300)]
    iterations: usize,
    /// Concurrent in-process submissions for the end-to-end figure.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests for the end-to-end figure, per case.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Only these cases: jose, di (default both).
    #[arg(long)]
    only: Option<String>,
}

struct Timer {
    rows: Vec<(String, Duration, usize)>,
}

impl Timer {
    fn add(&mut self, name: &str, total: Duration, n: usize) {
        self.rows.push((name.to_owned(), total, n));
    }

    fn print(&self, title: &str) {
        println!("\n{title}");
        let mut sum = 0.0;
        for (name, total, n) in &self.rows {
            let us = total.as_secs_f64() * 1e6 / *n as f64;
            sum += us;
            println!("  {name:<44} {us:>9.1} us");
        }
        println!("  {:<44} {sum:>9.1} us", "sum");
    }
}

fn prepare(
    node: &Node,
    holder: &HolderKey,
    spec: &str,
    credential: SecuredCredential,
) -> Result<Submission, Box<dyn std::error::Error>> {
    let did = holder.did();
    let c = requests::challenge(node, &did, spec)?;
    let nonce = Nonce::parse(&c.nonce)?;
    let presentation = String::from_utf8(Presentation::new(&did, vec![credential]).to_bytes())?;
    let message =
        ChallengeMessage::new(&c.domain, &did, spec, presentation.as_bytes(), &nonce, chrono::Utc::now())?.to_string();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(holder.sign(message.as_bytes()).to_bytes());
    Ok(Submission { spec_id: spec.to_owned(), presentation, message, signature })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let dir = tempfile::tempdir()?;
    let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let node = Arc::new(Node::open(config, Arc::new(aml_node::clock::SystemClock))?);
    let kyc = IssuerKey::load(&std::path::Path::new("keys-example").join(file_names::KYC_PROVIDER))?;
    let n = cli.iterations;
    let cases: Vec<(&str, &str, CredentialFormat)> = vec![
        ("jose", "basic-sanctions", CredentialFormat::Jose),
        ("di", "enhanced-due-diligence", CredentialFormat::DataIntegrity),
    ];
    for (case, spec_id, format) in cases {
        if cli.only.as_deref().is_some_and(|o| o != case) {
            continue;
        }
        let spec = node.specs.active(spec_id)?;
        let officer = node.officers.get(&spec.officer).cloned().ok_or("officer")?;
        let mut t = Timer { rows: Vec::new() };
        // Inputs (untimed).
        let mut holders = Vec::new();
        let mut creds = Vec::new();
        let t0 = Instant::now();
        for i in 0..n {
            let h = HolderKey::generate();
            let claims = demo_claims(&format!("Alice Stage{}", i % 7), "1980-01-02", "NL", &format!("ST{i:06}"));
            creds.push(issue_kyc_credential(&kyc, &h.did(), claims, chrono::Duration::days(30), format).await?);
            holders.push(h);
        }
        t.add("(holder side) mint KYC credential", t0.elapsed(), n);
        let mut subs = Vec::new();
        let t0 = Instant::now();
        for (h, c) in holders.iter().zip(&creds) {
            subs.push(prepare(&node, h, spec_id, c.clone())?);
        }
        t.add("(holder side) challenge + sign presentation", t0.elapsed(), n);
        let holder_rows = std::mem::take(&mut t.rows);

        let now = node.clock.now();
        let t0 = Instant::now();
        let mut messages = Vec::new();
        for s in &subs {
            let m = ChallengeMessage::parse(&s.message)?;
            verify_holder_signature(&m.holder_did, &s.message, &s.signature)?;
            messages.push(m);
        }
        t.add("parse message + verify holder signature", t0.elapsed(), n);
        let t0 = Instant::now();
        let mut presentations = Vec::new();
        for (s, m) in subs.iter().zip(&messages) {
            let p = Presentation::parse(s.presentation.as_bytes())?;
            check_binding(m, s.presentation.as_bytes(), &p)?;
            presentations.push(p);
        }
        t.add("parse presentation + digest binding", t0.elapsed(), n);
        let t0 = Instant::now();
        for m in &messages {
            let _: Option<requests::ChallengeRecord> = node.store.get(requests::CHALLENGES_TREE, m.nonce.as_str())?;
        }
        t.add("read challenge (sled get)", t0.elapsed(), n);
        let t0 = Instant::now();
        let mut verified = Vec::new();
        for (p, m) in presentations.iter().zip(&messages) {
            verified.push(verify_kyc_credential(&p.verifiable_credential[0], &m.holder_did, now).await?);
        }
        t.add(&format!("verify KYC credential ({format:?})"), t0.elapsed(), n);
        let t0 = Instant::now();
        let mut queries = Vec::new();
        for v in &verified {
            let c = requests::claims::collect(&spec, std::slice::from_ref(v))?;
            queries.push((c.to_query()?, c));
        }
        t.add("collect claims + query", t0.elapsed(), n);
        let snapshot = node.lists.ready(now)?;
        let t0 = Instant::now();
        for (q, _) in &queries {
            let _ = fingerprint(&node.secrets.fingerprint, q);
            let s = snapshot.watchlists.screen(q, &spec.policy)?;
            std::hint::black_box(s);
        }
        t.add("fingerprint + screen (demo list)", t0.elapsed(), n);
        let t0 = Instant::now();
        for (i, (_, c)) in queries.iter().enumerate() {
            let plaintext = serde_json::to_vec(&serde_json::json!({"requestId": i, "claims": c.to_sealed_json()}))?;
            std::hint::black_box(aml_node::seal::seal(&officer.keys().sealing, &format!("req_{i}"), &plaintext)?);
        }
        t.add("seal claims to the officer", t0.elapsed(), n);
        let t0 = Instant::now();
        let mut issued = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            issued.push(node.issuer.issue(&officer, &spec, &m.holder_did, &format!("req_{i}"), now, vec![]).await?);
        }
        t.add(&format!("issue AML credential ({:?}) + certificate", spec.credential_format), t0.elapsed(), n);
        let t0 = Instant::now();
        for (i, (c, cert)) in issued.iter().enumerate() {
            let mut b = Batch::new();
            b.expect_absent("bench_requests", &format!("r{i}")).put("bench_requests", &format!("r{i}"), &i)?;
            aml_node::issuer::Issuer::stage(&mut b, c, cert)?;
            b.put("bench_cases", &format!("c{i}"), &c.holder)?;
            node.store.commit(&b)?;
        }
        t.add("commit batch (journal + sled inserts)", t0.elapsed(), n);
        let t0 = Instant::now();
        for _ in 0..n.min(100) {
            node.store.put("bench_flush", "k", &1u32)?;
            node.store.flush()?;
        }
        t.add("flush (fsync), one writer at a time", t0.elapsed(), n.min(100));
        let t0 = Instant::now();
        for (_, cert) in &issued {
            std::hint::black_box(node.issuer.verify_certificate(&cert.token));
        }
        t.add("(other) verify certificate (JWT)", t0.elapsed(), n);
        t.print(&format!("== {case}: spec {spec_id}, KYC {format:?}, {n} iterations, one thread =="));
        Timer { rows: holder_rows }.print("   holder-side preparation (not part of the node's work)");

        // End to end in-process: `submit`, concurrently.
        let total = cli.requests;
        let mut subs = Vec::with_capacity(total);
        for i in 0..total {
            let h = HolderKey::generate();
            let claims = demo_claims(&format!("Alice Endtoend{}", i % 7), "1980-01-02", "NL", &format!("EE{i:06}"));
            let c = issue_kyc_credential(&kyc, &h.did(), claims, chrono::Duration::days(30), format).await?;
            subs.push(prepare(&node, &h, spec_id, c)?);
        }
        let subs = Arc::new(subs);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cpu0 = process_cpu("self");
        let machine0 = machine_ticks();
        let flushes0 = node.store.flushes_run();
        let t0 = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..cli.concurrency {
            let (node, subs, next) = (node.clone(), subs.clone(), next.clone());
            tasks.spawn(async move {
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= subs.len() {
                        return errors;
                    }
                    match requests::submit(&node, &subs[i]).await {
                        Ok(o) if o.certificate.is_some() => {}
                        Ok(o) => {
                            errors += 1;
                            eprintln!("not issued: {:?}", o.request.status);
                        }
                        Err(e) => {
                            errors += 1;
                            eprintln!("error: {e}");
                        }
                    }
                }
            });
        }
        let mut errors = 0;
        while let Some(e) = tasks.join_next().await {
            errors += e?;
        }
        let el = t0.elapsed();
        let cpu = process_cpu("self").zip(cpu0).map(|(b, a)| b.saturating_sub(a)).unwrap_or_default();
        let (idle, stolen) = machine0.zip(machine_ticks()).map(|(a, b)| idle_and_steal(a, b)).unwrap_or_default();
        println!(
            "   in-process submit, {} concurrent: {total} requests in {:.2} s = {:.0} req/s, errors {errors}; \
             CPU {:.0} us/request ({:.2} cores); {} flushes; machine idle {:.0} %, stolen {:.0} %",
            cli.concurrency,
            el.as_secs_f64(),
            total as f64 / el.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / total as f64,
            cpu.as_secs_f64() / el.as_secs_f64(),
            node.store.flushes_run() - flushes0,
            idle * 100.0,
            stolen * 100.0
        );
    }
    let bytes: u64 = walk(dir.path());
    println!("data directory: {:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
    Ok(())
}

fn walk(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => walk(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
