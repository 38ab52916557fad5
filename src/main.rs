//! `aml-node`: the AML credential issuer node and its tools.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use aml_node::lists::{self, ListSource};
use aml_node::screening::{Policy, Watchlists, batch};

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
        Command::Screen { lists, input, output, policy, threads } => {
            screen(&lists, &input, &output, policy.as_deref(), threads)
        }
        Command::Lists { lists } => show_lists(&lists),
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
