//! Name normalization: any script in, lowercase ASCII tokens out.
//!
//! The same pipeline runs on listed names (once, at index build) and on queries, so the two
//! sides can never disagree on what a token is. Steps: Unicode NFKC, script-aware
//! transliteration (our own table for Arabic and Persian, `deunicode` for everything else,
//! which also folds diacritics), case folding, punctuation folding (apostrophes join, other
//! punctuation splits), then name analysis: honorifics and suffixes dropped, company legal
//! forms collapsed to one generic token, particles and initials marked.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

/// How a token takes part in matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenClass {
    /// An ordinary name part.
    Normal,
    /// A company legal form or generic organisation word ("llc", "group", "trading"): never
    /// enough to make a match on its own.
    Generic,
    /// A name particle ("al", "bin", "de", "van"): part of the name, little evidence.
    Particle,
    /// A single letter, usually an initial.
    Initial,
}

/// One token of an analysed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameToken {
    pub text: String,
    pub class: TokenClass,
    /// Equivalence group for spellings of one name part across scripts and nicknames
    /// (from rigour's symbol tables), so "putin" and "путин" or "bob" and "robert" meet.
    pub group: Option<u32>,
    /// The token came from Arabic script: vowels are mostly unwritten, so it is compared by
    /// its consonant skeleton as well.
    pub abjad: bool,
}

/// A name after analysis.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnalyzedName {
    pub tokens: Vec<NameToken>,
    /// The whole name is one of the generic person names ("abu ali", "muhammad") that say
    /// little about who someone is.
    pub generic_person_name: bool,
}

impl AnalyzedName {
    /// True when no token carries identifying weight (only legal forms, particles, initials).
    pub fn is_uninformative(&self) -> bool {
        !self.tokens.iter().any(|t| t.class == TokenClass::Normal)
    }

    /// The tokens joined by single spaces.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&t.text);
        }
        s
    }
}

/// What kind of name is being analysed: persons and organisations differ in which words are
/// decoration (honorifics vs legal forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameContext {
    Person,
    Organization,
    /// Type unknown: both rule sets apply.
    Any,
}

/// Folds text to lowercase ASCII words separated by single spaces. Returns whether any
/// Arabic-script letters were seen per output word (parallel to the words).
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    fold_into(input, &mut out, &mut Vec::new());
    out
}

/// Core folding. `abjad_words` receives one flag per word written to `out`.
fn fold_into(input: &str, out: &mut String, abjad_words: &mut Vec<bool>) {
    let mut word_abjad = false;
    let mut in_word = false;
    let end_word = |out: &mut String, in_word: &mut bool, word_abjad: &mut bool, flags: &mut Vec<bool>| {
        if *in_word {
            flags.push(*word_abjad);
            out.push(' ');
            *in_word = false;
            *word_abjad = false;
        }
    };
    let mut prev_arabic_letter = false;
    for c in input.nfkc() {
        if c.is_ascii() {
            prev_arabic_letter = false;
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
                in_word = true;
            } else if c == '\'' || c == '`' {
                // O'Brien, Nu'man: the apostrophe joins, it does not split.
            } else {
                end_word(out, &mut in_word, &mut word_abjad, abjad_words);
            }
            continue;
        }
        if is_apostrophe(c) {
            continue;
        }
        if let Some(latin) = arabic_letter(c, !prev_arabic_letter) {
            out.push_str(latin);
            if !latin.is_empty() {
                in_word = true;
                word_abjad = true;
            }
            prev_arabic_letter = true;
            continue;
        }
        prev_arabic_letter = false;
        if c.is_whitespace() {
            end_word(out, &mut in_word, &mut word_abjad, abjad_words);
            continue;
        }
        let cjk = is_cjk(c);
        match deunicode::deunicode_char(c) {
            Some(t) => {
                for b in t.chars() {
                    if b.is_ascii_alphanumeric() {
                        out.push(b.to_ascii_lowercase());
                        in_word = true;
                    } else if b == '\'' {
                        // deunicode marks some soft signs with apostrophes; they join.
                    } else {
                        end_word(out, &mut in_word, &mut word_abjad, abjad_words);
                    }
                }
                // Each Han character is one syllable: keep syllables apart so that joined
                // and split forms ("xi jin ping" / "xi jinping") are both reachable.
                if cjk {
                    end_word(out, &mut in_word, &mut word_abjad, abjad_words);
                }
            }
            None => end_word(out, &mut in_word, &mut word_abjad, abjad_words),
        }
    }
    end_word(out, &mut in_word, &mut word_abjad, abjad_words);
    if out.ends_with(' ') {
        out.pop();
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{02BB}' | '\u{02BE}' | '\u{02BF}' | '\u{00B4}')
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF)
}

