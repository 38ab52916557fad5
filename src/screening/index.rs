//! The candidate index: finds the few listed names worth scoring without scanning them all.
//!
//! Two levels keep it compact and fast. The *vocabulary* holds each distinct folded token
//! once, with its phonetic codes, consonant skeleton and one-deletion variants (SymSpell)
//! in sorted hash tables, so a query token finds its exact, misspelt, sounds-alike and
//! cross-script relatives among the vocabulary in a few binary searches. *Postings* then map
//! each vocabulary token to the names that contain it. Retrieval accumulates IDF-weighted
//! evidence per name (rare tokens count more), keeps the best-supported names and hands
//! them to the full scorer. Joined adjacent tokens are indexed too, so "abdulrahman" finds
//! "abdul rahman" and the reverse.

use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};

use rphonetic::DoubleMetaphone;

use crate::lists::{Entity, EntityKind, NameKind};

use super::normalize::{
    AnalyzedName, NameContext, NameToken, Role, Script, TokenClass, analyze, consonant_skeleton, greek_blind,
    skeleton_of_arabic, translit_key,
};
use super::similarity::{letter_set, osa_distance_within};

/// Tokens shorter than this are not expanded to spelling variants (too many neighbours).
const MIN_FUZZY_LEN: usize = 4;
/// Tokens longer than this get no deletion variants (names rarely have such parts).
const MAX_FUZZY_LEN: usize = 24;

/// One token occurrence in an indexed name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IToken {
    pub vid: u32,
    pub class: TokenClass,
    pub role: Role,
    pub abjad: bool,
    pub script: Script,
}

/// One listed name, analysed.
#[derive(Debug, Clone)]
pub(crate) struct IndexedName {
    pub entity: u32,
    /// Position in the entity's `names`.
    pub name: u16,
    pub kind: NameKind,
    pub generic_person_name: bool,
    tok_start: u32,
    tok_len: u16,
}

/// A multimap from 64-bit keys to ids: entries collected while building, then frozen into
/// one id array plus a hash table of ranges, so a lookup costs one probe and one
/// contiguous read (a binary search over millions of entries costs a cache miss per step).
#[derive(Debug, Default)]
struct SortedMultiMap {
    building: Vec<(u64, u32)>,
    ranges: FxHashMap<u64, (u32, u32)>,
    ids: Vec<u32>,
}

impl SortedMultiMap {
    fn push(&mut self, key: u64, id: u32) {
        self.building.push((key, id));
    }
    fn freeze(&mut self) {
        let mut entries = std::mem::take(&mut self.building);
        entries.sort_unstable();
        entries.dedup();
        self.ids = Vec::with_capacity(entries.len());
        self.ranges = FxHashMap::default();
        self.ranges.reserve(entries.len() / 2);
        let mut i = 0;
        while i < entries.len() {
            let key = entries[i].0;
            let start = self.ids.len() as u32;
            while i < entries.len() && entries[i].0 == key {
                self.ids.push(entries[i].1);
                i += 1;
            }
            self.ranges.insert(key, (start, self.ids.len() as u32 - start));
        }
    }
    fn get(&self, key: u64) -> impl Iterator<Item = u32> + '_ {
        let (start, len) = self.ranges.get(&key).copied().unwrap_or((0, 0));
        self.ids[start as usize..(start + len) as usize].iter().copied()
    }
}

fn hash_key(tag: u8, s: &str) -> u64 {
    let mut h = FxHasher::default();
    tag.hash(&mut h);
    s.hash(&mut h);
    // Fx is weak in the low bits for short strings; mix once more.
    let x = h.finish();
    x ^ (x >> 29).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

const TAG_DELETE: u8 = 1;
const TAG_PHONETIC: u8 = 2;
const TAG_SKELETON: u8 = 3;
const TAG_JOINED: u8 = 4;
const TAG_TRANSLIT: u8 = 5;
const TAG_GREEK_BLIND: u8 = 6;

/// The distinct tokens of all listed names.
#[derive(Debug, Default)]
pub(crate) struct Vocab {
    pub text: Vec<Box<str>>,
    ids: FxHashMap<Box<str>, u32>,
    pub group: Vec<Option<u32>>,
    /// Romanization-neutral spelling keys ([`translit_key`]).
    pub key: Vec<Box<str>>,
    /// The Arabic letters ([`super::normalize::arabic_letters`]) of tokens first seen in
    /// Arabic script.
    pub arabic: FxHashMap<u32, Box<str>>,
    /// Double-metaphone primary and alternate code hashes (0 = none).
    pub phonetic: Vec<[u64; 2]>,
    /// First letter of each token, apart from `text` so that comparing initials with many
    /// names stays in cache.
    pub first: Vec<u8>,
    /// [`letter_set`] of each token.
    pub letters: Vec<u64>,
    /// Number of names containing the token.
    pub df: Vec<u32>,
    /// Inverse document frequency, precomputed from `df`.
    pub idf: Vec<f32>,
}

impl Vocab {
    pub fn id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }
}

