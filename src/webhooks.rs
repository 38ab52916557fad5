//! Webhooks: signed event deliveries to officers' receivers from a durable outbox.
//!
//! An event is written to the outbox (sled) in the same atomic batch as the change it
//! reports, one delivery per subscribed endpoint, so nothing is announced that did not happen
//! and nothing that happened is lost. A background worker posts due deliveries; a receiver
//! that fails or times out is retried with exponential backoff (base × 2^attempt, capped at
//! one hour) until `webhook_max_attempts`, then the delivery moves to a dead-letter tree.
//! Delivery is at-least-once: receivers deduplicate on the event id. Requests never wait for
//! a receiver.
//!
//! # What a receiver gets
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! AML-Event-Id: evt_…            (also Idempotency-Key)
//! AML-Event-Type: case.created
//! AML-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//!
//! {"id": "evt_…", "type": "case.created", "created_at": "…", "officer": "…", "data": {…}}
//! ```
//!
//! To verify: recompute the HMAC over the timestamp, a dot and the raw body with the shared
//! secret (the endpoint's `secret_file`), compare in constant time, and refuse timestamps far
//! from your clock (replays).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::cases::new_id;
use crate::clock::Clock;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::officers::Officers;
use crate::store::{Batch, Store};

pub const OUTBOX_TREE: &str = "outbox";
pub const DEAD_TREE: &str = "outbox_dead";

/// Event types.
pub mod types {
    pub const CASE_CREATED: &str = "case.created";
    pub const CASE_DECIDED: &str = "case.decided";
    pub const CREDENTIAL_ISSUED: &str = "credential.issued";
    pub const REQUEST_REJECTED: &str = "request.rejected";
    pub const CREDENTIAL_REVOKED: &str = "credential.revoked";
    pub const CREDENTIAL_SUSPENDED: &str = "credential.suspended";
    pub const CREDENTIAL_REINSTATED: &str = "credential.reinstated";
    pub const MONITORING_UPDATE: &str = "AML_MONITORING_UPDATE";
    pub const ALL: [&str; 8] = [
        CASE_CREATED,
        CASE_DECIDED,
        CREDENTIAL_ISSUED,
        REQUEST_REJECTED,
        CREDENTIAL_REVOKED,
        CREDENTIAL_SUSPENDED,
        CREDENTIAL_REINSTATED,
        MONITORING_UPDATE,
    ];
}

/// An event as delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The type again, under the name Didit's callbacks use (`AML_MONITORING_UPDATE`).
    #[serde(default)]
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    pub officer: String,
    pub data: Value,
}

impl Event {
    pub fn new(kind: &str, officer: &str, data: Value, now: DateTime<Utc>) -> Event {
        Event {
            id: new_id("evt"),
            kind: kind.to_owned(),
            event_type: kind.to_owned(),
            created_at: now,
            officer: officer.to_owned(),
            data,
        }
    }
}

/// One pending delivery of an event to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub event: Event,
    pub url: String,
    /// Index of the endpoint in the officer's configuration.
    pub endpoint: usize,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Delivery {
    fn key(&self) -> String {
        format!("{:015}|{}|{}", self.next_at.timestamp_millis().max(0), self.event.id, self.endpoint)
    }
}

/// Retry and polling settings.
#[derive(Debug, Clone, Copy)]
pub struct OutboxSettings {
    pub retry_base: StdDuration,
    pub max_attempts: u32,
    pub timeout: StdDuration,
    pub poll: StdDuration,
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header as a receiver would (constant time; `tolerance` on the time).
pub fn verify_signature(secret: &[u8], header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let expected = signature(secret, t, body);
    let expected_v1 = expected.rsplit_once("v1=").map(|(_, h)| h).unwrap_or_default();
    subtle::ConstantTimeEq::ct_eq(expected_v1.as_bytes(), v1.as_bytes()).into()
}

/// The outbox and its delivery worker.
pub struct Outbox {
    store: Store,
    clock: Arc<dyn Clock>,
    officers: Arc<Officers>,
    settings: OutboxSettings,
    wake: tokio::sync::Notify,
    http: reqwest::Client,
}

impl Outbox {
    pub fn new(store: Store, clock: Arc<dyn Clock>, officers: Arc<Officers>, settings: OutboxSettings) -> Outbox {
        let http = reqwest::Client::builder().timeout(settings.timeout).build().unwrap_or_default();
        Outbox { store, clock, officers, settings, wake: tokio::sync::Notify::new(), http }
    }

    /// Adds one delivery per endpoint of the event's officer that subscribed to its type.
    pub fn stage(&self, batch: &mut Batch, event: &Event) -> Result<usize> {
        let Some(officer) = self.officers.get(&event.officer) else { return Ok(0) };
        let mut n = 0;
        for (i, hook) in officer.webhooks.iter().enumerate() {
            if !hook.events.is_empty() && !hook.events.contains(&event.kind) {
                continue;
            }
            let d = Delivery {
                event: event.clone(),
                url: hook.url.clone(),
                endpoint: i,
                attempts: 0,
                next_at: event.created_at,
                last_error: None,
            };
            batch.put(OUTBOX_TREE, &d.key(), &d)?;
            n += 1;
        }
        Ok(n)
    }

