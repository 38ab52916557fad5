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
    pub keys: OfficerPublicKeys,
    /// Present only when this node signs for the officer.
    pub signing: Option<Arc<OfficerSigningKey>>,
    /// Whether any of the officer's key files is a published demo key.
    pub demo_keys: bool,
    pub webhooks: Vec<Webhook>,
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
    /// The officer's `did:key` (issuer of their credentials).
    pub fn did(&self) -> String {
        self.keys.did()
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.keys.signing
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
}

/// The officers, by id and by DID.
#[derive(Debug, Default)]
pub struct Officers {
    by_id: BTreeMap<String, Arc<Officer>>,
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
            out.insert(Officer { id: c.id.clone(), name: c.name.clone(), keys, signing, demo_keys, webhooks })?;
        }
        Ok(out)
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
