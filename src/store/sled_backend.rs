//! The embedded default backend: sled 0.34.
//!
//! Batches are made atomic by a one-record journal instead of sled transactions. A sled
//! transaction (or `apply_batch`) seals and writes sled's IO buffer on every commit, through
//! a thread pool that wakes all its threads per write: measured, that was half of the
//! server's CPU per issuance. Here a commit writes the whole batch as one journal record
//! (a single insert, atomic by itself), applies its writes as plain inserts, then removes
//! the record. sled recovers a prefix of its log after a crash, so if any write of a batch
//! survived, so did its journal record (written before it): opening the store replays a
//! record it finds, completing the batch. Every write takes one lock, so the log's order
//! is the journal's order and a replay cannot overwrite a later write.

use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, RwLock};

use rustc_hash::FxHashMap;

use super::{Backend, BatchOp, StoreError, StoreResult};

/// The journal's tree and its one key: at most one batch is in flight (writes are serial).
const JOURNAL_TREE: &str = "__journal";
const PENDING: &[u8] = b"pending";

/// sled database; one sled tree per store tree.
pub struct SledBackend {
    db: sled::Db,
    journal: sled::Tree,
    /// Opened trees (`Db::open_tree` takes a lock and a lookup on each call).
    trees: RwLock<FxHashMap<String, sled::Tree>>,
    /// Held by every write. `true` once a batch failed halfway: its journal record is the
    /// only way to complete it, so nothing more is written until a restart replays it.
    writer: Mutex<bool>,
}

fn err(e: sled::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

fn corrupt_journal(message: &str) -> StoreError {
    StoreError::Corrupt {
        tree: JOURNAL_TREE.into(),
        key: String::from_utf8_lossy(PENDING).into_owned(),
        message: message.into(),
    }
}

impl SledBackend {
    pub fn open(dir: &std::path::Path, cache_bytes: u64) -> StoreResult<SledBackend> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Engine(format!("{}: {e}", dir.display())))?;
        let db = sled::Config::new().path(dir.join("db")).cache_capacity(cache_bytes).open().map_err(err)?;
        let journal = db.open_tree(JOURNAL_TREE).map_err(err)?;
        let backend = SledBackend { db, journal, trees: Default::default(), writer: Mutex::new(false) };
        backend.recover()?;
        Ok(backend)
    }

    /// Completes the batch a crash interrupted, if any.
    fn recover(&self) -> StoreResult<()> {
        let Some(record) = self.journal.get(PENDING).map_err(err)? else { return Ok(()) };
        let writes = decode_writes(&record)?;
        tracing::warn!(writes = writes.len(), "completing a batch that a crash interrupted");
        for op in &writes {
            self.apply(op)?;
        }
        self.journal.remove(PENDING).map_err(err)?;
        self.db.flush().map_err(err)?;
        Ok(())
    }

    fn tree(&self, name: &str) -> StoreResult<sled::Tree> {
        let poisoned = || StoreError::Engine("tree cache lock poisoned".into());
        if let Some(t) = self.trees.read().map_err(|_| poisoned())?.get(name) {
            return Ok(t.clone());
        }
        let t = self.db.open_tree(name).map_err(err)?;
        self.trees.write().map_err(|_| poisoned())?.insert(name.to_owned(), t.clone());
        Ok(t)
    }

    /// The write lock, refused while a failed batch waits for its replay.
    fn write_lock(&self) -> StoreResult<MutexGuard<'_, bool>> {
        let guard = self.writer.lock().map_err(|_| StoreError::Engine("store write lock poisoned".into()))?;
        if *guard {
            return Err(StoreError::Engine("a batch failed halfway; restart the node to complete it".into()));
        }
        Ok(guard)
    }

    fn apply(&self, op: &BatchOp) -> StoreResult<()> {
        match op {
            BatchOp::Put { tree, key, value } => {
                self.tree(tree)?.insert(key.as_slice(), value.as_slice()).map_err(err)?;
            }
            BatchOp::Remove { tree, key } => {
                self.tree(tree)?.remove(key.as_slice()).map_err(err)?;
            }
            BatchOp::Expect { .. } => {}
        }
        Ok(())
    }
}

