//! W3C Bitstring Status List v1.0: revocation (and suspension) of issued credentials.
//!
//! Each officer publishes one list per purpose. A list has at least [`MIN_ENTRIES`] entries
//! (16 KiB, the spec's minimum for herd privacy). Bit order follows the spec: index 0 is the
//! left-most (most significant) bit of the first byte. `encodedList` is the multibase
//! base64url (prefix `u`, no padding) of the GZIP-compressed bitstring.
//!
//! Written by hand with flate2 rather than through `ssi::status` (whose entry type writes
//! `"id": null` and whose list type has no `issuer`); the bit order is cross-checked against
//! ssi's decoder in the tests and against the spec's definition in `tests/interop/verify.mjs`.
//!
//! The list credential is a VCDM 2.0 `BitstringStatusListCredential` signed with
//! `eddsa-rdfc-2022`; every term it uses is in the v2 context, so it needs no `@vocab`.

use std::io::{Read, Write};

use chrono::{DateTime, Duration, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::vc::{
    CredentialError, CredentialFormat, SecuredCredential, VerifyError, secure_credential, verify_credential,
};
use super::{CREDENTIALS_V2_CONTEXT, rfc3339, whole_seconds};
use crate::keys::OfficerSigningKey;

/// Minimum number of entries (bits) of a list: 131,072 = 16 KiB.
pub const MIN_ENTRIES: usize = 131_072;

/// Largest decompressed list accepted when decoding (bytes): 16 MiB, 2^27 entries.
pub const MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;

/// Status purpose of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusPurpose {
    /// Permanent cancellation.
    Revocation,
    /// Temporary hold.
    Suspension,
}

impl StatusPurpose {
    /// `revocation` / `suspension`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusPurpose::Revocation => "revocation",
            StatusPurpose::Suspension => "suspension",
        }
    }

    /// From `revocation` / `suspension`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "revocation" => Some(StatusPurpose::Revocation),
            "suspension" => Some(StatusPurpose::Suspension),
            _ => None,
        }
    }
}

/// Status list errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    /// The index is past the end of the list.
    #[error("status list index {index} out of range (list has {len} entries)")]
    IndexOutOfRange {
        /// Requested index.
        index: u64,
        /// Entries in the list.
        len: usize,
    },
    /// The list is shorter than [`MIN_ENTRIES`].
    #[error("status list has {0} entries, fewer than the minimum {MIN_ENTRIES}")]
    TooShort(usize),
    /// `encodedList` is not multibase base64url GZIP data, or is too large.
    #[error("malformed status list: {0}")]
    Malformed(String),
    /// The list credential did not verify.
    #[error("status list credential: {0}")]
    Credential(VerifyError),
    /// The credential's entry does not point at this list, or purpose/issuer differ.
    #[error("status entry does not match the list: {0}")]
    Mismatch(String),
    /// Building or signing the list credential failed.
    #[error("status list credential could not be issued: {0}")]
    Issue(CredentialError),
}

impl StatusListError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            StatusListError::IndexOutOfRange { .. } => "status_list_index_out_of_range",
            StatusListError::TooShort(_) => "status_list_too_short",
            StatusListError::Malformed(_) => "status_list_malformed",
            StatusListError::Credential(e) => e.code(),
            StatusListError::Mismatch(_) => "status_list_mismatch",
            StatusListError::Issue(e) => e.code(),
        }
    }
}

/// A bitstring of statuses (1 bit per entry, MSB first).
#[derive(Clone, PartialEq, Eq)]
pub struct StatusList {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for StatusList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.bytes.iter().map(|b| b.count_ones() as usize).sum::<usize>();
        write!(f, "StatusList({} entries, {} set)", self.len(), set)
    }
}

impl Default for StatusList {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusList {
    /// An all-clear list of [`MIN_ENTRIES`] entries.
    pub fn new() -> Self {
        Self { bytes: vec![0u8; MIN_ENTRIES / 8] }
    }

    /// An all-clear list of at least `entries` entries (rounded up to whole bytes, and to
    /// at least [`MIN_ENTRIES`]).
    pub fn with_entries(entries: usize) -> Result<Self, StatusListError> {
        let n = entries.max(MIN_ENTRIES).div_ceil(8);
        if n > MAX_DECODED_BYTES {
            return Err(StatusListError::Malformed("list too large".into()));
        }
        Ok(Self { bytes: vec![0u8; n] })
    }

