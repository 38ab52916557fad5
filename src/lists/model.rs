//! The one entity model every list importer produces.
//!
//! Importers keep what the list says and nothing more: a field the source does not carry stays
//! empty rather than guessed. Matching-oriented forms (normalized names, phonetic keys) are not
//! stored here; the screening index derives them, so a list can be re-indexed under a new
//! normalization without re-importing it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of thing a listed entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Person,
    Organization,
    Vessel,
    Aircraft,
    /// A bare crypto address list entry whose holder type the source does not give.
    Unknown,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Organization => "organization",
            EntityKind::Vessel => "vessel",
            EntityKind::Aircraft => "aircraft",
            EntityKind::Unknown => "unknown",
        }
    }
}

/// How a name relates to the entity, as the list states it. Ordered strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    /// The list's main name for the entry.
    Primary,
    /// A strong alias ("a.k.a.", good-quality alias).
    Alias,
    /// A weak or low-quality alias (OFAC "weak aka", UN quality "Low", FtM `weakAlias`).
    Weak,
    /// A former name ("f.k.a.", FtM `previousName`).
    Former,
}

/// One name of a listed entity, exactly as the list spells it (any script).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityName {
    pub value: String,
    pub kind: NameKind,
}

/// A date that may be known only to the year or month, as lists often give birth dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartialDate {
    pub year: u16,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

impl PartialDate {
    pub fn year(year: u16) -> Self {
        PartialDate { year, month: None, day: None }
    }

    /// Builds a date after checking its parts are in range (no calendar check beyond 1..=31).
    pub fn new(year: u16, month: Option<u8>, day: Option<u8>) -> Option<Self> {
        if !(1000..=2999).contains(&year) {
            return None;
        }
        if month.is_some_and(|m| !(1..=12).contains(&m)) {
            return None;
        }
        if day.is_some_and(|d| month.is_none() || !(1..=31).contains(&d)) {
            return None;
        }
        Some(PartialDate { year, month, day })
    }

    /// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (ISO 8601 partial dates, as FtM and our API use).
    pub fn parse_iso(s: &str) -> Option<Self> {
        let s = s.trim();
        let mut parts = s.split('-');
        let year_s = parts.next()?;
        if year_s.len() != 4 || !year_s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: u16 = year_s.parse().ok()?;
        let month = match parts.next() {
            None => None,
            Some(m) if m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()) => Some(m.parse().ok()?),
            Some(_) => return None,
        };
        let day = match parts.next() {
            None => None,
            Some(d) if d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit()) => Some(d.parse().ok()?),
            Some(_) => return None,
        };
        if parts.next().is_some() {
            return None;
        }
        PartialDate::new(year, month, day)
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
            if let Some(d) = self.day {
                write!(f, "-{d:02}")?;
            }
        }
        Ok(())
    }
}

impl TryFrom<String> for PartialDate {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        PartialDate::parse_iso(&s).ok_or_else(|| format!("invalid date `{s}`: expected YYYY, YYYY-MM or YYYY-MM-DD"))
    }
}

impl From<PartialDate> for String {
    fn from(d: PartialDate) -> String {
        d.to_string()
    }
}

/// The kind of an identity document or registration number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Passport,
    NationalId,
    TaxId,
    Registration,
    Other,
}

/// A document number as published, with the issuing country when the list gives one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub kind: DocumentKind,
    pub number: String,
    /// ISO 3166-1 alpha-2, upper case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A crypto wallet address with its chain/currency ticker as OFAC spells it (XBT, ETH, USDT, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    pub chain: String,
    pub address: String,
}

