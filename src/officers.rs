//! The officers this node serves: who they are, their public keys and, only for officers the
//! node signs for, their Ed25519 signing key. The node never holds an officer's X25519
//! sealing secret (see [`crate::keys`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;

use crate::config::OfficerConfig;
use crate::keys::{KeyFileError, OfficerPublicKeys, OfficerSigningKey};

/// One officer.
#[derive(Debug)]
pub struct Officer {
    pub id: String,
    pub name: String,
    /// Private: the DID below is derived from it.
    keys: OfficerPublicKeys,
    /// Present only when this node signs for the officer.
    pub signing: Option<Arc<OfficerSigningKey>>,
    /// Whether any of the officer's key files is a published demo key.
    pub demo_keys: bool,
    pub webhooks: Vec<Webhook>,
    /// `did:key` of `keys.signing`, derived once (relying-party verification compares it).
    did: String,
}

/// A webhook receiver with its shared secret.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: Arc<zeroize::Zeroizing<Vec<u8>>>,
    /// Event types; empty means all.
    pub events: Vec<String>,
}

fn load_webhook(officer: &str, c: &crate::config::WebhookConfig) -> Result<Webhook, OfficerError> {
    let bad = |m: String| OfficerError::Webhook { officer: officer.to_owned(), message: m };
    let raw = zeroize::Zeroizing::new(
        std::fs::read(&c.secret_file).map_err(|e| bad(format!("{}: {e}", c.secret_file.display())))?,
    );
    let trimmed = raw.trim_ascii();
    if trimmed.len() < 16 {
        return Err(bad(format!("{}: the secret must be at least 16 bytes", c.secret_file.display())));
    }
    Ok(Webhook {
        url: c.url.clone(),
        secret: Arc::new(zeroize::Zeroizing::new(trimmed.to_vec())),
        events: c.events.clone(),
    })
}

impl Officer {
    pub fn new(
        id: String,
        name: String,
        keys: OfficerPublicKeys,
        signing: Option<Arc<OfficerSigningKey>>,
        demo_keys: bool,
        webhooks: Vec<Webhook>,
    ) -> Officer {
        let did = keys.did();
        Officer { id, name, keys, signing, demo_keys, webhooks, did }
    }

    /// The officer's `did:key` (issuer of their credentials).
    pub fn did(&self) -> &str {
        &self.did
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.keys.signing
    }

    pub fn keys(&self) -> &OfficerPublicKeys {
        &self.keys
    }
}

/// Why the officer set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum OfficerError {
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(
        "officer `{officer}`: the signing key file holds another key than officer.public.json ({signing} vs {public})"
    )]
    KeyMismatch { officer: String, signing: String, public: String },
    #[error("officers `{0}` and `{1}` have the same key")]
    DuplicateKey(String, String),
    #[error("officer `{officer}`: webhook: {message}")]
    Webhook { officer: String, message: String },
    #[error("officer `{officer}`: compat API key file {path}: {message}")]
    CompatKey { officer: String, path: String, message: String },
    #[error("officer `{0}`: smile_id_partner_id needs compat_api_key_file (the key that signs requests)")]
    PartnerWithoutKey(String),
    #[error("officers `{0}` and `{1}` have the same {2}")]
    DuplicateCompat(String, String, &'static str),
}

/// Shortest accepted compatibility API key, in characters.
pub const MIN_COMPAT_KEY_CHARS: usize = 32;

/// An officer's access to the compatibility endpoints (`/v1/compat/...`): the API key that
/// Smile ID clients sign with and Didit clients send as `x-api-key`.
pub struct CompatAccess {
    pub officer: Arc<Officer>,
    /// The Smile ID `partner_id` naming this officer, if configured.
    pub smile_id_partner_id: Option<String>,
    api_key: zeroize::Zeroizing<String>,
    api_key_digest: [u8; 32],
}

impl std::fmt::Debug for CompatAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompatAccess")
            .field("officer", &self.officer.id)
            .field("smile_id_partner_id", &self.smile_id_partner_id)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

impl CompatAccess {
    /// Builds the access from a key (at least [`MIN_COMPAT_KEY_CHARS`] printable ASCII).
    pub fn new(officer: Arc<Officer>, smile_id_partner_id: Option<String>, api_key: &str) -> Result<Self, String> {
        let key = api_key.trim();
        if key.chars().count() < MIN_COMPAT_KEY_CHARS {
            return Err(format!("the key must be at least {MIN_COMPAT_KEY_CHARS} characters"));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the key must be one line of printable ASCII without spaces".into());
        }
        let api_key_digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()).into();
        Ok(CompatAccess {
            officer,
            smile_id_partner_id,
            api_key: zeroize::Zeroizing::new(key.to_owned()),
            api_key_digest,
        })
    }

    /// The key bytes (HMAC key of Smile ID signatures).
    pub fn api_key(&self) -> &[u8] {
        self.api_key.as_bytes()
    }
}

