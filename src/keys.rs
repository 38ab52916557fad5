//! Key material, key files and DID helpers.
//!
//! # Roles
//!
//! | type | algorithm | who holds the secret | used for |
//! |---|---|---|---|
//! | [`OfficerSigningKey`] | Ed25519 | the node (on behalf of one officer) | AML credentials, compliance certificates, status lists, officer-API JWTs |
//! | [`SealingSecret`] | X25519 | the officer only, **never the node** | opening sealed holder inputs (`aml-node decrypt`) |
//! | [`SealingPublicKey`] | X25519 | the node (public) | sealing holder inputs to the officer ([`crate::seal`]) |
//! | [`HolderKey`] | Ed25519 | a holder (wallet / did:key) | signing the request challenge; in tests and the demo |
//! | [`IssuerKey`] | Ed25519 | a KYC provider | minting KYC credentials in tests and the demo |
//!
//! The three Ed25519 roles are distinct types on purpose: a function that signs an AML
//! credential cannot be handed a holder key by mistake.
//!
//! # Why the officer's keys are split over files
//!
//! The officer's signing key and sealing secret protect different things and live in
//! different places. The node must sign for the officer, so it needs the Ed25519 seed; it
//! must never be able to read sealed inputs, so it must not get the X25519 secret.
//! [`generate_key_set`] therefore writes:
//!
//! | file | kind | contains | goes to |
//! |---|---|---|---|
//! | `officer-signing.json` | `officer-signing` | Ed25519 seed (+ public key, did) | the node config (`signing_key_file`) |
//! | `officer-sealing.json` | `officer-sealing` | X25519 secret (+ public key, officer did) | the officer only: `aml-node decrypt` |
//! | `officer.public.json` | `officer-public` | Ed25519 + X25519 public keys, did | the node config, relying parties, anybody |
//! | `holder.json` | `holder` | Ed25519 seed (+ public key, did) | a demo holder / tests |
//! | `kyc-provider.json` | `kyc-provider` | Ed25519 seed (+ public key, did) | a demo KYC issuer / tests |
//!
//! There is no combined "officer" file: one file holding both secrets would be one copy
//! away from handing the sealing secret to the node.
//!
//! # File format
//!
//! ```json
//! {
//!   "format": "aml-node-key/1",
//!   "kind": "officer-signing",
//!   "warning": "DEMO KEY ...",            // only in demo keys
//!   "createdAt": "2025-01-01T00:00:00Z",
//!   "did": "did:key:z6Mk...",
//!   "ed25519PublicKey": "<base64url, 32 bytes>",
//!   "ed25519Seed": "<base64url, 32 bytes>"
//! }
//! ```
//!
//! All binary fields are base64url without padding. Loaders check the format tag, the kind,
//! the lengths, and that every public field matches the secret, and name the file in every
//! error. Private files are written with mode 0600 on unix, and existing files are never
//! overwritten.
//!
//! # DIDs
//!
//! [`did_key`] / [`did_key_vm`] derive `did:key:z6Mk…` (multicodec `0xed01` + base58btc,
//! cross-checked against ssi in the tests); [`ed25519_from_did`] reads the Ed25519 public key
//! back out of a `did:key` or a `did:pkh:solana:<chain>:<address>` (a Solana address *is*
//! the base58 Ed25519 public key).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use curve25519_dalek::edwards::EdwardsBasepointTable;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::traits::BasepointTable as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Value of the `format` field of every key file.
pub const KEY_FILE_FORMAT: &str = "aml-node-key/1";

/// Text put in the `warning` field of demo keys.
pub const DEMO_WARNING: &str =
    "DEMO KEY: published with the aml-node sources. Anybody can sign or decrypt with it. NEVER use it in production.";

/// Multicodec prefix of an Ed25519 public key (`ed25519-pub`, 0xed as a varint).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];

pub(crate) fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64u_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

// ---------------------------------------------------------------------------------------------
// Public keys and DIDs
// ---------------------------------------------------------------------------------------------

/// Errors of DID parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidError {
    /// The DID method is not one this node resolves offline.
    #[error("unsupported DID method in `{0}` (only did:key and did:pkh:solana are supported)")]
    UnsupportedMethod(String),
    /// The DID is syntactically wrong or does not hold an Ed25519 key.
    #[error("invalid DID `{did}`: {reason}")]
    Invalid {
        /// The DID as given (truncated to 200 characters).
        did: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl DidError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            DidError::UnsupportedMethod(_) => "did_method_unsupported",
            DidError::Invalid { .. } => "did_invalid",
        }
    }

    fn invalid(did: &str, reason: &'static str) -> Self {
        DidError::Invalid { did: did.chars().take(200).collect(), reason }
    }
}

/// `z` + base58btc(0xed01 ‖ key): the multibase form used by did:key and `Multikey`.
pub fn ed25519_multibase(key: &VerifyingKey) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&ED25519_MULTICODEC);
    bytes.extend_from_slice(key.as_bytes());
    format!("z{}", bs58::encode(bytes).into_string())
}

