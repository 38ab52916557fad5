//! One monitoring cycle: refresh every configured list, swap in the new snapshot, re-screen
//! the monitored subjects against what changed. Run on a schedule
//! ([`crate::config::Config::refresh_interval_hours`]) and on demand
//! (`POST /v1/officer/lists/refresh`, `aml-node lists refresh`).
//!
//! A list whose refresh fails keeps its previous snapshot (the node screens on; `/health`
//! and the metrics show the failure, and the freshness limit eventually makes the node refuse
//! to decide rather than screen on old data). The index is rebuilt off the async executor,
//! beside the current one, and swapped in one pointer store.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::lists::ListMeta;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::watchlists::{Snapshot, Sourced};

use super::diff::{DiffSummary, ListDiff, diff};
use super::refresh::{RefreshOutcome, RefreshSource};
use super::rescreen::{Changes, RescreenReport, rescreen};

/// What happened to one list in a cycle.
#[derive(Debug, Clone, Serialize)]
pub struct ListRefresh {
    pub list: String,
    /// `updated`, `unchanged` or `failed`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entities: Option<usize>,
    /// Against the snapshot the node screened on before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<DiffSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CycleError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CycleError {
    pub code: &'static str,
    pub message: String,
}

/// What a cycle did.
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub started_at: DateTime<Utc>,
    pub trigger: String,
    pub lists: Vec<ListRefresh>,
    /// Whether a new index is now in use.
    pub index_rebuilt: bool,
    pub monitoring: RescreenReport,
    pub duration_ms: u64,
}

/// Refreshes every list and re-screens monitored subjects. Cycles never overlap: a second
/// caller waits for the running one and then runs its own.
pub async fn run_cycle(node: &Node, trigger: &str) -> Result<CycleReport> {
    let _one_at_a_time = node.refresh_lock.lock().await;
    let started = Instant::now();
    let started_at = node.clock.now();
    let sources: Vec<RefreshSource> = node.config.lists.iter().map(RefreshSource::from_config).collect();
    let results = node.refresher.refresh_all(&sources).await;

    let old = node.lists.current();
    let mut restamped: Option<Snapshot> = None;
    let mut changed: Vec<Sourced> = Vec::new();
    let mut reports = Vec::new();
    for (name, result) in results {
        let mut r = ListRefresh {
            list: name.clone(),
            outcome: "failed",
            content_hash: None,
            entities: None,
            diff: None,
            error: None,
        };
        match result {
            Ok(outcome) => {
                let meta = outcome.snapshot();
                r.content_hash = Some(meta.content_hash.clone());
                r.entities = Some(meta.entity_count);
                let held = old.lists.iter().find(|l| l.meta.name == name).map(|l| l.meta.content_hash.as_str());
                match outcome {
                    RefreshOutcome::Updated { list, snapshot, .. } if held != Some(snapshot.content_hash.as_str()) => {
                        Metrics::inc(&node.metrics.list_refreshes_total);
                        r.outcome = "updated";
                        changed.push(Sourced { list, retrieved: Some(snapshot.retrieved()) });
                    }
                    // The source serves what the node already screens on (a first download of a
                    // list that was seeded from the same file counts here too).
                    other => {
                        r.outcome = "unchanged";
                        let base = restamped.as_ref().unwrap_or(&old);
                        restamped = Some(base.restamped(&name, other.snapshot().retrieved(), node.clock.now()));
                    }
                }
            }
            Err(e) => {
                Metrics::inc(&node.metrics.list_refresh_failures_total);
                r.error = Some(CycleError { code: e.code(), message: e.to_string() });
            }
        }
        reports.push(r);
    }

    let mut report = CycleReport {
        started_at,
        trigger: trigger.to_owned(),
        lists: reports,
        index_rebuilt: false,
        monitoring: RescreenReport::default(),
        duration_ms: 0,
    };
    if changed.is_empty() {
        if let Some(s) = restamped {
            node.lists.swap(s);
        }
        // No re-screen to clear them on the way: expired credentials' profiles go here.
        report.monitoring.profiles_removed = super::rescreen::prune_profiles(node)?;
    } else {
        let base = restamped.map(Arc::new).unwrap_or(old);
        let names: Vec<String> = node.config.lists.iter().map(|l| l.name.clone()).collect();
        let now = node.clock.now();
        let (snapshot, diffs) = tokio::task::spawn_blocking(move || rebuild(&base, changed, &names, now))
            .await
            .map_err(|e| Error::internal("index_rebuild", e.to_string()))?;
        for (meta, d) in &diffs {
            if let Some(r) = report.lists.iter_mut().find(|r| r.list == meta.name) {
                r.diff = Some(d.summary());
            }
        }
        node.lists.swap(snapshot);
        report.index_rebuilt = true;
        tracing::info!(lists = ?diffs.iter().map(|(m, d)| (&m.name, d.summary())).collect::<Vec<_>>(), "new lists in use");
        let snapshot = node.lists.current();
        report.monitoring = rescreen(node, Changes::new(&diffs), &snapshot).await?;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The new snapshot (the changed lists replaced, the others as they were, in configuration
/// order) and each changed list's diff against what the node screened on.
fn rebuild(
    base: &Snapshot,
    changed: Vec<Sourced>,
    names: &[String],
    now: DateTime<Utc>,
) -> (Snapshot, Vec<(ListMeta, ListDiff)>) {
    let mut diffs = Vec::new();
    let mut loaded = Vec::new();
    let mut missing = Vec::new();
    let mut changed: Vec<Option<Sourced>> = changed.into_iter().map(Some).collect();
    for name in names {
        let fresh = changed.iter_mut().find(|c| c.as_ref().is_some_and(|c| &c.list.meta.name == name));
        match fresh.and_then(Option::take) {
            Some(new) => {
                let old = base.loaded(name).map(|s| s.list.entities).unwrap_or_default();
                diffs.push((new.list.meta.clone(), diff(&old, &new.list.entities)));
                loaded.push(new);
            }
            None => match base.loaded(name) {
                Some(s) => loaded.push(s),
                None => missing.push(name.clone()),
            },
        }
    }
    (Snapshot::build_with_missing(loaded, missing, now), diffs)
}

/// Runs a cycle every `interval`. The first runs right away when it is due: a list was never
/// downloaded (the node is not ready without it), or a download source's last success is older
/// than one interval (the node was down); else after one interval.
pub async fn schedule(node: Arc<Node>, interval: std::time::Duration) {
    if due_at_start(&node, interval) {
        log_cycle(run_cycle(&node, "startup").await);
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        log_cycle(run_cycle(&node, "schedule").await);
    }
}

fn due_at_start(node: &Node, interval: std::time::Duration) -> bool {
    if !node.lists.current().missing.is_empty() {
        return true;
    }
    let now = node.clock.now();
    let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    node.config.lists.iter().filter(|l| l.is_remote()).any(|l| match node.refresher.status(&l.name) {
        Ok(s) => s.last_success_at.is_none_or(|at| now - at >= interval),
        Err(_) => true,
    })
}

fn log_cycle(r: Result<CycleReport>) {
    match r {
        Ok(r) => tracing::info!(
            duration_ms = r.duration_ms,
            rebuilt = r.index_rebuilt,
            updates = r.monitoring.updates,
            failed = r.lists.iter().filter(|l| l.outcome == "failed").count(),
            "list refresh cycle done"
        ),
        Err(e) => tracing::error!(code = e.code, error = %e.message, "list refresh cycle failed"),
    }
}