/// Computes the double-metaphone code hashes of a token (0 when it has none).
pub(crate) fn phonetic_codes(dm: &DoubleMetaphone, token: &str) -> [u64; 2] {
    if token.len() < 3 || !token.bytes().all(|b| b.is_ascii_alphabetic()) {
        return [0, 0];
    }
    let r = dm.double_metaphone(token);
    let p = r.primary();
    let a = r.alternate();
    let hp = if p.is_empty() { 0 } else { hash_key(TAG_PHONETIC, &p) };
    let ha = if a.is_empty() || a == p { 0 } else { hash_key(TAG_PHONETIC, &a) };
    [hp, ha]
}

/// Whether two code pairs share a code.
pub(crate) fn phonetic_equal(a: [u64; 2], b: [u64; 2]) -> bool {
    a.iter().any(|&x| x != 0 && b.contains(&x))
}

/// Calls `f` with the token and each of its one-deletion variants (ASCII tokens; longer ones
/// than `MAX_FUZZY_LEN` are never passed here).
fn deletion_variants(token: &str, mut f: impl FnMut(&str)) {
    let b = token.as_bytes();
    f(token);
    let mut buf = [0u8; MAX_FUZZY_LEN];
    if b.len() > MAX_FUZZY_LEN || !token.is_ascii() {
        return;
    }
    for skip in 0..b.len() {
        buf[..skip].copy_from_slice(&b[..skip]);
        buf[skip..b.len() - 1].copy_from_slice(&b[skip + 1..]);
        if let Ok(s) = std::str::from_utf8(&buf[..b.len() - 1]) {
            f(s);
        }
    }
}

/// Name context for a listed entity's names.
pub(crate) fn context_for(kind: EntityKind) -> NameContext {
    match kind {
        EntityKind::Person => NameContext::Person,
        EntityKind::Organization | EntityKind::Vessel | EntityKind::Aircraft => NameContext::Organization,
        EntityKind::Unknown => NameContext::Any,
    }
}

/// The name index over a set of entities.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    pub vocab: Vocab,
    pub names: Vec<IndexedName>,
    tokens: Vec<IToken>,
    /// Per name, the letters a-z its tokens start with (bit 0 = a): tie-breaking by the
    /// query's initials looks at thousands of names, and their tokens are cache misses.
    first_letters: Vec<u32>,
    /// CSR postings: names containing vocabulary token `v` are
    /// `postings[offsets[v]..offsets[v + 1]]`.
    offsets: Vec<u32>,
    postings: Vec<u32>,
    deletes: SortedMultiMap,
    phonetic: SortedMultiMap,
    skeletons: SortedMultiMap,
    translit: SortedMultiMap,
    /// Joined adjacent-token keys -> names.
    joined: SortedMultiMap,
    groups: FxHashMap<u32, Vec<u32>>,
}

/// A query token's relatives in the vocabulary, strongest first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Relative {
    pub vid: u32,
    pub strength: f32,
}