    /// From raw bitstring bytes (MSB first). Must hold at least [`MIN_ENTRIES`] entries.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, StatusListError> {
        if bytes.len() * 8 < MIN_ENTRIES {
            return Err(StatusListError::TooShort(bytes.len() * 8));
        }
        Ok(Self { bytes })
    }

    /// The raw bitstring.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    /// Always false (a list has at least [`MIN_ENTRIES`] entries).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn locate(&self, index: u64) -> Result<(usize, u8), StatusListError> {
        let i = usize::try_from(index)
            .ok()
            .filter(|i| *i < self.len())
            .ok_or(StatusListError::IndexOutOfRange { index, len: self.len() })?;
        Ok((i / 8, 0x80u8 >> (i % 8)))
    }

    /// Sets (`true`) or clears the status at `index`.
    pub fn set(&mut self, index: u64, value: bool) -> Result<(), StatusListError> {
        let (byte, mask) = self.locate(index)?;
        if value {
            self.bytes[byte] |= mask;
        } else {
            self.bytes[byte] &= !mask;
        }
        Ok(())
    }

    /// Whether the status at `index` is set.
    pub fn is_set(&self, index: u64) -> Result<bool, StatusListError> {
        let (byte, mask) = self.locate(index)?;
        Ok(self.bytes[byte] & mask != 0)
    }

    /// `encodedList`: `u` + base64url(gzip(bits)).
    pub fn encode(&self) -> String {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&self.bytes);
        let gz = enc.finish().unwrap_or_default();
        format!("u{}", crate::keys::b64u(&gz))
    }
}

/// Decodes an `encodedList` (multibase base64url GZIP). Rejects lists shorter than
/// [`MIN_ENTRIES`] and longer than [`MAX_DECODED_BYTES`] (decompression bombs).
pub fn decode_encoded_list(encoded: &str) -> Result<StatusList, StatusListError> {
    let b64 = encoded
        .strip_prefix('u')
        .ok_or_else(|| StatusListError::Malformed("encodedList must be multibase base64url (prefix `u`)".into()))?;
    if b64.len() > MAX_DECODED_BYTES {
        return Err(StatusListError::Malformed("encodedList too large".into()));
    }
    let gz = crate::keys::b64u_decode(b64)
        .ok_or_else(|| StatusListError::Malformed("encodedList is not base64url".into()))?;
    let mut bytes = Vec::new();
    GzDecoder::new(gz.as_slice())
        .take(MAX_DECODED_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StatusListError::Malformed(format!("not GZIP data: {e}")))?;
    if bytes.len() > MAX_DECODED_BYTES {
        return Err(StatusListError::Malformed("decompressed list too large".into()));
    }
    StatusList::from_bytes(bytes)
}