/// Parses a `z6Mk…` multibase Ed25519 public key.
pub fn ed25519_from_multibase(s: &str) -> Option<VerifyingKey> {
    let rest = s.strip_prefix('z')?;
    // 34 bytes are at most 47 base58 characters; refuse anything much longer up front.
    if rest.len() > 60 {
        return None;
    }
    let bytes = bs58::decode(rest).into_vec().ok()?;
    if bytes.len() != 34 || bytes[..2] != ED25519_MULTICODEC {
        return None;
    }
    let raw: [u8; 32] = bytes[2..].try_into().ok()?;
    VerifyingKey::from_bytes(&raw).ok()
}

/// `did:key:z6Mk…` of an Ed25519 public key.
pub fn did_key(key: &VerifyingKey) -> String {
    format!("did:key:{}", ed25519_multibase(key))
}

/// The verification method URL `did:key:z6Mk…#z6Mk…` of an Ed25519 public key.
pub fn did_key_vm(key: &VerifyingKey) -> String {
    let mb = ed25519_multibase(key);
    format!("did:key:{mb}#{mb}")
}

/// Reads the Ed25519 public key out of a holder DID: `did:key:z6Mk…` or
/// `did:pkh:solana:<chain reference>:<base58 address>`. A DID URL fragment is not allowed.
pub fn ed25519_from_did(did: &str) -> Result<VerifyingKey, DidError> {
    if did.len() > 512 {
        return Err(DidError::invalid(did, "too long"));
    }
    if did.contains(['#', '?', '/']) {
        return Err(DidError::invalid(did, "a DID, not a DID URL, is expected"));
    }
    if let Some(mb) = did.strip_prefix("did:key:") {
        return ed25519_from_multibase(mb).ok_or_else(|| DidError::invalid(did, "not an Ed25519 did:key (z6Mk…)"));
    }
    if let Some(rest) = did.strip_prefix("did:pkh:") {
        let mut parts = rest.split(':');
        let (Some(ns), Some(reference), Some(address), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DidError::invalid(did, "expected did:pkh:<namespace>:<reference>:<address>"));
        };
        if ns != "solana" {
            return Err(DidError::UnsupportedMethod(did.chars().take(200).collect::<String>()));
        }
        // CAIP-2 reference: [-_a-zA-Z0-9]{1,32} (the first 32 characters of the genesis hash).
        if reference.is_empty()
            || reference.len() > 32
            || !reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(DidError::invalid(did, "bad CAIP-2 chain reference"));
        }
        return solana_address_to_key(address)
            .ok_or_else(|| DidError::invalid(did, "the address is not a base58 Ed25519 key"));
    }
    Err(DidError::UnsupportedMethod(did.chars().take(200).collect()))
}

/// Decodes a Solana address (base58 of the 32-byte Ed25519 public key).
pub fn solana_address_to_key(address: &str) -> Option<VerifyingKey> {
    if address.is_empty() || address.len() > 44 {
        return None;
    }
    let bytes = bs58::decode(address).into_vec().ok()?;
    let raw: [u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&raw).ok()
}

/// The base58 Solana address of an Ed25519 public key.
pub fn solana_address(key: &VerifyingKey) -> String {
    bs58::encode(key.as_bytes()).into_string()
}

/// The `did:key` part of a DID URL (`did:key:z…#z…` -> `did:key:z…`).
pub(crate) fn did_of_url(url: &str) -> &str {
    url.split_once('#').map_or(url, |(d, _)| d)
}

/// An Ed25519 key under a verification method, as ssi's JWS signer: ssi builds the JWS
/// (header, encoding) and ed25519-dalek signs with the key held in memory. Signing through
/// an ssi JWK instead converts it back to a dalek key, deriving the public key again, on
/// every signature. Ed25519 is deterministic, so both give the same bytes (tested).
#[derive(Clone, Copy)]
pub(crate) struct Ed25519Signer<'a> {
    pub key: &'a SigningKey,
    pub vm: &'a str,
}

impl ssi::claims::jws::JwsSigner for Ed25519Signer<'_> {
    async fn fetch_info(&self) -> Result<ssi::claims::jws::JwsSignerInfo, ssi::claims::SignatureError> {
        Ok(ssi::claims::jws::JwsSignerInfo::new(Some(self.vm.to_owned()), ssi::jwk::Algorithm::EdDSA))
    }

    async fn sign_bytes(&self, signing_bytes: &[u8]) -> Result<Vec<u8>, ssi::claims::SignatureError> {
        Ok(self.key.sign(signing_bytes).to_bytes().to_vec())
    }
}

// ---------------------------------------------------------------------------------------------
// Ed25519 key roles
// ---------------------------------------------------------------------------------------------

