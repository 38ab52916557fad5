//! Cost of one eddsa-rdfc-2022 sign and verify (the KYC credential shape and the AML
//! credential shape), and of VC-JOSE for comparison, on one thread, in CPU time of that
//! thread (so other processes on the box inflate it less than wall time).
//!
//! ```text
//! cargo run --release --example di_cost -- [ITERATIONS] [only: sign|verify|jose|cert]
//! ```

/// CPU time of the calling thread (robust to other processes sharing the cores).
struct Instant(u64);

impl Instant {
    fn now() -> Instant {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        Instant(s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(Instant::now().0.saturating_sub(self.0))
    }
}

use aml_node::claims::{issue_kyc_credential, verify_kyc_credential};
use aml_node::client::demo_claims;
use aml_node::credentials::{
    AmlCredentialRequest, CertificateRequest, CredentialFormat, ListVersion, StatusEntry, issue_aml_credential,
    issue_certificate, verify_certificate, verify_credential,
};
use aml_node::keys::{HolderKey, IssuerKey, OfficerSigningKey};
use base64::Engine as _;

/// The demo officer's status entry `i` of list 0 for `purpose`.
fn status_entry(purpose: &str, i: usize) -> StatusEntry {
    StatusEntry {
        status_list_credential: format!("http://127.0.0.1:8080/v1/status/demo-officer/{purpose}/0"),
        index: i as u64,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(500);
    let only = args.next();
    let want = |k: &str| only.as_deref().is_none_or(|o| o == k);
    let kyc = IssuerKey::generate();
    let officer = OfficerSigningKey::generate();
    let holder = HolderKey::generate();
    let claims = demo_claims("Alice Benchmark", "1980-01-02", "NL", "DOC123456");
    let now = chrono::Utc::now();
    let aml_request = |i: usize| AmlCredentialRequest {
        id: None,
        node_base_url: "http://127.0.0.1:8080".into(),
        holder_did: holder.did(),
        spec_id: "enhanced-due-diligence".into(),
        spec_version: 1,
        checked_at: now,
        list_versions: vec![ListVersion {
            name: "demo".into(),
            content_hash: "sha256:00ff".into(),
            list_date: "2025-05-01".into(),
        }],
        issued_at: now,
        valid_for: chrono::Duration::days(90),
        status: status_entry("revocation", i),
        suspension: Some(status_entry("suspension", i)),
    };
    if want("cert") {
        // The compliance certificate (a compact EdDSA JWT): issue and verify.
        let vk = officer.verifying_key();
        let t = Instant::now();
        let mut certs = Vec::with_capacity(n);
        for i in 0..n {
            let req = CertificateRequest {
                holder_did: holder.did(),
                audience: None,
                spec_id: "basic-sanctions".into(),
                spec_version: 1,
                credential_id: format!("urn:uuid:6f1c2d3e-0000-4000-8000-{i:012}"),
                status: status_entry("revocation", i),
                suspension: Some(status_entry("suspension", i)),
                issued_at: now,
                valid_for: chrono::Duration::days(1),
            };
            certs.push(issue_certificate(&officer, &req)?.token);
        }
        let issue = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let keys = [vk];
        let t = Instant::now();
        for c in &certs {
            assert!(verify_certificate(c, &keys[..], |_| false).is_valid());
        }
        let verify = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = Instant::now();
        for c in &certs {
            let (signed, sig) = c.rsplit_once('.').ok_or("jwt")?;
            let sig: [u8; 64] =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig)?.try_into().map_err(|_| "sig")?;
            vk.verify_strict(signed.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))?;
        }
        let dalek = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!(
            "certificate: issue {issue:.1} us, verify {verify:.1} us (of which an Ed25519 verify with ed25519-dalek alone: {dalek:.1} us)"
        );
        if only.is_some() {
            return Ok(());
        }
    }
    for format in [CredentialFormat::DataIntegrity, CredentialFormat::Jose] {
        if format == CredentialFormat::Jose && !want("jose") {
            continue;
        }
        if format == CredentialFormat::DataIntegrity && only.as_deref() == Some("jose") {
            continue;
        }
        let mut creds = Vec::with_capacity(n);
        let t = Instant::now();
        for _ in 0..n {
            creds.push(
                issue_kyc_credential(&kyc, &holder.did(), claims.clone(), chrono::Duration::days(30), format).await?,
            );
        }
        let sign_kyc = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let mut verify_kyc = f64::NAN;
        if want("verify") || format == CredentialFormat::Jose {
            let t = Instant::now();
            for c in &creds {
                verify_kyc_credential(c, &holder.did(), now).await?;
            }
            verify_kyc = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        }
        let mut amls = Vec::with_capacity(n);
        let t = Instant::now();
        if want("sign") || format == CredentialFormat::Jose {
            for i in 0..n {
                amls.push(issue_aml_credential(&officer, &aml_request(i), format).await?);
            }
        }
        let sign_aml = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = Instant::now();
        for a in &amls {
            verify_credential(&a.credential, now).await?;
        }
        let verify_aml = t.elapsed().as_secs_f64() * 1e6 / amls.len().max(1) as f64;
        println!(
            "{format:?}: sign KYC {sign_kyc:.0} us, verify KYC {verify_kyc:.0} us, sign AML {sign_aml:.0} us, verify AML {verify_aml:.0} us ({n} each)"
        );
    }
    Ok(())
}