/// Why an entity is listed. Drives the risk score and which categories a policy screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Sanction,
    /// Politically exposed person; level 1 (heads of state) to 4 (relatives and close associates).
    #[serde(rename = "pep-1")]
    Pep1,
    #[serde(rename = "pep-2")]
    Pep2,
    #[serde(rename = "pep-3")]
    Pep3,
    #[serde(rename = "pep-4")]
    Pep4,
    /// PEP whose level the source does not give.
    Pep,
    AdverseMedia,
    /// Warnings and regulatory enforcement, including criminal wanted lists.
    Enforcement,
    /// Export-control and debarment lists (BIS entity list, denied persons, ITAR debarred).
    Debarment,
    /// State-owned enterprise.
    Soe,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Sanction,
        Category::Pep1,
        Category::Pep2,
        Category::Pep3,
        Category::Pep4,
        Category::Pep,
        Category::AdverseMedia,
        Category::Enforcement,
        Category::Debarment,
        Category::Soe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sanction => "sanction",
            Category::Pep1 => "pep-1",
            Category::Pep2 => "pep-2",
            Category::Pep3 => "pep-3",
            Category::Pep4 => "pep-4",
            Category::Pep => "pep",
            Category::AdverseMedia => "adverse-media",
            Category::Enforcement => "enforcement",
            Category::Debarment => "debarment",
            Category::Soe => "soe",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn is_pep(self) -> bool {
        matches!(self, Category::Pep | Category::Pep1 | Category::Pep2 | Category::Pep3 | Category::Pep4)
    }

    /// PEP level 1-4 when known.
    pub fn pep_level(self) -> Option<u8> {
        match self {
            Category::Pep1 => Some(1),
            Category::Pep2 => Some(2),
            Category::Pep3 => Some(3),
            Category::Pep4 => Some(4),
            _ => None,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
}

/// One listed entity, from any source, in one shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Canonical id `<source>:<native id>`, e.g. `us_ofac_sdn:306`.
    pub id: String,
    /// The list name the operator gave (the source part of `id`).
    pub source: String,
    /// The list's own identifier for the entry.
    pub native_id: String,
    pub kind: EntityKind,
    /// First name is the primary one when the list has one.
    pub names: Vec<EntityName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub birth_dates: Vec<PartialDate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub birth_places: Vec<String>,
    /// Nationalities and citizenships, ISO 3166-1 alpha-2 upper case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nationalities: Vec<String>,
    /// Other linked countries (residence, address, jurisdiction, flag), ISO alpha-2 upper case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<Document>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wallets: Vec<Wallet>,
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Public positions held (PEP lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_on: Option<PartialDate>,
}

impl Entity {
    /// An empty entity with its identity set; importers fill in the rest.
    pub fn new(source: &str, native_id: &str, kind: EntityKind) -> Self {
        Entity {
            id: format!("{source}:{native_id}"),
            source: source.to_string(),
            native_id: native_id.to_string(),
            kind,
            names: Vec::new(),
            birth_dates: Vec::new(),
            birth_places: Vec::new(),
            nationalities: Vec::new(),
            countries: Vec::new(),
            documents: Vec::new(),
            wallets: Vec::new(),
            categories: Vec::new(),
            programs: Vec::new(),
            gender: None,
            addresses: Vec::new(),
            positions: Vec::new(),
            listed_on: None,
        }
    }

    /// The primary name, or the first name the list gives.
    pub fn primary_name(&self) -> Option<&str> {
        self.names.iter().find(|n| n.kind == NameKind::Primary).or_else(|| self.names.first()).map(|n| n.value.as_str())
    }

    /// Adds a name unless the same spelling is already there (keeps the stronger kind).
    pub fn add_name(&mut self, value: &str, kind: NameKind) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        if let Some(existing) = self.names.iter_mut().find(|n| n.value == value) {
            if kind_rank(kind) < kind_rank(existing.kind) {
                existing.kind = kind;
            }
            return;
        }
        self.names.push(EntityName { value: value.to_string(), kind });
    }

    pub fn add_birth_date(&mut self, d: PartialDate) {
        push_unique(&mut self.birth_dates, d);
    }

    pub fn add_nationality(&mut self, iso2: &str) {
        push_unique(&mut self.nationalities, iso2.to_ascii_uppercase());
    }

    pub fn add_country(&mut self, iso2: &str) {
        push_unique(&mut self.countries, iso2.to_ascii_uppercase());
    }

    pub fn add_category(&mut self, c: Category) {
        push_unique(&mut self.categories, c);
    }

    pub fn add_program(&mut self, p: &str) {
        let p = p.trim();
        if !p.is_empty() {
            push_unique(&mut self.programs, p.to_string());
        }
    }

    pub fn add_document(&mut self, kind: DocumentKind, number: &str, country: Option<&str>) {
        let number = number.trim();
        if number.is_empty() {
            return;
        }
        let doc = Document { kind, number: number.to_string(), country: country.map(|c| c.to_ascii_uppercase()) };
        if !self.documents.iter().any(|d| d.number == doc.number && d.kind == doc.kind) {
            self.documents.push(doc);
        }
    }

    pub fn add_wallet(&mut self, chain: &str, address: &str) {
        let address = address.trim();
        if address.is_empty() {
            return;
        }
        let w = Wallet { chain: chain.trim().to_ascii_uppercase(), address: address.to_string() };
        if !self.wallets.iter().any(|x| x.address.eq_ignore_ascii_case(&w.address)) {
            self.wallets.push(w);
        }
    }
}