/// Arabic and Persian letters in a plain, reversible-enough romanization. Vowel letters
/// (waw, ya) read as consonants at a word start and as vowels inside a word; hamza and ayn
/// are dropped, as most Latin spellings of such names do. Short-vowel marks map to their
/// vowels; shadda, sukun and tatweel vanish.
fn arabic_letter(c: char, word_start: bool) -> Option<&'static str> {
    Some(match c {
        'ا' | 'أ' | 'آ' | 'ٱ' | 'ى' => "a",
        'إ' => "i",
        'ء' | 'ع' | 'ـ' | '\u{0651}' | '\u{0652}' | '\u{0670}' => "",
        'ؤ' => "u",
        'ئ' => "i",
        'ب' => "b",
        'ت' | 'ط' => "t",
        'ث' => "th",
        'ج' => "j",
        'ح' | 'ه' | 'ھ' => "h",
        'خ' => "kh",
        'د' | 'ض' => "d",
        'ذ' => "dh",
        'ر' => "r",
        'ز' | 'ظ' => "z",
        'س' | 'ص' => "s",
        'ش' => "sh",
        'غ' => "gh",
        'ف' => "f",
        'ق' => "q",
        'ك' | 'ک' => "k",
        'ل' => "l",
        'م' => "m",
        'ن' => "n",
        'ة' => "a",
        'و' => {
            if word_start {
                "w"
            } else {
                "u"
            }
        }
        'ي' | 'ی' | 'ې' => {
            if word_start {
                "y"
            } else {
                "i"
            }
        }
        'پ' => "p",
        'چ' => "ch",
        'ژ' => "zh",
        'گ' => "g",
        '\u{064E}' => "a",
        '\u{064F}' => "u",
        '\u{0650}' => "i",
        '\u{064B}'..='\u{064D}' => "",
        '٠' => "0",
        '١' => "1",
        '٢' => "2",
        '٣' => "3",
        '٤' => "4",
        '٥' => "5",
        '٦' => "6",
        '٧' => "7",
        '٨' => "8",
        '٩' => "9",
        _ => return None,
    })
}

/// Consonant skeleton for comparing names written without vowels (Arabic script) with their
/// Latin spellings: vowels and w/y dropped, digraphs reduced, doubled letters collapsed.
pub fn consonant_skeleton(token: &str) -> String {
    let b = token.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let mapped = match (c, next) {
            (b'k' | b's' | b'g' | b'd' | b't' | b'z', Some(b'h')) => {
                i += 1;
                Some(c)
            }
            (b'a' | b'e' | b'i' | b'o' | b'u' | b'y' | b'w', _) => None,
            (b'q', _) | (b'c', _) => Some(b'k'),
            (b'j', _) => Some(b'g'),
            (b'p', _) => Some(b'b'),
            (b'v', _) => Some(b'f'),
            _ => Some(c),
        };
        if let Some(m) = mapped {
            if out.as_bytes().last() != Some(&m) {
                out.push(m as char);
            }
        }
        i += 1;
    }
    out
}

/// Name particles: part of a name but weak evidence of identity.
const PARTICLES: &[&str] = &[
    "al", "el", "bin", "ben", "ibn", "bint", "binti", "abu", "abou", "bu", "ould", "de", "da", "di", "del", "della",
    "dos", "das", "do", "du", "van", "von", "der", "den", "ter", "la", "le", "y", "e", "mac", "st", "af", "zu",
    // Function words inside organisation names.
    "of", "the", "and", "for", "und", "et", "an",
];

/// The term tables derived from rigour's name resources (see `tools/gen_name_terms.py`).
struct Terms {
    /// Legal-form phrases (as folded token sequences) to the compare form they collapse to.
    org_forms: HashMap<Vec<String>, String>,
    max_form_len: usize,
    /// Single tokens that are generic in organisation names.
    org_generic: HashSet<String>,
    person_prefixes: HashSet<Vec<String>>,
    max_prefix_len: usize,
    person_suffixes: HashSet<String>,
    generic_person_names: HashSet<String>,
    groups: HashMap<String, u32>,
    particles: HashSet<&'static str>,
}

