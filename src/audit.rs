//! The append-only audit log: every officer action and every automatic decision, hash-chained
//! so that a removed, reordered or edited entry is detectable.
//!
//! Entry `n` stores `prev` = hash of entry `n-1` (64 zeros for the first) and
//! `hash = SHA-256(prev ‖ JSON of {seq, at, officer, actor, action, target, details})`. The
//! last entry's seq and hash are also kept as the log's head, so that cutting entries off the
//! end is detected too (unless head and tail are rewritten together: anchor the head
//! elsewhere, e.g. in a monitoring system, for that). Entries hold ids, statuses, scores and
//! reasons, never a holder's claims.
//!
//! Entries are written in the same atomic batch as the change they record ([`Audit::commit`]),
//! under a lock that keeps the chain linear.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{Batch, Store};

pub const AUDIT_TREE: &str = "audit";
const HEAD_TREE: &str = "audit_head";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Something to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Whose records this concerns.
    pub officer: String,
    /// An officer id, `engine`, `holder` or `system`.
    pub actor: String,
    /// e.g. `case.decided`.
    pub action: &'static str,
    /// The case, request, credential or spec id.
    pub target: String,
    pub details: Value,
}

impl AuditEvent {
    pub fn new(officer: &str, actor: &str, action: &'static str, target: &str, details: Value) -> AuditEvent {
        AuditEvent { officer: officer.to_owned(), actor: actor.to_owned(), action, target: target.to_owned(), details }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub officer: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: Value,
    pub prev: String,
    pub hash: String,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    at: &'a DateTime<Utc>,
    officer: &'a str,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    details: &'a Value,
}

impl AuditEntry {
    fn compute_hash(&self) -> String {
        let body = Hashed {
            seq: self.seq,
            at: &self.at,
            officer: &self.officer,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            details: &self.details,
        };
        let mut h = Sha256::new();
        h.update(self.prev.as_bytes());
        // Serializing a struct of strings and a JSON value cannot fail.
        h.update(serde_json::to_vec(&body).unwrap_or_default());
        hex::encode(h.finalize())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

fn poisoned() -> Error {
    Error::internal("audit_poisoned", "audit lock")
}

fn key(seq: u64) -> String {
    format!("{seq:020}")
}

/// The log.
pub struct Audit {
    store: Store,
    head: Mutex<Head>,
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub entries: u64,
    pub head_hash: String,
}

/// How the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("entry {seq}: stored under key {key}, which is not its position (entries removed or moved)")]
    Gap { seq: u64, key: String },
    #[error("entry {seq}: its prev does not match the hash of entry {}", seq - 1)]
    BrokenLink { seq: u64 },
    #[error("entry {seq}: its hash does not match its content (edited)")]
    Edited { seq: u64 },
    #[error("entry {key}: not a valid entry: {message}")]
    Corrupt { key: String, message: String },
    #[error("the log ends at entry {last} but its head says {head}: entries were cut off the end")]
    Truncated { last: u64, head: u64 },
    #[error("storage: {0}")]
    Store(String),
}

impl AuditError {
    pub fn code(&self) -> &'static str {
        match self {
            AuditError::Gap { .. } => "audit_gap",
            AuditError::BrokenLink { .. } => "audit_broken_link",
            AuditError::Edited { .. } => "audit_edited",
            AuditError::Corrupt { .. } => "audit_corrupt",
            AuditError::Truncated { .. } => "audit_truncated",
            AuditError::Store(_) => "audit_storage",
        }
    }
}

impl Audit {
    /// Opens the log, reading its head.
    pub fn open(store: Store) -> Result<Audit> {
        let head = store.get::<Head>(HEAD_TREE, "head")?.unwrap_or(Head { seq: 0, hash: GENESIS.into() });
        Ok(Audit { store, head: Mutex::new(head) })
    }

    /// Commits `batch` together with entries for `events`, atomically. Returns `false`
    /// (nothing written, no entry added) when a precondition of the batch failed.
    pub fn commit(&self, batch: Batch, events: Vec<AuditEvent>, now: DateTime<Utc>) -> Result<bool> {
        let head = self.head.lock().map_err(|_| poisoned())?;
        self.commit_locked(head, batch, events, now)
    }