/// Builds and signs a `BitstringStatusListCredential` (Data Integrity, eddsa-rdfc-2022).
///
/// `list_url` is both the credential `id` and the URL it is published at; the subject id is
/// `<list_url>#list`. `validFrom` is backdated like the AML credential's.
pub async fn issue_status_list_credential(
    officer: &OfficerSigningKey,
    list_url: &str,
    purpose: StatusPurpose,
    list: &StatusList,
    issued_at: DateTime<Utc>,
    valid_for: Option<Duration>,
) -> Result<Map<String, Value>, StatusListError> {
    if !(list_url.starts_with("https://") || list_url.starts_with("http://")) || list_url.contains(['#', ' ']) {
        return Err(StatusListError::Issue(CredentialError::InvalidInput(
            "status list URL must be an http(s) URL without fragment".into(),
        )));
    }
    let issued = whole_seconds(issued_at);
    let mut cred = json!({
        "@context": [CREDENTIALS_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": officer.did(),
        "validFrom": rfc3339(issued - Duration::seconds(super::vc::CLOCK_SKEW_SECS)),
        "credentialSubject": {
            "id": format!("{list_url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": purpose.as_str(),
            "encodedList": list.encode(),
        },
    });
    if let Some(d) = valid_for {
        let until = issued
            .checked_add_signed(d)
            .ok_or_else(|| StatusListError::Issue(CredentialError::InvalidInput("validity too long".into())))?;
        cred["validUntil"] = Value::String(rfc3339(until));
    }
    let Value::Object(cred) = cred else {
        return Err(StatusListError::Malformed("not an object".into()));
    };
    match secure_credential(officer.credential_signer(), cred, CredentialFormat::DataIntegrity)
        .await
        .map_err(StatusListError::Issue)?
    {
        SecuredCredential::DataIntegrity(m) => Ok(m),
        SecuredCredential::Jose(_) => Err(StatusListError::Malformed("unexpected form".into())),
    }
}

/// A status list credential that verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedStatusList {
    /// Credential id (the list URL).
    pub id: String,
    /// Issuer DID.
    pub issuer: String,
    /// Purpose.
    pub purpose: StatusPurpose,
    /// The decoded list.
    pub list: StatusList,
    /// `validUntil`, if any.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Verifies a published `BitstringStatusListCredential` offline and decodes its list.
pub async fn verify_status_list_credential(
    credential: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<VerifiedStatusList, StatusListError> {
    let v = verify_credential(&SecuredCredential::DataIntegrity(credential.clone()), now)
        .await
        .map_err(StatusListError::Credential)?;
    let c = &v.credential;
    let types_ok =
        c.get("type").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "BitstringStatusListCredential"));
    if !types_ok {
        return Err(StatusListError::Malformed("not a BitstringStatusListCredential".into()));
    }
    let id =
        c.get("id").and_then(Value::as_str).ok_or_else(|| StatusListError::Malformed("missing id".into()))?.to_owned();
    let subject = c
        .get("credentialSubject")
        .and_then(Value::as_object)
        .ok_or_else(|| StatusListError::Malformed("missing credentialSubject".into()))?;
    if subject.get("type").and_then(Value::as_str) != Some("BitstringStatusList") {
        return Err(StatusListError::Malformed("credentialSubject is not a BitstringStatusList".into()));
    }
    let purpose = subject
        .get("statusPurpose")
        .and_then(Value::as_str)
        .and_then(StatusPurpose::parse)
        .ok_or_else(|| StatusListError::Malformed("unsupported statusPurpose".into()))?;
    let encoded = subject
        .get("encodedList")
        .and_then(Value::as_str)
        .ok_or_else(|| StatusListError::Malformed("missing encodedList".into()))?;
    let list = decode_encoded_list(encoded)?;
    Ok(VerifiedStatusList { id, issuer: v.issuer, purpose, list, valid_until: v.valid_until })
}

/// Checks one `BitstringStatusListEntry` (the `credentialStatus` of a credential issued by
/// `issuer`) against a verified list: returns whether the status bit is set.
pub fn entry_is_set(entry: &Value, issuer: &str, list: &VerifiedStatusList) -> Result<bool, StatusListError> {
    let e = entry.as_object().ok_or_else(|| StatusListError::Malformed("credentialStatus is not an object".into()))?;
    if e.get("type").and_then(Value::as_str) != Some("BitstringStatusListEntry") {
        return Err(StatusListError::Malformed("not a BitstringStatusListEntry".into()));
    }
    if e.get("statusListCredential").and_then(Value::as_str) != Some(list.id.as_str()) {
        return Err(StatusListError::Mismatch("statusListCredential is another list".into()));
    }
    if e.get("statusPurpose").and_then(Value::as_str) != Some(list.purpose.as_str()) {
        return Err(StatusListError::Mismatch("statusPurpose differs".into()));
    }
    if list.issuer != issuer {
        return Err(StatusListError::Mismatch("the list is signed by another issuer".into()));
    }
    let index: u64 = e
        .get("statusListIndex")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StatusListError::Malformed("statusListIndex is not an integer string".into()))?;
    list.list.is_set(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_msb_first() {
        let mut l = StatusList::new();
        assert_eq!(l.len(), MIN_ENTRIES);
        l.set(0, true).unwrap();
        assert_eq!(l.as_bytes()[0], 0x80);
        l.set(7, true).unwrap();
        assert_eq!(l.as_bytes()[0], 0x81);
        l.set(9, true).unwrap();
        assert_eq!(l.as_bytes()[1], 0x40);
        assert!(l.is_set(9).unwrap());
        assert!(!l.is_set(8).unwrap());
        l.set(0, false).unwrap();
        assert_eq!(l.as_bytes()[0], 0x01);
        let last = (MIN_ENTRIES - 1) as u64;
        l.set(last, true).unwrap();
        assert_eq!(*l.as_bytes().last().unwrap(), 0x01);
        assert_eq!(l.set(MIN_ENTRIES as u64, true).unwrap_err().code(), "status_list_index_out_of_range");
        assert!(l.is_set(u64::MAX).is_err());
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut l = StatusList::new();
        for i in [0u64, 1, 42, 1000, 131_071] {
            l.set(i, true).unwrap();
        }
        let enc = l.encode();
        assert!(enc.starts_with("uH4sI"), "{enc}");
        let back = decode_encoded_list(&enc).unwrap();
        assert_eq!(back, l);
        for i in [0u64, 1, 42, 1000, 131_071] {
            assert!(back.is_set(i).unwrap());
        }
        assert!(!back.is_set(2).unwrap());
        // The empty minimum-size list compresses to a short string.
        assert!(StatusList::new().encode().len() < 100);
    }

    #[test]
    fn bit_order_agrees_with_ssi() {
        use ssi::status::bitstring_status_list::{EncodedList, StatusList as SsiList, StatusSize, TimeToLive};
        let mut l = StatusList::new();
        for i in [3u64, 42, 777, 100_000] {
            l.set(i, true).unwrap();
        }
        let bytes = EncodedList::new(l.encode()).decode(None).unwrap();
        let ssi_list = SsiList::from_bytes(bytes, TimeToLive::DEFAULT);
        for i in [3usize, 42, 777, 100_000] {
            assert_eq!(ssi_list.get(StatusSize::default(), i), Some(1), "{i}");
        }
        assert_eq!(ssi_list.get(StatusSize::default(), 4), Some(0));
        // And the other way round.
        let mut s = SsiList::from_bytes(vec![0u8; 16384], TimeToLive::DEFAULT);
        s.set(StatusSize::default(), 12345, 1).unwrap();
        let ours = StatusList::from_bytes(
            s.iter(StatusSize::default())
                .collect::<Vec<u8>>()
                .chunks(8)
                .map(|c| c.iter().fold(0u8, |acc, b| (acc << 1) | b))
                .collect(),
        )
        .unwrap();
        assert!(ours.is_set(12345).unwrap());
    }

    #[test]
    fn bad_encoded_lists() {
        for bad in ["", "H4sIAAAA", "u!!!", "uAAAA", "z123"] {
            assert_eq!(decode_encoded_list(bad).unwrap_err().code(), "status_list_malformed", "{bad}");
        }
        // Too short.
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&[0u8; 100]).unwrap();
        let short = format!("u{}", crate::keys::b64u(&enc.finish().unwrap()));
        assert_eq!(decode_encoded_list(&short).unwrap_err().code(), "status_list_too_short");
        // Decompression bomb: 32 MiB of zeros.
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..32 {
            enc.write_all(&chunk).unwrap();
        }
        let bomb = format!("u{}", crate::keys::b64u(&enc.finish().unwrap()));
        assert_eq!(decode_encoded_list(&bomb).unwrap_err().code(), "status_list_malformed");
    }

    #[tokio::test]
    async fn signed_list_round_trip_and_tamper() {
        let officer = OfficerSigningKey::generate();
        let url = "https://aml.example.org/status/officer-1/revocation";
        let mut l = StatusList::new();
        l.set(42, true).unwrap();
        let now = Utc::now();
        let cred =
            issue_status_list_credential(&officer, url, StatusPurpose::Revocation, &l, now, Some(Duration::days(1)))
                .await
                .unwrap();
        assert_eq!(cred["issuer"], officer.did());
        assert!(cred["proof"].is_object());
        let v = verify_status_list_credential(&cred, now).await.unwrap();
        assert_eq!(v.issuer, officer.did());
        assert_eq!(v.purpose, StatusPurpose::Revocation);
        assert!(v.list.is_set(42).unwrap());
        assert!(!v.list.is_set(43).unwrap());

        let entry = |i: u64| super::super::vc::StatusEntry { status_list_credential: url.into(), index: i }.to_json();
        assert!(entry_is_set(&entry(42), &officer.did(), &v).unwrap());
        assert!(!entry_is_set(&entry(41), &officer.did(), &v).unwrap());
        let other = OfficerSigningKey::generate();
        assert_eq!(entry_is_set(&entry(42), &other.did(), &v).unwrap_err().code(), "status_list_mismatch");

        // Tampered: clear bit 42 and re-encode, keeping the old proof.
        let mut forged = cred.clone();
        forged["credentialSubject"]["encodedList"] = StatusList::new().encode().into();
        let e = verify_status_list_credential(&forged, now).await.unwrap_err();
        assert_eq!(e.code(), "credential_signature_invalid", "{e}");
        // Expired list.
        let e = verify_status_list_credential(&cred, now + Duration::days(2)).await.unwrap_err();
        assert_eq!(e.code(), "credential_expired");
    }
}
