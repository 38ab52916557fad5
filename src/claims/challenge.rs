//! The holder's proof of control: a signed, human-readable challenge message.
//!
//! Modelled on Sign-In-With-Solana / EIP-4361 so a wallet's `signMessage` shows the user
//! what they sign:
//!
//! ```text
//! {domain} wants you to request an AML credential with your key:
//! {holder DID}
//!
//! Spec: {spec id}
//! Presentation: sha256:{hex digest of the presentation JSON bytes as sent}
//! Nonce: {nonce}
//! Issued At: {RFC 3339, whole seconds, Z}
//! ```
//!
//! Lines are separated by `\n`, with no trailing newline. [`ChallengeMessage::parse`] accepts
//! only the exact text [`ChallengeMessage`]'s `Display` produces, so what was signed is what
//! is interpreted. The signature is Ed25519 over the UTF-8 bytes of the message, checked with
//! `verify_strict` (no malleable or small-order-key signatures), encoded as base64url or
//! base58 (what Solana wallets return). Holder keys: `did:key` (Ed25519) and
//! `did:pkh:solana:<chain>:<address>`.

use std::fmt;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use rand_core::{OsRng, RngCore};

use super::ClaimError;
use super::presentation::is_presentation_digest;
use crate::credentials::rfc3339;
use crate::keys::{b64u, b64u_decode, ed25519_from_did};

/// A single-use challenge nonce: 128 random bits, base64url (22 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nonce(String);

impl Nonce {
    /// A fresh nonce from the OS RNG.
    pub fn generate() -> Self {
        let mut b = [0u8; 16];
        OsRng.fill_bytes(&mut b);
        Nonce(b64u(&b))
    }

    /// Wraps a nonce received back from a client (base64url, 16..=128 characters).
    pub fn parse(s: &str) -> Result<Self, ClaimError> {
        if !(16..=128).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(ClaimError::ChallengeMalformed("nonce must be 16-128 base64url characters".into()));
        }
        Ok(Nonce(s.to_owned()))
    }

    /// The nonce text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const HEADER_SUFFIX: &str = " wants you to request an AML credential with your key:";

/// The challenge message a holder signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeMessage {
    /// The node's domain (`host` or `host:port`).
    pub domain: String,
    /// The holder DID.
    pub holder_did: String,
    /// The requested spec id.
    pub spec_id: String,
    /// `sha256:<hex>` of the presentation bytes.
    pub presentation_digest: String,
    /// The node-issued nonce.
    pub nonce: Nonce,
    /// When the message was made (whole seconds).
    pub issued_at: DateTime<Utc>,
    /// The key `holder_did` names, decoded once (decoding decompresses a curve point).
    holder_key: VerifyingKey,
}

fn single_line(field: &str, v: &str, max: usize) -> Result<(), ClaimError> {
    if v.is_empty() || v.len() > max || v.chars().any(|c| c.is_control()) || v.trim() != v {
        return Err(ClaimError::ChallengeMalformed(format!(
            "{field} must be 1-{max} characters on one line without surrounding spaces"
        )));
    }
    Ok(())
}

/// The key a holder DID names.
fn holder_key(did: &str) -> Result<VerifyingKey, ClaimError> {
    single_line("holder DID", did, 512)?;
    Ok(ed25519_from_did(did)?)
}

impl ChallengeMessage {
    /// Checks the holder's signature over `text`, this message as it was signed.
    pub fn verify_signature(&self, text: &str, signature: &str) -> Result<(), ClaimError> {
        check_signature(&self.holder_key, text, signature)
    }

    /// Builds a message, computing the digest of `presentation_bytes`.
    pub fn new(
        domain: &str,
        holder_did: &str,
        spec_id: &str,
        presentation_bytes: &[u8],
        nonce: &Nonce,
        issued_at: DateTime<Utc>,
    ) -> Result<Self, ClaimError> {
        let m = ChallengeMessage {
            domain: domain.to_owned(),
            holder_did: holder_did.to_owned(),
            spec_id: spec_id.to_owned(),
            presentation_digest: super::presentation_digest(presentation_bytes),
            nonce: nonce.clone(),
            issued_at: crate::credentials::whole_seconds(issued_at),
            holder_key: holder_key(holder_did)?,
        };
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), ClaimError> {
        single_line("domain", &self.domain, 253)?;
        if self.domain.contains(char::is_whitespace) || self.domain.contains('/') {
            return Err(ClaimError::ChallengeMalformed("domain must be a host name".into()));
        }
        single_line("spec id", &self.spec_id, 128)?;
        if !is_presentation_digest(&self.presentation_digest) {
            return Err(ClaimError::ChallengeMalformed("presentation digest must be sha256:<64 lowercase hex>".into()));
        }
        Nonce::parse(self.nonce.as_str())?;
        Ok(())
    }