macro_rules! ed25519_role {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        ///
        /// The seed is zeroized on drop (ed25519-dalek `zeroize`); `Debug` prints only the DID.
        pub struct $name {
            key: SigningKey,
            /// `did:key:z6Mk…#z6Mk…`, derived once (every signature names it).
            vm: String,
            warning: Option<String>,
        }

        impl $name {
            /// Key-file `kind` of this role.
            pub const KIND: &'static str = $kind;

            fn new(key: SigningKey, warning: Option<String>) -> Self {
                Self { vm: did_key_vm(&key.verifying_key()), key, warning }
            }

            /// A fresh key from the OS RNG.
            pub fn generate() -> Self {
                Self::new(SigningKey::generate(&mut OsRng), None)
            }

            /// A key from its 32-byte seed.
            pub fn from_seed(seed: &[u8; 32]) -> Self {
                Self::new(SigningKey::from_bytes(seed), None)
            }

            /// The Ed25519 public key.
            pub fn verifying_key(&self) -> VerifyingKey {
                self.key.verifying_key()
            }

            /// `did:key:z6Mk…`.
            pub fn did(&self) -> String {
                did_of_url(&self.vm).to_owned()
            }

            /// `did:key:z6Mk…#z6Mk…`, the verification method / JWS `kid`.
            pub fn verification_method(&self) -> String {
                self.vm.clone()
            }

            /// The key as ssi's signer, under its did:key verification method.
            #[allow(dead_code)]
            pub(crate) fn credential_signer(&self) -> Ed25519Signer<'_> {
                Ed25519Signer { key: &self.key, vm: &self.vm }
            }

            /// Signs raw bytes (Ed25519, RFC 8032).
            pub fn sign(&self, message: &[u8]) -> Signature {
                self.key.sign(message)
            }

            /// The `warning` of the key file it was loaded from (demo keys), if any.
            pub fn demo_warning(&self) -> Option<&str> {
                self.warning.as_deref()
            }

            /// Loads a key file of kind [`Self::KIND`].
            pub fn load(path: &Path) -> Result<Self, KeyFileError> {
                let file = read_key_file(path, Self::KIND)?;
                let (key, warning) = file.ed25519_secret()?;
                Ok(Self::new(key, warning))
            }

            /// Writes a private key file (mode 0600 on unix; fails if the file exists).
            pub fn save(&self, path: &Path, warning: Option<&str>) -> Result<(), KeyFileError> {
                let vk = self.key.verifying_key();
                let mut file = RawKeyFile::new(Self::KIND, warning);
                file.did = Some(did_key(&vk));
                file.ed25519_public_key = Some(b64u(vk.as_bytes()));
                file.ed25519_seed = Some(b64u(self.key.as_bytes()));
                write_key_file(path, &file, true)
            }

            /// The secret as an ssi JWK (private; zeroized on drop by ssi) with `kid` set to
            /// the verification method.
            #[allow(dead_code)]
            pub(crate) fn to_ssi_jwk(&self) -> ssi::JWK {
                ed25519_ssi_jwk(&self.key)
            }

            /// The secret as a jsonwebtoken key (PKCS#8 v1 DER; zeroized on drop).
            #[allow(dead_code)]
            pub(crate) fn to_jwt_encoding_key(&self) -> jsonwebtoken::EncodingKey {
                ed25519_encoding_key(&self.key)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("did", &self.did()).finish_non_exhaustive()
            }
        }

        impl ZeroizeOnDrop for $name {}
    };
}

ed25519_role!(
    /// The officer's Ed25519 signing key: signs AML credentials, certificates, status lists.
    OfficerSigningKey,
    "officer-signing"
);
ed25519_role!(
    /// A holder's Ed25519 key (did:key or a Solana wallet key).
    HolderKey,
    "holder"
);
ed25519_role!(
    /// A KYC provider's Ed25519 key (issuer of the KYC credentials holders present).
    IssuerKey,
    "kyc-provider"
);

impl HolderKey {
    /// `did:pkh:solana:<chain_reference>:<base58 address>` of this key.
    pub fn did_pkh_solana(&self, chain_reference: &str) -> String {
        format!("did:pkh:solana:{chain_reference}:{}", solana_address(&self.key.verifying_key()))
    }
}

/// Solana mainnet CAIP-2 chain reference (first 32 characters of the genesis hash).
pub const SOLANA_MAINNET: &str = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";

pub(crate) fn ed25519_ssi_jwk(key: &SigningKey) -> ssi::JWK {
    use ssi::jwk::{Base64urlUInt, OctetParams, Params};
    let vk = key.verifying_key();
    let mut jwk = ssi::JWK::from(Params::OKP(OctetParams {
        curve: "Ed25519".to_owned(),
        public_key: Base64urlUInt(vk.to_bytes().to_vec()),
        private_key: Some(Base64urlUInt(key.to_bytes().to_vec())),
    }));
    jwk.key_id = Some(did_key_vm(&vk));
    jwk
}

/// PKCS#8 v1 (RFC 8410) prefix of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_V1_ED25519_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

fn ed25519_encoding_key(key: &SigningKey) -> jsonwebtoken::EncodingKey {
    let mut der = Zeroizing::new([0u8; 48]);
    der[..16].copy_from_slice(&PKCS8_V1_ED25519_PREFIX);
    der[16..].copy_from_slice(key.as_bytes());
    jsonwebtoken::EncodingKey::from_ed_der(&der[..])
}

