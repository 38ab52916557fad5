//! The officer as issuer: status-list positions, AML credentials, compliance certificates,
//! revocation, and what relying parties verify.
//!
//! # Status lists
//!
//! Each officer has Bitstring Status Lists of [`STATUS_LIST_SIZE`] entries per purpose,
//! published at `<base>/v1/status/<officer>/<purpose>/<list>`. Positions are handed out from
//! a per-officer counter through a keyed permutation of the list (a Feistel network keyed by
//! the node secret): indexes never repeat, and they do not reveal issuance order, as the
//! Bitstring Status List spec asks for herd privacy. When a list is full the next list starts.
//!
//! The bits live in the store (raw bytes per list) and in memory; the signed list credential
//! is re-signed only when its bits changed or it is about to expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::VerifyingKey;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::clock::Clock;
use crate::credentials::vc::AmlCredentialRequest;
use crate::credentials::{
    AuthenticatedCertificates, CertificateClaims, CertificateRequest, CertificateVerdict, CredentialFormat,
    ListVersion, SecuredCredential, StatusEntry, StatusList, StatusPurpose, certificate_verdict, issue_aml_credential,
    issue_certificate, issue_status_list_credential,
};
use crate::error::{Error, Result};
use crate::keys::did_key_vm;
use crate::officers::{Officer, Officers};
use crate::specs::Spec;
use crate::store::{Batch, Store};

/// Entries per status list (the spec's 16 KB minimum).
pub const STATUS_LIST_SIZE: u64 = crate::credentials::status_list::MIN_ENTRIES as u64;
/// How long a signed status list credential is valid; relying parties re-fetch before.
pub const STATUS_LIST_VALIDITY_HOURS: i64 = 24;
/// `Cache-Control: max-age` of a published status list: bounds how late a revocation is seen.
pub const STATUS_LIST_MAX_AGE_SECS: u64 = 300;

pub const CREDENTIALS_TREE: &str = "credentials";
pub const CERTIFICATES_TREE: &str = "certificates";
const ALLOC_TREE: &str = "status_alloc";
/// Status-list positions are reserved from the store in blocks of this many, so that an
/// issuance takes its position from memory. A restart skips what is left of a block: those
/// positions stay unused (0) in the lists.
const SLOT_BLOCK: u64 = 256;
const BITS_TREE: &str = "status_bits";

/// A credential position in the officer's status lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSlot {
    pub list: u32,
    pub index: u64,
}

/// An issued AML credential as the node keeps it (no PII: it is what the holder received).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub id: String,
    pub request_id: String,
    pub officer: String,
    pub holder: String,
    pub spec_id: String,
    pub spec_version: u32,
    pub format: CredentialFormat,
    pub status: StatusSlot,
    pub status_list_credential: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub credential: SecuredCredential,
    #[serde(default)]
    pub revoked: Option<Revocation>,
}

/// Why and when a credential was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
}

/// A change of one status bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub officer: String,
    pub purpose: StatusPurpose,
    pub slot: StatusSlot,
    pub value: bool,
}

/// A revocation ready to commit, or the record if it was revoked already.
pub enum Revocable {
    Already(CredentialRecord),
    Staged { record: CredentialRecord, batch: Batch, change: StatusChange },
}

/// A compliance certificate as the node keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub jti: String,
    pub credential_id: String,
    pub token: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl CertificateRecord {
    /// Store key: certificates sort under their credential.
    pub fn key(&self) -> String {
        format!("{}|{}", self.credential_id, self.jti)
    }
}

struct ListState {
    bits: StatusList,
    /// Bumped on every change, so the signed copy knows whether it is current.
    version: u64,
    signed: Option<SignedList>,
}

struct SignedList {
    version: u64,
    issued_at: DateTime<Utc>,
    credential: Arc<Map<String, Value>>,
}

type ListKey = (String, StatusPurpose, u32);

/// Issues and verifies for every officer of the node.
pub struct Issuer {
    store: Store,
    clock: Arc<dyn Clock>,
    officers: Arc<Officers>,
    base_url: String,
    permutation_key: [u8; 32],
    keys_by_kid: HashMap<String, VerifyingKey>,
    authenticated: AuthenticatedCertificates,
    lists: Mutex<HashMap<ListKey, ListState>>,
    /// Per officer: the next position to hand out and the end of its reserved block.
    slots: Mutex<HashMap<String, (u64, u64)>>,
}

/// Certificates whose signature the node remembers having checked (about 1.5 KiB each).
pub const AUTHENTICATED_CERTIFICATES: usize = 16_384;