const TERMS_TEXT: &str = include_str!("name_terms.txt");

fn terms() -> &'static Terms {
    static TERMS: OnceLock<Terms> = OnceLock::new();
    TERMS.get_or_init(|| Terms::parse(TERMS_TEXT))
}

fn fold_tokens(s: &str) -> Vec<String> {
    fold(s).split(' ').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

impl Terms {
    fn parse(text: &str) -> Terms {
        let mut t = Terms {
            org_forms: HashMap::new(),
            max_form_len: 1,
            org_generic: HashSet::new(),
            person_prefixes: HashSet::new(),
            max_prefix_len: 1,
            person_suffixes: HashSet::new(),
            generic_person_names: HashSet::new(),
            groups: HashMap::new(),
            particles: PARTICLES.iter().copied().collect(),
        };
        let mut group_ids: HashMap<String, u32> = HashMap::new();
        let mut section = "";
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = match name {
                    "org_form" => "org_form",
                    "org_symbol" => "org_symbol",
                    "person_prefix" => "person_prefix",
                    "generic_person_name" => "generic_person_name",
                    "person_suffix" => "person_suffix",
                    "name_part" => "name_part",
                    "nickname" => "nickname",
                    _ => "",
                };
                continue;
            }
            let (key, value) = line.split_once('\t').unwrap_or(("", line));
            let tokens = fold_tokens(value);
            if tokens.is_empty() {
                continue;
            }
            match section {
                "org_form" => {
                    let canon = fold(key).replace(' ', "");
                    if canon.is_empty() {
                        continue;
                    }
                    t.max_form_len = t.max_form_len.max(tokens.len());
                    if tokens.len() == 1 {
                        t.org_generic.insert(tokens[0].clone());
                    }
                    t.org_generic.insert(canon.clone());
                    t.org_forms.entry(tokens).or_insert(canon);
                }
                "org_symbol" => {
                    if tokens.len() == 1 {
                        t.org_generic.insert(tokens[0].clone());
                    }
                }
                "person_prefix" => {
                    t.max_prefix_len = t.max_prefix_len.max(tokens.len());
                    t.person_prefixes.insert(tokens);
                }
                "person_suffix" => {
                    if tokens.len() == 1 {
                        t.person_suffixes.insert(tokens[0].clone());
                    }
                }
                "generic_person_name" => {
                    t.generic_person_names.insert(tokens.join(" "));
                }
                "name_part" | "nickname" => {
                    if tokens.len() == 1 {
                        let next = group_ids.len() as u32;
                        let gid = *group_ids.entry(format!("{section}:{key}")).or_insert(next);
                        t.groups.entry(tokens[0].clone()).or_insert(gid);
                    }
                }
                _ => {}
            }
        }
        t
    }
}

