//! The embedded default backend: sled 0.34.

use std::ops::Bound;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Backend, BatchOp, StoreError, StoreResult};

/// sled database; one sled tree per store tree.
pub struct SledBackend {
    db: sled::Db,
}

fn err(e: sled::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

impl SledBackend {
    pub fn open(dir: &std::path::Path) -> StoreResult<SledBackend> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Engine(format!("{}: {e}", dir.display())))?;
        let db = sled::Config::new().path(dir.join("db")).open().map_err(err)?;
        Ok(SledBackend { db })
    }

    fn tree(&self, name: &str) -> StoreResult<sled::Tree> {
        self.db.open_tree(name).map_err(err)
    }
}

impl Backend for SledBackend {
    fn get(&self, tree: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.tree(tree)?.get(key).map_err(err)?.map(|v| v.to_vec()))
    }

    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.tree(tree)?.insert(key, value).map_err(err)?;
        Ok(())
    }

    fn remove(&self, tree: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.tree(tree)?.remove(key).map_err(err)?.map(|v| v.to_vec()))
    }

    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> StoreResult<bool> {
        Ok(self.tree(tree)?.compare_and_swap(key, expected, new).map_err(err)?.is_ok())
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
        let mut names: Vec<&str> = batch.iter().map(BatchOp::tree).collect();
        names.sort_unstable();
        names.dedup();
        let trees = names.iter().map(|n| self.tree(n)).collect::<StoreResult<Vec<_>>>()?;
        let slot = |name: &str| names.binary_search(&name).unwrap_or(0);
        let outcome = trees.as_slice().transaction(|tx| {
            for op in batch {
                if let BatchOp::Expect { tree, key, value } = op {
                    let current = tx[slot(tree)].get(key)?;
                    if current.as_deref() != value.as_deref() {
                        return Err(ConflictableTransactionError::Abort(()));
                    }
                }
            }
            for op in batch {
                match op {
                    BatchOp::Put { tree, key, value } => {
                        tx[slot(tree)].insert(key.as_slice(), value.as_slice())?;
                    }
                    BatchOp::Remove { tree, key } => {
                        tx[slot(tree)].remove(key.as_slice())?;
                    }
                    BatchOp::Expect { .. } => {}
                }
            }
            Ok(())
        });
        match outcome {
            Ok(()) => Ok(true),
            Err(TransactionError::Abort(())) => Ok(false),
            Err(TransactionError::Storage(e)) => Err(err(e)),
        }
    }

    fn flush(&self) -> StoreResult<()> {
        self.db.flush().map_err(err)?;
        Ok(())
    }
}
