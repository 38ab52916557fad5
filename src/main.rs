//! `aml-node`: the AML credential issuer node and its tools.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use aml_node::client::{NodeClient, demo_claims};
use aml_node::config::Config;
use aml_node::credentials::CredentialFormat;
use aml_node::keys::{self, HolderKey, IssuerKey, OfficerSigningKey, SealingSecret};
use aml_node::lists::{self, ListSource};
use aml_node::node::Node;
use aml_node::screening::{Policy, Watchlists, batch};

/// glibc's allocator grew slower with the heap (sled's page cache fragments it); see Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aml-node",
    version,
    about = "AML credential issuer node: screen people and companies against sanctions and PEP lists, \
             and issue short-lived, signed, privacy-preserving AML credentials",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node: the HTTP API for holders, officers and relying parties, on sled.
    ///
    /// With no configuration it runs on embedded defaults that work on a fresh machine: the
    /// demo officer keys in keys-example/ (loudly flagged), the specs in specs/, and the
    /// fictional demo list. Settings come from the defaults, then --config, then AML_NODE_*
    /// environment variables, then these flags.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Where sled and the node secret live [default: ./data].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// TOML configuration file (see config.example.toml).
        #[arg(long, value_name = "FILE", env = "AML_NODE_CONFIG")]
        config: Option<PathBuf>,
        /// The URL holders and relying parties reach the node at [default: http://<listen>].
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Write a fresh key set: officer signing + sealing keys, officer public keys, a holder and
    /// a KYC provider. The officer sealing file is for the officer only, never for the node.
    Keygen {
        /// Folder to write into (created; existing key files are never overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Mark every file as a published demo key.
        #[arg(long)]
        demo: bool,
    },
    /// Run the whole holder flow against a running node with the demo keys: mint a KYC
    /// credential from the demo KYC provider for a demo person, take a challenge, present,
    /// request. Prints one JSON object (request_id, status, decision, credential, certificate).
    Demo {
        /// The node's URL.
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The demo person's name (try a name from the demo list, e.g. "Zorblax Quentin Fictivus").
        #[arg(long, default_value = "Ada Byron King")]
        name: String,
        /// Birth date claim.
        #[arg(long, default_value = "1990-04-12")]
        birth_date: String,
        /// Nationality claim (ISO alpha-2).
        #[arg(long, default_value = "NL")]
        nationality: String,
        /// Wallet address claim (for wallet-screening specs).
        #[arg(long)]
        wallet: Option<String>,
        /// The spec to request.
        #[arg(long, default_value = "basic-sanctions")]
        spec: String,
        /// How the KYC credential is secured.
        #[arg(long, value_enum, default_value_t = KycFormat::Jose)]
        kyc_format: KycFormat,
        /// Folder with holder.json and kyc-provider.json.
        #[arg(long, default_value = "keys-example")]
        keys: PathBuf,
        /// Use a fresh holder key instead of keys/holder.json.
        #[arg(long)]
        fresh_holder: bool,
    },
    /// Open a sealed input record with the officer's sealing key (offline). The record comes
    /// from a file, or is fetched through the officer API.
    Decrypt {
        /// officer-sealing.json (the officer's X25519 secret).
        #[arg(long, value_name = "OFFICER_KEY_FILE")]
        key: PathBuf,
        /// A sealed record (JSON) saved from GET /v1/officer/requests/{id}/sealed.
        #[arg(long, value_name = "FILE", conflicts_with = "server")]
        input: Option<PathBuf>,
        /// Fetch the record from this node instead.
        #[arg(long, value_name = "URL", requires_all = ["request", "signing_key"])]
        server: Option<String>,
        /// The request id whose input to open.
        #[arg(long, value_name = "ID")]
        request: Option<String>,
        /// officer-signing.json, to authenticate the fetch.
        #[arg(long, value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
    /// The audit log: `aml-node audit verify --data-dir DIR` checks the hash chain (run it
    /// with the node stopped: sled allows one process at a time).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Revoke a credential through the officer API (flips its status-list bit).
    Revoke {
        /// The node's URL.
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The credential id (`urn:uuid:...`).
        #[arg(long, value_name = "ID")]
        credential: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
        /// officer-signing.json, to authenticate.
        #[arg(long, value_name = "FILE")]
        signing_key: PathBuf,
    },
    /// Print a short-lived API token (EdDSA JWT) signed with an officer or holder key, for
    /// `Authorization: Bearer ...`.
    Token {
        /// officer-signing.json or holder.json.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The node's public URL (the token's aud).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        audience: String,
        /// Lifetime in seconds (at most 300).
        #[arg(long, default_value_t = 120)]
        ttl: i64,
    },
    /// Screen a JSON-lines file of queries against watchlists, one result line per query.
    ///
    /// Each input line: {"id", "name", "entity_type": "person"|"organization",
    /// "birth_date"?: "YYYY"|"YYYY-MM-DD", "countries"?: ["IR", ...], "document_number"?,
    /// "wallet_address"?}. A bad line gets an error line; the run goes on.
    Screen {
        /// A list to load: NAME=PATH, or NAME=FORMAT:PATH to force the format. NAME becomes the
        /// source part of entity ids. Repeat for several lists. Formats: ofac-sdn, ofac-cons,
        /// un-xml, us-csl, bis-dpl, uk-hmt, eu-fsf, eu-journal, ftm, senzing, ofac-crypto, custom.
        #[arg(long = "list", value_name = "NAME=[FORMAT:]PATH", required = true)]
        lists: Vec<ListSource>,
        /// Queries, JSON lines.
        #[arg(long, value_name = "QUERIES.jsonl")]
        input: PathBuf,
        /// Results, JSON lines (overwritten).
        #[arg(long, value_name = "RESULTS.jsonl")]
        output: PathBuf,
        /// Screening policy as JSON or TOML (default: the built-in policy: weights 60/25/15,
        /// threshold 93, strict matching).
        #[arg(long, value_name = "POLICY")]
        policy: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Measure the engine on a labelled test set drawn from the given lists: recall per name
    /// variant and golden key, false-positive rates, index recall. Deterministic per seed.
    Eval {
        #[arg(long = "list", value_name = "NAME=[FORMAT:]PATH", required = true)]
        lists: Vec<ListSource>,
        /// Screening policy as JSON or TOML (default: the built-in policy).
        #[arg(long, value_name = "POLICY")]
        policy: Option<PathBuf>,
        /// Positive queries drawn per variant.
        #[arg(long, default_value_t = 300)]
        per_variant: usize,
        /// Ordinary and hard negatives drawn (each).
        #[arg(long, default_value_t = 2000)]
        negatives: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Print misses and false positives.
        #[arg(long)]
        examples: bool,
    },
    /// Load lists and report each one's entity count, content hash and date.
    Lists {
        #[arg(long = "list", value_name = "NAME=[FORMAT:]PATH", required = true)]
        lists: Vec<ListSource>,
    },
    /// Refresh every configured list now (download into <data_dir>/lists, accept only
    /// complete parses) and re-screen monitored subjects against what changed; prints the
    /// report. Runs on the node's data directory, so stop the server first; a running node
    /// refreshes on its schedule (refresh_interval_hours) or on
    /// `POST /v1/officer/lists/refresh`.
    Refresh {
        /// Where sled and the node secret live [default: ./data].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// TOML configuration file.
        #[arg(long, value_name = "FILE", env = "AML_NODE_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve { listen, data_dir, config, public_url } => serve(listen, data_dir, config, public_url),
        Command::Keygen { out, demo } => keygen(&out, demo),
        Command::Demo { server, name, birth_date, nationality, wallet, spec, kyc_format, keys, fresh_holder } => {
            run_async(demo(DemoArgs {
                server,
                name,
                birth_date,
                nationality,
                wallet,
                spec,
                kyc_format,
                keys,
                fresh_holder,
            }))
        }
        Command::Decrypt { key, input, server, request, signing_key } => {
            run_async(decrypt(key, input, server, request, signing_key))
        }
        Command::Token { key, audience, ttl } => token(&key, &audience, ttl),
        Command::Audit { command: AuditCommand::Verify { data_dir } } => audit_verify(&data_dir),
        Command::Revoke { server, credential, reason, signing_key } => run_async(async move {
            let officer = OfficerSigningKey::load(&signing_key)?;
            let path = format!("/v1/officer/credentials/{}/revoke", urlencode(&credential));
            let v =
                NodeClient::new(&server).post(&path, &serde_json::json!({"reason": reason}), Some(&officer)).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }),
        Command::Screen { lists, input, output, policy, threads } => {
            screen(&lists, &input, &output, policy.as_deref(), threads)
        }
        Command::Lists { lists } => show_lists(&lists),
        Command::Refresh { data_dir, config } => refresh(data_dir, config),
        Command::Eval { lists, policy, per_variant, negatives, seed, examples } => {
            eval(&lists, policy.as_deref(), per_variant, negatives, seed, examples)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the whole chain; fails on any removed, reordered, edited or cut-off entry.
    Verify {
        /// The node's data directory [default: ./data].
        #[arg(long, value_name = "DIR", default_value = "data")]
        data_dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KycFormat {
    Jose,
    DataIntegrity,
}

fn run_async(f: impl std::future::Future<Output = CliResult>) -> CliResult {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(f)
}

fn serve(
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    config_file: Option<PathBuf>,
    public_url: Option<String>,
) -> CliResult {
    let mut config = Config::load(config_file.as_deref())?;
    if let Some(l) = listen {
        config.listen = l;
    }
    if let Some(d) = data_dir {
        config.data_dir = d;
    }
    if let Some(u) = public_url {
        config.public_url = Some(u);
    }
    config.validate()?;
    let started = std::time::Instant::now();
    let node = Arc::new(Node::open(config, Arc::new(aml_node::clock::SystemClock))?);
    let health = node.health();
    if health.demo_keys {
        tracing::warn!("{}", "=".repeat(78));
        tracing::warn!("RUNNING WITH DEMO KEYS from keys-example/: anybody can sign as this officer.");
        tracing::warn!("Generate real keys with `aml-node keygen --out DIR` and point the config at them.");
        tracing::warn!("{}", "=".repeat(78));
    }
    if health.demo_list {
        tracing::warn!("screening against the embedded FICTIONAL demo list only: configure real lists for real checks");
    }
    for l in &health.lists {
        tracing::info!(
            list = %l.list.meta.name,
            entities = l.list.meta.entity_count,
            hash = %l.list.meta.content_hash,
            date = l.list.meta.list_date.as_deref().unwrap_or("not stated"),
            age_hours = l.age_hours,
            stale = l.stale,
            "list loaded"
        );
    }
    if let Some(reason) = &health.reason {
        tracing::warn!("the node is NOT ready to decide: {reason}");
    }
    tracing::info!(officers = ?health.officers, "node opened in {:.2?}", started.elapsed());
    run_async(async move {
        let listener = tokio::net::TcpListener::bind(&node.config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", node.config.listen))?;
        tracing::info!("listening on http://{} (public URL {})", listener.local_addr()?, node.config.public_url());
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        aml_node::api::serve(node.clone(), listener, shutdown).await?;
        node.store.flush()?;
        Ok(())
    })
}

fn refresh(data_dir: Option<PathBuf>, config_file: Option<PathBuf>) -> CliResult {
    let mut config = Config::load(config_file.as_deref())?;
    if let Some(d) = data_dir {
        config.data_dir = d;
    }
    config.validate()?;
    let node = Node::open(config, Arc::new(aml_node::clock::SystemClock))?;
    run_async(async move {
        let report = aml_node::monitoring::run_cycle(&node, "cli").await?;
        // Deliver the webhook events the cycle produced before exiting.
        node.outbox.deliver_due(&node.metrics).await?;
        node.store.flush()?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    })
}

fn keygen(out: &Path, demo: bool) -> CliResult {
    let s = keys::generate_key_set(out, demo)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "officer_did": s.officer_did,
            "holder_did": s.holder_did,
            "kyc_provider_did": s.kyc_provider_did,
            "files": {
                "officer_signing (give to the node)": s.officer_signing,
                "officer_sealing (officer only, NEVER to the node)": s.officer_sealing,
                "officer_public": s.officer_public,
                "holder": s.holder,
                "kyc_provider": s.kyc_provider,
            }
        }))?
    );
    Ok(())
}

struct DemoArgs {
    server: String,
    name: String,
    birth_date: String,
    nationality: String,
    wallet: Option<String>,
    spec: String,
    kyc_format: KycFormat,
    keys: PathBuf,
    fresh_holder: bool,
}

async fn demo(a: DemoArgs) -> CliResult {
    let client = NodeClient::new(&a.server);
    let kyc = IssuerKey::load(&a.keys.join(keys::file_names::KYC_PROVIDER))?;
    let holder =
        if a.fresh_holder { HolderKey::generate() } else { HolderKey::load(&a.keys.join(keys::file_names::HOLDER))? };
    let mut document = [0u8; 5];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut document);
    let mut claims =
        demo_claims(&a.name, &a.birth_date, &a.nationality, &format!("DEMO{}", hex::encode(document).to_uppercase()));
    if let Some(w) = &a.wallet {
        claims.insert("walletAddress".into(), serde_json::json!(w));
    }
    let format = match a.kyc_format {
        KycFormat::Jose => CredentialFormat::Jose,
        KycFormat::DataIntegrity => CredentialFormat::DataIntegrity,
    };
    let credential =
        aml_node::claims::issue_kyc_credential(&kyc, &holder.did(), claims, chrono::Duration::days(365), format)
            .await?;
    let prepared = client.prepare_request(&holder, &a.spec, vec![credential]).await?;
    let answer = client.submit(&prepared).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

async fn decrypt(
    key: PathBuf,
    input: Option<PathBuf>,
    server: Option<String>,
    request: Option<String>,
    signing_key: Option<PathBuf>,
) -> CliResult {
    let secret = SealingSecret::load(&key)?;
    let record: aml_node::seal::SealedRecord = match (input, server, request, signing_key) {
        (Some(path), ..) => {
            serde_json::from_slice(&std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?)
                .map_err(|e| format!("{}: not a sealed record: {e}", path.display()))?
        }
        (None, Some(server), Some(id), Some(signing)) => {
            let officer = OfficerSigningKey::load(&signing)?;
            let v = NodeClient::new(&server).get(&format!("/v1/officer/requests/{id}/sealed"), Some(&officer)).await?;
            serde_json::from_value(v)?
        }
        _ => return Err("give --input FILE, or --server URL --request ID --signing-key FILE".into()),
    };
    let id = record.record_id.clone();
    let plain = aml_node::seal::open(&secret, &record, &id)?;
    let v: serde_json::Value = serde_json::from_slice(&plain)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

fn audit_verify(data_dir: &Path) -> CliResult {
    if !data_dir.join("db").exists() {
        return Err(format!("{}: no node database here", data_dir.display()).into());
    }
    let store = aml_node::store::Store::open_sled(data_dir)?;
    match aml_node::audit::verify(&store) {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"valid": true, "entries": report.entries, "head": report.head_hash})
                )?
            );
            Ok(())
        }
        Err(e) => {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"valid": false, "code": e.code(), "problem": e.to_string()})
                )?
            );
            Err(format!("the audit chain is broken: {e}").into())
        }
    }
}

