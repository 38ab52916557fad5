//! A labelled test set built from the loaded lists, and the measurement of the engine on it.
//!
//! Positives are listed entities queried the way real KYC data spells them: typos, reordered
//! names, aliases, other scripts, diacritics, initials, company suffix changes, dropped
//! middle names, joined tokens, and golden keys (document numbers, wallets). Negatives are
//! ordinary names from many locales, and hard negatives that share a surname with a listed
//! person. Everything is derived deterministically from a seed, so a run is repeatable and
//! nothing from the lists needs to be committed.
//!
//! Index recall is measured too: every positive the engine misses is re-scored against every
//! listed name; a miss that the exhaustive scan would have caught is a loss to the index.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::lists::{Entity, EntityKind, NameKind};

use super::normalize::{NameContext, analyze, fold};
use super::{Policy, Query, SubjectType, Watchlists};

/// A small deterministic PRNG (SplitMix64): repeatable test sets without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The kinds of labelled queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    Exact,
    Reordered,
    Typo,
    Alias,
    Cyrillic,
    Greek,
    Arabic,
    OriginalScript,
    Diacritics,
    Initials,
    CompanySuffix,
    DroppedMiddleName,
    JoinedTokens,
    DocumentNumber,
    WalletAddress,
    OrdinaryNegative,
    HardNegative,
    /// Ordinary negatives written in Cyrillic, Greek or Arabic script: what cross-script
    /// matching costs in false positives.
    ScriptNegative,
}

impl Variant {
    pub fn is_negative(self) -> bool {
        matches!(self, Variant::OrdinaryNegative | Variant::HardNegative | Variant::ScriptNegative)
    }
    pub fn is_golden(self) -> bool {
        matches!(self, Variant::DocumentNumber | Variant::WalletAddress)
    }
}

/// One labelled query.
#[derive(Debug, Clone, Serialize)]
pub struct Labelled {
    pub variant: Variant,
    pub query: Query,
    /// The entity a positive must find; `None` for negatives.
    pub expected: Option<String>,
}

/// Per-variant outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VariantScore {
    pub queries: usize,
    /// Positives: expected entity flagged. Negatives: nothing flagged.
    pub correct: usize,
    /// Positives missed by the index but found by an exhaustive scan.
    pub lost_to_index: usize,
    pub rate: f64,
}

/// The measurement report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub variants: BTreeMap<Variant, VariantScore>,
    /// Recall over all name variants (not golden keys).
    pub name_recall: f64,
    pub golden_recall: f64,
    pub ordinary_fp_rate: f64,
    pub hard_fp_rate: f64,
    /// False positives on ordinary negatives written in Cyrillic, Greek or Arabic script.
    pub script_fp_rate: f64,
    /// Share of positives found by the exhaustive scan that the index also found.
    pub index_recall: f64,
    /// A few misses and false positives, for tuning.
    pub examples: Vec<String>,
}

/// How many queries per variant to draw.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub per_variant: usize,
    pub negatives: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes { per_variant: 300, negatives: 2000 }
    }
}

fn is_latin(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii() || !c.is_alphabetic() || (c as u32) < 0x250)
}

fn latin_names(e: &Entity) -> Vec<&str> {
    e.names.iter().filter(|n| n.kind != NameKind::Weak && is_latin(&n.value)).map(|n| n.value.as_str()).collect()
}