/// Helpers added for the importers (additive; the fields above are unchanged).
impl Entity {
    pub fn add_birth_place(&mut self, place: &str) {
        let place = place.trim();
        if !place.is_empty() {
            push_unique(&mut self.birth_places, place.to_string());
        }
    }

    pub fn add_address(&mut self, address: &str) {
        let address = address.trim();
        if !address.is_empty() {
            push_unique(&mut self.addresses, address.to_string());
        }
    }

    pub fn add_position(&mut self, position: &str) {
        let position = position.trim();
        if !position.is_empty() {
            push_unique(&mut self.positions, position.to_string());
        }
    }

    /// Keeps the earliest listing date when a list gives several.
    pub fn set_listed_on(&mut self, d: PartialDate) {
        if self.listed_on.is_none_or(|old| d < old) {
            self.listed_on = Some(d);
        }
    }

    /// An IMO number (vessels, and shipping companies' IMO company numbers), stored as a
    /// [`DocumentKind::Registration`] document in one canonical form, `IMO` + 7 digits, whatever
    /// the list wrote (`IMO 9283007`, `9283007`, `IMO: 9283007`). Other text is kept as given.
    pub fn add_imo(&mut self, number: &str) {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if digits.len() == 7 {
            self.add_document(DocumentKind::Registration, &format!("IMO{digits}"), None);
        } else {
            self.add_document(DocumentKind::Registration, number, None);
        }
    }
}

