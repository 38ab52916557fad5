//! A deterministic synthetic watchlist of any size, for benchmarks at scales the real lists
//! do not reach (1,000,000 entities).
//!
//! Names are built from syllables with a skewed (Zipf-like) choice, so a few given names and
//! surnames are very common and most are rare, as in real lists: the common ones stress the
//! candidate index with long postings, the rare ones give it a large vocabulary.

use crate::lists::{
    Category, DocumentKind, Entity, EntityKind, ListFormat, ListMeta, LoadedList, NameKind, PartialDate,
};

use super::eval::Rng;

const ONSETS: &[&str] = &[
    "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "kh", "ch", "br", "dr", "gr",
    "tr", "st", "al", "el", "as", "ab", "ya", "yu", "w", "j", "q",
];
const NUCLEI: &[&str] = &["a", "e", "i", "o", "u", "ai", "ei", "ou", "ia", "ya"];
const CODAS: &[&str] =
    &["", "", "", "n", "r", "l", "m", "s", "d", "k", "v", "ov", "in", "ez", "an", "ski", "berg", "son"];
const LEGAL_FORMS: &[&str] = &["LLC", "Ltd", "JSC", "Trading Co", "Holding", "Group", "S.A.", "GmbH", "International"];
const COUNTRIES: &[&str] = &["IR", "RU", "SY", "KP", "CN", "VE", "CU", "US", "GB", "DE", "FR", "AE", "TR", "LB", "IQ"];

/// Skewed choice in 0..n: low indices far more often.
fn zipf(rng: &mut Rng, n: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((u * u * u) * n as f64) as usize % n.max(1)
}

/// A pronounceable word from its index (same index, same word).
fn word(index: usize, syllables: usize) -> String {
    let mut r = Rng::new(index as u64 ^ 0xA5A5_5A5A);
    let mut s = String::new();
    for _ in 0..syllables {
        s.push_str(r.pick::<&str>(ONSETS));
        s.push_str(r.pick::<&str>(NUCLEI));
    }
    s.push_str(r.pick::<&str>(CODAS));
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// Builds a synthetic list of `n` entities named `synthetic`.
pub fn synthetic_list(n: usize, seed: u64) -> LoadedList {
    let mut rng = Rng::new(seed);
    let given_pool = 20_000;
    let surname_pool = (n / 3).max(1000);
    let mut entities = Vec::with_capacity(n);
    for i in 0..n {
        let id = i.to_string();
        let person = rng.below(10) < 7;
        let mut e = Entity::new("synthetic", &id, if person { EntityKind::Person } else { EntityKind::Organization });
        if person {
            let given = word(zipf(&mut rng, given_pool), 2);
            let middle = (rng.below(3) == 0).then(|| word(zipf(&mut rng, given_pool), 2));
            let surname = word(1_000_000 + zipf(&mut rng, surname_pool), 2 + rng.below(2));
            let primary = match &middle {
                Some(m) => format!("{}, {} {}", surname.to_uppercase(), given, m),
                None => format!("{}, {}", surname.to_uppercase(), given),
            };
            e.add_name(&primary, NameKind::Primary);
            if rng.below(3) == 0 {
                let alias_given = word(zipf(&mut rng, given_pool), 2);
                e.add_name(&format!("{alias_given} {surname}"), NameKind::Alias);
            }
            if rng.below(10) < 7 {
                let year = 1940 + rng.below(65) as u16;
                let d = if rng.below(2) == 0 {
                    PartialDate::new(year, Some(1 + rng.below(12) as u8), Some(1 + rng.below(28) as u8))
                } else {
                    Some(PartialDate::year(year))
                };
                if let Some(d) = d {
                    e.add_birth_date(d);
                }
            }
        } else {
            let a = word(2_000_000 + zipf(&mut rng, surname_pool), 2 + rng.below(2));
            let b = word(3_000_000 + zipf(&mut rng, surname_pool), 2);
            e.add_name(
                &format!("{} {} {}", a.to_uppercase(), b.to_uppercase(), *rng.pick(LEGAL_FORMS)),
                NameKind::Primary,
            );
            if rng.below(4) == 0 {
                e.add_name(&format!("{a} {}", *rng.pick(LEGAL_FORMS)), NameKind::Alias);
            }
        }
        e.add_nationality(rng.pick::<&str>(COUNTRIES));
        e.add_category(match rng.below(10) {
            0..=3 => Category::Sanction,
            4..=7 => [Category::Pep1, Category::Pep2, Category::Pep3, Category::Pep4][rng.below(4)],
            8 => Category::Enforcement,
            _ => Category::Debarment,
        });
        if rng.below(20) == 0 {
            e.add_document(DocumentKind::Passport, &format!("P{:08}", rng.next_u64() % 100_000_000), None);
        }
        if rng.below(100) == 0 {
            e.add_wallet(
                "ETH",
                &format!("0x{:016x}{:016x}{:08x}", rng.next_u64(), rng.next_u64(), rng.next_u64() as u32),
            );
        }
        entities.push(e);
    }
    let meta = ListMeta {
        name: "synthetic".into(),
        format: ListFormat::Custom,
        path: format!("synthetic:{n}:{seed}"),
        entity_count: entities.len(),
        content_hash: format!("synthetic:{n}:{seed}"),
        list_date: None,
        loaded_at: String::new(),
    };
    LoadedList { meta, entities }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped_like_a_list() {
        let a = synthetic_list(2000, 7);
        let b = synthetic_list(2000, 7);
        assert_eq!(a.entities, b.entities);
        assert_eq!(a.entities.len(), 2000);
        let persons = a.entities.iter().filter(|e| e.kind == EntityKind::Person).count();
        assert!((1200..1600).contains(&persons), "{persons}");
        assert!(a.entities.iter().all(|e| !e.names.is_empty() && !e.categories.is_empty()));
    }
}