    /// Parses a message; only the exact canonical text is accepted.
    pub fn parse(text: &str) -> Result<Self, ClaimError> {
        let bad = |m: &str| ClaimError::ChallengeMalformed(m.to_owned());
        if text.len() > 4096 {
            return Err(bad("message too long"));
        }
        let lines: Vec<&str> = text.split('\n').collect();
        let [head, did, empty, spec, pres, nonce, issued] = lines.as_slice() else {
            return Err(bad("expected exactly 7 lines"));
        };
        let domain = head.strip_suffix(HEADER_SUFFIX).ok_or_else(|| bad("first line is not the request header"))?;
        if !empty.is_empty() {
            return Err(bad("line 3 must be empty"));
        }
        let field = |line: &str, name: &str| -> Result<String, ClaimError> {
            line.strip_prefix(name)
                .and_then(|r| r.strip_prefix(": "))
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("expected a `{name}:` line")))
        };
        let issued_text = field(issued, "Issued At")?;
        let issued_at = DateTime::parse_from_rfc3339(&issued_text)
            .map_err(|_| bad("Issued At is not an RFC 3339 time"))?
            .with_timezone(&Utc);
        let m = ChallengeMessage {
            domain: (*domain).to_owned(),
            holder_did: (*did).to_owned(),
            spec_id: field(spec, "Spec")?,
            presentation_digest: field(pres, "Presentation")?,
            nonce: Nonce::parse(&field(nonce, "Nonce")?)?,
            issued_at,
            holder_key: holder_key(did)?,
        };
        m.validate()?;
        if m.to_string() != text {
            return Err(bad("message is not in canonical form"));
        }
        Ok(m)
    }
}

impl fmt::Display for ChallengeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{HEADER_SUFFIX}\n{}\n\nSpec: {}\nPresentation: {}\nNonce: {}\nIssued At: {}",
            self.domain,
            self.holder_did,
            self.spec_id,
            self.presentation_digest,
            self.nonce,
            rfc3339(self.issued_at)
        )
    }
}

/// Decodes a 64-byte signature; returns the candidates (base64url and/or base58: an 86–88
/// character string can be valid in both alphabets, so both readings are tried).
fn signature_candidates(signature: &str) -> Vec<Signature> {
    let s = signature.trim();
    let mut out = Vec::with_capacity(2);
    if s.len() > 200 {
        return out;
    }
    if let Some(b) = b64u_decode(s)
        && let Ok(arr) = <[u8; 64]>::try_from(b.as_slice())
    {
        out.push(Signature::from_bytes(&arr));
    }
    if let Ok(b) = bs58::decode(s).into_vec()
        && let Ok(arr) = <[u8; 64]>::try_from(b.as_slice())
    {
        out.push(Signature::from_bytes(&arr));
    }
    out
}

/// Checks an Ed25519 signature by the holder DID's key over `message` (its UTF-8 bytes).
pub fn verify_holder_signature(holder_did: &str, message: &str, signature: &str) -> Result<(), ClaimError> {
    check_signature(&ed25519_from_did(holder_did)?, message, signature)
}