/// "SURNAME, Given" as the query side usually writes it: "Given Surname".
fn natural_order(name: &str) -> String {
    match name.split_once(',') {
        Some((last, first)) if !first.trim().is_empty() => format!("{} {}", first.trim(), last.trim()),
        _ => name.to_string(),
    }
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

fn subject_type(e: &Entity) -> SubjectType {
    if e.kind == EntityKind::Person { SubjectType::Person } else { SubjectType::Organization }
}

fn typo(word: &str, rng: &mut Rng) -> String {
    let mut c: Vec<char> = word.chars().collect();
    if c.len() < 5 {
        return word.to_string();
    }
    // Never touch the first letter: real typos rarely do, and it keeps the variant honest.
    let i = 1 + rng.below(c.len() - 2);
    match rng.below(4) {
        0 => {
            c.remove(i);
        }
        1 => c.swap(i, i + 1),
        2 => {
            let x = c[i];
            c.insert(i, x);
        }
        _ => {
            let pool = ['a', 'e', 'i', 'o', 'u', 'n', 'r', 's', 't', 'l'];
            let mut r = *rng.pick(&pool);
            if r.eq_ignore_ascii_case(&c[i]) {
                r = if r == 'a' { 'e' } else { 'a' };
            }
            c[i] = r;
        }
    }
    c.into_iter().collect()
}

fn is_vowel(c: u8) -> bool {
    b"aeiou".contains(&c)
}

/// Latin to Cyrillic the way a Russian text would spell a foreign name: by sound, not letter
/// by letter where Russian spelling differs ("c" before e/i is "с", "y" after a consonant is
/// a vowel, "ou" is "у", a word-initial "e" is "э").
fn to_cyrillic(s: &str) -> String {
    let lower = fold(s);
    let b = lower.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let three = lower.get(i..i + 3).unwrap_or("");
        let two = lower.get(i..i + 2).unwrap_or("");
        let word_start = i == 0 || b[i - 1] == b' ';
        let (t, n) = match (three, two) {
            ("sch", _) => ("ш", 3),
            (_, "zh") => ("ж", 2),
            (_, "kh") => ("х", 2),
            (_, "gh") => ("г", 2),
            (_, "ph") => ("ф", 2),
            (_, "th") => ("т", 2),
            (_, "ts") => ("ц", 2),
            (_, "ch") => ("ч", 2),
            (_, "sh") => ("ш", 2),
            (_, "yu") => ("ю", 2),
            (_, "ya") => ("я", 2),
            (_, "yo") => ("ё", 2),
            (_, "ee") => ("и", 2),
            (_, "oo" | "ou") => ("у", 2),
            (_, "ck") => ("к", 2),
            _ => (
                match b[i] {
                    b'a' => "а",
                    b'b' => "б",
                    b'v' | b'w' => "в",
                    b'g' => "г",
                    b'd' => "д",
                    b'e' if word_start => "э",
                    b'e' => "е",
                    b'z' => "з",
                    b'i' => "и",
                    // A semivowel at a word start or after a vowel, a vowel after a consonant
                    // ("Myint" is "Мьинт"/"Миинт", never "Мйинт").
                    b'y' if word_start || is_vowel(b[i - 1]) => "й",
                    b'y' => "и",
                    b'j' => "дж",
                    b'c' if matches!(b.get(i + 1), Some(b'e' | b'i' | b'y')) => "с",
                    b'k' | b'c' | b'q' => "к",
                    b'l' => "л",
                    b'm' => "м",
                    b'n' => "н",
                    b'o' => "о",
                    b'p' => "п",
                    b'r' => "р",
                    b's' => "с",
                    b't' => "т",
                    b'u' => "у",
                    b'f' => "ф",
                    b'h' => "х",
                    b'x' => "кс",
                    b' ' => " ",
                    _ => "",
                },
                1,
            ),
        };
        out.push_str(t);
        i += n;
    }
    out
}

/// Latin to Greek the way Greek writes foreign names: b, d, j as "μπ", "ντ", "τζ", no h, w as
/// "ου", "oo" as "ου", "ee" as "ι", final sigma "ς". A doubled b, d or j is written once
/// (Greek doubles single letters, never these digraphs).
fn to_greek(s: &str) -> String {
    let lower = fold(s);
    let b = lower.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let two = if i + 1 < b.len() { &lower[i..i + 2] } else { "" };
        let (t, n) = match two {
            "ch" | "kh" => ("χ", 2),
            "ps" => ("ψ", 2),
            "th" => ("θ", 2),
            "ph" => ("φ", 2),
            "ou" | "oo" => ("ου", 2),
            "ee" => ("ι", 2),
            "bb" => ("μπ", 2),
            "dd" => ("ντ", 2),
            "jj" => ("τζ", 2),
            _ => (
                match b[i] {
                    b'a' => "α",
                    b'b' => "μπ",
                    b'v' => "β",
                    b'w' => "ου",
                    b'g' => "γ",
                    b'd' => "ντ",
                    b'e' => "ε",
                    b'z' => "ζ",
                    b'i' | b'y' => "ι",
                    b'c' if matches!(b.get(i + 1), Some(b'e' | b'i' | b'y')) => "σ",
                    b'k' | b'c' | b'q' => "κ",
                    b'l' => "λ",
                    b'm' => "μ",
                    b'n' => "ν",
                    b'x' => "ξ",
                    b'o' => "ο",
                    b'p' => "π",
                    b'r' => "ρ",
                    b's' if i + 1 == b.len() || b[i + 1] == b' ' => "ς",
                    b's' => "σ",
                    b't' => "τ",
                    b'u' => "ου",
                    b'f' => "φ",
                    b'j' => "τζ",
                    b'h' => "",
                    b' ' => " ",
                    _ => "",
                },
                1,
            ),
        };
        out.push_str(t);
        i += n;
    }
    out
}