impl Issuer {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        officers: Arc<Officers>,
        base_url: &str,
        permutation_key: [u8; 32],
    ) -> Issuer {
        let keys_by_kid = officers.iter().map(|o| (did_key_vm(&o.verifying_key()), o.verifying_key())).collect();
        Issuer {
            store,
            clock,
            officers,
            base_url: base_url.trim_end_matches('/').to_owned(),
            permutation_key,
            keys_by_kid,
            authenticated: AuthenticatedCertificates::new(AUTHENTICATED_CERTIFICATES),
            lists: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `<base>/v1/status/<officer>/<purpose>/<list>`.
    pub fn status_list_url(&self, officer: &str, purpose: StatusPurpose, list: u32) -> String {
        format!("{}/v1/status/{officer}/{}/{list}", self.base_url, purpose.as_str())
    }

    /// Reads `(officer, purpose, list)` back out of one of our status list URLs.
    fn parse_status_list_url(&self, url: &str) -> Option<ListKey> {
        let rest = url.strip_prefix(&self.base_url)?.strip_prefix("/v1/status/")?;
        let mut parts = rest.split('/');
        let officer = parts.next()?;
        let purpose = StatusPurpose::parse(parts.next()?)?;
        let list: u32 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || self.officers.get(officer).is_none() {
            return None;
        }
        Some((officer.to_owned(), purpose, list))
    }

    /// Hands out the officer's next status position.
    pub fn allocate(&self, officer: &str) -> Result<StatusSlot> {
        let n = {
            let mut slots =
                self.slots.lock().map_err(|_| Error::internal("status_alloc_poisoned", "the slot lock is poisoned"))?;
            let (next, end) = slots.entry(officer.to_owned()).or_insert((0, 0));
            if *next == *end {
                // The stored value is the end of the last block reserved (positions below it
                // are taken).
                let reserved = self
                    .store
                    .update::<u64, Error>(ALLOC_TREE, officer, |v| Ok(Some(v.unwrap_or(0) + SLOT_BLOCK)))?
                    .unwrap_or(SLOT_BLOCK);
                (*next, *end) = (reserved - SLOT_BLOCK, reserved);
            }
            *next += 1;
            *next - 1
        };
        let list = u32::try_from(n / STATUS_LIST_SIZE)
            .map_err(|_| Error::internal("status_list_exhausted", "the officer's status lists are exhausted"))?;
        Ok(StatusSlot { list, index: permute(&self.permutation_key, officer, list, n % STATUS_LIST_SIZE) })
    }

    fn signing_key<'a>(&self, officer: &'a Officer) -> Result<&'a crate::keys::OfficerSigningKey> {
        officer.signing.as_deref().ok_or_else(|| {
            Error::unprocessable(
                "officer_cannot_sign",
                format!("this node holds no signing key for officer `{}`", officer.id),
            )
        })
    }

    /// Issues the AML credential and a first certificate for a request that passed.
    /// Nothing is stored: the caller commits the records with the rest of the request.
    pub async fn issue(
        &self,
        officer: &Officer,
        spec: &Spec,
        holder: &str,
        request_id: &str,
        checked_at: DateTime<Utc>,
        list_versions: Vec<ListVersion>,
    ) -> Result<(CredentialRecord, CertificateRecord)> {
        let key = self.signing_key(officer)?;
        let slot = self.allocate(&officer.id)?;
        let list_url = self.status_list_url(&officer.id, StatusPurpose::Revocation, slot.list);
        let suspension_url = self.status_list_url(&officer.id, StatusPurpose::Suspension, slot.list);
        let now = self.clock.now();
        let req = AmlCredentialRequest {
            id: None,
            node_base_url: self.base_url.clone(),
            holder_did: holder.to_owned(),
            spec_id: spec.id.clone(),
            spec_version: spec.version,
            checked_at,
            list_versions,
            issued_at: now,
            valid_for: Duration::seconds(secs(spec.credential_validity_secs)),
            status: StatusEntry { status_list_credential: list_url.clone(), index: slot.index },
            suspension: Some(StatusEntry { status_list_credential: suspension_url, index: slot.index }),
        };
        let issued = issue_aml_credential(key, &req, spec.credential_format).await?;
        let record = CredentialRecord {
            id: issued.id,
            request_id: request_id.to_owned(),
            officer: officer.id.clone(),
            holder: holder.to_owned(),
            spec_id: spec.id.clone(),
            spec_version: spec.version,
            format: spec.credential_format,
            status: slot,
            status_list_credential: list_url,
            valid_from: issued.valid_from,
            valid_until: issued.valid_until,
            credential: issued.credential,
            revoked: None,
        };
        let certificate = self.certificate(officer, &record, spec.certificate_validity_secs, None)?;
        Ok((record, certificate))
    }

    /// A new compliance certificate for a live credential, valid `validity_secs` but never
    /// beyond the credential.
    pub fn certificate(
        &self,
        officer: &Officer,
        credential: &CredentialRecord,
        validity_secs: u64,
        audience: Option<String>,
    ) -> Result<CertificateRecord> {
        let now = self.clock.now();
        if credential.revoked.is_some() {
            return Err(Error::conflict("credential_revoked", "the credential was revoked"));
        }
        let left = (credential.valid_until - now).num_seconds();
        if left < 1 {
            return Err(Error::conflict("credential_expired", "the credential has expired; request a new one"));
        }
        let key = self.signing_key(officer)?;
        let issued = issue_certificate(
            key,
            &CertificateRequest {
                holder_did: credential.holder.clone(),
                audience,
                spec_id: credential.spec_id.clone(),
                spec_version: credential.spec_version,
                credential_id: credential.id.clone(),
                status: StatusEntry {
                    status_list_credential: credential.status_list_credential.clone(),
                    index: credential.status.index,
                },
                suspension: Some(StatusEntry {
                    status_list_credential: self.status_list_url(
                        &credential.officer,
                        StatusPurpose::Suspension,
                        credential.status.list,
                    ),
                    index: credential.status.index,
                }),
                issued_at: now,
                valid_for: Duration::seconds(secs(validity_secs).min(left)),
            },
        )?;
        let ts = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or(now);
        Ok(CertificateRecord {
            jti: issued.claims.jti.clone(),
            credential_id: credential.id.clone(),
            issued_at: ts(issued.claims.iat),
            expires_at: ts(issued.claims.exp),
            token: issued.token,
        })
    }

    /// Relying-party verification of a certificate: signature by one of this node's officers,
    /// dates, and the revocation and suspension bits of its credential. A signature already
    /// checked for these exact bytes is not checked again; dates and bits are, on every call.
    pub fn verify_certificate(&self, token: &str) -> CertificateVerdict {
        let keys = |kid: &str| self.keys_by_kid.get(kid).copied();
        let verdict = match self.authenticated.authenticate(token, &keys) {
            Ok(claims) => certificate_verdict(
                claims,
                |claims: &CertificateClaims| self.bit_set(claims, &claims.credential_status),
                self.clock.now(),
            ),
            Err(verdict) => verdict,
        };
        match verdict {
            CertificateVerdict::Valid { claims, .. }
                if claims.credential_suspension.as_ref().is_some_and(|s| self.bit_set(&claims, s)) =>
            {
                CertificateVerdict::Suspended {
                    reason: format!(
                        "credential {} is suspended while a possible match is reviewed",
                        claims.credential_id
                    ),
                    claims,
                }
            }
            v => v,
        }
    }

    /// Whether a status entry of a certificate points at a set bit; an entry that is not one
    /// of the issuer's own lists counts as set (the node cannot vouch for it).
    fn bit_set(&self, claims: &CertificateClaims, status: &crate::credentials::certificate::CertificateStatus) -> bool {
        let Some((officer, purpose, list)) = self.parse_status_list_url(&status.status_list_credential) else {
            return true;
        };
        let Ok(index) = status.status_list_index.parse::<u64>() else { return true };
        if purpose.as_str() != status.status_purpose
            || self.officers.get(&officer).is_none_or(|o| o.did() != claims.iss)
        {
            return true;
        }
        self.is_set(&(officer, purpose, list), index).unwrap_or(true)
    }

    fn with_list<T>(&self, key: &ListKey, f: impl FnOnce(&mut ListState) -> T) -> Result<T> {
        let mut lists = self.lists.lock().map_err(|_| Error::internal("status_list_poisoned", "status list lock"))?;
        if !lists.contains_key(key) {
            // Set bits are stored one key each (changes commute and land in the same atomic
            // batch as the record they belong to); the bitstring is rebuilt from them.
            let mut bits = StatusList::with_entries(STATUS_LIST_SIZE as usize)?;
            let prefix = format!("{}/", bits_key(key));
            let mut after: Option<String> = None;
            loop {
                let page = self.store.scan::<()>(BITS_TREE, &prefix, after.as_deref(), 4096)?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                for (k, ()) in &page {
                    if let Some(i) = k.rsplit('/').next().and_then(|i| i.parse::<u64>().ok()) {
                        bits.set(i, true)?;
                    }
                }
            }
            lists.insert(key.clone(), ListState { bits, version: 0, signed: None });
        }
        // Just inserted if it was missing.
        let state = lists.get_mut(key).ok_or_else(|| Error::internal("status_list_missing", "status list"))?;
        Ok(f(state))
    }

    fn is_set(&self, key: &ListKey, index: u64) -> Result<bool> {
        self.with_list(key, |s| s.bits.is_set(index))?.map_err(Error::from)
    }

    /// Whether a credential's bit is set for `purpose`.
    pub fn status_of(&self, credential: &CredentialRecord, purpose: StatusPurpose) -> Result<bool> {
        self.is_set(&(credential.officer.clone(), purpose, credential.status.list), credential.status.index)
    }

    /// Adds a status bit change to a batch; call [`Issuer::applied`] once it committed.
    pub fn stage_status(&self, batch: &mut Batch, change: &StatusChange) {
        let key =
            format!("{}/{}", bits_key(&(change.officer.clone(), change.purpose, change.slot.list)), change.slot.index);
        if change.value {
            batch.put_raw(BITS_TREE, key.as_bytes(), b"null".to_vec());
        } else {
            batch.remove(BITS_TREE, &key);
        }
    }

    /// Brings the in-memory list (and so the next signed list) up to a committed change.
    pub fn applied(&self, change: &StatusChange) -> Result<()> {
        let key = (change.officer.clone(), change.purpose, change.slot.list);
        self.with_list(&key, |s| -> Result<()> {
            s.bits.set(change.slot.index, change.value)?;
            s.version += 1;
            Ok(())
        })?
    }

    /// Revokes a credential now: records why, flips its bit, commits. Idempotent: an already
    /// revoked credential is returned unchanged. The caller flushes.
    pub fn revoke(&self, credential_id: &str, by: &str, reason: &str) -> Result<CredentialRecord> {
        let (record, batch, change) = match self.prepare_revocation(credential_id, by, reason)? {
            Revocable::Already(record) => return Ok(record),
            Revocable::Staged { record, batch, change } => (record, batch, change),
        };
        if !self.store.commit(&batch)? {
            return Err(Error::conflict("credential_changed", "the credential changed concurrently; retry"));
        }
        self.applied(&change)?;
        Ok(record)
    }

    /// Stages a revocation in a batch (with a precondition on the record) without committing.
    pub fn prepare_revocation(&self, credential_id: &str, by: &str, reason: &str) -> Result<Revocable> {
        let raw = self
            .store
            .backend()
            .get(CREDENTIALS_TREE, credential_id.as_bytes())?
            .ok_or_else(|| Error::not_found("credential_not_found", "no such credential"))?;
        let mut record: CredentialRecord = serde_json::from_slice(&raw)
            .map_err(|e| Error::internal("storage_corrupt", format!("credential {credential_id}: {e}")))?;
        if record.revoked.is_some() {
            return Ok(Revocable::Already(record));
        }
        record.revoked = Some(Revocation { at: self.clock.now(), by: by.to_owned(), reason: reason.to_owned() });
        let mut batch = Batch::new();
        batch.expect_raw(CREDENTIALS_TREE, credential_id.as_bytes(), Some(raw));
        batch.put(CREDENTIALS_TREE, credential_id, &record)?;
        let change = StatusChange {
            officer: record.officer.clone(),
            purpose: StatusPurpose::Revocation,
            slot: record.status,
            value: true,
        };
        self.stage_status(&mut batch, &change);
        Ok(Revocable::Staged { record, batch, change })
    }

    /// The signed `BitstringStatusListCredential` for one of our lists, re-signed when stale.
    pub async fn status_list_credential(
        &self,
        officer_id: &str,
        purpose: StatusPurpose,
        list: u32,
    ) -> Result<Arc<Map<String, Value>>> {
        let officer = self
            .officers
            .get(officer_id)
            .ok_or_else(|| Error::not_found("status_list_not_found", "no such status list"))?;
        let key = (officer_id.to_owned(), purpose, list);
        let now = self.clock.now();
        let (bits, version) = {
            let fresh = self.with_list(&key, |s| match &s.signed {
                Some(sl)
                    if sl.version == s.version
                        && now - sl.issued_at < Duration::hours(STATUS_LIST_VALIDITY_HOURS / 2) =>
                {
                    Ok(sl.credential.clone())
                }
                _ => Err((s.bits.clone(), s.version)),
            })?;
            match fresh {
                Ok(c) => return Ok(c),
                Err(x) => x,
            }
        };
        let url = self.status_list_url(officer_id, purpose, list);
        let signed = issue_status_list_credential(
            self.signing_key(officer)?,
            &url,
            purpose,
            &bits,
            now,
            Some(Duration::hours(STATUS_LIST_VALIDITY_HOURS)),
        )
        .await?;
        let signed = Arc::new(signed);
        self.with_list(&key, |s| {
            if s.signed.as_ref().is_none_or(|sl| sl.version <= version) {
                s.signed = Some(SignedList { version, issued_at: now, credential: signed.clone() });
            }
        })?;
        Ok(signed)
    }

    /// Adds a credential and its certificate to a batch.
    pub fn stage(batch: &mut Batch, credential: &CredentialRecord, certificate: &CertificateRecord) -> Result<()> {
        batch.put(CREDENTIALS_TREE, &credential.id, credential)?;
        batch.put(CERTIFICATES_TREE, &certificate.key(), certificate)?;
        Ok(())
    }

    pub fn credential(&self, id: &str) -> Result<Option<CredentialRecord>> {
        Ok(self.store.get(CREDENTIALS_TREE, id)?)
    }

    /// Certificates issued for a credential, oldest first.
    pub fn certificates(&self, credential_id: &str) -> Result<Vec<CertificateRecord>> {
        Ok(self
            .store
            .scan::<CertificateRecord>(CERTIFICATES_TREE, &format!("{credential_id}|"), None, 10_000)?
            .into_iter()
            .map(|(_, c)| c)
            .collect())
    }
}

fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX / 2)
}

fn bits_key((officer, purpose, list): &ListKey) -> String {
    format!("{officer}/{}/{list}", purpose.as_str())
}

/// Position `n` of `(officer, list)` mapped through a keyed permutation of
/// `0..STATUS_LIST_SIZE`: a 4-round Feistel network over 18 bits, cycle-walked into range.
fn permute(key: &[u8; 32], officer: &str, list: u32, n: u64) -> u64 {
    const HALF: u32 = 9;
    const MASK: u64 = (1 << HALF) - 1;
    let round = |r: u8, half: u64| -> u64 {
        // A 32-byte key is always a valid HMAC key.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        mac.update(officer.as_bytes());
        mac.update(&[0, r]);
        mac.update(&list.to_be_bytes());
        mac.update(&half.to_be_bytes());
        let out = mac.finalize().into_bytes();
        u64::from(u16::from_be_bytes([out[0], out[1]])) & MASK
    };
    let mut v = n;
    loop {
        let (mut l, mut r) = (v >> HALF, v & MASK);
        for i in 0..4 {
            (l, r) = (r, l ^ round(i, r));
        }
        v = (l << HALF) | r;
        if v < STATUS_LIST_SIZE {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_never_handed_out_twice_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sled(dir.path()).unwrap();
        let issuer = |store: &Store| {
            let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
            Issuer::new(store.clone(), clock, Arc::default(), "https://aml.example.org", [3u8; 32])
        };
        let mut seen = std::collections::HashSet::new();
        for run in 0..3 {
            // Each run is a restart part-way through a block.
            let node = issuer(&store);
            for _ in 0..SLOT_BLOCK + 10 {
                for officer in ["a", "b"] {
                    let slot = node.allocate(officer).unwrap();
                    assert!(seen.insert((officer, slot.list, slot.index)), "run {run}: {officer} {slot:?} twice");
                }
            }
        }
        // What the store reserved covers what was handed out: three runs of two blocks each.
        assert_eq!(store.get::<u64>(ALLOC_TREE, "a").unwrap(), Some(6 * SLOT_BLOCK));
    }

    #[test]
    fn permutation_is_a_bijection_of_the_list() {
        let key = [7u8; 32];
        let mut seen = vec![false; STATUS_LIST_SIZE as usize];
        for n in 0..STATUS_LIST_SIZE {
            let i = permute(&key, "o", 0, n) as usize;
            assert!(!seen[i], "index {i} handed out twice");
            seen[i] = true;
        }
        // Not the identity, and keyed.
        let first: Vec<u64> = (0..8).map(|n| permute(&key, "o", 0, n)).collect();
        assert_ne!(first, (0..8).collect::<Vec<_>>());
        assert_ne!(first, (0..8).map(|n| permute(&[8u8; 32], "o", 0, n)).collect::<Vec<_>>());
    }
}
