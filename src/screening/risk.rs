//! Risk score of a listed entity: how risky it is if the match is true.
//!
//! risk = category × w_category + country risk × w_country + criminal × w_criminal, each factor
//! 0-100. The tables are deliberately small and documented so an officer can argue with them.

use crate::lists::{Category, Entity};

use super::policy::RiskWeights;

/// Category factor: how severe the strongest listing reason is.
pub fn category_factor(categories: &[Category]) -> u8 {
    categories
        .iter()
        .map(|c| match c {
            Category::Sanction => 100,
            Category::Pep1 => 90,
            Category::Enforcement => 80,
            Category::Pep2 => 75,
            Category::Pep => 70,
            Category::Debarment => 65,
            Category::AdverseMedia => 60,
            Category::Pep3 => 55,
            Category::Pep4 => 45,
            Category::Soe => 40,
        })
        .max()
        .unwrap_or(0)
}

/// Country risk: jurisdictions under FATF's call for action (high-risk, "black list"),
/// comprehensive sanctions programmes, and FATF increased monitoring ("grey list"), as
/// published by FATF in June 2025. Everything else scores 20: being listed anywhere is a risk.
pub fn country_factor(iso2: &str) -> u8 {
    match iso2 {
        // FATF call for action.
        "KP" | "IR" | "MM" => 100,
        // Comprehensive or near-comprehensive sanctions programmes.
        "CU" | "SY" | "RU" | "BY" | "VE" | "AF" => 85,
        // FATF increased monitoring.
        "DZ" | "AO" | "BO" | "BG" | "BF" | "CM" | "CI" | "HR" | "CD" | "HT" | "KE" | "LA" | "LB" | "MC" | "MZ"
        | "NA" | "NP" | "NG" | "ZA" | "SS" | "VN" | "YE" | "VG" => 65,
        _ => 20,
    }
}

/// Sanctions programmes about terrorism, narcotics, organised crime or cybercrime: criminal
/// conduct rather than state policy.
fn is_criminal_program(p: &str) -> bool {
    let p = p.as_bytes();
    [
        "SDGT",
        "SDNT",
        "SDNTK",
        "FTO",
        "TCO",
        "CYBER",
        "ILLICIT-DRUGS",
        "TERR",
        "TAQA",
        "ISIL",
        "QDI",
        "QDE",
        "NARCO",
        "HAM",
    ]
    .iter()
    .any(|k| p.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k.as_bytes())))
}

/// Criminal/enforcement factor: enforcement listings and crime-related programmes.
pub fn criminal_factor(entity: &Entity) -> u8 {
    if entity.categories.contains(&Category::Enforcement) || entity.programs.iter().any(|p| is_criminal_program(p)) {
        100
    } else if entity.categories.contains(&Category::Sanction) || entity.categories.contains(&Category::Debarment) {
        40
    } else {
        0
    }
}

/// The factors of one entity's risk score, kept for the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RiskFactors {
    pub category: u8,
    pub country: u8,
    pub criminal: u8,
}

impl RiskFactors {
    pub fn of(entity: &Entity) -> RiskFactors {
        let country =
            entity.nationalities.iter().chain(&entity.countries).map(|c| country_factor(c)).max().unwrap_or(20);
        RiskFactors { category: category_factor(&entity.categories), country, criminal: criminal_factor(entity) }
    }

    /// Weighted risk score 0-100.
    pub fn score(&self, w: RiskWeights) -> u8 {
        let total = u32::from(self.category) * u32::from(w.category)
            + u32::from(self.country) * u32::from(w.country)
            + u32::from(self.criminal) * u32::from(w.criminal);
        ((total + 50) / 100).min(100) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::EntityKind;

    #[test]
    fn sanctioned_terrorist_in_high_risk_country_scores_high() {
        let mut e = Entity::new("x", "1", EntityKind::Person);
        e.add_category(Category::Sanction);
        e.add_program("SDGT");
        e.add_nationality("IR");
        let f = RiskFactors::of(&e);
        assert_eq!(f, RiskFactors { category: 100, country: 100, criminal: 100 });
        assert_eq!(f.score(RiskWeights::default()), 100);
    }

    #[test]
    fn crime_related_programmes_are_found_in_any_case_and_inside_longer_names() {
        for (program, criminal) in
            [("sdgt", true), ("[SDNTK]", true), ("Illicit-Drugs-EO14059", true), ("RUSSIA-EO14024", false), ("", false)]
        {
            assert_eq!(is_criminal_program(program), criminal, "{program}");
        }
        // Non-ASCII text around a keyword does not hide it.
        assert!(is_criminal_program("Тerrorism / TERR"));
    }

    #[test]
    fn local_pep_scores_low() {
        let mut e = Entity::new("x", "2", EntityKind::Person);
        e.add_category(Category::Pep3);
        e.add_nationality("FR");
        let s = RiskFactors::of(&e).score(RiskWeights::default());
        assert_eq!(s, 34);
    }
}