/// Latin to Arabic script the way Arabic writes Arabic names: short vowels unwritten,
/// long (doubled) and final vowels and diphthongs ("ai", "au") written as letters, a doubled
/// consonant written once (shadda).
fn to_arabic(s: &str) -> String {
    let lower = fold(s);
    let mut out = String::new();
    for (wi, word) in lower.split(' ').enumerate() {
        if wi > 0 {
            out.push(' ');
        }
        let b = word.as_bytes();
        let mut i = 0;
        // The letter just written, for doubled consonants; an unwritten short vowel between
        // two equal consonants keeps both ("Hanan" is "حنان"/"حنن", not "حن").
        let mut prev: Option<&str> = None;
        while i < b.len() {
            let two = word.get(i..i + 2).unwrap_or("");
            let last = i + 1 == b.len();
            let (t, n): (&str, usize) = match two {
                "sh" => ("ش", 2),
                "kh" => ("خ", 2),
                "th" => ("ث", 2),
                "dh" => ("ذ", 2),
                "gh" => ("غ", 2),
                "ch" => ("تش", 2),
                "aa" => ("ا", 2),
                "ee" | "ii" => ("ي", 2),
                "oo" | "uu" | "ou" => ("و", 2),
                "ai" | "ei" if i > 0 => ("ي", 2),
                "au" if i > 0 => ("و", 2),
                _ => {
                    let c = b[i];
                    let t = if is_vowel(c) {
                        match (i == 0, last, c) {
                            (true, _, b'a') => "ا",
                            (true, _, b'e' | b'i') => "إ",
                            (true, _, _) => "أ",
                            (false, true, b'a') => "ة",
                            (false, true, b'e' | b'i') => "ي",
                            (false, true, _) => "و",
                            // Short vowels inside a word are not written.
                            _ => "",
                        }
                    } else {
                        match c {
                            b'b' | b'p' => "ب",
                            b't' => "ت",
                            b'j' | b'g' => "ج",
                            b'h' => "ح",
                            b'd' => "د",
                            b'r' => "ر",
                            b'z' => "ز",
                            b'c' if matches!(b.get(i + 1), Some(b'e' | b'i' | b'y')) => "س",
                            b'c' => "ك",
                            b's' => "س",
                            b'f' | b'v' => "ف",
                            b'q' => "ق",
                            b'k' => "ك",
                            b'l' => "ل",
                            b'm' => "م",
                            b'n' => "ن",
                            b'w' => "و",
                            b'y' => "ي",
                            b'x' => "كس",
                            _ => "",
                        }
                    };
                    (t, 1)
                }
            };
            // A doubled consonant is written once.
            if !t.is_empty() && (prev != Some(t) || is_vowel(b[i])) {
                out.push_str(t);
            }
            prev = if t.is_empty() { None } else { Some(t) };
            i += n;
        }
    }
    out
}

fn add_diacritics(s: &str, rng: &mut Rng) -> String {
    let mut changed = 0;
    let out: String = s
        .chars()
        .map(|c| {
            if changed >= 2 || rng.below(3) != 0 {
                return c;
            }
            let d = match c {
                'a' => 'á',
                'e' => 'é',
                'i' => 'í',
                'o' => 'ö',
                'u' => 'ü',
                'c' => 'ç',
                'n' => 'ñ',
                's' => 'š',
                'A' => 'Á',
                'E' => 'É',
                'O' => 'Ö',
                'U' => 'Ü',
                'S' => 'Š',
                _ => c,
            };
            if d != c {
                changed += 1;
            }
            d
        })
        .collect();
    if changed == 0 { s.replacen('e', "é", 1).replacen('a', "à", 1) } else { out }
}