/// Splits a published name that carries its own variants in parentheses, as EU annexes do:
/// `Alexander (Alexandr) Petrovich KALASHNIKOV`, `Captain Aboubacar Chérif (alias Toumba)
/// DIAKITÉ`, `Islamic Revolutionary Guard Corps (IRGC)`. Returns the name without the
/// parenthesised parts, then each variant: a one-word alternative replaces the word before
/// the parenthesis; a longer text or an acronym stands as a name of its own.
pub fn name_variants(raw: &str) -> (String, Vec<String>) {
    let mut base = String::with_capacity(raw.len());
    let mut groups: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in raw.chars() {
        match c {
            '(' => {
                depth += 1;
                if depth == 1 {
                    current.clear();
                    continue;
                }
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    groups.push((base.trim_end().len(), current.trim().to_string()));
                    continue;
                }
            }
            _ => {}
        }
        if depth > 0 {
            current.push(c);
        } else {
            base.push(c);
        }
    }
    let primary = base.split_whitespace().collect::<Vec<_>>().join(" ");
    if groups.is_empty() || primary.is_empty() {
        return (raw.trim().to_string(), Vec::new());
    }
    let mut variants = Vec::new();
    for (pos, content) in groups {
        let before = &base[..pos.min(base.len())];
        let after = &base[pos.min(base.len())..];
        let prev_word = before.split_whitespace().last();
        for alt in content.split([',', ';']) {
            let alt = alt.trim();
            let alt = ["a.k.a.", "a.k.a", "aka", "alias", "also", "f.k.a.", "formerly"]
                .iter()
                .find_map(|p| alt.strip_prefix(p))
                .unwrap_or(alt)
                .trim();
            if alt.is_empty() {
                continue;
            }
            let one_word = !alt.contains(char::is_whitespace);
            let acronym = one_word && alt.chars().filter(|c| c.is_alphabetic()).all(|c| c.is_uppercase());
            match prev_word {
                Some(w) if one_word && !acronym => {
                    let head = &before[..before.len() - w.len()];
                    let v = format!("{head}{alt}{after}");
                    variants.push(v.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                _ => variants.push(alt.to_string()),
            }
        }
    }
    (primary, variants)
}

fn kind_rank(k: NameKind) -> u8 {
    match k {
        NameKind::Primary => 0,
        NameKind::Alias => 1,
        NameKind::Former => 2,
        NameKind::Weak => 3,
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_parse_and_print() {
        assert_eq!(PartialDate::parse_iso("1962"), Some(PartialDate::year(1962)));
        assert_eq!(PartialDate::parse_iso("1962-11").unwrap().to_string(), "1962-11");
        assert_eq!(PartialDate::parse_iso("1962-11-23").unwrap().to_string(), "1962-11-23");
        for bad in ["", "62", "1962-13", "1962-1-2", "1962-11-32", "abcd", "1962-11-23-1", "0999"] {
            assert_eq!(PartialDate::parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn add_name_keeps_strongest_kind_and_dedups() {
        let mut e = Entity::new("x", "1", EntityKind::Person);
        e.add_name("A B", NameKind::Weak);
        e.add_name("A B", NameKind::Primary);
        e.add_name("  ", NameKind::Alias);
        assert_eq!(e.names.len(), 1);
        assert_eq!(e.names[0].kind, NameKind::Primary);
        assert_eq!(e.id, "x:1");
    }

    #[test]
    fn parenthesised_variants_are_split() {
        let (p, v) = name_variants("Alexander (Alexandr) Petrovich KALASHNIKOV");
        assert_eq!(p, "Alexander Petrovich KALASHNIKOV");
        assert_eq!(v, ["Alexandr Petrovich KALASHNIKOV"]);
        let (p, v) = name_variants("Abdel Karim Mahmoud (Mahmood, Mohammad) IBRAHIM");
        assert_eq!(p, "Abdel Karim Mahmoud IBRAHIM");
        assert_eq!(v, ["Abdel Karim Mahmood IBRAHIM", "Abdel Karim Mohammad IBRAHIM"]);
        let (p, v) = name_variants("Islamic Revolutionary Guard Corps (IRGC)");
        assert_eq!(p, "Islamic Revolutionary Guard Corps");
        assert_eq!(v, ["IRGC"]);
        let (p, v) = name_variants("Captain Aboubacar Chérif (alias Toumba) DIAKITÉ");
        assert_eq!(p, "Captain Aboubacar Chérif DIAKITÉ");
        assert_eq!(v, ["Captain Aboubacar Toumba DIAKITÉ"]);
        let (p, v) = name_variants("Plain Name");
        assert_eq!((p.as_str(), v.len()), ("Plain Name", 0));
        // Unbalanced parentheses: kept as published.
        let (p, v) = name_variants("Unbalanced (name");
        assert_eq!(p, "Unbalanced (name");
        assert!(v.is_empty());
        assert_eq!(name_variants("(only)").0, "(only)");
    }

    #[test]
    fn categories_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(j, format!("\"{}\"", c.as_str()));
        }
    }
}