impl NameIndex {
    pub fn build(entities: &[Entity]) -> NameIndex {
        let dm = DoubleMetaphone::default();
        let mut ix = NameIndex::default();
        let mut name_vids: Vec<Vec<u32>> = Vec::new();
        for (ei, e) in entities.iter().enumerate() {
            let ctx = context_for(e.kind);
            for (ni, n) in e.names.iter().enumerate().take(u16::MAX as usize) {
                let analyzed = analyze(&n.value, ctx);
                if analyzed.tokens.is_empty() {
                    continue;
                }
                let name_id = ix.names.len() as u32;
                ix.push_name(ei as u32, ni as u16, n.kind, &analyzed, &dm);
                let vids: Vec<u32> = ix.name_tokens(name_id).iter().map(|t| t.vid).collect();
                // Joined keys for adjacent informative pairs.
                for w in analyzed.tokens.windows(2) {
                    if w[0].class != TokenClass::Generic && w[1].class != TokenClass::Generic {
                        let joined = format!("{}{}", w[0].text, w[1].text);
                        ix.joined.push(hash_key(TAG_JOINED, &joined), name_id);
                    }
                }
                name_vids.push(vids);
            }
        }
        // Postings in CSR form, with document frequencies.
        let v = ix.vocab.text.len();
        let mut counts = vec![0u32; v + 1];
        for vids in &mut name_vids {
            vids.sort_unstable();
            vids.dedup();
            for &vid in vids.iter() {
                counts[vid as usize + 1] += 1;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut postings = vec![0u32; counts[v] as usize];
        for (name_id, vids) in name_vids.iter().enumerate() {
            for &vid in vids {
                postings[fill[vid as usize] as usize] = name_id as u32;
                fill[vid as usize] += 1;
            }
        }
        ix.vocab.df = (0..v).map(|i| counts[i + 1] - counts[i]).collect();
        let n = ix.names.len().max(1) as f32;
        ix.vocab.idf = ix.vocab.df.iter().map(|&df| (1.0 + n / df.max(1) as f32).ln()).collect();
        ix.offsets = counts;
        ix.postings = postings;
        ix.deletes.freeze();
        ix.phonetic.freeze();
        ix.skeletons.freeze();
        ix.translit.freeze();
        ix.joined.freeze();
        ix.tokens.shrink_to_fit();
        ix.names.shrink_to_fit();
        ix.first_letters.shrink_to_fit();
        ix
    }

    fn push_name(&mut self, entity: u32, name: u16, kind: NameKind, analyzed: &AnalyzedName, dm: &DoubleMetaphone) {
        let tok_start = self.tokens.len() as u32;
        for t in analyzed.tokens.iter().take(u16::MAX as usize) {
            let vid = self.intern(t, dm);
            self.tokens.push(IToken { vid, class: t.class, role: t.role, abjad: t.abjad, script: t.script });
        }
        let first_letters = self.tokens[tok_start as usize..]
            .iter()
            .map(|t| self.vocab.first[t.vid as usize])
            .filter(u8::is_ascii_lowercase)
            .fold(0u32, |m, b| m | 1 << (b - b'a'));
        self.first_letters.push(first_letters);
        self.names.push(IndexedName {
            entity,
            name,
            kind,
            generic_person_name: analyzed.generic_person_name,
            tok_start,
            tok_len: analyzed.tokens.len().min(u16::MAX as usize) as u16,
        });
    }

    fn intern(&mut self, t: &NameToken, dm: &DoubleMetaphone) -> u32 {
        let (text, group) = (t.text.as_str(), t.group);
        if let Some(&id) = self.vocab.ids.get(text) {
            return id;
        }
        let id = self.vocab.text.len() as u32;
        self.vocab.text.push(text.into());
        self.vocab.first.push(text.as_bytes().first().copied().unwrap_or(0));
        self.vocab.letters.push(letter_set(text.as_bytes()));
        self.vocab.ids.insert(text.into(), id);
        self.vocab.group.push(group);
        let key = translit_key(text);
        if key.len() >= 3 {
            self.translit.push(hash_key(TAG_TRANSLIT, &key), id);
            let gb = greek_blind(&key);
            if gb != key && gb.len() >= 3 {
                self.translit.push(hash_key(TAG_GREEK_BLIND, &gb), id);
            }
        }
        self.vocab.key.push(key.into());
        let codes = phonetic_codes(dm, text);
        self.vocab.phonetic.push(codes);
        for c in codes {
            if c != 0 {
                self.phonetic.push(c, id);
            }
        }
        if (MIN_FUZZY_LEN..=MAX_FUZZY_LEN).contains(&text.len()) {
            let deletes = &mut self.deletes;
            deletion_variants(text, |d| deletes.push(hash_key(TAG_DELETE, d), id));
        }
        // Skeletons bridge Arabic-script and Latin spellings; index both sides' forms.
        let sk = match &t.arabic {
            Some(letters) => {
                self.vocab.arabic.insert(id, letters.as_str().into());
                skeleton_of_arabic(letters)
            }
            None => consonant_skeleton(text),
        };
        if sk.len() >= 3 {
            self.skeletons.push(hash_key(TAG_SKELETON, &sk), id);
        }
        if let Some(g) = group {
            self.groups.entry(g).or_default().push(id);
        }
        id
    }

    pub fn name_tokens(&self, name_id: u32) -> &[IToken] {
        let n = &self.names[name_id as usize];
        &self.tokens[n.tok_start as usize..n.tok_start as usize + n.tok_len as usize]
    }

    /// Whether a token of the name starts with `letter`.
    pub fn has_token_starting_with(&self, name_id: u32, letter: u8) -> bool {
        if letter.is_ascii_lowercase() {
            self.first_letters[name_id as usize] & 1 << (letter - b'a') != 0
        } else {
            self.name_tokens(name_id).iter().any(|t| self.vocab.first[t.vid as usize] == letter)
        }
    }

    pub fn postings(&self, vid: u32) -> &[u32] {
        &self.postings[self.offsets[vid as usize] as usize..self.offsets[vid as usize + 1] as usize]
    }

    pub fn joined_names(&self, joined: &str) -> impl Iterator<Item = u32> + '_ {
        self.joined.get(hash_key(TAG_JOINED, joined))
    }

    /// Inverse document frequency of a vocabulary token.
    pub fn idf(&self, vid: u32) -> f32 {
        self.vocab.idf[vid as usize]
    }

    /// Largest possible idf (a token seen once), for tokens absent from the vocabulary.
    pub fn max_idf(&self) -> f32 {
        (1.0 + self.names.len().max(1) as f32).ln()
    }

    /// Vocabulary relatives of a query token, strongest first: exact, same name part,
    /// romanization, misspelt (one or two edits, verified), consonant skeleton, sounds-alike.
    pub fn relatives(&self, t: &NameToken, codes: [u64; 2], out: &mut Vec<Relative>) {
        let (token, group) = (t.text.as_str(), t.group);
        out.clear();
        // Kinds are gathered strongest first and a vocabulary token is kept at its first
        // (strongest) kind, so the list comes out strongest first without sorting: common
        // codes have thousands of relatives at 1 M entities.
        SEEN.with_borrow_mut(|seen| {
            if seen.dirty {
                // A call that did not finish left bits set.
                seen.bits.fill(0);
            }
            let words = self.vocab.text.len().div_ceil(64);
            if seen.bits.len() < words {
                seen.bits.resize(words, 0);
            }
            seen.dirty = true;
            let bits = &mut seen.bits;
            let mut add = |vid: u32, strength: f32, out: &mut Vec<Relative>| {
                let (word, bit) = (vid as usize / 64, 1u64 << (vid % 64));
                if bits[word] & bit == 0 {
                    bits[word] |= bit;
                    out.push(Relative { vid, strength });
                }
            };
            if let Some(vid) = self.vocab.id(token) {
                add(vid, 1.0, out);
            }
            if let Some(members) = group.and_then(|g| self.groups.get(&g)) {
                for &vid in members {
                    add(vid, 0.95, out);
                }
            }
            let key = translit_key(token);
            if key.len() >= 3 {
                for vid in self.translit.get(hash_key(TAG_TRANSLIT, &key)) {
                    add(vid, 0.9, out);
                }
            }
            if (MIN_FUZZY_LEN..=MAX_FUZZY_LEN).contains(&token.len()) {
                let tb = token.as_bytes();
                // Shared one-deletion variants find everything within two edits; short tokens
                // keep to one edit, where two would reach unrelated names.
                let max_edits = if token.len() >= 8 { 2 } else { 1 };
                // One vocabulary token shares several deletion variants with the query token:
                // verify each once.
                let mut fuzzy: Vec<u32> = Vec::new();
                deletion_variants(token, |d| fuzzy.extend(self.deletes.get(hash_key(TAG_DELETE, d))));
                fuzzy.sort_unstable();
                fuzzy.dedup();
                for vid in fuzzy {
                    let vt = self.vocab.text[vid as usize].as_bytes();
                    if osa_distance_within(tb, vt, max_edits) <= max_edits {
                        add(vid, 0.85, out);
                    }
                }
            }
            if t.script == Script::Greek {
                // What Greek cannot write (h, b/mb, d/nd, w) erased on both sides.
                let gb = greek_blind(&key);
                if gb.len() >= 3 {
                    for tag in [TAG_TRANSLIT, TAG_GREEK_BLIND] {
                        for vid in self.translit.get(hash_key(tag, &gb)) {
                            add(vid, 0.85, out);
                        }
                    }
                }
            }
            let sk = t.arabic.as_deref().map_or_else(|| consonant_skeleton(token), skeleton_of_arabic);
            if sk.len() >= 3 {
                for vid in self.skeletons.get(hash_key(TAG_SKELETON, &sk)) {
                    add(vid, 0.75, out);
                }
            }
            for c in codes {
                if c != 0 {
                    for vid in self.phonetic.get(c) {
                        add(vid, 0.7, out);
                    }
                }
            }
            // Every set bit is a listed token's: clearing their words clears the set.
            for r in out.iter() {
                seen.bits[r.vid as usize / 64] = 0;
            }
            seen.dirty = false;
        });
    }
}

/// The vocabulary tokens [`NameIndex::relatives`] has listed for the current token, one bit
/// per token, kept between calls (one per thread). A call clears only the words it set, so
/// it costs what it lists: a hash set cost a fifth of the slowest queries at 1 M entities,
/// where common codes have thousands of relatives.
#[derive(Default)]
struct Seen {
    bits: Vec<u64>,
    /// Set while a call runs.
    dirty: bool,
}

thread_local! {
    static SEEN: std::cell::RefCell<Seen> = std::cell::RefCell::new(Seen::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::NameKind;

    fn entity(id: &str, kind: EntityKind, names: &[&str]) -> Entity {
        let mut e = Entity::new("t", id, kind);
        for (i, n) in names.iter().enumerate() {
            e.add_name(n, if i == 0 { NameKind::Primary } else { NameKind::Alias });
        }
        e
    }

    #[test]
    fn finds_relatives_of_a_misspelt_token() {
        let es = vec![
            entity("1", EntityKind::Person, &["Vladimir Vladimirovich PUTIN"]),
            entity("2", EntityKind::Person, &["Mohammed Ali"]),
            entity("3", EntityKind::Organization, &["Acme Trading LLC"]),
        ];
        let ix = NameIndex::build(&es);
        let dm = DoubleMetaphone::default();
        let mut out = Vec::new();
        let token = |s: &str| analyze(s, NameContext::Person).tokens.remove(0);
        ix.relatives(&token("putn"), phonetic_codes(&dm, "putn"), &mut out);
        let putin = ix.vocab.id("putin").unwrap();
        assert!(out.iter().any(|r| r.vid == putin));
        ix.relatives(&token("muhammad"), phonetic_codes(&dm, "muhammad"), &mut out);
        let mohammed = ix.vocab.id("mohammed").unwrap();
        assert!(out.iter().any(|r| r.vid == mohammed));
        assert_eq!(ix.postings(putin), &[0]);
        assert_eq!(ix.joined_names("vladimirputin").count(), 0);
        assert_eq!(ix.joined_names("vladimirvladimirovich").count(), 1);
        // Greek writes Ahmad without h and with "ντ" for d.
        ix.relatives(&token("Αχμέτ"), [0, 0], &mut out);
        let es = vec![entity("4", EntityKind::Person, &["Ahmad Hudbah"])];
        let ix = NameIndex::build(&es);
        ix.relatives(&token("Ουντμπά"), [0, 0], &mut out);
        assert!(out.iter().any(|r| r.vid == ix.vocab.id("hudbah").unwrap()), "{out:?}");
    }

    #[test]
    fn knows_the_letters_a_name_s_tokens_start_with() {
        let es = vec![entity("1", EntityKind::Person, &["Vladimir Vladimirovich PUTIN", "Володя 7"])];
        let ix = NameIndex::build(&es);
        assert!(ix.has_token_starting_with(0, b'v') && ix.has_token_starting_with(0, b'p'));
        assert!(!ix.has_token_starting_with(0, b'a'));
        // Not a letter: the name's tokens are looked at.
        assert!(ix.has_token_starting_with(1, b'7') && !ix.has_token_starting_with(1, b'8'));
    }
}
