//! Load tool: drives a running node over HTTP/1.1 keep-alive connections and reports
//! throughput, latency percentiles and errors.
//!
//! ```text
//! cargo run --release --example load -- verify --server http://127.0.0.1:8080
//! cargo run --release --example load -- issue --spec basic-sanctions --kyc jose
//! cargo run --release --example load -- issue --spec enhanced-due-diligence --kyc data-integrity
//! ```
//!
//! - `verify`: issues `--certs` distinct certificates through the node (untimed), then posts
//!   them round-robin to `POST /v1/certificates/verify` from `--concurrency` connections
//!   (timed). Every answer must be `200` with `"verdict": "valid"`.
//! - `issue`: prepares `--requests` holder requests (fresh holder key, a fresh KYC credential
//!   in the chosen form, a challenge, the signed presentation; untimed), then posts them to
//!   `POST /v1/requests` from `--concurrency` connections (timed). Every answer must be `201`
//!   with `"status": "issued"` and a certificate.
//!
//! Each run prints its figures; the last line is the median of the runs. Any error (transport,
//! non-2xx, wrong verdict) is counted, the first few are printed, and the tool exits non-zero.
//! With `--server-pid` it also reports the server's CPU time per request (from /proc). Each run
//! also reports this tool's own CPU and how much of the machine stayed idle or was stolen by
//! the hypervisor: on a shared 2-core VM a slow run is often a run with little CPU to use.
//!
//! The HTTP client is a minimal hand-rolled HTTP/1.1 client (pre-serialized requests,
//! `httparse` for answers) so that it costs the 2-core box as little CPU as possible.

#[path = "support/proc_stat.rs"]
mod proc_stat;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aml_node::claims::issue_kyc_credential;
use aml_node::client::{NodeClient, demo_claims};
use aml_node::credentials::CredentialFormat;
use aml_node::keys::{HolderKey, IssuerKey, file_names};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use proc_stat::{idle_and_steal, machine_ticks, process_cpu};

#[derive(Parser)]
#[command(name = "load", about = "Load tool for a running aml-node (verify and issue benchmarks)")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// POST /v1/certificates/verify with many distinct valid certificates.
    Verify(VerifyArgs),
    /// Prepare holder requests (untimed), then POST /v1/requests concurrently (timed).
    Issue(IssueArgs),
}

#[derive(Args, Clone)]
struct Common {
    /// Base URL of the node (plain http).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Timed runs; the summary is the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Worker threads of the load tool's own runtime (it shares the cores with the server).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Stop a run after this many seconds, whatever is left.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// The server's process id: report its CPU time per request.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Key directory (the demo KYC provider key).
    #[arg(long, default_value = "keys-example")]
    keys: std::path::PathBuf,
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    common: Common,
    /// Distinct certificates to rotate through (issued through the node first).
    #[arg(long, default_value_t = 1000)]
    certs: usize,
    /// Requests per run.
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Spec to issue the certificates under.
    #[arg(long, default_value = "basic-sanctions")]
    spec: String,
    /// Write the certificates, one per line, to this file (e.g. for wrk) and continue.
    #[arg(long)]
    dump_certs: Option<std::path::PathBuf>,
    /// Only issue and dump the certificates (with --dump-certs); run nothing timed.
    #[arg(long)]
    prepare_only: bool,
}

