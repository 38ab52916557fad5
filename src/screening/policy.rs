//! The screening policy: every knob an officer can turn, with coherent defaults.
//!
//! The two-score model (Didit) made consistent:
//! - **Match score** 0-100: is this listed entity the person screened? A weighted mean of
//!   name, birth-date and country similarity (default weights 60/25/15, which must sum to
//!   100). A field either side lacks is *unknown* and drops out of the mean instead of counting
//!   as a mismatch, so a name-only query is judged on the name alone. A document number or
//!   wallet address equal on both sides is a golden key: score 100.
//! - Hits below the match threshold (default 93) are automatic false positives; the rest are
//!   possible matches ("unreviewed").
//! - **Risk score** 0-100 of each possible match, from category, country risk and criminal or
//!   enforcement data (default weights 50/30/20), orders what is left and decides between
//!   approve, review and decline.
//! - One rule is fixed and not configurable: a possible match on a sanctions list is never
//!   approved automatically.
//!
//! The seed's risk thresholds are not self-consistent (approve "below 80" and "below 86"; a
//! decline "above 100" on a 0-100 scale). We use: approve when every possible match has risk
//! below `approve_below` (default 40) and none is a sanction; decline automatically only under
//! `auto_decline` (default: a golden-key match on a sanctions list); review otherwise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lists::Category;

/// A policy that failed validation; the API answers these with HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("match weights must sum to 100 (name {name} + birth date {dob} + country {country} = {sum})")]
    MatchWeightsSum { name: u8, dob: u8, country: u8, sum: u32 },
    #[error("risk weights must sum to 100 (category {category} + country {country} + criminal {criminal} = {sum})")]
    RiskWeightsSum { category: u8, country: u8, criminal: u8, sum: u32 },
    #[error("{field} must be between {min} and {max}, got {value}")]
    OutOfRange { field: &'static str, value: u32, min: u32, max: u32 },
    #[error("approve_below ({approve_below}) must be lower than decline_threshold ({decline_threshold})")]
    Thresholds { approve_below: u8, decline_threshold: u8 },
    #[error("at least one category must be screened")]
    NoCategories,
}

impl PolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::MatchWeightsSum { .. } => "policy_match_weights",
            PolicyError::RiskWeightsSum { .. } => "policy_risk_weights",
            PolicyError::OutOfRange { .. } => "policy_out_of_range",
            PolicyError::Thresholds { .. } => "policy_thresholds",
            PolicyError::NoCategories => "policy_no_categories",
        }
    }
}

/// Weights of the match score's fields, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchWeights {
    pub name: u8,
    pub dob: u8,
    pub country: u8,
}

impl Default for MatchWeights {
    fn default() -> Self {
        MatchWeights { name: 60, dob: 25, country: 15 }
    }
}

/// Weights of the risk score's factors, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskWeights {
    pub category: u8,
    pub country: u8,
    pub criminal: u8,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights { category: 50, country: 30, criminal: 20 }
    }
}

/// Rebilly's country confidence: how much the country field agrees, per scenario, 0-100.
/// `none` (either side has no country) is `null` by default: the field is unknown and drops
/// out of the match score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryConfidence {
    pub matching: u8,
    /// Lists often lack a second nationality, so a mismatch is weak evidence by default:
    /// with a perfect name and birth date it keeps the hit above the default threshold.
    pub mismatching: u8,
    #[serde(default)]
    pub none: Option<u8>,
}

impl Default for CountryConfidence {
    fn default() -> Self {
        CountryConfidence { matching: 100, mismatching: 60, none: None }
    }
}

/// When the engine may decline without a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AutoDecline {
    /// Never: every possible match goes to review.
    Never,
    /// A document-number or wallet-address match on a sanctions list (definitive identity).
    GoldenKey,
    /// Any possible match with risk at or above `decline_threshold`, plus golden keys.
    Risk,
}

/// Per-source settings (Rebilly's per-source match priority).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePolicy {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Lower sorts first among hits of equal decision weight (1 = highest priority).
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Overrides the policy's match threshold for this source.
    #[serde(default)]
    pub match_threshold: Option<u8>,
}

fn yes() -> bool {
    true
}
fn default_priority() -> u8 {
    5
}

impl Default for SourcePolicy {
    fn default() -> Self {
        SourcePolicy { enabled: true, priority: default_priority(), match_threshold: None }
    }
}