// ---------------------------------------------------------------------------------------------
// X25519 sealing keys
// ---------------------------------------------------------------------------------------------

/// The officer's X25519 sealing secret. Never given to the node. Zeroized on drop.
pub struct SealingSecret {
    secret: x25519_dalek::StaticSecret,
    /// Derived once: every open needs it, and deriving costs a scalar multiplication.
    public: SealingPublicKey,
    warning: Option<String>,
}

impl SealingSecret {
    /// Key-file `kind`.
    pub const KIND: &'static str = "officer-sealing";

    /// A fresh secret from the OS RNG.
    pub fn generate() -> Self {
        Self::with_warning(x25519_dalek::StaticSecret::random_from_rng(OsRng), None)
    }

    /// A secret from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self::with_warning(x25519_dalek::StaticSecret::from(bytes), None)
    }

    fn with_warning(secret: x25519_dalek::StaticSecret, warning: Option<String>) -> Self {
        let public = SealingPublicKey::from_bytes(x25519_dalek::PublicKey::from(&secret).to_bytes());
        Self { secret, public, warning }
    }

    /// The matching public key.
    pub fn public_key(&self) -> SealingPublicKey {
        self.public.clone()
    }

    pub(crate) fn inner(&self) -> &x25519_dalek::StaticSecret {
        &self.secret
    }

    /// The `warning` of the key file it was loaded from, if any.
    pub fn demo_warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Loads an `officer-sealing` key file.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let file = read_key_file(path, Self::KIND)?;
        let secret = file.x25519_secret()?;
        Ok(Self::with_warning(secret, file.warning.clone()))
    }

    /// Writes an `officer-sealing` key file (mode 0600; fails if it exists). `officer_did`
    /// names the officer this secret belongs to (informational).
    pub fn save(&self, path: &Path, officer_did: Option<&str>, warning: Option<&str>) -> Result<(), KeyFileError> {
        let mut file = RawKeyFile::new(Self::KIND, warning);
        file.officer_did = officer_did.map(str::to_owned);
        file.x25519_public_key = Some(b64u(self.public_key().as_bytes()));
        file.x25519_secret = Some(b64u(self.secret.as_bytes()));
        write_key_file(path, &file, true)
    }
}

impl fmt::Debug for SealingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingSecret").field("public", &self.public_key()).finish_non_exhaustive()
    }
}

impl ZeroizeOnDrop for SealingSecret {}

/// The officer's X25519 sealing public key: all the node ever holds.
///
/// Clones share the key's precomputed multiples ([`SealingPublicKey::multiples`]).
#[derive(Clone)]
pub struct SealingPublicKey {
    key: x25519_dalek::PublicKey,
    multiples: Arc<OnceLock<Option<EdwardsBasepointTable>>>,
}

impl SealingPublicKey {
    /// From 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { key: x25519_dalek::PublicKey::from(bytes), multiples: Arc::default() }
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// base64url (no padding).
    pub fn to_base64url(&self) -> String {
        b64u(self.key.as_bytes())
    }

    /// A table of multiples of the key (about 30 KB, built on first use), or `None` when the
    /// key is not a point of the prime-order subgroup.
    ///
    /// The node seals every record of an officer to the same key, so the key exchange can be
    /// a fixed-base multiplication instead of a Montgomery ladder (several times cheaper,
    /// and as constant-time). The table multiplies by the scalar reduced mod ℓ, which gives
    /// the X25519 result only on the prime-order subgroup; every key X25519 derives lies
    /// there, and other keys take the ladder.
    pub(crate) fn multiples(&self) -> Option<&EdwardsBasepointTable> {
        self.multiples
            .get_or_init(|| {
                let point = MontgomeryPoint(*self.key.as_bytes()).to_edwards(0)?;
                point.is_torsion_free().then(|| EdwardsBasepointTable::create(&point))
            })
            .as_ref()
    }
}

impl PartialEq for SealingPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for SealingPublicKey {}

impl fmt::Debug for SealingPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingPublicKey({})", self.to_base64url())
    }
}

/// The officer's public keys (`officer.public.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficerPublicKeys {
    /// Ed25519 signing public key.
    pub signing: VerifyingKey,
    /// X25519 sealing public key.
    pub sealing: SealingPublicKey,
}

impl OfficerPublicKeys {
    /// Key-file `kind`.
    pub const KIND: &'static str = "officer-public";

    /// The officer's `did:key`.
    pub fn did(&self) -> String {
        did_key(&self.signing)
    }

    /// The officer's verification method URL.
    pub fn verification_method(&self) -> String {
        did_key_vm(&self.signing)
    }

    /// Loads an `officer-public` key file.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let file = read_key_file(path, Self::KIND)?;
        let signing = file.ed25519_public()?;
        let sealing = file.x25519_public()?;
        file.check_did(&signing)?;
        Ok(Self { signing, sealing })
    }

    /// Writes an `officer-public` key file (mode 0644; fails if it exists).
    pub fn save(&self, path: &Path, warning: Option<&str>) -> Result<(), KeyFileError> {
        let mut file = RawKeyFile::new(Self::KIND, warning);
        file.did = Some(self.did());
        file.verification_method = Some(self.verification_method());
        file.ed25519_public_key = Some(b64u(self.signing.as_bytes()));
        file.x25519_public_key = Some(self.sealing.to_base64url());
        write_key_file(path, &file, false)
    }
}

