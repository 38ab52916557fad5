//! Operator metrics in the Prometheus text format (`GET /metrics`): counters the node bumps
//! as it works, plus gauges read at scrape time (list ages, queue sizes).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $help:literal),* $(,)?) => {
        /// The node's counters.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $(pub $name: AtomicU64,)*
        }

        impl Metrics {
            fn write_counters(&self, out: &mut String) {
                $(
                    let _ = writeln!(out, "# HELP aml_{} {}", stringify!($name), $help);
                    let _ = writeln!(out, "# TYPE aml_{} counter", stringify!($name));
                    let _ = writeln!(out, "aml_{} {}", stringify!($name), self.$name.load(Ordering::Relaxed));
                )*
            }
        }
    };
}

counters! {
    requests_total: "Holder requests accepted for screening.",
    requests_issued_total: "Requests that ended with an issued credential.",
    requests_in_review_total: "Requests routed to officer review.",
    requests_rejected_total: "Requests rejected (confirmed or automatic match).",
    requests_refused_total: "Holder requests refused before screening (bad input, missing claims, auth).",
    certificates_issued_total: "Compliance certificates issued.",
    certificate_verifications_total: "Certificate verifications answered.",
    screenings_total: "Standalone screening API calls.",
    credentials_revoked_total: "Credentials revoked.",
    list_refreshes_total: "List refreshes that produced a new snapshot.",
    list_refresh_failures_total: "List refreshes that failed (the last good snapshot was kept).",
    webhooks_delivered_total: "Webhook deliveries acknowledged by receivers.",
    webhook_failures_total: "Webhook delivery attempts that failed (retried later).",
    monitoring_updates_total: "AML_MONITORING_UPDATE events produced.",
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders the counters followed by `gauges` (name, help, labelled values).
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let mut out = String::new();
        self.write_counters(&mut out);
        for g in gauges {
            let _ = writeln!(out, "# HELP aml_{} {}", g.name, g.help);
            let _ = writeln!(out, "# TYPE aml_{} gauge", g.name);
            for (labels, v) in &g.values {
                if labels.is_empty() {
                    let _ = writeln!(out, "aml_{} {v}", g.name);
                } else {
                    let l: Vec<String> = labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                        .collect();
                    let _ = writeln!(out, "aml_{}{{{}}} {v}", g.name, l.join(","));
                }
            }
        }
        out
    }
}

/// A gauge read at scrape time.
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub values: Vec<(Vec<(&'static str, String)>, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::inc(&m.requests_total);
        let text = m.render(&[Gauge {
            name: "list_age_hours",
            help: "Age of each list snapshot.",
            values: vec![(vec![("list", "a\"b".into())], 1.5)],
        }]);
        assert!(text.contains("aml_requests_total 1\n"));
        assert!(text.contains("# TYPE aml_list_age_hours gauge"));
        assert!(text.contains("aml_list_age_hours{list=\"a\\\"b\"} 1.5"));
    }
}