    /// Tells the worker that new deliveries were committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Deliveries waiting (due or not).
    pub fn pending(&self) -> Result<Vec<Delivery>> {
        Ok(self.store.scan::<Delivery>(OUTBOX_TREE, "", None, 100_000)?.into_iter().map(|(_, d)| d).collect())
    }

    /// Deliveries given up on.
    pub fn dead(&self) -> Result<Vec<Delivery>> {
        Ok(self.store.scan::<Delivery>(DEAD_TREE, "", None, 100_000)?.into_iter().map(|(_, d)| d).collect())
    }

    /// The worker: delivers what is due, then sleeps until woken or the poll interval passed.
    pub async fn run(self: Arc<Self>, metrics: Arc<Metrics>) {
        loop {
            match self.deliver_due(&metrics).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook outbox"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// Attempts every due delivery once (concurrently); returns how many were attempted.
    pub async fn deliver_due(&self, metrics: &Metrics) -> Result<usize> {
        let now = self.clock.now();
        let due_before = format!("{:015}|", now.timestamp_millis().max(0) + 1);
        let due: Vec<(String, Delivery)> = self
            .store
            .scan::<Delivery>(OUTBOX_TREE, "", None, 32)?
            .into_iter()
            .take_while(|(k, _)| k.as_str() < due_before.as_str())
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (key, d) in due.iter().cloned() {
            let secret = self
                .officers
                .get(&d.event.officer)
                .and_then(|o| o.webhooks.get(d.endpoint))
                .filter(|h| h.url == d.url)
                .map(|h| h.secret.clone());
            let http = self.http.clone();
            let now_ts = now.timestamp();
            tasks.spawn(async move {
                let outcome = match secret {
                    None => Err("the endpoint is no longer configured".to_string()),
                    Some(secret) => post(&http, &d, &secret, now_ts).await,
                };
                (key, d, outcome)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((key, mut d, outcome)) = joined else { continue };
            let mut batch = Batch::new();
            batch.remove(OUTBOX_TREE, &key);
            match outcome {
                Ok(()) => {
                    Metrics::inc(&metrics.webhooks_delivered_total);
                    tracing::debug!(event = %d.event.id, url = %d.url, "webhook delivered");
                }
                Err(e) => {
                    Metrics::inc(&metrics.webhook_failures_total);
                    d.attempts += 1;
                    d.last_error = Some(e.chars().take(300).collect());
                    if d.attempts >= self.settings.max_attempts {
                        tracing::warn!(event = %d.event.id, url = %d.url, error = %e, "webhook given up");
                        batch.put(DEAD_TREE, &format!("{}|{}", d.event.id, d.endpoint), &d)?;
                    } else {
                        let backoff = self.backoff(d.attempts);
                        d.next_at = self.clock.now() + backoff;
                        tracing::info!(event = %d.event.id, url = %d.url, attempt = d.attempts, error = %e, "webhook failed; retrying");
                        batch.put(OUTBOX_TREE, &d.key(), &d)?;
                    }
                }
            }
            self.store.commit(&batch)?;
        }
        Ok(due.len())
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let base = self.settings.retry_base.as_millis() as i64;
        let factor = 1i64 << attempts.saturating_sub(1).min(20);
        Duration::milliseconds((base.saturating_mul(factor)).min(3_600_000))
    }
}

async fn post(http: &reqwest::Client, d: &Delivery, secret: &[u8], now: i64) -> Result<(), String> {
    let body = serde_json::to_vec(&d.event).map_err(|e| e.to_string())?;
    let resp = http
        .post(&d.url)
        .header("content-type", "application/json")
        .header("aml-event-id", &d.event.id)
        .header("idempotency-key", &d.event.id)
        .header("aml-event-type", &d.event.kind)
        .header("aml-signature", signature(secret, now, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() { Ok(()) } else { Err(format!("receiver answered {}", resp.status())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_refuse_tampering() {
        let body = br#"{"id":"evt_1"}"#;
        let h = signature(b"shared-secret", 1_700_000_000, body);
        assert!(verify_signature(b"shared-secret", &h, body, 1_700_000_010, 300));
        assert!(!verify_signature(b"shared-secret", &h, br#"{"id":"evt_2"}"#, 1_700_000_010, 300));
        assert!(!verify_signature(b"other-secret", &h, body, 1_700_000_010, 300));
        assert!(!verify_signature(b"shared-secret", &h, body, 1_700_009_999, 300));
        assert!(!verify_signature(b"shared-secret", "garbage", body, 1_700_000_010, 300));
    }
}