#[derive(Args)]
struct IssueArgs {
    #[command(flatten)]
    common: Common,
    /// Requests per run (each needs its own challenge, prepared before the run).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Spec id (basic-sanctions issues VC-JOSE, enhanced-due-diligence Data Integrity).
    #[arg(long, default_value = "basic-sanctions")]
    spec: String,
    /// Format of the holders' KYC credentials.
    #[arg(long, value_enum, default_value_t = Kyc::Jose)]
    kyc: Kyc,
    /// Requests prepared concurrently (challenges taken, credentials minted).
    #[arg(long, default_value_t = 16)]
    prepare_concurrency: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kyc {
    Jose,
    DataIntegrity,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.mode {
        Mode::Verify(a) => a.common.threads,
        Mode::Issue(a) => a.common.threads,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async move {
        match cli.mode {
            Mode::Verify(a) => verify(a).await,
            Mode::Issue(a) => issue(a).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: FAILED: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Preparation (untimed)
// ---------------------------------------------------------------------------------------------

const GIVEN: &[&str] = &["Alice", "Bruno", "Chiara", "Dmitri", "Emeka", "Fatima", "Gustav", "Hana", "Ines", "Jonas"];
const FAMILY: &[&str] =
    &["Benchmark", "Loadwell", "Throughput", "Latencia", "Percentile", "Median", "Quantile", "Samplers"];

/// `n` submissions bodies (JSON bytes), each with a fresh holder, KYC credential and challenge.
async fn prepare_requests(
    c: &Common,
    spec: &str,
    kyc: Kyc,
    n: usize,
    parallel: usize,
) -> Result<Vec<Vec<u8>>, BoxError> {
    let client = NodeClient::new(&c.server);
    let issuer = Arc::new(IssuerKey::load(&c.keys.join(file_names::KYC_PROVIDER))?);
    let format = match kyc {
        Kyc::Jose => CredentialFormat::Jose,
        Kyc::DataIntegrity => CredentialFormat::DataIntegrity,
    };
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel.clamp(1, n.max(1)) {
        let (client, issuer, next, spec) = (client.clone(), issuer.clone(), next.clone(), spec.to_owned());
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, BoxError>(out);
                }
                let holder = HolderKey::generate();
                let name = format!("{} {}", GIVEN[i % GIVEN.len()], FAMILY[(i / GIVEN.len()) % FAMILY.len()]);
                let birth = format!("19{:02}-{:02}-{:02}", 50 + i % 50, 1 + i % 12, 1 + i % 28);
                let claims = demo_claims(&name, &birth, "NL", &format!("BENCH{i:08}"));
                let credential =
                    issue_kyc_credential(&issuer, &holder.did(), claims, chrono::Duration::days(365), format).await?;
                let prepared = client.prepare_request(&holder, &spec, vec![credential]).await?;
                out.push(serde_json::to_vec(&prepared.body)?);
            }
        });
    }
    let mut bodies = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        bodies.extend(r??);
    }
    eprintln!("prepared {n} requests ({spec}, KYC {}) in {:.1?}", kyc_name(kyc), started.elapsed());
    Ok(bodies)
}

fn kyc_name(k: Kyc) -> &'static str {
    match k {
        Kyc::Jose => "VC-JOSE",
        Kyc::DataIntegrity => "eddsa-rdfc-2022",
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client
// ---------------------------------------------------------------------------------------------

struct Target {
    addr: String,
    host: String,
}

fn target(server: &str) -> Result<Target, BoxError> {
    let rest = server
        .trim_end_matches('/')
        .strip_prefix("http://")
        .ok_or("the load tool speaks plain http:// only (run it against a local node)")?;
    if rest.contains('/') {
        return Err("give the server as http://HOST:PORT".into());
    }
    let addr = if rest.contains(':') { rest.to_owned() } else { format!("{rest}:80") };
    Ok(Target { addr, host: rest.to_owned() })
}

fn post_bytes(t: &Target, path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        t.host,
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: Vec::with_capacity(16 * 1024) })
    }

    /// Sends one request and reads one answer: (status, body, server asked to close).
    async fn exchange(&mut self, request: &[u8]) -> io::Result<(u16, Vec<u8>, bool)> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&self.buf) {
                Ok(httparse::Status::Complete(head)) => {
                    let status = resp.code.unwrap_or(0);
                    let mut length = None;
                    let mut close = false;
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<usize>().ok());
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = h.value.eq_ignore_ascii_case(b"close");
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            return Err(io::Error::other("chunked answers are not supported by the load tool"));
                        }
                    }
                    let length = length.ok_or_else(|| io::Error::other("answer without Content-Length"))?;
                    while self.buf.len() < head + length {
                        self.read_more().await?;
                    }
                    let body = self.buf[head..head + length].to_vec();
                    return Ok((status, body, close));
                }
                Ok(httparse::Status::Partial) => self.read_more().await?,
                Err(e) => return Err(io::Error::other(format!("bad HTTP answer: {e}"))),
            }
        }
    }

    async fn read_more(&mut self) -> io::Result<()> {
        let len = self.buf.len();
        self.buf.resize(len + 16 * 1024, 0);
        let n = self.stream.read(&mut self.buf[len..]).await?;
        self.buf.truncate(len + n);
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Timed runs
// ---------------------------------------------------------------------------------------------

/// Checks one answer; `Err(why)` counts as an error.
type Check = fn(u16, &[u8]) -> Result<(), String>;

struct RunResult {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    first_errors: Vec<String>,
    server_cpu: Option<Duration>,
    /// This tool's own CPU time over the run: on a shared box it is CPU the server lacks.
    client_cpu: Option<Duration>,
    /// Shares of the machine's CPU left idle and stolen by the hypervisor during the run.
    machine: Option<(f64, f64)>,
}

impl RunResult {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 * p).ceil() as usize).clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// Fires `total` requests (request `i` is `pool[i % pool.len()]`) over `concurrency` connections.
async fn fire(
    c: &Common,
    pool: Arc<Vec<Vec<u8>>>,
    total: usize,
    check: Check,
    collect_bodies: bool,
) -> Result<(RunResult, Vec<Vec<u8>>), BoxError> {
    let t = target(&c.server)?;
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(c.max_seconds);
    // Connect first so that connection set-up is not timed.
    let mut conns = Vec::new();
    for _ in 0..c.concurrency.clamp(1, total.max(1)) {
        conns.push(Conn::open(&t.addr).await.map_err(|e| format!("connecting to {}: {e}", t.addr))?);
    }
    let cpu_before = c.server_pid.and_then(|p| process_cpu(&p.to_string()));
    let client_before = process_cpu("self");
    let machine_before = machine_ticks();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let (pool, next, addr) = (pool.clone(), next.clone(), t.addr.clone());
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(total / 8 + 16);
            let mut attempted = 0usize;
            let mut errors = Vec::new();
            let mut bodies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    break;
                }
                let req = &pool[i % pool.len()];
                attempted += 1;
                let t0 = Instant::now();
                match conn.exchange(req).await {
                    Ok((status, body, close)) => {
                        lat.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                        match check(status, &body) {
                            Ok(()) if collect_bodies => bodies.push(body),
                            Ok(()) => {}
                            Err(e) => errors.push(e),
                        }
                        if close {
                            match Conn::open(&addr).await {
                                Ok(c) => conn = c,
                                Err(e) => {
                                    errors.push(format!("reconnect: {e}"));
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        errors.push(format!("transport: {e}"));
                        match Conn::open(&addr).await {
                            Ok(c) => conn = c,
                            Err(e) => {
                                errors.push(format!("reconnect: {e}"));
                                break;
                            }
                        }
                    }
                }
            }
            (lat, attempted, errors, bodies)
        });
    }
    let mut latencies_us = Vec::with_capacity(total);
    let mut errors = 0;
    let mut requests = 0;
    let mut first_errors = Vec::new();
    let mut bodies = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (lat, attempted, errs, b) = r?;
        requests += attempted;
        latencies_us.extend(lat);
        errors += errs.len();
        first_errors.extend(errs.into_iter().take(5usize.saturating_sub(first_errors.len())));
        bodies.extend(b);
    }
    let elapsed = started.elapsed();
    let server_cpu = match (cpu_before, c.server_pid.and_then(|p| process_cpu(&p.to_string()))) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let machine = machine_before.zip(machine_ticks()).map(|(a, b)| idle_and_steal(a, b));
    let client_cpu = client_before.zip(process_cpu("self")).map(|(a, b)| b.saturating_sub(a));
    latencies_us.sort_unstable();
    let sent = next.load(Ordering::Relaxed).min(total);
    if sent < total {
        first_errors.push(format!("stopped after {} s with {} of {total} requests sent", c.max_seconds, sent));
        errors += total - sent;
    }
    Ok((RunResult { requests, errors, elapsed, latencies_us, first_errors, server_cpu, client_cpu, machine }, bodies))
}