/// The complete screening policy. Every field has a default, so `{}` is a valid policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub match_weights: MatchWeights,
    /// Hits at or above are possible matches; below, automatic false positives. 0-100.
    pub match_threshold: u8,
    pub risk_weights: RiskWeights,
    /// Approve automatically when every possible match's risk is below this (and none is a
    /// sanction).
    pub approve_below: u8,
    pub decline_threshold: u8,
    pub auto_decline: AutoDecline,
    /// Strict matching (Smile ID `strict_match`, default true) accepts spelling noise only;
    /// lenient matching also credits sounds-alike name parts and looser birth years.
    pub strict: bool,
    pub country_confidence: CountryConfidence,
    /// Categories screened; entities in none of them are skipped.
    pub categories: Vec<Category>,
    /// Per-source overrides, keyed by list name.
    pub sources: BTreeMap<String, SourcePolicy>,
    /// Most hits reported per query (best first).
    pub max_hits: u16,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            match_weights: MatchWeights::default(),
            match_threshold: 93,
            risk_weights: RiskWeights::default(),
            approve_below: 40,
            decline_threshold: 90,
            auto_decline: AutoDecline::GoldenKey,
            strict: true,
            country_confidence: CountryConfidence::default(),
            categories: vec![
                Category::Sanction,
                Category::Pep1,
                Category::Pep2,
                Category::Pep3,
                Category::Pep4,
                Category::Pep,
                Category::Enforcement,
                Category::Debarment,
            ],
            sources: BTreeMap::new(),
            max_hits: 20,
        }
    }
}

impl Policy {
    /// Checks the invariants the scores rely on.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let w = self.match_weights;
        let sum = u32::from(w.name) + u32::from(w.dob) + u32::from(w.country);
        if sum != 100 {
            return Err(PolicyError::MatchWeightsSum { name: w.name, dob: w.dob, country: w.country, sum });
        }
        let r = self.risk_weights;
        let sum = u32::from(r.category) + u32::from(r.country) + u32::from(r.criminal);
        if sum != 100 {
            return Err(PolicyError::RiskWeightsSum {
                category: r.category,
                country: r.country,
                criminal: r.criminal,
                sum,
            });
        }
        let range = |field: &'static str, value: u8, min: u32, max: u32| {
            if (min..=max).contains(&u32::from(value)) {
                Ok(())
            } else {
                Err(PolicyError::OutOfRange { field, value: u32::from(value), min, max })
            }
        };
        // A threshold below 50 would flag names that share little more than a token.
        range("match_threshold", self.match_threshold, 50, 100)?;
        range("approve_below", self.approve_below, 0, 100)?;
        range("decline_threshold", self.decline_threshold, 1, 100)?;
        range("country_confidence.matching", self.country_confidence.matching, 0, 100)?;
        range("country_confidence.mismatching", self.country_confidence.mismatching, 0, 100)?;
        if let Some(n) = self.country_confidence.none {
            range("country_confidence.none", n, 0, 100)?;
        }
        for sp in self.sources.values() {
            if let Some(t) = sp.match_threshold {
                range("sources.match_threshold", t, 50, 100)?;
            }
        }
        if self.max_hits == 0 || self.max_hits > 100 {
            return Err(PolicyError::OutOfRange {
                field: "max_hits",
                value: u32::from(self.max_hits),
                min: 1,
                max: 100,
            });
        }
        if self.approve_below >= self.decline_threshold {
            return Err(PolicyError::Thresholds {
                approve_below: self.approve_below,
                decline_threshold: self.decline_threshold,
            });
        }
        if self.categories.is_empty() {
            return Err(PolicyError::NoCategories);
        }
        Ok(())
    }

    pub(crate) fn source(&self, name: &str) -> SourcePolicy {
        self.sources.get(name).cloned().unwrap_or_default()
    }

    pub(crate) fn threshold_for(&self, source: &str) -> u8 {
        self.sources.get(source).and_then(|s| s.match_threshold).unwrap_or(self.match_threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_empty_object_is_default() {
        Policy::default().validate().unwrap();
        let p: Policy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, Policy::default());
    }

    #[test]
    fn weights_must_sum_to_100() {
        let p = Policy { match_weights: MatchWeights { name: 60, dob: 25, country: 20 }, ..Policy::default() };
        let e = p.validate().unwrap_err();
        assert_eq!(e.code(), "policy_match_weights");
        assert!(e.to_string().contains("= 105"));
        let p = Policy { risk_weights: RiskWeights { category: 50, country: 30, criminal: 10 }, ..Policy::default() };
        assert_eq!(p.validate().unwrap_err().code(), "policy_risk_weights");
    }

    #[test]
    fn ranges_and_thresholds() {
        let p = Policy { match_threshold: 101, ..Policy::default() };
        assert_eq!(p.validate().unwrap_err().code(), "policy_out_of_range");
        let p = Policy { approve_below: 95, ..Policy::default() };
        assert_eq!(p.validate().unwrap_err().code(), "policy_thresholds");
        let p = Policy { categories: vec![], ..Policy::default() };
        assert_eq!(p.validate().unwrap_err(), PolicyError::NoCategories);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<Policy>(r#"{"match_treshold": 90}"#).is_err());
    }
}
