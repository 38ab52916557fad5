//! The node's current watchlists: the loaded snapshots, their search index, and how fresh
//! they are. A refresh builds a new [`Snapshot`] beside the current one and swaps it in one
//! pointer store, so screening never waits for an index build.
//!
//! Freshness: a snapshot's age is counted from the list's own publication date when the list
//! states one, else from when the node retrieved it (download time, or the local file's
//! modification time). The embedded demo list is fictional and never stale. When any
//! configured list is older than `max_list_age`, the node refuses to decide (`lists_stale`)
//! instead of screening against old data.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::lists::{ListMeta, LoadedList};
use crate::screening::{ListVersion, Watchlists};

/// What the age of a list is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgeBasis {
    /// The list's own publication date.
    ListDate,
    /// When the node downloaded the snapshot.
    Retrieved,
    /// The local file's modification time (the list states no date).
    FileModified,
    /// The embedded fictional demo list.
    BuiltIn,
}

/// When and how a list's files were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retrieved {
    pub at: DateTime<Utc>,
    pub basis: AgeBasis,
}

/// A loaded list and when its files were obtained.
#[derive(Debug, Clone)]
pub struct Sourced {
    pub list: LoadedList,
    pub retrieved: Option<Retrieved>,
}

/// One list of a snapshot, as `/health` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ListState {
    #[serde(flatten)]
    pub meta: ListMeta,
    /// When the age is counted from.
    pub as_of: DateTime<Utc>,
    pub age_basis: AgeBasis,
}

impl ListState {
    /// A loaded list; `retrieved` is when its files were obtained (download or mtime).
    pub fn new(meta: ListMeta, retrieved: Option<Retrieved>, now: DateTime<Utc>) -> ListState {
        if meta.path == "<embedded>" {
            return ListState { meta, as_of: now, age_basis: AgeBasis::BuiltIn };
        }
        let stated = meta.list_date.as_deref().and_then(parse_list_date);
        match (stated, retrieved) {
            (Some(d), _) => ListState { meta, as_of: d, age_basis: AgeBasis::ListDate },
            (None, Some(r)) => ListState { meta, as_of: r.at, age_basis: r.basis },
            (None, None) => ListState { meta, as_of: now, age_basis: AgeBasis::Retrieved },
        }
    }

    pub fn age_hours(&self, now: DateTime<Utc>) -> f64 {
        if self.age_basis == AgeBasis::BuiltIn {
            return 0.0;
        }
        ((now - self.as_of).num_seconds().max(0) as f64) / 3600.0
    }
}

/// A list date as the lists give it: `YYYY-MM-DD` or a full timestamp.
fn parse_list_date(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
}

/// The modification time of a list path (a file, or the newest file of a directory).
pub fn modified_at(path: &Path) -> Option<DateTime<Utc>> {
    let meta = std::fs::metadata(path).ok()?;
    let mut newest = meta.modified().ok()?;
    if meta.is_dir() {
        for e in std::fs::read_dir(path).ok()?.flatten() {
            if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
                newest = newest.max(t);
            }
        }
    }
    Some(DateTime::<Utc>::from(newest))
}

/// Watchlists and their states, immutable once built.
pub struct Snapshot {
    /// Shared between snapshots that differ only in list states (an unchanged refresh).
    pub watchlists: Arc<Watchlists>,
    pub lists: Vec<ListState>,
    /// Configured lists that have no snapshot yet (never downloaded): the node is not ready.
    pub missing: Vec<String>,
    pub built_at: DateTime<Utc>,
}

impl Snapshot {
    pub fn build(loaded: Vec<Sourced>, now: DateTime<Utc>) -> Snapshot {
        Snapshot::build_with_missing(loaded, Vec::new(), now)
    }

    pub fn build_with_missing(loaded: Vec<Sourced>, missing: Vec<String>, now: DateTime<Utc>) -> Snapshot {
        let lists = loaded.iter().map(|s| ListState::new(s.list.meta.clone(), s.retrieved, now)).collect();
        let watchlists = Arc::new(Watchlists::build(loaded.into_iter().map(|s| s.list).collect()));
        Snapshot { watchlists, lists, missing, built_at: now }
    }

    /// The same watchlists with a list's retrieval time moved forward (its source still
    /// serves this content).
    pub fn restamped(&self, name: &str, retrieved: Retrieved, now: DateTime<Utc>) -> Snapshot {
        let lists = self
            .lists
            .iter()
            .map(|l| if l.meta.name == name { ListState::new(l.meta.clone(), Some(retrieved), now) } else { l.clone() })
            .collect();
        Snapshot { watchlists: self.watchlists.clone(), lists, missing: self.missing.clone(), built_at: self.built_at }
    }