// ---------------------------------------------------------------------------------------------
// Key files
// ---------------------------------------------------------------------------------------------

/// A key file could not be read or written. Always names the file.
#[derive(Debug, thiserror::Error)]
#[error("key file {}: {problem}", path.display())]
pub struct KeyFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: KeyFileProblem,
}

/// What is wrong with a key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileProblem {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The file exists; key files are never overwritten.
    #[error("the file already exists; refusing to overwrite a key")]
    AlreadyExists,
    /// Not JSON, or not an object of the expected shape.
    #[error("not a valid key file: {0}")]
    Malformed(String),
    /// `format` is not [`KEY_FILE_FORMAT`].
    #[error("unsupported format `{0}` (expected `{KEY_FILE_FORMAT}`)")]
    UnsupportedFormat(String),
    /// `kind` is not the one expected.
    #[error("wrong kind `{found}` (expected `{expected}`)")]
    WrongKind {
        /// Expected kind.
        expected: &'static str,
        /// Kind in the file.
        found: String,
    },
    /// A required field is missing.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field is not base64url.
    #[error("field `{0}` is not base64url")]
    BadBase64(&'static str),
    /// A field has the wrong length.
    #[error("field `{field}` is {found} bytes long (expected {expected})")]
    BadLength {
        /// Field name.
        field: &'static str,
        /// Expected length in bytes.
        expected: usize,
        /// Actual length in bytes.
        found: usize,
    },
    /// A public key is not a valid curve point.
    #[error("field `{0}` is not a valid key")]
    InvalidKey(&'static str),
    /// A public field does not match the secret (or the DID does not match the key).
    #[error("field `{0}` does not match the key in the file")]
    Mismatch(&'static str),
}

impl KeyFileError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self.problem {
            KeyFileProblem::Io(_) => "key_file_io",
            KeyFileProblem::AlreadyExists => "key_file_exists",
            KeyFileProblem::Malformed(_) => "key_file_malformed",
            KeyFileProblem::UnsupportedFormat(_) => "key_file_format",
            KeyFileProblem::WrongKind { .. } => "key_file_wrong_kind",
            KeyFileProblem::MissingField(_) => "key_file_missing_field",
            KeyFileProblem::BadBase64(_) => "key_file_bad_base64",
            KeyFileProblem::BadLength { .. } => "key_file_bad_length",
            KeyFileProblem::InvalidKey(_) => "key_file_invalid_key",
            KeyFileProblem::Mismatch(_) => "key_file_mismatch",
        }
    }
}

/// The on-disk JSON. Secret fields are zeroized when it is dropped.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawKeyFile {
    format: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    did: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verification_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    officer_did: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ed25519_public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ed25519_seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x25519_public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x25519_secret: Option<String>,
    #[serde(skip)]
    #[zeroize(skip)]
    path: PathBuf,
}

impl RawKeyFile {
    fn new(kind: &str, warning: Option<&str>) -> Self {
        Self {
            format: KEY_FILE_FORMAT.to_owned(),
            kind: kind.to_owned(),
            warning: warning.map(str::to_owned),
            created_at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            did: None,
            verification_method: None,
            officer_did: None,
            ed25519_public_key: None,
            ed25519_seed: None,
            x25519_public_key: None,
            x25519_secret: None,
            path: PathBuf::new(),
        }
    }

    fn err(&self, problem: KeyFileProblem) -> KeyFileError {
        KeyFileError { path: self.path.clone(), problem }
    }

