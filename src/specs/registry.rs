//! Stored specs: every version kept, immutable once written; only the lifecycle status of a
//! spec changes (deactivation). Officers manage only their own specs.

use std::path::Path;
use std::sync::{Arc, RwLock, RwLockWriteGuard};

use rustc_hash::FxHashMap;

use super::{Spec, SpecStatus, load_dir};
use crate::error::{Error, Result};
use crate::officers::Officers;
use crate::store::Store;

pub const SPECS_TREE: &str = "specs";

fn key(id: &str, version: u32) -> String {
    format!("{id}/{version:010}")
}

/// The newest version of each spec read so far. Every request reads its spec (twice per
/// issuance); the cache spares the store scan and the decoding. Entries are filled and
/// dropped only under the write lock, around the store access, so a reader cannot put back a
/// version a concurrent write replaced.
type Latest = Arc<RwLock<FxHashMap<String, Spec>>>;

/// The node's credential specs.
#[derive(Clone)]
pub struct SpecRegistry {
    store: Store,
    officers: Arc<Officers>,
    mandatory_claims: Vec<String>,
    latest: Latest,
}

fn poisoned<T>(_: T) -> Error {
    Error::internal("spec_cache_poisoned", "the spec cache lock is poisoned")
}

impl SpecRegistry {
    pub fn new(store: Store, officers: Arc<Officers>, mandatory_claims: Vec<String>) -> SpecRegistry {
        SpecRegistry { store, officers, mandatory_claims, latest: Latest::default() }
    }

    /// Locks the cache for a write to spec `id` and forgets its entry.
    fn writing(&self, id: &str) -> Result<RwLockWriteGuard<'_, FxHashMap<String, Spec>>> {
        let mut latest = self.latest.write().map_err(poisoned)?;
        latest.remove(id);
        Ok(latest)
    }

    fn stored_latest(&self, id: &str) -> Result<Option<Spec>> {
        Ok(self.store.last::<Spec>(SPECS_TREE, &format!("{id}/"))?.map(|(_, s)| s))
    }

    fn stored_owned(&self, officer: &str, id: &str) -> Result<Spec> {
        owned_by(self.stored_latest(id)?, officer, id)
    }

    /// Stores the specs of a folder that are not stored yet. A file whose version is already
    /// stored with other content is ignored with a warning: versions are immutable, a change
    /// is a new version.
    pub fn seed_from_dir(&self, dir: &Path) -> Result<usize> {
        if !dir.is_dir() {
            tracing::warn!(dir = %dir.display(), "specs folder not found; no example specs loaded");
            return Ok(0);
        }
        let specs = load_dir(dir, &self.mandatory_claims)?;
        let mut added = 0;
        for spec in specs {
            self.check_officer(&spec)?;
            let _writing = self.writing(&spec.id)?;
            let k = key(&spec.id, spec.version);
            match self.store.get::<Spec>(SPECS_TREE, &k)? {
                None => {
                    self.store.put(SPECS_TREE, &k, &spec)?;
                    added += 1;
                }
                Some(stored) if stored.clone().with_status(spec.status) != spec => tracing::warn!(
                    spec = %spec.key(),
                    "a spec file differs from the stored version of the same number; the stored one stays \
                     (publish a new version instead)"
                ),
                Some(_) => {}
            }
        }
        Ok(added)
    }

    fn check_officer(&self, spec: &Spec) -> Result<()> {
        let officer = self.officers.get(&spec.officer).ok_or_else(|| {
            Error::unprocessable(
                "spec_unknown_officer",
                format!("spec `{}`: officer `{}` is not configured", spec.id, spec.officer),
            )
        })?;
        if officer.signing.is_none() {
            return Err(Error::unprocessable(
                "officer_cannot_sign",
                format!(
                    "spec `{}`: this node holds no signing key for officer `{}`, so it could not issue",
                    spec.id, spec.officer
                ),
            ));
        }
        Ok(())
    }

    /// The newest version of a spec, whoever owns it.
    pub fn latest(&self, id: &str) -> Result<Option<Spec>> {
        if let Some(spec) = self.latest.read().map_err(poisoned)?.get(id) {
            return Ok(Some(spec.clone()));
        }
        let mut latest = self.latest.write().map_err(poisoned)?;
        let found = self.stored_latest(id)?;
        // Unknown ids are not remembered: anyone can ask for any id.
        if let Some(spec) = &found {
            latest.insert(id.to_owned(), spec.clone());
        }
        Ok(found)
    }

    pub fn version(&self, id: &str, version: u32) -> Result<Option<Spec>> {
        Ok(self.store.get(SPECS_TREE, &key(id, version))?)
    }

    /// The version new requests use: the newest, if active.
    pub fn active(&self, id: &str) -> Result<Spec> {
        match self.latest(id)? {
            None => Err(Error::not_found("spec_not_found", format!("no spec `{}`", truncate(id)))),
            Some(s) if s.status == SpecStatus::Inactive => {
                Err(Error::conflict("spec_inactive", format!("spec `{}` is deactivated", s.id)))
            }
            Some(s) => Ok(s),
        }
    }

    /// The newest version of every spec (optionally of one officer), by id.
    pub fn list(&self, officer: Option<&str>) -> Result<Vec<Spec>> {
        let mut out: Vec<Spec> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.scan::<Spec>(SPECS_TREE, "", after.as_deref(), 500)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (_, s) in page {
                match out.last_mut() {
                    Some(prev) if prev.id == s.id => *prev = s,
                    _ => out.push(s),
                }
            }
        }
        out.retain(|s| officer.is_none_or(|o| s.officer == o));
        Ok(out)
    }

    /// Every version of a spec, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<Spec>> {
        Ok(self.store.scan::<Spec>(SPECS_TREE, &format!("{id}/"), None, 10_000)?.into_iter().map(|(_, s)| s).collect())
    }

    /// An officer's spec, hidden (404) from other officers.
    pub fn owned(&self, officer: &str, id: &str) -> Result<Spec> {
        owned_by(self.latest(id)?, officer, id)
    }

    /// Creates version 1 of a new spec owned by `officer`.
    pub fn create(&self, officer: &str, mut spec: Spec) -> Result<Spec> {
        if !spec.officer.is_empty() && spec.officer != officer {
            return Err(Error::forbidden("spec_officer_mismatch", "a spec can only be created for yourself"));
        }
        spec.officer = officer.to_owned();
        spec.version = 1;
        spec.status = SpecStatus::Active;
        spec.normalize_and_validate(&self.mandatory_claims)?;
        self.check_officer(&spec)?;
        let _writing = self.writing(&spec.id)?;
        if self.stored_latest(&spec.id)?.is_some() {
            return Err(Error::conflict("spec_exists", format!("spec `{}` exists; publish a new version", spec.id)));
        }
        if !self.store.insert_new(SPECS_TREE, &key(&spec.id, 1), &spec)? {
            return Err(Error::conflict("spec_exists", format!("spec `{}` exists", spec.id)));
        }
        Ok(spec)
    }

    /// Publishes the next version of an officer's spec. The id in the body, if any, must be
    /// the spec's.
    pub fn publish(&self, officer: &str, id: &str, mut spec: Spec) -> Result<Spec> {
        let _writing = self.writing(id)?;
        let current = self.stored_owned(officer, id)?;
        if !spec.id.is_empty() && spec.id != id {
            return Err(Error::bad_request("spec_id_mismatch", "the body's id is not the spec's"));
        }
        if !spec.officer.is_empty() && spec.officer != officer {
            return Err(Error::forbidden("spec_officer_mismatch", "a spec cannot change owner"));
        }
        spec.id = id.to_owned();
        spec.officer = officer.to_owned();
        spec.version = current.version + 1;
        spec.status = SpecStatus::Active;
        spec.normalize_and_validate(&self.mandatory_claims)?;
        if !self.store.insert_new(SPECS_TREE, &key(id, spec.version), &spec)? {
            return Err(Error::conflict("spec_version_conflict", "another version was published at the same time"));
        }
        Ok(spec)
    }

    /// Stops new requests under a spec; issued credentials stay valid.
    pub fn deactivate(&self, officer: &str, id: &str) -> Result<Spec> {
        let _writing = self.writing(id)?;
        let current = self.stored_owned(officer, id)?;
        let k = key(id, current.version);
        let updated =
            self.store.update::<Spec, Error>(SPECS_TREE, &k, |s| Ok(s.map(|s| s.with_status(SpecStatus::Inactive))))?;
        updated.ok_or_else(|| Error::not_found("spec_not_found", "the spec vanished"))
    }
}