    /// A list's entities as loaded (to rebuild the index when another list changes).
    pub fn loaded(&self, name: &str) -> Option<Sourced> {
        let state = self.lists.iter().find(|l| l.meta.name == name)?;
        let entities = self.watchlists.entities().iter().filter(|e| e.source == name).cloned().collect();
        let retrieved = match state.age_basis {
            AgeBasis::BuiltIn | AgeBasis::ListDate => None,
            basis => Some(Retrieved { at: state.as_of, basis }),
        };
        Some(Sourced { list: LoadedList { meta: state.meta.clone(), entities }, retrieved })
    }

    /// The versions a credential records.
    pub fn versions(&self) -> Vec<ListVersion> {
        self.watchlists.versions()
    }

    /// Whether only the embedded demo list is loaded.
    pub fn is_demo(&self) -> bool {
        self.lists.iter().all(|l| l.age_basis == AgeBasis::BuiltIn)
    }
}

/// The current snapshot, swappable.
pub struct LiveLists {
    current: RwLock<Arc<Snapshot>>,
    max_age_hours: f64,
}

impl LiveLists {
    pub fn new(snapshot: Snapshot, max_age_hours: u64) -> LiveLists {
        LiveLists { current: RwLock::new(Arc::new(snapshot)), max_age_hours: max_age_hours as f64 }
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the snapshot; screenings already running finish on the old one.
    pub fn swap(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let new = Arc::new(snapshot);
        let mut w = self.current.write().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *w, new)
    }

    pub fn max_age_hours(&self) -> f64 {
        self.max_age_hours
    }

    /// Lists older than the maximum age.
    pub fn stale(&self, snapshot: &Snapshot, now: DateTime<Utc>) -> Vec<String> {
        snapshot.lists.iter().filter(|l| l.age_hours(now) > self.max_age_hours).map(|l| l.meta.name.clone()).collect()
    }

    /// The snapshot to decide on, or why the node must not decide now.
    pub fn ready(&self, now: DateTime<Utc>) -> Result<Arc<Snapshot>> {
        let s = self.current();
        if !s.missing.is_empty() {
            return Err(Error::unavailable(
                "lists_unavailable",
                format!(
                    "configured watchlists not downloaded yet: {}; the node refuses to decide without them",
                    s.missing.join(", ")
                ),
            )
            .with_details(serde_json::json!({"missing_lists": s.missing})));
        }
        if s.lists.is_empty() || s.watchlists.entity_count() == 0 {
            return Err(Error::unavailable("lists_unavailable", "no watchlist is loaded; the node cannot screen"));
        }
        let stale = self.stale(&s, now);
        if !stale.is_empty() {
            return Err(Error::unavailable(
                "lists_stale",
                format!(
                    "watchlists older than the configured maximum age ({} h): {}; the node refuses to decide on stale lists",
                    self.max_age_hours,
                    stale.join(", ")
                ),
            )
            .with_details(serde_json::json!({"stale_lists": stale})));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn age_and_staleness() {
        let now = Utc::now();
        let demo = crate::lists::demo_list();
        let mut dated = demo.clone();
        dated.meta.path = "/lists/x".into();
        dated.meta.name = "dated".into();
        dated.meta.list_date = Some((now - Duration::days(10)).format("%Y-%m-%d").to_string());
        let sourced = |list: &LoadedList| Sourced { list: list.clone(), retrieved: None };
        let s = Snapshot::build(vec![sourced(&demo), sourced(&dated)], now);
        assert_eq!(s.lists[0].age_basis, AgeBasis::BuiltIn);
        assert_eq!(s.lists[1].age_basis, AgeBasis::ListDate);
        assert!(s.lists[1].age_hours(now) >= 239.0);
        let live = LiveLists::new(s, 24 * 7);
        assert_eq!(live.ready(now).err().map(|e| e.code), Some("lists_stale"));
        let fresh = Snapshot::build(vec![sourced(&demo)], now);
        live.swap(fresh);
        assert!(live.ready(now).is_ok());
        assert!(live.current().is_demo());
        assert_eq!(parse_list_date("2024-05-01T10:00:00Z").map(|d| d.timestamp()), Some(1714557600));
    }
}