fn check_signature(key: &VerifyingKey, message: &str, signature: &str) -> Result<(), ClaimError> {
    let candidates = signature_candidates(signature);
    if candidates.is_empty() {
        return Err(ClaimError::SignatureMalformed(
            "expected a 64-byte Ed25519 signature in base64url or base58".into(),
        ));
    }
    if candidates.iter().any(|sig| key.verify_strict(message.as_bytes(), sig).is_ok()) {
        Ok(())
    } else {
        Err(ClaimError::SignatureInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{HolderKey, SOLANA_MAINNET};

    fn msg(did: &str) -> ChallengeMessage {
        ChallengeMessage::new("aml.example.org", did, "basic-aml", br#"{"holder":"x"}"#, &Nonce::generate(), Utc::now())
            .unwrap()
    }

    #[test]
    fn format_and_parse() {
        let h = HolderKey::generate();
        let m = msg(&h.did());
        let text = m.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "aml.example.org wants you to request an AML credential with your key:");
        assert_eq!(lines[1], h.did());
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], "Spec: basic-aml");
        assert!(lines[4].starts_with("Presentation: sha256:"));
        assert_eq!(lines[4].len(), "Presentation: sha256:".len() + 64);
        assert!(lines[5].starts_with("Nonce: "));
        assert!(lines[6].starts_with("Issued At: ") && lines[6].ends_with('Z'));
        assert!(!text.ends_with('\n'));
        assert_eq!(ChallengeMessage::parse(&text).unwrap(), m);
    }

    #[test]
    fn parse_rejects_variants() {
        let h = HolderKey::generate();
        let text = msg(&h.did()).to_string();
        let variants = [
            format!("{text}\n"),
            text.replace('\n', "\r\n"),
            text.replace("Spec: ", "Spec:"),
            text.replace("Z", "+00:00"),
            text.replace("wants you", "asks you"),
            text.replace("sha256:", "sha512:"),
            text.replacen("\n\n", "\nX\n", 1),
            text.replace(&h.did(), "did:web:example.com"),
            String::new(),
            "x".repeat(5000),
        ];
        for v in variants {
            assert!(ChallengeMessage::parse(&v).is_err(), "{v:.80}");
        }
    }

    #[test]
    fn nonce() {
        let a = Nonce::generate();
        let b = Nonce::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 22);
        assert_eq!(b64u_decode(a.as_str()).unwrap().len(), 16);
        assert!(Nonce::parse("short").is_err());
        assert!(Nonce::parse("has spaces in it, no good").is_err());
        assert!(Nonce::parse(a.as_str()).is_ok());
    }

    #[test]
    fn did_key_signature_base64url_and_base58() {
        let h = HolderKey::generate();
        let text = msg(&h.did()).to_string();
        let sig = h.sign(text.as_bytes());
        verify_holder_signature(&h.did(), &text, &b64u(&sig.to_bytes())).unwrap();
        verify_holder_signature(&h.did(), &text, &bs58::encode(sig.to_bytes()).into_string()).unwrap();
        // Another message / another key.
        let e = verify_holder_signature(&h.did(), &format!("{text}!"), &b64u(&sig.to_bytes())).unwrap_err();
        assert_eq!(e.code(), "holder_signature_invalid");
        let other = HolderKey::generate();
        let e = verify_holder_signature(&other.did(), &text, &b64u(&sig.to_bytes())).unwrap_err();
        assert_eq!(e.code(), "holder_signature_invalid");
    }

    #[test]
    fn solana_wallet_signature() {
        let h = HolderKey::generate();
        let did = h.did_pkh_solana(SOLANA_MAINNET);
        let text = msg(&did).to_string();
        let sig = bs58::encode(h.sign(text.as_bytes()).to_bytes()).into_string();
        verify_holder_signature(&did, &text, &sig).unwrap();
        let parsed = ChallengeMessage::parse(&text).unwrap();
        assert_eq!(parsed.holder_did, did);
    }

    #[test]
    fn bad_inputs_are_typed() {
        let h = HolderKey::generate();
        let text = msg(&h.did()).to_string();
        let sig = b64u(&h.sign(text.as_bytes()).to_bytes());
        assert_eq!(verify_holder_signature(&h.did(), &text, "").unwrap_err().code(), "holder_signature_malformed");
        assert_eq!(verify_holder_signature(&h.did(), &text, "@@@").unwrap_err().code(), "holder_signature_malformed");
        assert_eq!(
            verify_holder_signature(&h.did(), &text, &b64u(&[0u8; 63])).unwrap_err().code(),
            "holder_signature_malformed"
        );
        assert_eq!(
            verify_holder_signature("did:web:example.com", &text, &sig).unwrap_err().code(),
            "holder_did_unsupported"
        );
        assert_eq!(verify_holder_signature("did:key:zzz", &text, &sig).unwrap_err().code(), "holder_did_invalid");
        // Malleated signature (S + L) is rejected by verify_strict / from_bytes.
        let mut raw = h.sign(text.as_bytes()).to_bytes();
        raw[63] |= 0xe0;
        assert!(verify_holder_signature(&h.did(), &text, &b64u(&raw)).is_err());
        // Builder validation.
        assert!(ChallengeMessage::new("a b", &h.did(), "s", b"", &Nonce::generate(), Utc::now()).is_err());
        assert!(ChallengeMessage::new("a", &h.did(), "s\nx", b"", &Nonce::generate(), Utc::now()).is_err());
    }
}