    /// [`Audit::commit`] for async callers: while another commit holds the log, the task
    /// yields instead of blocking its worker thread, which then serves other requests (with
    /// as many workers as cores, a blocked worker is an idle core).
    pub async fn commit_async(&self, batch: Batch, events: Vec<AuditEvent>, now: DateTime<Utc>) -> Result<bool> {
        loop {
            match self.head.try_lock() {
                Ok(head) => return self.commit_locked(head, batch, events, now),
                Err(std::sync::TryLockError::Poisoned(_)) => return Err(poisoned()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            tokio::task::yield_now().await;
        }
    }

    fn commit_locked(
        &self,
        mut head: std::sync::MutexGuard<'_, Head>,
        mut batch: Batch,
        events: Vec<AuditEvent>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut next = head.clone();
        for e in events {
            let mut entry = AuditEntry {
                seq: next.seq + 1,
                at: now,
                officer: e.officer,
                actor: e.actor,
                action: e.action.to_owned(),
                target: e.target,
                details: e.details,
                prev: next.hash.clone(),
                hash: String::new(),
            };
            entry.hash = entry.compute_hash();
            let k = key(entry.seq);
            batch.expect_absent(AUDIT_TREE, &k).put(AUDIT_TREE, &k, &entry)?;
            next = Head { seq: entry.seq, hash: entry.hash };
        }
        if next != *head {
            batch.put(HEAD_TREE, "head", &next)?;
        }
        let ok = self.store.commit(&batch)?;
        if ok {
            *head = next;
        }
        Ok(ok)
    }

    /// An officer's entries after `after` (a seq), oldest first.
    pub fn entries(&self, officer: &str, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        let mut cursor = Some(key(after));
        while out.len() < limit {
            let page = self.store.scan::<AuditEntry>(AUDIT_TREE, "", cursor.as_deref(), 500)?;
            let Some((last, _)) = page.last() else { break };
            cursor = Some(last.clone());
            out.extend(page.into_iter().map(|(_, e)| e).filter(|e| e.officer == officer));
        }
        out.truncate(limit);
        Ok(out)
    }
}

/// Walks the whole chain. The first break found is the error.
pub fn verify(store: &Store) -> Result<VerifyReport, AuditError> {
    let storage = |e: crate::store::StoreError| AuditError::Store(e.to_string());
    let mut prev = GENESIS.to_string();
    let mut expected = 1u64;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store.backend().scan_prefix(AUDIT_TREE, b"", after.as_deref(), 1000).map_err(storage)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (k, v) in page {
            let k = String::from_utf8_lossy(&k).into_owned();
            let entry: AuditEntry = serde_json::from_slice(&v)
                .map_err(|e| AuditError::Corrupt { key: k.clone(), message: e.to_string() })?;
            if k != key(expected) || entry.seq != expected {
                return Err(AuditError::Gap { seq: entry.seq, key: k });
            }
            if entry.prev != prev {
                return Err(AuditError::BrokenLink { seq: entry.seq });
            }
            if entry.compute_hash() != entry.hash {
                return Err(AuditError::Edited { seq: entry.seq });
            }
            prev = entry.hash;
            expected += 1;
        }
    }
    let entries = expected - 1;
    let head = store.get::<Head>(HEAD_TREE, "head").map_err(storage)?;
    match head {
        Some(h) if h.seq != entries => return Err(AuditError::Truncated { last: entries, head: h.seq }),
        Some(h) if h.hash != prev => return Err(AuditError::BrokenLink { seq: entries }),
        None if entries > 0 => return Err(AuditError::Truncated { last: entries, head: 0 }),
        _ => {}
    }
    Ok(VerifyReport { entries, head_hash: prev })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log() -> (tempfile::TempDir, Store, Audit) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sled(dir.path()).unwrap();
        let audit = Audit::open(store.clone()).unwrap();
        (dir, store, audit)
    }