/// Percent-encodes a path segment (credential ids are URNs with `:`).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn token(key: &Path, audience: &str, ttl: i64) -> CliResult {
    let now = chrono::Utc::now();
    let token = match OfficerSigningKey::load(key) {
        Ok(k) => aml_node::auth::mint_token(&k, audience, now, ttl),
        Err(e) if e.code() == "key_file_wrong_kind" => {
            aml_node::auth::mint_token(&HolderKey::load(key)?, audience, now, ttl)
        }
        Err(e) => return Err(e.into()),
    };
    println!("{token}");
    Ok(())
}

fn load_policy(path: Option<&std::path::Path>) -> Result<Policy, Box<dyn std::error::Error>> {
    let Some(path) = path else { return Ok(Policy::default()) };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let policy: Policy = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    };
    policy.validate().map_err(|e| format!("{}: {e} ({})", path.display(), e.code()))?;
    Ok(policy)
}

fn screen(
    sources: &[ListSource],
    input: &std::path::Path,
    output: &std::path::Path,
    policy: Option<&std::path::Path>,
    threads: Option<usize>,
) -> CliResult {
    let policy = load_policy(policy)?;
    let started = std::time::Instant::now();
    let loaded = lists::load_all(sources)?;
    for l in &loaded {
        eprintln!(
            "loaded {:<16} {:>7} entities  {}  list date {}",
            l.meta.name,
            l.meta.entity_count,
            l.meta.content_hash,
            l.meta.list_date.as_deref().unwrap_or("not stated")
        );
    }
    let watchlists = Watchlists::build(loaded);
    eprintln!(
        "indexed {} entities ({} names) in {:.2?}",
        watchlists.entity_count(),
        watchlists.name_count(),
        started.elapsed()
    );
    let total = count_lines(input)?;
    let reader = BufReader::new(File::open(input).map_err(|e| format!("{}: {e}", input.display()))?);
    let writer = BufWriter::new(File::create(output).map_err(|e| format!("{}: {e}", output.display()))?);
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{spinner} screening [{bar:40}] {pos}/{len} queries ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let summary =
        batch::run_batch(&watchlists, &policy, reader, writer, threads, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    eprintln!(
        "screened {} queries: {} flagged, {} errors, {:.0} queries/s",
        summary.queries,
        summary.flagged,
        summary.errors,
        summary.per_second()
    );
    Ok(())
}

fn count_lines(path: &std::path::Path) -> Result<usize, Box<dyn std::error::Error>> {
    use std::io::BufRead;
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut n = 0;
    for line in BufReader::new(f).split(b'\n') {
        if !line?.iter().all(u8::is_ascii_whitespace) {
            n += 1;
        }
    }
    Ok(n)
}

fn show_lists(sources: &[ListSource]) -> CliResult {
    let started = std::time::Instant::now();
    let loaded = lists::load_all(sources)?;
    let metas: Vec<_> = loaded.iter().map(|l| &l.meta).collect();
    println!("{}", serde_json::to_string_pretty(&metas)?);
    eprintln!("loaded {} lists in {:.2?}", loaded.len(), started.elapsed());
    Ok(())
}

fn eval(
    sources: &[ListSource],
    policy: Option<&std::path::Path>,
    per_variant: usize,
    negatives: usize,
    seed: u64,
    examples: bool,
) -> CliResult {
    use aml_node::screening::eval::{Sizes, build_labelled_set, evaluate};
    let policy = load_policy(policy)?;
    let watchlists = Watchlists::build(lists::load_all(sources)?);
    let set = build_labelled_set(&watchlists, Sizes { per_variant, negatives }, seed);
    let started = std::time::Instant::now();
    let mut report = evaluate(&watchlists, &policy, &set);
    let elapsed = started.elapsed();
    if !examples {
        report.examples.clear();
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!(
        "{} labelled queries in {:.2?} ({:.0} queries/s, one thread)",
        set.len(),
        elapsed,
        set.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