fn report(label: &str, run: usize, r: &RunResult) {
    let per_request = |who: &str, c: Duration| {
        format!(
            "; {who} CPU {:.0} us/request ({:.2} cores)",
            c.as_secs_f64() * 1e6 / r.requests.max(1) as f64,
            c.as_secs_f64() / r.elapsed.as_secs_f64()
        )
    };
    let cpu = r.server_cpu.map(|c| per_request("server", c)).unwrap_or_default()
        + &r.client_cpu.map(|c| per_request("load tool", c)).unwrap_or_default()
        + &r.machine
            .map(|(idle, steal)| format!("; machine idle {:.0} %, stolen {:.0} %", idle * 100.0, steal * 100.0))
            .unwrap_or_default();
    println!(
        "{label} run {run}: {} requests in {:.2} s = {:.0} req/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {}{cpu}",
        r.requests,
        r.elapsed.as_secs_f64(),
        r.throughput(),
        r.percentile_ms(0.50),
        r.percentile_ms(0.90),
        r.percentile_ms(0.99),
        r.percentile_ms(1.0),
        r.errors,
    );
    for e in &r.first_errors {
        println!("  error: {}", e.chars().take(400).collect::<String>());
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

fn summarize(label: &str, c: &Common, runs: &[RunResult]) -> Result<(), BoxError> {
    let errors: usize = runs.iter().map(|r| r.errors).sum();
    let cpu = if runs.iter().all(|r| r.server_cpu.is_some()) {
        format!(
            "; server CPU {:.0} us/request",
            median(
                runs.iter()
                    .map(|r| r.server_cpu.unwrap_or_default().as_secs_f64() * 1e6 / r.requests.max(1) as f64)
                    .collect()
            )
        )
    } else {
        String::new()
    };
    println!(
        "{label} MEDIAN of {} runs ({} connections): {:.0} req/s; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms; errors {errors}{cpu}",
        runs.len(),
        c.concurrency,
        median(runs.iter().map(RunResult::throughput).collect()),
        median(runs.iter().map(|r| r.percentile_ms(0.5)).collect()),
        median(runs.iter().map(|r| r.percentile_ms(0.9)).collect()),
        median(runs.iter().map(|r| r.percentile_ms(0.99)).collect()),
    );
    if errors > 0 {
        return Err(format!("{errors} requests failed (see the errors above)").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct IssueAnswer {
    status: String,
    #[serde(default)]
    certificate: Option<String>,
}

fn check_issued(status: u16, body: &[u8]) -> Result<(), String> {
    let text = || String::from_utf8_lossy(body).chars().take(300).collect::<String>();
    if status != 201 {
        return Err(format!("HTTP {status}: {}", text()));
    }
    match serde_json::from_slice::<IssueAnswer>(body) {
        Ok(a) if a.status == "issued" && a.certificate.is_some() => Ok(()),
        Ok(a) => Err(format!("status `{}` (expected issued with a certificate): {}", a.status, text())),
        Err(e) => Err(format!("unreadable answer ({e}): {}", text())),
    }
}

#[derive(Deserialize)]
struct VerifyAnswer {
    verdict: String,
    valid: bool,
}

fn check_valid(status: u16, body: &[u8]) -> Result<(), String> {
    let text = || String::from_utf8_lossy(body).chars().take(300).collect::<String>();
    if status != 200 {
        return Err(format!("HTTP {status}: {}", text()));
    }
    match serde_json::from_slice::<VerifyAnswer>(body) {
        Ok(a) if a.verdict == "valid" && a.valid => Ok(()),
        Ok(a) => Err(format!("verdict `{}` (expected valid): {}", a.verdict, text())),
        Err(e) => Err(format!("unreadable answer ({e}): {}", text())),
    }
}

async fn issue(a: IssueArgs) -> Result<(), BoxError> {
    let c = &a.common;
    let t = target(&c.server)?;
    let label = format!("issue[{} spec, {} KYC]", a.spec, kyc_name(a.kyc));
    let mut runs = Vec::new();
    for run in 1..=c.runs {
        let bodies = prepare_requests(c, &a.spec, a.kyc, a.requests, a.prepare_concurrency).await?;
        let pool: Vec<Vec<u8>> = bodies.iter().map(|b| post_bytes(&t, "/v1/requests", b)).collect();
        let (r, _) = fire(c, Arc::new(pool), a.requests, check_issued, false).await?;
        report(&label, run, &r);
        runs.push(r);
    }
    summarize(&label, c, &runs)
}

async fn verify(a: VerifyArgs) -> Result<(), BoxError> {
    let c = &a.common;
    let t = target(&c.server)?;
    // Certificates from real issuances through the node (untimed).
    let bodies = prepare_requests(c, &a.spec, Kyc::Jose, a.certs, 16).await?;
    let pool: Vec<Vec<u8>> = bodies.iter().map(|b| post_bytes(&t, "/v1/requests", b)).collect();
    let prep = Common { concurrency: c.concurrency.min(32), ..c.clone() };
    let (r, answers) = fire(&prep, Arc::new(pool), a.certs, check_issued, true).await?;
    if r.errors > 0 {
        report("issuing certificates", 1, &r);
        return Err("could not issue the certificates to verify".into());
    }
    let mut certs = Vec::with_capacity(answers.len());
    for b in &answers {
        let v: IssueAnswer = serde_json::from_slice(b)?;
        certs.push(v.certificate.ok_or("an answer without a certificate")?);
    }
    certs.sort();
    certs.dedup();
    if certs.len() != a.certs {
        return Err(format!("expected {} distinct certificates, got {}", a.certs, certs.len()).into());
    }
    eprintln!("issued {} distinct certificates", certs.len());
    if let Some(path) = &a.dump_certs {
        std::fs::write(path, certs.join("\n") + "\n")?;
        eprintln!("wrote {}", path.display());
    }
    if a.prepare_only {
        return Ok(());
    }
    let pool: Vec<Vec<u8>> = certs
        .iter()
        .map(|cert| {
            post_bytes(
                &t,
                "/v1/certificates/verify",
                &serde_json::to_vec(&serde_json::json!({"certificate": cert})).unwrap_or_default(),
            )
        })
        .collect();
    let pool = Arc::new(pool);
    // Warm-up (untimed): every connection and code path once.
    let warm = Common { runs: 1, ..c.clone() };
    let (w, _) = fire(&warm, pool.clone(), (a.requests / 10).max(c.concurrency), check_valid, false).await?;
    if w.errors > 0 {
        report("verify warm-up", 0, &w);
        return Err("warm-up failed".into());
    }
    let label = format!("verify[{} distinct certificates]", certs.len());
    let mut runs = Vec::new();
    for run in 1..=c.runs {
        let (r, _) = fire(c, pool.clone(), a.requests, check_valid, false).await?;
        report(&label, run, &r);
        runs.push(r);
    }
    summarize(&label, c, &runs)
}