    fn append(audit: &Audit, n: usize) {
        for i in 0..n {
            let e =
                AuditEvent::new("o1", "o1", "case.decided", &format!("case_{i}"), json!({"outcome": "false-positive"}));
            assert!(audit.commit(Batch::new(), vec![e], Utc::now()).unwrap());
        }
    }

    /// While the log is held, an async commit yields (its worker stays free) and commits once
    /// the log is released, in chain order.
    #[tokio::test]
    // Holding the log across awaits is the point: it stands for a commit in progress.
    #[allow(clippy::await_holding_lock)]
    async fn async_commits_wait_for_the_log_without_blocking() {
        let (_d, store, audit) = log();
        let audit = std::sync::Arc::new(audit);
        append(&audit, 1);
        let held = audit.head.lock().unwrap();
        let waiting = tokio::spawn({
            let audit = audit.clone();
            async move {
                let e = AuditEvent::new("o1", "o1", "case.decided", "case_async", json!({}));
                audit.commit_async(Batch::new(), vec![e], Utc::now()).await
            }
        });
        // This test runs on one thread: the spawned commit gets to run only because it yields.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "committed while the log was held");
        drop(held);
        assert!(waiting.await.unwrap().unwrap());
        append(&audit, 1);
        let report = verify(&store).unwrap();
        assert_eq!(report.entries, 3);
        assert_eq!(audit.entries("o1", 1, 1).unwrap()[0].target, "case_async");
    }

    #[test]
    fn a_clean_chain_verifies_and_survives_reopening() {
        let (_d, store, audit) = log();
        append(&audit, 5);
        assert_eq!(verify(&store).unwrap().entries, 5);
        let audit = Audit::open(store.clone()).unwrap();
        append(&audit, 2);
        assert_eq!(verify(&store).unwrap().entries, 7);
        assert_eq!(audit.entries("o1", 5, 10).unwrap().len(), 2);
        assert!(audit.entries("o2", 0, 10).unwrap().is_empty());
    }

    #[test]
    fn edits_removals_and_truncation_are_detected() {
        let (_d, store, audit) = log();
        append(&audit, 4);
        // Edited content.
        let mut e: AuditEntry = store.get(AUDIT_TREE, &key(2)).unwrap().unwrap();
        let original = e.clone();
        e.details = json!({"outcome": "confirmed-match"});
        store.put(AUDIT_TREE, &key(2), &e).unwrap();
        assert_eq!(verify(&store).unwrap_err(), AuditError::Edited { seq: 2 });
        // Edited and re-hashed: the next link breaks.
        e.hash = e.compute_hash();
        store.put(AUDIT_TREE, &key(2), &e).unwrap();
        assert_eq!(verify(&store).unwrap_err(), AuditError::BrokenLink { seq: 3 });
        store.put(AUDIT_TREE, &key(2), &original).unwrap();
        verify(&store).unwrap();
        // Removed from the middle.
        store.remove::<AuditEntry>(AUDIT_TREE, &key(3)).unwrap();
        assert_eq!(verify(&store).unwrap_err().code(), "audit_gap");
        // Restored, then cut off the end.
        let (_d2, store2, audit2) = log();
        append(&audit2, 3);
        store2.remove::<AuditEntry>(AUDIT_TREE, &key(3)).unwrap();
        assert_eq!(verify(&store2).unwrap_err(), AuditError::Truncated { last: 2, head: 3 });
    }

    #[test]
    fn a_failed_batch_adds_no_entry() {
        let (_d, store, audit) = log();
        store.put("x", "k", &1u32).unwrap();
        let mut b = Batch::new();
        b.expect_absent("x", "k");
        let e = AuditEvent::new("o1", "o1", "case.opened", "c", json!({}));
        assert!(!audit.commit(b, vec![e.clone()], Utc::now()).unwrap());
        assert!(audit.commit(Batch::new(), vec![e], Utc::now()).unwrap());
        assert_eq!(verify(&store).unwrap().entries, 1);
    }
}