/// The officers, by id and by DID.
#[derive(Debug, Default)]
pub struct Officers {
    by_id: BTreeMap<String, Arc<Officer>>,
    /// Officers with a compatibility API key, by officer id.
    compat: BTreeMap<String, Arc<CompatAccess>>,
}

impl Officers {
    /// Loads each configured officer's key files.
    pub fn load(configs: &[OfficerConfig]) -> Result<Officers, OfficerError> {
        let mut out = Officers::default();
        for c in configs {
            let keys = OfficerPublicKeys::load(&c.public_key_file)?;
            let signing = match &c.signing_key_file {
                Some(p) => {
                    let k = OfficerSigningKey::load(p)?;
                    if k.verifying_key() != keys.signing {
                        return Err(OfficerError::KeyMismatch {
                            officer: c.id.clone(),
                            signing: k.did(),
                            public: keys.did(),
                        });
                    }
                    Some(Arc::new(k))
                }
                None => None,
            };
            let demo_keys = crate::keys::is_demo_key_file(&c.public_key_file)
                || signing.as_ref().is_some_and(|k| k.demo_warning().is_some());
            let webhooks = c.webhooks.iter().map(|w| load_webhook(&c.id, w)).collect::<Result<_, _>>()?;
            out.insert(Officer::new(c.id.clone(), c.name.clone(), keys, signing, demo_keys, webhooks))?;
            out.load_compat(c)?;
        }
        Ok(out)
    }

    /// Reads an officer's compatibility API key file, if configured.
    fn load_compat(&mut self, c: &OfficerConfig) -> Result<(), OfficerError> {
        let Some(path) = &c.compat_api_key_file else {
            return match &c.smile_id_partner_id {
                Some(_) => Err(OfficerError::PartnerWithoutKey(c.id.clone())),
                None => Ok(()),
            };
        };
        let bad = |message: String| OfficerError::CompatKey {
            officer: c.id.clone(),
            path: path.display().to_string(),
            message,
        };
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
        let partner = c.smile_id_partner_id.as_deref().map(str::trim).map(str::to_owned);
        if partner.as_deref().is_some_and(|p| p.is_empty() || p.len() > 64) {
            return Err(bad("smile_id_partner_id must be 1-64 characters".into()));
        }
        let officer = self.by_id.get(&c.id).cloned().ok_or_else(|| bad("officer not loaded".into()))?;
        let access = CompatAccess::new(officer, partner, &text).map_err(bad)?;
        for other in self.compat.values() {
            if other.api_key_digest == access.api_key_digest {
                return Err(OfficerError::DuplicateCompat(other.officer.id.clone(), c.id.clone(), "compat API key"));
            }
            if other.smile_id_partner_id.is_some() && other.smile_id_partner_id == access.smile_id_partner_id {
                return Err(OfficerError::DuplicateCompat(
                    other.officer.id.clone(),
                    c.id.clone(),
                    "smile_id_partner_id",
                ));
            }
        }
        self.compat.insert(c.id.clone(), Arc::new(access));
        Ok(())
    }

    /// The compatibility access of the officer a Smile ID `partner_id` names.
    pub fn by_smile_partner_id(&self, partner_id: &str) -> Option<&Arc<CompatAccess>> {
        self.compat.values().find(|a| a.smile_id_partner_id.as_deref() == Some(partner_id))
    }

    /// The compatibility access whose API key this is. Compares SHA-256 digests in constant
    /// time against every configured key, so neither timing nor length tells keys apart.
    pub fn by_compat_api_key(&self, key: &str) -> Option<&Arc<CompatAccess>> {
        use subtle::ConstantTimeEq;
        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(key.trim().as_bytes()).into();
        let mut found = None;
        for a in self.compat.values() {
            if bool::from(a.api_key_digest.ct_eq(&digest)) {
                found = Some(a);
            }
        }
        found
    }

    /// Adds an officer (tests, and [`Officers::load`]).
    pub fn insert(&mut self, officer: Officer) -> Result<(), OfficerError> {
        if let Some(other) = self.by_id.values().find(|o| o.keys.signing == officer.keys.signing) {
            return Err(OfficerError::DuplicateKey(other.id.clone(), officer.id));
        }
        self.by_id.insert(officer.id.clone(), Arc::new(officer));
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Officer>> {
        self.by_id.get(id)
    }

    /// The officer whose did:key this is.
    pub fn by_did(&self, did: &str) -> Option<&Arc<Officer>> {
        self.by_id.values().find(|o| o.did() == did)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Officer>> {
        self.by_id.values()
    }

    pub fn verifying_keys(&self) -> Vec<VerifyingKey> {
        self.by_id.values().map(|o| o.verifying_key()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