    fn bytes32(&self, value: &Option<String>, field: &'static str) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
        let s = value.as_deref().ok_or_else(|| self.err(KeyFileProblem::MissingField(field)))?;
        let bytes = Zeroizing::new(b64u_decode(s).ok_or_else(|| self.err(KeyFileProblem::BadBase64(field)))?);
        if bytes.len() != 32 {
            return Err(self.err(KeyFileProblem::BadLength { field, expected: 32, found: bytes.len() }));
        }
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    fn ed25519_public(&self) -> Result<VerifyingKey, KeyFileError> {
        let raw = self.bytes32(&self.ed25519_public_key, "ed25519PublicKey")?;
        VerifyingKey::from_bytes(&raw).map_err(|_| self.err(KeyFileProblem::InvalidKey("ed25519PublicKey")))
    }

    fn check_did(&self, key: &VerifyingKey) -> Result<(), KeyFileError> {
        if let Some(did) = &self.did
            && *did != did_key(key)
        {
            return Err(self.err(KeyFileProblem::Mismatch("did")));
        }
        if let Some(vm) = &self.verification_method
            && *vm != did_key_vm(key)
        {
            return Err(self.err(KeyFileProblem::Mismatch("verificationMethod")));
        }
        Ok(())
    }

    fn ed25519_secret(&self) -> Result<(SigningKey, Option<String>), KeyFileError> {
        let seed = self.bytes32(&self.ed25519_seed, "ed25519Seed")?;
        let key = SigningKey::from_bytes(&seed);
        let vk = key.verifying_key();
        if self.ed25519_public_key.is_some() && self.ed25519_public()? != vk {
            return Err(self.err(KeyFileProblem::Mismatch("ed25519PublicKey")));
        }
        self.check_did(&vk)?;
        Ok((key, self.warning.clone()))
    }

    fn x25519_public(&self) -> Result<SealingPublicKey, KeyFileError> {
        let raw = self.bytes32(&self.x25519_public_key, "x25519PublicKey")?;
        Ok(SealingPublicKey::from_bytes(*raw))
    }

    fn x25519_secret(&self) -> Result<x25519_dalek::StaticSecret, KeyFileError> {
        let raw = self.bytes32(&self.x25519_secret, "x25519Secret")?;
        let secret = x25519_dalek::StaticSecret::from(*raw);
        if self.x25519_public_key.is_some()
            && self.x25519_public()?.as_bytes() != x25519_dalek::PublicKey::from(&secret).as_bytes()
        {
            return Err(self.err(KeyFileProblem::Mismatch("x25519PublicKey")));
        }
        Ok(secret)
    }
}

/// Largest key file we read (they are ~400 bytes).
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

fn read_key_file(path: &Path, expected: &'static str) -> Result<RawKeyFile, KeyFileError> {
    let err = |problem| KeyFileError { path: path.to_owned(), problem };
    let meta = std::fs::metadata(path).map_err(|e| err(KeyFileProblem::Io(e)))?;
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(err(KeyFileProblem::Malformed("file too large".into())));
    }
    let text = Zeroizing::new(std::fs::read(path).map_err(|e| err(KeyFileProblem::Io(e)))?);
    // Peek at format and kind first, so a wrong kind is reported as such and not as an
    // unknown field.
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        kind: Option<String>,
    }
    let head: Head = serde_json::from_slice(&text).map_err(|e| err(KeyFileProblem::Malformed(e.to_string())))?;
    let format = head.format.ok_or_else(|| err(KeyFileProblem::MissingField("format")))?;
    if format != KEY_FILE_FORMAT {
        return Err(err(KeyFileProblem::UnsupportedFormat(format.chars().take(64).collect())));
    }
    let kind = head.kind.ok_or_else(|| err(KeyFileProblem::MissingField("kind")))?;
    if kind != expected {
        return Err(err(KeyFileProblem::WrongKind { expected, found: kind.chars().take(64).collect() }));
    }
    let mut file: RawKeyFile =
        serde_json::from_slice(&text).map_err(|e| err(KeyFileProblem::Malformed(e.to_string())))?;
    file.path = path.to_owned();
    Ok(file)
}

fn write_key_file(path: &Path, file: &RawKeyFile, private: bool) -> Result<(), KeyFileError> {
    let err = |problem| KeyFileError { path: path.to_owned(), problem };
    let mut text =
        Zeroizing::new(serde_json::to_vec_pretty(file).map_err(|e| err(KeyFileProblem::Malformed(e.to_string())))?);
    text.push(b'\n');
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            err(KeyFileProblem::AlreadyExists)
        } else {
            err(KeyFileProblem::Io(e))
        }
    })?;
    f.write_all(&text).and_then(|_| f.sync_all()).map_err(|e| err(KeyFileProblem::Io(e)))
}

/// Whether the key file at `path` carries a demo `warning` (a key published with the
/// sources). Unreadable files count as not demo: loading them reports the real problem.
pub fn is_demo_key_file(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("warning").is_some_and(|w| !w.is_null()))
}

/// What [`generate_key_set`] wrote.
#[derive(Debug, Clone)]
pub struct KeySetSummary {
    /// The officer's did:key.
    pub officer_did: String,
    /// The demo holder's did:key.
    pub holder_did: String,
    /// The demo KYC provider's did:key.
    pub kyc_provider_did: String,
    /// `officer-signing.json` (give to the node).
    pub officer_signing: PathBuf,
    /// `officer-sealing.json` (officer only; never to the node).
    pub officer_sealing: PathBuf,
    /// `officer.public.json`.
    pub officer_public: PathBuf,
    /// `holder.json`.
    pub holder: PathBuf,
    /// `kyc-provider.json`.
    pub kyc_provider: PathBuf,
}

/// File names written by [`generate_key_set`].
pub mod file_names {
    /// Officer Ed25519 signing key (the node gets this).
    pub const OFFICER_SIGNING: &str = "officer-signing.json";
    /// Officer X25519 sealing secret (the node never gets this).
    pub const OFFICER_SEALING: &str = "officer-sealing.json";
    /// Officer public keys.
    pub const OFFICER_PUBLIC: &str = "officer.public.json";
    /// A holder key.
    pub const HOLDER: &str = "holder.json";
    /// A KYC provider key.
    pub const KYC_PROVIDER: &str = "kyc-provider.json";
}