impl Backend for SledBackend {
    fn get(&self, tree: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.tree(tree)?.get(key).map_err(err)?.map(|v| v.to_vec()))
    }

    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        let t = self.tree(tree)?;
        let _w = self.write_lock()?;
        t.insert(key, value).map_err(err)?;
        Ok(())
    }

    fn remove(&self, tree: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let t = self.tree(tree)?;
        let _w = self.write_lock()?;
        Ok(t.remove(key).map_err(err)?.map(|v| v.to_vec()))
    }

    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> StoreResult<bool> {
        let t = self.tree(tree)?;
        let _w = self.write_lock()?;
        Ok(t.compare_and_swap(key, expected, new).map_err(err)?.is_ok())
    }

    fn scan_prefix(
        &self,
        tree: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let t = self.tree(tree)?;
        let start = match after {
            Some(a) => Bound::Excluded(a.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        let mut out = Vec::new();
        for item in t.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
            let (k, v) = item.map_err(err)?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn last_with_prefix(&self, tree: &str, prefix: &[u8]) -> StoreResult<Option<(Vec<u8>, Vec<u8>)>> {
        let t = self.tree(tree)?;
        Ok(t.scan_prefix(prefix).next_back().transpose().map_err(err)?.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn commit(&self, batch: &[BatchOp]) -> StoreResult<bool> {
        let mut failed = self.write_lock()?;
        for op in batch {
            if let BatchOp::Expect { tree, key, value } = op {
                let current = self.tree(tree)?.get(key).map_err(err)?;
                if current.as_deref() != value.as_deref() {
                    return Ok(false);
                }
            }
        }
        let writes: Vec<&BatchOp> = batch.iter().filter(|op| !matches!(op, BatchOp::Expect { .. })).collect();
        match writes.as_slice() {
            [] => return Ok(true),
            // One write is atomic by itself.
            [op] => return self.apply(op).map(|()| true),
            _ => {}
        }
        self.journal.insert(PENDING, encode_writes(&writes)).map_err(err)?;
        let applied = writes.iter().try_for_each(|op| self.apply(op));
        let cleared = applied.and_then(|()| self.journal.remove(PENDING).map(drop).map_err(err));
        if cleared.is_err() {
            *failed = true;
        }
        cleared.map(|()| true)
    }

    fn flush(&self) -> StoreResult<()> {
        self.db.flush().map_err(err)?;
        Ok(())
    }
}

const TAG_PUT: u8 = 1;
const TAG_REMOVE: u8 = 2;

/// A journal record: the number of writes (big-endian u32), then per write a tag and tree,
/// key (and value for a put), each as a big-endian u32 length and its bytes.
fn encode_writes(writes: &[&BatchOp]) -> Vec<u8> {
    let size: usize = writes
        .iter()
        .map(|op| match op {
            BatchOp::Put { tree, key, value } => 13 + tree.len() + key.len() + value.len(),
            BatchOp::Remove { tree, key } => 9 + tree.len() + key.len(),
            BatchOp::Expect { .. } => 0,
        })
        .sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(writes.len() as u32).to_be_bytes());
    let field = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    for op in writes {
        match op {
            BatchOp::Put { tree, key, value } => {
                out.push(TAG_PUT);
                field(&mut out, tree.as_bytes());
                field(&mut out, key);
                field(&mut out, value);
            }
            BatchOp::Remove { tree, key } => {
                out.push(TAG_REMOVE);
                field(&mut out, tree.as_bytes());
                field(&mut out, key);
            }
            BatchOp::Expect { .. } => {}
        }
    }
    out
}

fn decode_writes(mut record: &[u8]) -> StoreResult<Vec<BatchOp>> {
    fn length(record: &mut &[u8]) -> StoreResult<usize> {
        let (len, rest) = record.split_first_chunk::<4>().ok_or_else(|| corrupt_journal("truncated length"))?;
        *record = rest;
        Ok(u32::from_be_bytes(*len) as usize)
    }
    fn field<'a>(record: &mut &'a [u8]) -> StoreResult<&'a [u8]> {
        let len = length(record)?;
        let rest = *record;
        if rest.len() < len {
            return Err(corrupt_journal("truncated field"));
        }
        let (bytes, rest) = rest.split_at(len);
        *record = rest;
        Ok(bytes)
    }
    let count = length(&mut record)?;
    let mut writes = Vec::with_capacity(count.min(record.len()));
    for _ in 0..count {
        let (&tag, rest) = record.split_first().ok_or_else(|| corrupt_journal("truncated record"))?;
        record = rest;
        let tree = String::from_utf8(field(&mut record)?.to_vec()).map_err(|_| corrupt_journal("tree name"))?;
        let key = field(&mut record)?.to_vec();
        writes.push(match tag {
            TAG_PUT => BatchOp::Put { tree, key, value: field(&mut record)?.to_vec() },
            TAG_REMOVE => BatchOp::Remove { tree, key },
            _ => return Err(corrupt_journal("unknown write tag")),
        });
    }
    if !record.is_empty() {
        return Err(corrupt_journal("bytes after the last write"));
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path) -> StoreResult<SledBackend> {
        SledBackend::open(dir, super::super::DEFAULT_CACHE_MB << 20)
    }

    fn put(tree: &str, key: &str, value: &str) -> BatchOp {
        BatchOp::Put { tree: tree.into(), key: key.into(), value: value.into() }
    }

    #[test]
    fn journal_records_round_trip_and_refuse_damage() {
        let writes =
            [put("a", "k1", "v1"), BatchOp::Remove { tree: "b".into(), key: b"k2".to_vec() }, put("c", "", "")];
        let record = encode_writes(&writes.iter().collect::<Vec<_>>());
        assert_eq!(decode_writes(&record).unwrap(), writes);
        for cut in 1..record.len() {
            assert!(decode_writes(&record[..cut]).is_err(), "a record cut at {cut} bytes decoded");
        }
        let mut longer = record.clone();
        longer.push(0);
        assert!(decode_writes(&longer).is_err(), "trailing bytes were ignored");
        let mut bad = record.clone();
        bad[4] = 9;
        assert!(matches!(decode_writes(&bad), Err(StoreError::Corrupt { .. })));
    }

    /// A crash after the journal record and some of the batch's writes: opening the store
    /// completes the batch.
    #[test]
    fn an_interrupted_batch_is_completed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let writes = [put("requests", "r1", "new"), put("cases", "c1", "open"), put("index", "h|r1", "")];
        {
            let b = open(dir.path()).unwrap();
            b.put("requests", b"r1", b"old").unwrap();
            b.put("cases", b"c9", b"untouched").unwrap();
            // What a commit had written when the crash came: the record and its first write.
            b.journal.insert(PENDING, encode_writes(&writes.iter().collect::<Vec<_>>())).unwrap();
            b.apply(&writes[0]).unwrap();
            b.flush().unwrap();
        }
        let b = open(dir.path()).unwrap();
        assert_eq!(b.get("requests", b"r1").unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(b.get("cases", b"c1").unwrap().as_deref(), Some(&b"open"[..]));
        assert_eq!(b.get("index", b"h|r1").unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(b.get("cases", b"c9").unwrap().as_deref(), Some(&b"untouched"[..]));
        assert!(b.journal.get(PENDING).unwrap().is_none(), "the journal is cleared after the replay");
    }

    #[test]
    fn a_damaged_journal_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = open(dir.path()).unwrap();
            b.journal.insert(PENDING, &[0, 0, 0, 1, TAG_PUT, 0, 0][..]).unwrap();
            b.flush().unwrap();
        }
        let e = open(dir.path()).err().expect("opened over a damaged journal");
        assert!(e.to_string().contains("__journal"), "{e}");
    }

    #[test]
    fn commits_leave_no_journal_behind() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(dir.path()).unwrap();
        assert!(b.commit(&[put("t", "a", "1"), put("u", "b", "2")]).unwrap());
        assert!(b.journal.get(PENDING).unwrap().is_none());
        let stale = BatchOp::Expect { tree: "t".into(), key: b"a".to_vec(), value: Some(b"0".to_vec()) };
        assert!(!b.commit(&[stale, put("t", "a", "3")]).unwrap());
        assert_eq!(b.get("t", b"a").unwrap().as_deref(), Some(&b"1"[..]));
    }
}