/// Swaps a company's legal form for an equivalent or adds one.
fn change_suffix(name: &str, rng: &mut Rng) -> String {
    const SWAPS: &[(&str, &str)] = &[
        ("LIMITED LIABILITY COMPANY", "LLC"),
        ("LLC", "Limited Liability Company"),
        ("LTD.", "Limited"),
        ("LTD", "Limited"),
        ("LIMITED", "Ltd"),
        ("CO.,", "Company"),
        ("CORPORATION", "Corp"),
        ("CORP.", "Corporation"),
        ("INC.", "Incorporated"),
        ("S.A.", "SA"),
        ("GMBH", "Gesellschaft mit beschränkter Haftung"),
        ("JSC", "Joint Stock Company"),
        ("JOINT STOCK COMPANY", "JSC"),
        ("OOO", "LLC"),
        ("PJSC", "Public Joint Stock Company"),
    ];
    let upper = name.to_uppercase();
    for (from, to) in SWAPS {
        if let Some(pos) = upper.find(from) {
            let end = pos + from.len();
            let boundary = |i: usize| i == 0 || i >= upper.len() || !upper.as_bytes()[i].is_ascii_alphanumeric();
            if boundary(pos.saturating_sub(1))
                && boundary(end)
                && name.is_char_boundary(pos)
                && name.is_char_boundary(end)
            {
                return format!("{}{}{}", &name[..pos], to, &name[end..]);
            }
        }
    }
    let add = ["Ltd", "LLC", "Inc.", "Group", "Holding Company"];
    format!("{} {}", name, rng.pick(&add))
}

/// Common given names and surnames from many locales, for negatives.
const GIVEN: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "Michael",
    "Jennifer",
    "David",
    "Linda",
    "Emily",
    "Oliver",
    "Sophie",
    "Lucas",
    "Hannah",
    "Lukas",
    "Lena",
    "Jonas",
    "Camille",
    "Louis",
    "Chloe",
    "Hugo",
    "Giulia",
    "Marco",
    "Francesca",
    "Luca",
    "Sofia",
    "Mateo",
    "Valentina",
    "Santiago",
    "Lucia",
    "Diego",
    "Carmen",
    "Pablo",
    "Ines",
    "Tiago",
    "Beatriz",
    "Joao",
    "Olga",
    "Dmitri",
    "Tatiana",
    "Sergei",
    "Anastasia",
    "Pavel",
    "Katarzyna",
    "Piotr",
    "Agnieszka",
    "Tomasz",
    "Eszter",
    "Bence",
    "Aylin",
    "Emre",
    "Zeynep",
    "Burak",
    "Fatma",
    "Mehmet",
    "Leila",
    "Omid",
    "Shirin",
    "Reza",
    "Aisha",
    "Yusuf",
    "Fatima",
    "Karim",
    "Noura",
    "Tariq",
    "Priya",
    "Arjun",
    "Ananya",
    "Rohan",
    "Kavya",
    "Vikram",
    "Wei",
    "Mei",
    "Jun",
    "Xiu",
    "Hiroshi",
    "Yuki",
    "Haruto",
    "Sakura",
    "Minjun",
    "Jiwoo",
    "Seoyeon",
    "Nguyen",
    "Linh",
    "Thanh",
    "Chinedu",
    "Ngozi",
    "Oluwaseun",
    "Amara",
    "Kwame",
    "Abena",
    "Tendai",
    "Thandiwe",
    "Sipho",
    "Nomvula",
    "Astrid",
    "Erik",
    "Ingrid",
    "Lars",
    "Freya",
    "Mikko",
    "Aino",
    "Sean",
    "Siobhan",
    "Niamh",
    "Cormac",
    "Dafydd",
    "Eilidh",
    "Kai",
    "Noa",
    "Yael",
];
const SURNAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Taylor",
    "Wilson",
    "Clarke",
    "Wright",
    "Walker",
    "Robinson",
    "Mueller",
    "Schneider",
    "Fischer",
    "Weber",
    "Becker",
    "Hoffmann",
    "Dubois",
    "Lefebvre",
    "Moreau",
    "Laurent",
    "Girard",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Garcia",
    "Martinez",
    "Lopez",
    "Sanchez",
    "Ramirez",
    "Torres",
    "Flores",
    "Silva",
    "Santos",
    "Oliveira",
    "Pereira",
    "Costa",
    "Ivanova",
    "Smirnova",
    "Kuznetsova",
    "Popova",
    "Sokolov",
    "Lebedev",
    "Kowalski",
    "Nowak",
    "Wisniewski",
    "Nagy",
    "Kovacs",
    "Yilmaz",
    "Kaya",
    "Demir",
    "Sahin",
    "Celik",
    "Hosseini",
    "Ahmadi",
    "Karimi",
    "Rahimi",
    "Haddad",
    "Khoury",
    "Nasser",
    "Saleh",
    "Mansour",
    "Sharma",
    "Patel",
    "Gupta",
    "Reddy",
    "Iyer",
    "Menon",
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Tanaka",
    "Suzuki",
    "Takahashi",
    "Watanabe",
    "Kim",
    "Park",
    "Choi",
    "Jung",
    "Tran",
    "Pham",
    "Okafor",
    "Adeyemi",
    "Okonkwo",
    "Mensah",
    "Boateng",
    "Moyo",
    "Ndlovu",
    "Dlamini",
    "Andersson",
    "Johansson",
    "Nilsson",
    "Virtanen",
    "Korhonen",
    "Murphy",
    "Kelly",
    "Byrne",
    "Jones",
    "Evans",
    "Macdonald",
    "Cohen",
    "Levi",
    "Friedman",
];