/// Generates a fresh officer (signing + sealing), a holder and a KYC provider, and writes the
/// five key files into `dir` (created if missing). With `demo`, every file carries
/// [`DEMO_WARNING`]. Existing files are never overwritten (error `key_file_exists`).
pub fn generate_key_set(dir: &Path, demo: bool) -> Result<KeySetSummary, KeyFileError> {
    std::fs::create_dir_all(dir).map_err(|e| KeyFileError { path: dir.to_owned(), problem: KeyFileProblem::Io(e) })?;
    let warning = demo.then_some(DEMO_WARNING);
    let signing = OfficerSigningKey::generate();
    let sealing = SealingSecret::generate();
    let holder = HolderKey::generate();
    let kyc = IssuerKey::generate();
    let public = OfficerPublicKeys { signing: signing.verifying_key(), sealing: sealing.public_key() };
    let summary = KeySetSummary {
        officer_did: signing.did(),
        holder_did: holder.did(),
        kyc_provider_did: kyc.did(),
        officer_signing: dir.join(file_names::OFFICER_SIGNING),
        officer_sealing: dir.join(file_names::OFFICER_SEALING),
        officer_public: dir.join(file_names::OFFICER_PUBLIC),
        holder: dir.join(file_names::HOLDER),
        kyc_provider: dir.join(file_names::KYC_PROVIDER),
    };
    // Refuse up front if any target exists, so we never leave half a key set behind.
    for p in [
        &summary.officer_signing,
        &summary.officer_sealing,
        &summary.officer_public,
        &summary.holder,
        &summary.kyc_provider,
    ] {
        if p.exists() {
            return Err(KeyFileError { path: p.clone(), problem: KeyFileProblem::AlreadyExists });
        }
    }
    signing.save(&summary.officer_signing, warning)?;
    sealing.save(&summary.officer_sealing, Some(&summary.officer_did), warning)?;
    public.save(&summary.officer_public, warning)?;
    holder.save(&summary.holder, warning)?;
    kyc.save(&summary.kyc_provider, warning)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier as _;

    #[test]
    fn did_key_matches_ssi() {
        for _ in 0..8 {
            let k = OfficerSigningKey::generate();
            let jwk = ssi::JWK::from(k.verifying_key());
            let ssi_did = ssi::dids::DIDKey::generate(&jwk).unwrap();
            let ssi_vm = ssi::dids::DIDKey::generate_url(&jwk).unwrap();
            assert_eq!(k.did(), ssi_did.as_str());
            assert_eq!(k.verification_method(), ssi_vm.as_str());
            assert!(k.did().starts_with("did:key:z6Mk"));
            assert_eq!(ed25519_from_did(&k.did()).unwrap(), k.verifying_key());
        }
    }

    #[test]
    fn did_key_known_vector() {
        // From the did:key spec test vectors (Ed25519).
        let did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        let key = ed25519_from_did(did).unwrap();
        assert_eq!(did_key(&key), did);
    }

    #[test]
    fn did_pkh_solana() {
        let h = HolderKey::generate();
        let did = h.did_pkh_solana(SOLANA_MAINNET);
        assert_eq!(ed25519_from_did(&did).unwrap(), h.verifying_key());
        // Known address: the Solana system program is 32 zero bytes; not a useful key but a
        // valid point encoding check; use a real wallet-like address round trip instead.
        let addr = solana_address(&h.verifying_key());
        assert_eq!(solana_address_to_key(&addr).unwrap(), h.verifying_key());
    }

    #[test]
    fn bad_dids_are_typed_errors() {
        for bad in [
            "",
            "did:web:example.com",
            "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
            "did:key:z6Mk",
            "did:key:notmultibase",
            "did:pkh:eip155:1:0xab16a96d359ec26a11e2c2b3d8f8b8942d5bfcdb",
            "did:pkh:solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:0OIl",
            "did:pkh:solana::abc",
            "did:pkh:solana:a:b:c",
            "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp#frag",
        ] {
            let e = ed25519_from_did(bad).unwrap_err();
            assert!(matches!(e.code(), "did_invalid" | "did_method_unsupported"), "{bad}");
        }
        assert_eq!(ed25519_from_did("did:web:x").unwrap_err().code(), "did_method_unsupported");
    }

    #[test]
    fn debug_does_not_print_secrets() {
        let seed = [7u8; 32];
        let k = OfficerSigningKey::from_seed(&seed);
        let dbg = format!("{k:?}");
        assert!(dbg.contains("did:key:z6Mk"));
        assert!(!dbg.contains(&b64u(&seed)));
        assert!(!dbg.contains(&hex::encode(seed)));
        let s = SealingSecret::from_bytes([9u8; 32]);
        let dbg = format!("{s:?}");
        assert!(!dbg.contains(&b64u(&[9u8; 32])));
    }

    #[test]
    fn key_set_round_trip_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let sum = generate_key_set(dir.path(), true).unwrap();
        let signing = OfficerSigningKey::load(&sum.officer_signing).unwrap();
        let sealing = SealingSecret::load(&sum.officer_sealing).unwrap();
        let public = OfficerPublicKeys::load(&sum.officer_public).unwrap();
        let holder = HolderKey::load(&sum.holder).unwrap();
        let kyc = IssuerKey::load(&sum.kyc_provider).unwrap();
        assert_eq!(signing.did(), sum.officer_did);
        assert_eq!(public.did(), sum.officer_did);
        assert_eq!(public.signing, signing.verifying_key());
        assert_eq!(public.sealing, sealing.public_key());
        assert_eq!(holder.did(), sum.holder_did);
        assert_eq!(kyc.did(), sum.kyc_provider_did);
        assert_eq!(signing.demo_warning(), Some(DEMO_WARNING));
        let sig = signing.sign(b"x");
        assert!(public.signing.verify(b"x", &sig).is_ok());

        // The signing file holds no sealing secret and vice versa.
        let signing_text = std::fs::read_to_string(&sum.officer_signing).unwrap();
        assert!(!signing_text.contains("x25519"));
        let sealing_text = std::fs::read_to_string(&sum.officer_sealing).unwrap();
        assert!(!sealing_text.contains("ed25519Seed"));
        let v: serde_json::Value = serde_json::from_str(&signing_text).unwrap();
        assert_eq!(v["format"], KEY_FILE_FORMAT);
        assert_eq!(v["kind"], "officer-signing");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&sum.officer_signing), 0o600);
            assert_eq!(mode(&sum.officer_sealing), 0o600);
            assert_eq!(mode(&sum.holder), 0o600);
            assert_eq!(mode(&sum.kyc_provider), 0o600);
            assert_eq!(mode(&sum.officer_public), 0o644);
        }

        // Never overwrite.
        let e = generate_key_set(dir.path(), false).unwrap_err();
        assert_eq!(e.code(), "key_file_exists");
        // A non-demo set has no warning.
        let dir2 = tempfile::tempdir().unwrap();
        let sum2 = generate_key_set(dir2.path(), false).unwrap();
        assert!(!std::fs::read_to_string(&sum2.holder).unwrap().contains("warning"));
        assert!(HolderKey::load(&sum2.holder).unwrap().demo_warning().is_none());
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn bad_key_files_are_typed_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sum = generate_key_set(dir.path(), true).unwrap();

        // Wrong kind: the sealing file given where the signing key is expected.
        let e = OfficerSigningKey::load(&sum.officer_sealing).unwrap_err();
        assert_eq!(e.code(), "key_file_wrong_kind");
        assert!(e.to_string().contains("officer-sealing.json"), "{e}");
        let e = SealingSecret::load(&sum.officer_public).unwrap_err();
        assert_eq!(e.code(), "key_file_wrong_kind");

        let good: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sum.holder).unwrap()).unwrap();
        let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            v.to_string()
        };
        let cases: Vec<(&str, String, &str)> = vec![
            ("garbage.json", "not json".into(), "key_file_malformed"),
            ("array.json", "[1,2]".into(), "key_file_malformed"),
            ("format.json", mutate(&|v| v["format"] = "aml-node-key/2".into()), "key_file_format"),
            ("b64.json", mutate(&|v| v["ed25519Seed"] = "!!!".into()), "key_file_bad_base64"),
            ("len.json", mutate(&|v| v["ed25519Seed"] = b64u(&[1u8; 31]).into()), "key_file_bad_length"),
            (
                "missing.json",
                mutate(&|v| {
                    v.as_object_mut().unwrap().remove("ed25519Seed");
                }),
                "key_file_missing_field",
            ),
            ("mismatch.json", mutate(&|v| v["ed25519Seed"] = b64u(&[1u8; 32]).into()), "key_file_mismatch"),
            (
                "did.json",
                mutate(&|v| v["did"] = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp".into()),
                "key_file_mismatch",
            ),
            (
                "unknown.json",
                mutate(&|v| v["x25519Secret"] = b64u(&[1u8; 32]).into()).replace("x25519Secret", "surprise"),
                "key_file_malformed",
            ),
        ];
        for (name, text, code) in cases {
            let p = write(dir.path(), name, &text);
            let e = HolderKey::load(&p).unwrap_err();
            assert_eq!(e.code(), code, "{name}: {e}");
            assert!(e.to_string().contains(name), "{e}");
        }
        let e = HolderKey::load(&dir.path().join("nope.json")).unwrap_err();
        assert_eq!(e.code(), "key_file_io");
    }

    #[test]
    fn jwt_encoding_key_signs_verifiably() {
        let k = OfficerSigningKey::generate();
        let enc = k.to_jwt_encoding_key();
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        let token =
            jsonwebtoken::encode(&header, &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}), &enc).unwrap();
        let dec = jsonwebtoken::DecodingKey::from_ed_components(&b64u(k.verifying_key().as_bytes())).unwrap();
        let v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        jsonwebtoken::decode::<serde_json::Value>(&token, &dec, &v).unwrap();
    }
}