impl Spec {
    fn with_status(mut self, status: SpecStatus) -> Spec {
        self.status = status;
        self
    }
}

fn owned_by(latest: Option<Spec>, officer: &str, id: &str) -> Result<Spec> {
    match latest {
        Some(s) if s.officer == officer => Ok(s),
        _ => Err(Error::not_found("spec_not_found", format!("you have no spec `{}`", truncate(id)))),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{OfficerPublicKeys, OfficerSigningKey, SealingSecret};
    use crate::officers::Officer;

    fn registry(dir: &Path) -> SpecRegistry {
        let mut officers = Officers::default();
        for id in ["o1", "o2"] {
            let signing = OfficerSigningKey::generate();
            let keys =
                OfficerPublicKeys { signing: signing.verifying_key(), sealing: SealingSecret::generate().public_key() };
            officers.insert(Officer::new(id.into(), id.into(), keys, Some(Arc::new(signing)), false, vec![])).unwrap();
        }
        SpecRegistry::new(Store::open_sled(dir).unwrap(), Arc::new(officers), vec![])
    }

    #[test]
    fn reads_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let specs = registry(dir.path());
        let mut spec = super::super::tests::spec();
        spec.officer = String::new();
        specs.create("o1", spec.clone()).unwrap();
        assert_eq!(specs.active(&spec.id).unwrap().version, 1);
        // Read again (from the cache), then publish: the next read sees the new version.
        assert_eq!(specs.active(&spec.id).unwrap().version, 1);
        spec.name = "Basic, second edition".into();
        specs.publish("o1", &spec.id, spec.clone()).unwrap();
        let active = specs.active(&spec.id).unwrap();
        assert_eq!((active.version, active.name.as_str()), (2, "Basic, second edition"));
        assert_eq!(specs.owned("o2", &spec.id).unwrap_err().code, "spec_not_found");
        specs.deactivate("o1", &spec.id).unwrap();
        assert_eq!(specs.active(&spec.id).unwrap_err().code, "spec_inactive");
        assert_eq!(specs.latest("unknown").unwrap(), None);
        // A restarted registry reads the same from the store.
        drop(specs);
        let specs = registry(dir.path());
        assert_eq!(specs.active(&spec.id).unwrap_err().code, "spec_inactive");
    }
}