/// Analyses a name: folds it, drops decoration and classifies the remaining tokens.
pub fn analyze(name: &str, ctx: NameContext) -> AnalyzedName {
    let mut folded = String::with_capacity(name.len());
    let mut abjad_flags = Vec::new();
    fold_into(name, &mut folded, &mut abjad_flags);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    let terms = terms();
    let mut abjad_iter = abjad_flags.into_iter();
    let mut raw: Vec<(String, bool)> =
        words.iter().map(|w| (w.to_string(), abjad_iter.next().unwrap_or(false))).collect();

    let person = matches!(ctx, NameContext::Person | NameContext::Any);
    let org = matches!(ctx, NameContext::Organization | NameContext::Any);

    // Honorifics only count at the start ("Dr", "His Excellency", "General"), and never
    // remove the last remaining token.
    if person {
        loop {
            let mut stripped = false;
            for len in (1..=terms.max_prefix_len.min(raw.len().saturating_sub(1))).rev() {
                let key: Vec<String> = raw[..len].iter().map(|(t, _)| t.clone()).collect();
                if terms.person_prefixes.contains(&key) {
                    raw.drain(..len);
                    stripped = true;
                    break;
                }
            }
            if !stripped {
                break;
            }
        }
        while raw.len() > 1
            && raw.last().is_some_and(|(t, _)| terms.person_suffixes.contains(t) && ctx == NameContext::Person)
        {
            raw.pop();
        }
    }

    let generic_person_name = {
        let joined: Vec<&str> = raw.iter().map(|(t, _)| t.as_str()).collect();
        terms.generic_person_names.contains(&joined.join(" "))
    };

    let mut tokens = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if org {
            // Longest legal-form phrase starting here collapses to its compare form.
            let mut matched = None;
            for len in (2..=terms.max_form_len.min(raw.len() - i)).rev() {
                let key: Vec<String> = raw[i..i + len].iter().map(|(t, _)| t.clone()).collect();
                if let Some(canon) = terms.org_forms.get(&key) {
                    matched = Some((len, canon.clone()));
                    break;
                }
            }
            if let Some((len, canon)) = matched {
                tokens.push(NameToken { text: canon, class: TokenClass::Generic, group: None, abjad: false });
                i += len;
                continue;
            }
        }
        let (text, abjad) = raw[i].clone();
        let class = if org && terms.org_generic.contains(&text) {
            TokenClass::Generic
        } else if text.len() == 1 && text.as_bytes()[0].is_ascii_alphabetic() {
            TokenClass::Initial
        } else if terms.particles.contains(text.as_str()) {
            TokenClass::Particle
        } else {
            TokenClass::Normal
        };
        let group = terms.groups.get(&text).copied();
        tokens.push(NameToken { text, class, group, abjad });
        i += 1;
    }
    AnalyzedName { tokens, generic_person_name }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(n: &AnalyzedName) -> Vec<&str> {
        n.tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn folds_case_punctuation_and_diacritics() {
        assert_eq!(fold("MADURO MOROS, Nicolás"), "maduro moros nicolas");
        assert_eq!(fold("O'Brien-Smith"), "obrien smith");
        assert_eq!(fold("NU’MAN  ALAEDDIN"), "numan alaeddin");
        assert_eq!(fold("Müller Straße"), "muller strasse");
        assert_eq!(fold("ＦＵＬＬＷＩＤＴＨ"), "fullwidth");
        assert_eq!(fold("  "), "");
    }

    #[test]
    fn transliterates_scripts() {
        assert_eq!(fold("Владимир Путин"), "vladimir putin");
        assert_eq!(fold("Αλέξης Τσίπρας"), "alexes tsipras");
        assert_eq!(fold("习近平"), "xi jin ping");
        assert_eq!(consonant_skeleton(&fold("أسامة بن لادن").replace(' ', "")), consonant_skeleton("usamabinladin"));
        assert_eq!(consonant_skeleton(&fold("محمد")), consonant_skeleton("muhammad"));
        assert_eq!(fold("پوتین"), "putin");
    }

    #[test]
    fn analysis_marks_generic_and_strips_honorifics() {
        let n = analyze("Dr. John Smith Jr.", NameContext::Person);
        assert_eq!(texts(&n), ["john", "smith"]);
        let n = analyze("Belletech Corp.", NameContext::Organization);
        assert_eq!(n.tokens[1].class, TokenClass::Generic);
        let n = analyze("Acme Limited Liability Company", NameContext::Organization);
        assert_eq!(n.tokens.len(), 2);
        assert_eq!(n.tokens[1].class, TokenClass::Generic);
        let n = analyze("Osama bin Laden", NameContext::Person);
        assert_eq!(n.tokens[1].class, TokenClass::Particle);
        let n = analyze("J. Smith", NameContext::Person);
        assert_eq!(n.tokens[0].class, TokenClass::Initial);
        assert!(analyze("Abu Ali", NameContext::Person).generic_person_name);
        // An honorific alone stays: a name is never analysed away to nothing.
        assert_eq!(texts(&analyze("General", NameContext::Person)), ["general"]);
    }

    #[test]
    fn name_part_groups_bridge_scripts() {
        let a = analyze("Putin", NameContext::Person);
        let b = analyze("Путин", NameContext::Person);
        assert!(a.tokens[0].group.is_some());
        assert_eq!(a.tokens[0].group, b.tokens[0].group);
        let a = analyze("Bob", NameContext::Person);
        let b = analyze("Robert", NameContext::Person);
        assert_eq!(a.tokens[0].group, b.tokens[0].group);
    }
}