/// Builds the labelled set from the loaded lists.
pub fn build_labelled_set(lists: &Watchlists, sizes: Sizes, seed: u64) -> Vec<Labelled> {
    let mut rng = Rng::new(seed);
    let entities = lists.entities();
    let persons: Vec<&Entity> =
        entities.iter().filter(|e| e.kind == EntityKind::Person && !latin_names(e).is_empty()).collect();
    let orgs: Vec<&Entity> =
        entities.iter().filter(|e| e.kind == EntityKind::Organization && !latin_names(e).is_empty()).collect();
    let named: Vec<&Entity> = persons.iter().chain(&orgs).copied().collect();
    let mut out = Vec::new();
    let n = sizes.per_variant;
    let name_q =
        |e: &Entity, name: String| Query { name: Some(name), entity_type: Some(subject_type(e)), ..Query::default() };
    let labelled =
        |variant: Variant, e: &Entity, q: Query| Labelled { variant, query: q, expected: Some(e.id.clone()) };

    take(&mut out, n, &named, &mut rng, |e, _| {
        Some(labelled(Variant::Exact, e, name_q(e, latin_names(e)[0].to_string())))
    });
    take(&mut out, n, &persons, &mut rng, |e, _| {
        let mut w = words(latin_names(e)[0]);
        w.reverse();
        Some(labelled(Variant::Reordered, e, name_q(e, w.join(" "))))
    });
    take(&mut out, n, &named, &mut rng, |e, rng| {
        let mut w = words(&natural_order(latin_names(e)[0]));
        // The typo lands in a distinctive word (not a legal form like "LIMITED"), where a
        // misspelling changes what the name says.
        let ctx = if e.kind == EntityKind::Person { NameContext::Person } else { NameContext::Organization };
        let distinctive = |x: &str| {
            let a = analyze(x, ctx);
            a.tokens.len() == 1 && a.tokens[0].class == super::normalize::TokenClass::Normal
        };
        let (i, _) = w
            .iter()
            .enumerate()
            .filter(|(_, x)| x.chars().count() >= 5 && distinctive(x))
            .max_by_key(|(_, x)| x.len())?;
        w[i] = typo(&w[i], rng);
        Some(labelled(Variant::Typo, e, name_q(e, w.join(" "))))
    });
    take(&mut out, n, &persons, &mut rng, |e, _| {
        Some(labelled(Variant::Cyrillic, e, name_q(e, to_cyrillic(&natural_order(latin_names(e)[0])))))
    });
    take(&mut out, n, &persons, &mut rng, |e, _| {
        Some(labelled(Variant::Greek, e, name_q(e, to_greek(&natural_order(latin_names(e)[0])))))
    });
    take(&mut out, n, &persons, &mut rng, |e, _| {
        // Arabic script is how Arab, Iranian, Afghan and Pakistani documents write these
        // names; entries that already list an Arabic-script name would make it trivial.
        const ARABIC_SCRIPT: &[&str] = &[
            "AF", "DZ", "BH", "EG", "IQ", "IR", "JO", "KW", "LB", "LY", "MA", "OM", "PK", "PS", "QA", "SA", "SO", "SD",
            "SY", "TN", "AE", "YE",
        ];
        let from_region = e.nationalities.iter().chain(&e.countries).any(|c| ARABIC_SCRIPT.contains(&c.as_str()));
        if !from_region || e.names.iter().any(|n| !is_latin(&n.value)) {
            return None;
        }
        Some(labelled(Variant::Arabic, e, name_q(e, to_arabic(&natural_order(latin_names(e)[0])))))
    });
    take(&mut out, n, &named, &mut rng, |e, rng| {
        Some(labelled(Variant::Diacritics, e, name_q(e, add_diacritics(&natural_order(latin_names(e)[0]), rng))))
    });
    take(&mut out, n, &orgs, &mut rng, |e, rng| {
        Some(labelled(Variant::CompanySuffix, e, name_q(e, change_suffix(latin_names(e)[0], rng))))
    });
    take(&mut out, n, &named, &mut rng, |e, rng| {
        let aliases: Vec<&str> = e
            .names
            .iter()
            .filter(|x| {
                x.kind == NameKind::Alias && is_latin(&x.value) && analyze(&x.value, NameContext::Any).tokens.len() >= 2
            })
            .map(|x| x.value.as_str())
            .collect();
        (!aliases.is_empty()).then(|| labelled(Variant::Alias, e, name_q(e, rng.pick(&aliases).to_string())))
    });
    take(&mut out, n, &named, &mut rng, |e, rng| {
        let native: Vec<&str> = e
            .names
            .iter()
            .filter(|x| x.kind != NameKind::Weak && !is_latin(&x.value))
            .map(|x| x.value.as_str())
            .collect();
        (!native.is_empty()).then(|| labelled(Variant::OriginalScript, e, name_q(e, rng.pick(&native).to_string())))
    });
    take(&mut out, n, &persons, &mut rng, |e, _| {
        let (last, first) = latin_names(e)[0].split_once(',')?;
        let first_words = words(first);
        if first_words.is_empty() || words(last).is_empty() {
            return None;
        }
        let initials: Vec<String> =
            first_words.iter().filter_map(|w| w.chars().next()).map(|c| format!("{c}.")).collect();
        Some(labelled(Variant::Initials, e, name_q(e, format!("{} {}", initials.join(" "), last.trim()))))
    });
    // A middle name: a given name that is neither the first given name nor the surname.
    take(&mut out, n, &persons, &mut rng, |e, _| {
        let name = latin_names(e)[0];
        let (last, first) = name.split_once(',')?;
        let given = words(first);
        let informative = |x: &str| {
            analyze(x, NameContext::Person).tokens.iter().any(|t| t.class == super::normalize::TokenClass::Normal)
        };
        if given.len() < 2 || !given[1..].iter().all(|g| informative(g)) || !informative(&given[0]) {
            return None;
        }
        Some(labelled(Variant::DroppedMiddleName, e, name_q(e, format!("{} {}", given[0], last.trim()))))
    });
    // Two distinctive words written as one ("Abdulrahman" for "Abdul Rahman").
    take(&mut out, n, &named, &mut rng, |e, rng| {
        let mut w = words(&natural_order(latin_names(e)[0]));
        if w.len() < 3 {
            return None;
        }
        let i = rng.below(w.len() - 1);
        let ctx = if e.kind == EntityKind::Person { NameContext::Person } else { NameContext::Organization };
        let distinctive = |x: &str| {
            let a = analyze(x, ctx);
            a.tokens.len() == 1
                && a.tokens[0].class == super::normalize::TokenClass::Normal
                && a.tokens[0].text.len() >= 3
        };
        if !distinctive(&w[i]) || !distinctive(&w[i + 1]) {
            return None;
        }
        let joined = format!("{}{}", w[i], w[i + 1].to_lowercase());
        w.splice(i..i + 2, [joined]);
        Some(labelled(Variant::JoinedTokens, e, name_q(e, w.join(" "))))
    });
    let doc_ok = |d: &crate::lists::Document| super::normalize_document(&d.number).len() >= 5;
    let with_docs: Vec<&Entity> = entities.iter().filter(|e| e.documents.iter().any(doc_ok)).collect();
    take(&mut out, n, &with_docs, &mut rng, |e, rng| {
        let docs: Vec<&str> = e.documents.iter().filter(|d| doc_ok(d)).map(|d| d.number.as_str()).collect();
        let q = Query { document_number: Some(rng.pick(&docs).to_string()), ..Query::default() };
        Some(labelled(Variant::DocumentNumber, e, q))
    });
    let with_wallets: Vec<&Entity> = entities.iter().filter(|e| !e.wallets.is_empty()).collect();
    take(&mut out, n, &with_wallets, &mut rng, |e, rng| {
        let q = Query { wallet_address: Some(rng.pick(&e.wallets).address.clone()), ..Query::default() };
        Some(labelled(Variant::WalletAddress, e, q))
    });

    // Negatives. A generated name whose every part appears in one listed person's name
    // ("Marco Olivas Ojeda" for `OLIVAS OJEDA, Marco Antonio`) is that person's name as
    // KYC data would write it, not a negative: such draws are skipped.
    let mut postings: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, n) in persons.iter().flat_map(|e| e.names.iter()).enumerate() {
        for t in analyze(&n.value, NameContext::Person).tokens {
            let list = postings.entry(t.text).or_default();
            if list.last() != Some(&(i as u32)) {
                list.push(i as u32);
            }
        }
    }
    let is_listed = |name: &str| {
        let mut common: Option<HashSet<u32>> = None;
        for t in analyze(name, NameContext::Person).tokens {
            let ids: HashSet<u32> = postings.get(&t.text).map(|v| v.iter().copied().collect()).unwrap_or_default();
            common = Some(match common {
                None => ids,
                Some(c) => c.intersection(&ids).copied().collect(),
            });
        }
        common.is_some_and(|c| !c.is_empty())
    };
    let mut made = 0;
    let mut tries = 0;
    while made < sizes.negatives && tries < sizes.negatives * 10 {
        tries += 1;
        let name = if rng.below(4) == 0 {
            format!("{} {} {}", rng.pick(GIVEN), rng.pick(GIVEN), rng.pick(SURNAMES))
        } else {
            format!("{} {}", rng.pick(GIVEN), rng.pick(SURNAMES))
        };
        if is_listed(&name) {
            continue;
        }
        out.push(Labelled {
            variant: Variant::OrdinaryNegative,
            query: Query { name: Some(name), entity_type: Some(SubjectType::Person), ..Query::default() },
            expected: None,
        });
        made += 1;
    }
    // Hard negatives: a listed person's surname with a given name unlike any of theirs.
    let mut made = 0;
    let mut tries = 0;
    while made < sizes.negatives && tries < sizes.negatives * 20 && !persons.is_empty() {
        tries += 1;
        let e = persons[rng.below(persons.len())];
        let Some((last, _)) = latin_names(e)[0].split_once(',') else { continue };
        let last = last.trim();
        if analyze(last, NameContext::Person).tokens.iter().all(|t| t.text.len() < 3) {
            continue;
        }
        let listed_tokens: Vec<String> =
            e.names.iter().flat_map(|n| analyze(&n.value, NameContext::Person).tokens).map(|t| t.text).collect();
        let given = rng.pick(GIVEN);
        let g = fold(given);
        if listed_tokens.iter().any(|t| super::similarity::jaro_winkler(t.as_bytes(), g.as_bytes()) >= 0.75) {
            continue;
        }
        let name = format!("{given} {}", title_case(last));
        if is_listed(&name) {
            continue;
        }
        out.push(Labelled {
            variant: Variant::HardNegative,
            query: Query { name: Some(name), entity_type: Some(SubjectType::Person), ..Query::default() },
            expected: None,
        });
        made += 1;
    }
    // Ordinary negatives as a Russian, Greek or Arabic document would write them (drawn last,
    // so the other variants stay the same per seed).
    let mut made = 0;
    let mut tries = 0;
    let writers: [fn(&str) -> String; 3] = [to_cyrillic, to_greek, to_arabic];
    while made < sizes.negatives && tries < sizes.negatives * 10 {
        tries += 1;
        let name = format!("{} {}", rng.pick(GIVEN), rng.pick(SURNAMES));
        if is_listed(&name) {
            continue;
        }
        let written = writers[made % writers.len()](&name);
        out.push(Labelled {
            variant: Variant::ScriptNegative,
            query: Query { name: Some(written), entity_type: Some(SubjectType::Person), ..Query::default() },
            expected: None,
        });
        made += 1;
    }
    out
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Draws entities from `pool` until `n` of them yield a query (bounded, so a pool without
/// suitable entities ends the search instead of looping).
fn take<'a>(
    out: &mut Vec<Labelled>,
    n: usize,
    pool: &[&'a Entity],
    rng: &mut Rng,
    f: impl Fn(&'a Entity, &mut Rng) -> Option<Labelled>,
) {
    let mut got = 0;
    let mut tries = 0;
    while got < n && tries < n * 50 && !pool.is_empty() {
        tries += 1;
        let e = pool[rng.below(pool.len())];
        if let Some(l) = f(e, rng) {
            out.push(l);
            got += 1;
        }
    }
}

/// Screens the labelled set and reports per-variant recall, false-positive rates and index
/// recall.
pub fn evaluate(lists: &Watchlists, policy: &Policy, set: &[Labelled]) -> Report {
    let mut report = Report::default();
    let (mut idx_found, mut exhaustive_found) = (0usize, 0usize);
    for l in set {
        let s = lists.screen(&l.query, policy);
        let flagged: Vec<String> =
            s.as_ref().map(|s| s.hits.iter().map(|h| h.entity_id.clone()).collect()).unwrap_or_default();
        let v = report.variants.entry(l.variant).or_default();
        v.queries += 1;
        match &l.expected {
            Some(id) => {
                if flagged.contains(id) {
                    v.correct += 1;
                    idx_found += 1;
                    exhaustive_found += 1;
                } else {
                    let lost = lists.exhaustive_flags(&l.query, policy, id);
                    if lost {
                        v.lost_to_index += 1;
                        exhaustive_found += 1;
                    }
                    if report.examples.len() < 400 {
                        report.examples.push(format!(
                            "MISS{} {:?}: {:?} -> expected {id}",
                            if lost { " (lost to the index)" } else { "" },
                            l.variant,
                            l.query
                                .name
                                .as_deref()
                                .or(l.query.document_number.as_deref())
                                .or(l.query.wallet_address.as_deref())
                        ));
                    }
                }
            }
            None => {
                if flagged.is_empty() {
                    v.correct += 1;
                } else if report.examples.len() < 500 {
                    let top = s
                        .as_ref()
                        .ok()
                        .and_then(|s| s.hits.first())
                        .map(|h| format!("{} `{}` {}", h.entity_id, h.matched_name, h.match_score))
                        .unwrap_or_default();
                    report.examples.push(format!(
                        "FP {:?}: {:?} -> {top}",
                        l.variant,
                        l.query.name.as_deref().unwrap_or("")
                    ));
                }
            }
        }
    }
    for v in report.variants.values_mut() {
        v.rate = if v.queries == 0 { 0.0 } else { v.correct as f64 / v.queries as f64 };
    }
    let sum = |f: &dyn Fn(Variant) -> bool| {
        let (c, q) = report
            .variants
            .iter()
            .filter(|(k, _)| f(**k))
            .fold((0, 0), |(c, q), (_, v)| (c + v.correct, q + v.queries));
        if q == 0 { 1.0 } else { c as f64 / q as f64 }
    };
    report.name_recall = sum(&|k| !k.is_negative() && !k.is_golden());
    report.golden_recall = sum(&|k| k.is_golden());
    report.ordinary_fp_rate = 1.0 - sum(&|k| k == Variant::OrdinaryNegative);
    report.hard_fp_rate = 1.0 - sum(&|k| k == Variant::HardNegative);
    report.script_fp_rate = 1.0 - sum(&|k| k == Variant::ScriptNegative);
    report.index_recall = if exhaustive_found == 0 { 1.0 } else { idx_found as f64 / exhaustive_found as f64 };
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated variants are spellings a person writing that script would produce.
    #[test]
    fn script_variants_are_written_by_sound() {
        assert_eq!(to_cyrillic("Myint Oo"), "миинт у");
        assert_eq!(to_cyrillic("Francisco Escobar"), "франсиско эскобар");
        assert_eq!(to_cyrillic("Mahmoud Yasin"), "махмуд ясин");
        assert_eq!(to_greek("Khaled Qaddoumi"), "χαλεντ καντουμι");
        assert_eq!(to_greek("Haji Noorzai"), "ατζι νουρζαι");
        assert_eq!(to_greek("Joseph Walid"), "τζοσεφ ουαλιντ");
        assert_eq!(to_arabic("Hanan Said"), "حنن سيد");
        assert_eq!(to_arabic("Hassan Rauf"), "حسن روف");
        assert_eq!(to_arabic("Crawford Cecil"), "كروفرد سسل");
    }
}
