//! The AML engine: screens a query (a person or organisation) against loaded watchlists
//! under a [`Policy`] and decides.
//!
//! Public surface: build a [`Watchlists`] from [`LoadedList`]s, then
//! [`Watchlists::screen`] a [`Query`] under a [`Policy`] to get a [`Screening`]: the
//! decision, its reason, Smile ID's result code and the hits with their match score, risk
//! score and explanation. The index is immutable once built, so one instance serves any
//! number of threads; a list refresh builds a new one beside it and swaps.

pub mod batch;
mod decide;
#[doc(hidden)]
pub mod eval;
mod index;
pub mod normalize;
mod policy;
mod risk;
mod score;
mod similarity;
#[doc(hidden)]
pub mod synthetic;

use std::cell::RefCell;

use rphonetic::DoubleMetaphone;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::lists::{Category, Entity, EntityKind, ListMeta, LoadedList, NameKind, PartialDate};

pub use decide::{Decision, HitStatus, NoMatchReason, ResultCode};
pub use policy::{AutoDecline, CountryConfidence, MatchWeights, Policy, PolicyError, RiskWeights, SourcePolicy};
pub use risk::RiskFactors;
pub use score::{DateHow, TokenHow, TokenPair};

use index::{NameIndex, Relative, phonetic_codes, phonetic_equal};
use normalize::{AnalyzedName, NameContext, TokenClass, analyze};
use score::{NameMode, Tok, compare_names, date_similarity, pct, token_similarity};

/// The type of the screened subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    Person,
    Organization,
}

/// What is screened: the batch command's input line and the engine's query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub entity_type: Option<SubjectType>,
    #[serde(default)]
    pub birth_date: Option<PartialDate>,
    /// ISO 3166-1 alpha-2 codes (nationalities, citizenships, residence).
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub document_number: Option<String>,
    #[serde(default)]
    pub wallet_address: Option<String>,
}

/// A query the engine refuses to screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("a name, document_number or wallet_address is required")]
    NothingToScreen,
    #[error("name is too long ({0} characters, at most 300)")]
    NameTooLong(usize),
    #[error("name has no letters or digits")]
    NameEmpty,
    #[error("country `{0}` is not an ISO 3166-1 alpha-2 code")]
    BadCountry(String),
    #[error("{0} is too long (at most 128 characters)")]
    FieldTooLong(&'static str),
}

impl QueryError {
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::NothingToScreen => "query_empty",
            QueryError::NameTooLong(_) | QueryError::FieldTooLong(_) => "query_too_long",
            QueryError::NameEmpty => "query_name_empty",
            QueryError::BadCountry(_) => "query_bad_country",
        }
    }
}

impl Query {
    /// Checks the query and returns its normalized country codes.
    pub fn validate(&self) -> Result<Vec<String>, QueryError> {
        let name = self.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let doc = self.document_number.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let wallet = self.wallet_address.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if name.is_none() && doc.is_none() && wallet.is_none() {
            return Err(QueryError::NothingToScreen);
        }
        if let Some(n) = name {
            let chars = n.chars().count();
            if chars > 300 {
                return Err(QueryError::NameTooLong(chars));
            }
            if normalize::fold(n).is_empty() {
                return Err(QueryError::NameEmpty);
            }
        }
        if doc.is_some_and(|d| d.len() > 128) {
            return Err(QueryError::FieldTooLong("document_number"));
        }
        if wallet.is_some_and(|w| w.len() > 128) {
            return Err(QueryError::FieldTooLong("wallet_address"));
        }
        let mut countries = Vec::new();
        for c in &self.countries {
            let c = c.trim();
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(QueryError::BadCountry(c.to_string()));
            }
            let up = c.to_ascii_uppercase();
            if !countries.contains(&up) {
                countries.push(up);
            }
        }
        Ok(countries)
    }
}

/// A document-number or wallet-address match: identity beyond doubt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldenKey {
    /// `document_number` or `wallet_address`.
    pub kind: String,
    pub value: String,
}

/// Why a hit scored what it scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_name: Option<String>,
    pub matched_name: String,
    pub matched_name_kind: NameKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub golden_key: Option<GoldenKey>,
    /// Per-field scores 0-100; `null` when the field was unknown on either side.
    pub name_score: Option<u8>,
    pub dob_score: Option<u8>,
    pub country_score: Option<u8>,
    /// The weights that applied after unknown fields dropped out (sum 100).
    pub weights_applied: MatchWeights,
    pub tokens: Vec<TokenPair>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmatched_query_tokens: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmatched_listed_tokens: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dob: Option<DobExplanation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryExplanation>,
    pub risk_factors: RiskFactors,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DobExplanation {
    pub query: PartialDate,
    pub listed: PartialDate,
    pub how: DateHow,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountryExplanation {
    pub query: Vec<String>,
    pub listed: Vec<String>,
    /// `matching`, `mismatching` or `none`.
    pub how: &'static str,
}

impl Explanation {
    /// The explanation with every value that came from the query removed (the screened
    /// name, its tokens, birth date, countries, document number or wallet), keeping the
    /// listed side and the scores. This is what the node may store: the query values are
    /// the holder's personal data and are kept only sealed to the officer.
    pub fn without_query_values(&self) -> Explanation {
        let mut e = self.clone();
        e.query_name = None;
        for t in &mut e.tokens {
            t.query.clear();
        }
        e.unmatched_query_tokens = Vec::new();
        if let Some(g) = &mut e.golden_key {
            g.value.clear();
        }
        e.dob = None;
        if let Some(c) = &mut e.country {
            c.query.clear();
        }
        e.summary = format!(
            "`{}`: name {}, birth date {}, country {}",
            e.matched_name,
            e.name_score.map_or("n/a".to_string(), |s| s.to_string()),
            e.dob_score.map_or("unknown".to_string(), |s| s.to_string()),
            e.country_score.map_or("unknown".to_string(), |s| s.to_string()),
        );
        e
    }
}

/// One listed entity that may be the subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub entity_id: String,
    pub source: String,
    pub matched_name: String,
    pub match_score: u8,
    pub risk_score: u8,
    pub categories: Vec<Category>,
    pub review_status: HitStatus,
    pub explanation: Explanation,
}

/// Name, hash and date of a list a screening ran against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersion {
    pub name: String,
    pub content_hash: String,
    pub list_date: Option<String>,
}

/// The engine's answer for one query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Screening {
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_match_reason: Option<NoMatchReason>,
    pub result_code: ResultCode,
    /// Possible matches (at or above the match threshold), best first.
    pub hits: Vec<Hit>,
    /// The best candidates the policy turned into automatic false positives (at most 5).
    pub false_positives: Vec<Hit>,
    pub lists: Vec<ListVersion>,
}

/// Loaded watchlists with their search index.
pub struct Watchlists {
    lists: Vec<ListMeta>,
    entities: Vec<Entity>,
    by_id: FxHashMap<String, u32>,
    names: NameIndex,
    documents: FxHashMap<String, Vec<u32>>,
    wallets: FxHashMap<String, Vec<u32>>,
    /// Per entity, the factors of its risk score: every hit reports them, and working them
    /// out (programme names searched for crime-related keywords) was a tenth of a hit's cost.
    risk: Vec<RiskFactors>,
    metaphone: DoubleMetaphone,
}

impl std::fmt::Debug for Watchlists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchlists").field("lists", &self.lists).field("entities", &self.entities.len()).finish()
    }
}

/// Document numbers compare on letters and digits only, upper case: "AB 12-345" == "ab12345".
pub fn normalize_document(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Wallet addresses compare case-insensitively: EVM checksums are case-encoded, some published
/// lists are lower-cased, and base58 collisions across case are negligible.
pub fn normalize_wallet(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

/// Shortest document number taken as a golden key; shorter ones collide by chance.
const MIN_DOCUMENT_LEN: usize = 5;
/// Names scored per query, at most.
const MAX_CANDIDATES: usize = 96;
/// Relatives at least this strong (exact, same name part, romanization, one or two edits)
/// always retrieve.
const STRONG_RELATIVE: f32 = 0.85;
/// Weaker relatives (sounds-alike, consonant skeleton) of a token with strong ones retrieve
/// only while they have at most this many postings.
const WEAK_RELATIVE_POSTINGS: usize = 2000;

struct Scratch {
    /// Per indexed name: accumulated evidence and which query tokens contributed. Kept
    /// together so one cache line serves both.
    acc: Vec<(f32, u32)>,
    touched: Vec<u32>,
    relatives: Vec<Relative>,
    /// Per indexed name, one bit: kept for the full comparison (all zero between queries).
    kept: Vec<u64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch { acc: Vec::new(), touched: Vec::new(), relatives: Vec::new(), kept: Vec::new() })
    };
}

/// The best name comparison of one candidate entity.
struct Candidate {
    entity: u32,
    /// The indexed name that scored best.
    name_id: u32,
    name: u16,
    kind: NameKind,
    score: f64,
}

/// Similarities of a query's tokens to the listed tokens met so far: one row per listed
/// token (a vocabulary token in one script: Arabic and Latin letters compare differently),
/// one column per query token. Names share tokens, and a hit's explanation compares its name
/// once more, so each pair is computed once per query.
struct TokenSims {
    width: usize,
    rows: FxHashMap<(u32, bool), u32>,
    table: Vec<(f64, TokenHow)>,
}

impl TokenSims {
    fn new(query_tokens: usize) -> TokenSims {
        // Name comparison looks at 64 tokens per side at most.
        TokenSims { width: query_tokens.min(64), rows: FxHashMap::default(), table: Vec::new() }
    }

    fn get(&self, row: u32, i: usize) -> (f64, TokenHow) {
        self.table[row as usize * self.width + i]
    }
}

/// A candidate's field scores, computed before (and usually instead of) its explanation.
struct NameScores {
    name_score: u8,
    match_score: u8,
    weights_applied: MatchWeights,
    threshold: u8,
}

impl Watchlists {
    /// Builds the index over the given lists.
    pub fn build(lists: Vec<LoadedList>) -> Watchlists {
        let mut metas = Vec::with_capacity(lists.len());
        let mut entities = Vec::new();
        for l in lists {
            metas.push(l.meta);
            entities.extend(l.entities);
        }
        let names = NameIndex::build(&entities);
        let mut by_id = FxHashMap::default();
        let mut documents: FxHashMap<String, Vec<u32>> = FxHashMap::default();
        let mut wallets: FxHashMap<String, Vec<u32>> = FxHashMap::default();
        for (i, e) in entities.iter().enumerate() {
            by_id.insert(e.id.clone(), i as u32);
            for d in &e.documents {
                let n = normalize_document(&d.number);
                if n.len() >= MIN_DOCUMENT_LEN {
                    documents.entry(n).or_default().push(i as u32);
                }
            }
            for w in &e.wallets {
                wallets.entry(normalize_wallet(&w.address)).or_default().push(i as u32);
            }
        }
        let risk = entities.iter().map(RiskFactors::of).collect();
        Watchlists {
            lists: metas,
            entities,
            by_id,
            names,
            documents,
            wallets,
            risk,
            metaphone: DoubleMetaphone::default(),
        }
    }

    /// Metadata of the loaded lists.
    pub fn lists(&self) -> &[ListMeta] {
        &self.lists
    }

    pub fn entity_count(&self) -> usize {
        self.entities.len()
    }

    /// Number of indexed names (aliases included).
    pub fn name_count(&self) -> usize {
        self.names.names.len()
    }

    pub fn entity(&self, id: &str) -> Option<&Entity> {
        self.by_id.get(id).map(|&i| &self.entities[i as usize])
    }

    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// List versions for credentials and audit.
    pub fn versions(&self) -> Vec<ListVersion> {
        self.lists
            .iter()
            .map(|m| ListVersion {
                name: m.name.clone(),
                content_hash: m.content_hash.clone(),
                list_date: m.list_date.clone(),
            })
            .collect()
    }

    /// Screens one query under a policy. The policy must be valid ([`Policy::validate`]).
    pub fn screen(&self, query: &Query, policy: &Policy) -> Result<Screening, QueryError> {
        let countries = query.validate()?;
        let mut scored: Vec<(Hit, f64, bool)> = Vec::new();
        let mut seen: FxHashMap<u32, usize> = FxHashMap::default();

        // Golden keys first: exact identifiers.
        for (kind, value, map) in [
            ("document_number", query.document_number.as_deref().map(normalize_document), &self.documents),
            ("wallet_address", query.wallet_address.as_deref().map(normalize_wallet), &self.wallets),
        ] {
            let Some(v) = value.filter(|v| !v.is_empty()) else { continue };
            if let Some(ids) = map.get(&v) {
                for &e in ids {
                    let key = GoldenKey { kind: kind.to_string(), value: v.clone() };
                    let hit = self.golden_hit(e, key, query, &countries, policy);
                    seen.insert(e, scored.len());
                    scored.push((hit, 1.0, true));
                }
            }
        }

        // Names. Every candidate gets its scores; only possible matches and the few best
        // automatic false positives that the answer reports get an explanation.
        let mut mismatched = false;
        if let Some(name) = query.name.as_deref().filter(|n| !n.trim().is_empty()) {
            let analyzed = analyze(name, query_context(query.entity_type));
            let (qtoks, qcodes) = self.query_tokens(&analyzed);
            let mut sims = TokenSims::new(qtoks.len());
            let cands = self.name_candidates(&analyzed, &qtoks, &qcodes, query.entity_type, policy, &mut sims);
            let mut fps: Vec<(u8, &str, usize, NameScores)> = Vec::new();
            for (ci, cand) in cands.iter().enumerate() {
                if seen.contains_key(&cand.entity) {
                    continue;
                }
                let Some(s) = self.name_scores(cand, query, &countries, policy) else { continue };
                if s.match_score >= s.threshold {
                    let hit = self.name_hit(cand, &s, name, &qtoks, &qcodes, &mut sims, query, &countries, policy);
                    scored.push((hit, cand.score, false));
                } else {
                    // The name alone would have been a possible match: other fields ruled it out.
                    let name_alone = s.name_score >= s.threshold;
                    mismatched |= name_alone;
                    if name_alone || s.match_score >= decide::RELEVANCE_FLOOR {
                        fps.push((s.match_score, &self.entities[cand.entity as usize].id, ci, s));
                    }
                }
            }
            fps.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            for (_, _, ci, s) in fps.into_iter().take(decide::MAX_FALSE_POSITIVES) {
                let cand = &cands[ci];
                let hit = self.name_hit(cand, &s, name, &qtoks, &qcodes, &mut sims, query, &countries, policy);
                scored.push((hit, cand.score, false));
            }
        }
        Ok(decide::decide(scored, mismatched, policy, query, self.versions()))
    }

    /// Retrieves and scores candidate names; returns the best name per entity, only for
    /// entities the policy screens and whose type fits the query.
    fn name_candidates(
        &self,
        analyzed: &AnalyzedName,
        qtoks: &[Tok<'_>],
        qcodes: &[[u64; 2]],
        subject: Option<SubjectType>,
        policy: &Policy,
        sims: &mut TokenSims,
    ) -> Vec<Candidate> {
        if analyzed.tokens.is_empty() {
            return Vec::new();
        }
        let ix = &self.names;
        let picked: Vec<u32> = SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let Scratch { acc, touched, relatives, kept } = &mut *s;
            if acc.len() < ix.names.len() {
                acc.resize(ix.names.len(), (0.0, 0));
                kept.resize(ix.names.len().div_ceil(64), 0);
            }
            // Each query token's relatives (strongest first), how many of them retrieve, and
            // their postings. Rarest token first: a very common token (a frequent given name)
            // only adds evidence to names a rarer token already found, instead of walking tens
            // of thousands of postings.
            let mut per_token: Vec<(usize, Vec<Relative>, usize, usize)> = Vec::new();
            for (qi, t) in analyzed.tokens.iter().enumerate().take(31) {
                if t.class == TokenClass::Initial {
                    continue;
                }
                ix.relatives(t, qcodes[qi], relatives);
                let strong = relatives.iter().take_while(|r| r.strength >= STRONG_RELATIVE).count();
                let posting_count =
                    |rels: &[Relative]| -> usize { rels.iter().map(|r| ix.postings(r.vid).len()).sum() };
                let (strong_postings, weak_postings) =
                    (posting_count(&relatives[..strong]), posting_count(&relatives[strong..]));
                // Sounds-alike and skeleton relatives of a token that has spellings of its
                // own are many (a common code is shared by thousands of names at 1 M
                // entities): then they only break ties among names found otherwise. Not for
                // Arabic script, whose skeleton is how it meets Latin spellings.
                let (walk, postings) = if strong > 0 && !t.abjad && weak_postings > WEAK_RELATIVE_POSTINGS {
                    (strong, strong_postings)
                } else {
                    (relatives.len(), strong_postings + weak_postings)
                };
                per_token.push((qi, relatives.clone(), walk, postings));
            }
            per_token.sort_by_key(|(_, _, _, p)| *p);
            let budget = (ix.names.len() / 50).max(4000);
            let mut total = 0.0f32;
            // The best-supported name's evidence, kept as it grows (evidence only grows):
            // another pass over thousands of found names costs a cache miss per name.
            let mut best = 0.0f32;
            let mut walked_any = false;
            // Common tokens not walked, with their evidence weight: they break ties below.
            let mut skipped: Vec<HeldBack<'_>> = Vec::new();
            // Weak relatives of walked tokens, held back: they add evidence to names found.
            let mut held: Vec<HeldBack<'_>> = Vec::new();
            for (qi, relatives, walk, postings) in &per_token {
                let t = &analyzed.tokens[*qi];
                let class_w = match t.class {
                    TokenClass::Normal => 1.0,
                    TokenClass::Particle => 0.3,
                    _ => 0.15,
                };
                // Evidence is weighed by how rare the query's own token is: a rare misspelling
                // of a common name must not outweigh the exact spelling.
                let own_idf = match relatives.first() {
                    Some(r) if r.strength >= 1.0 => ix.idf(r.vid),
                    _ => relatives.iter().map(|r| ix.idf(r.vid)).fold(0.0f32, f32::max).max(0.5 * ix.max_idf()),
                };
                total += class_w * own_idf;
                let bit = 1u32 << *qi;
                // A common token adds nothing to retrieval once a rarer token has run: names
                // carrying it are scored in full anyway if the rarer token found them.
                if walked_any && *postings > budget {
                    skipped.push((class_w * own_idf, relatives, bit));
                    continue;
                }
                walked_any = true;
                let (walked, held_back) = relatives.split_at(*walk);
                if !held_back.is_empty() {
                    held.push((class_w * own_idf, held_back, bit));
                }
                // The hottest loop of a query: a slice, not the Vec behind the scratch borrow,
                // lets its base stay in a register across `touched.push`.
                let acc = acc.as_mut_slice();
                for r in walked {
                    let w = class_w * own_idf * r.strength;
                    for &n in ix.postings(r.vid) {
                        let (a, m) = &mut acc[n as usize];
                        if *m & bit == 0 {
                            if *m == 0 {
                                touched.push(n);
                            }
                            *m |= bit;
                            *a += w;
                            raise(&mut best, *a);
                        }
                    }
                }
            }
            // Joined forms: a query token that is two listed tokens, and two query tokens
            // that are one listed token.
            let toks = &analyzed.tokens;
            let mut bump = |n: u32, w: f32, acc: &mut Vec<(f32, u32)>, touched: &mut Vec<u32>| {
                let (a, m) = &mut acc[n as usize];
                if *m == 0 {
                    touched.push(n);
                }
                *m |= 1 << 31;
                *a += w;
                raise(&mut best, *a);
            };
            for t in toks.iter().filter(|t| t.class == TokenClass::Normal && t.text.len() >= 5) {
                for n in ix.joined_names(&t.text) {
                    bump(n, ix.max_idf(), acc, touched);
                }
            }
            for w in toks.windows(2) {
                let joined = format!("{}{}", w[0].text, w[1].text);
                if let Some(vid) = ix.vocab.id(&joined) {
                    let weight = ix.idf(vid);
                    for &n in ix.postings(vid) {
                        bump(n, weight, acc, touched);
                    }
                }
            }
            raise(&mut best, credit_found(ix, acc, kept, touched.iter().copied(), &held));
            // Keep names with enough support, best first.
            // Names with little of the query's evidence, or far less than the best-supported
            // name, cannot score as matches: they are not worth the full comparison.
            let floor = (0.3 * total).max(0.45 * best);
            // One pass keeps the candidates and clears every other name's evidence.
            let mut cands: Vec<(f32, u32)> = Vec::new();
            for &n in touched.iter() {
                let entry = &mut acc[n as usize];
                if entry.0 >= floor {
                    cands.push((entry.0, n));
                } else {
                    *entry = (0.0, 0);
                }
            }
            touched.clear();
            let too_many = cands.len() > MAX_CANDIDATES;
            if too_many {
                // Too many names share the query's rarest parts (a common surname): let the
                // common tokens that were not walked ("Muhammad"), then the query's
                // initials, which retrieve nothing themselves, break the tie.
                credit_found(ix, acc, kept, cands.iter().map(|&(_, n)| n), &skipped);
                for (score, n) in cands.iter_mut() {
                    *score = acc[*n as usize].0;
                }
                let initials: Vec<u8> =
                    toks.iter().filter(|t| t.class == TokenClass::Initial).map(|t| t.text.as_bytes()[0]).collect();
                if !initials.is_empty() {
                    let bonus = 0.2 * total / initials.len() as f32;
                    for (score, n) in cands.iter_mut() {
                        let fitting = initials.iter().filter(|&&i| ix.has_token_starting_with(*n, i)).count();
                        *score += bonus * fitting as f32;
                    }
                }
            }
            for &(_, n) in &cands {
                acc[n as usize] = (0.0, 0);
            }
            if too_many {
                cands.select_nth_unstable_by(MAX_CANDIDATES, |a, b| b.0.total_cmp(&a.0));
                cands.truncate(MAX_CANDIDATES);
            }
            cands.into_iter().map(|(_, n)| n).collect()
        });

        self.score_names(qtoks, qcodes, picked, subject, policy, sims)
    }

    /// Scores the given indexed names against the query tokens; keeps the best name per
    /// entity, for entities the policy screens and whose type fits.
    fn score_names(
        &self,
        qtoks: &[Tok<'_>],
        qcodes: &[[u64; 2]],
        mut name_ids: Vec<u32>,
        subject: Option<SubjectType>,
        policy: &Policy,
        sims: &mut TokenSims,
    ) -> Vec<Candidate> {
        let ix = &self.names;
        // Which names may count is decided in a loop of its own: its loads (a name, its
        // entity, their first cache misses) do not depend on one another, so the processor
        // overlaps them, instead of taking each one between two name comparisons.
        name_ids.retain(|&name_id| {
            let e = &self.entities[ix.names[name_id as usize].entity as usize];
            kind_fits(subject, e.kind) && self.screened(e, policy)
        });
        let mut best: FxHashMap<u32, Candidate> = FxHashMap::default();
        best.reserve(name_ids.len());
        let mut ctoks: Vec<Tok<'_>> = Vec::new();
        let mut scratch = Vec::new();
        let mut rows = Vec::new();
        for name_id in name_ids {
            let n = &ix.names[name_id as usize];
            let e = &self.entities[n.entity as usize];
            let mode = NameMode { strict: policy.strict, listed_is_person: e.kind == EntityKind::Person };
            let itoks = ix.name_tokens(name_id);
            self.listed_tokens_into(name_id, &mut ctoks);
            self.sim_rows(sims, qtoks, qcodes, &ctoks, itoks, mode, &mut rows);
            let cmp = compare_names(qtoks, &ctoks, mode, &mut scratch, |i, j| sims.get(rows[j], i));
            let mut score = cmp.score;
            // Weak aliases and generic person names ("Abu Ali") identify nobody on their own.
            if n.kind == NameKind::Weak {
                score = score.min(0.92);
            }
            if n.generic_person_name {
                score = score.min(0.85);
            }
            let better = best.get(&n.entity).is_none_or(|b| score > b.score || (score == b.score && n.kind < b.kind));
            if better {
                best.insert(n.entity, Candidate { entity: n.entity, name_id, name: n.name, kind: n.kind, score });
            }
        }
        best.into_values().collect()
    }

    /// Whether `entity_id` would be a possible match for `query` if the index had retrieved
    /// it: scores every name of that entity directly. Used to measure index recall.
    #[doc(hidden)]
    pub fn exhaustive_flags(&self, query: &Query, policy: &Policy, entity_id: &str) -> bool {
        let (Some(&ei), Some(name)) = (self.by_id.get(entity_id), query.name.as_deref()) else { return false };
        let Ok(countries) = query.validate() else { return false };
        let analyzed = analyze(name, query_context(query.entity_type));
        let (qtoks, qcodes) = self.query_tokens(&analyzed);
        let ids: Vec<u32> =
            self.names.names.iter().enumerate().filter(|(_, n)| n.entity == ei).map(|(i, _)| i as u32).collect();
        self.score_names(&qtoks, &qcodes, ids, query.entity_type, policy, &mut TokenSims::new(qtoks.len()))
            .iter()
            .any(|c| self.name_scores(c, query, &countries, policy).is_some_and(|s| s.match_score >= s.threshold))
    }

    /// A query's tokens, ready for comparison, and their phonetic codes.
    fn query_tokens<'a>(&self, analyzed: &'a AnalyzedName) -> (Vec<Tok<'a>>, Vec<[u64; 2]>) {
        let qtoks = analyzed.tokens.iter().map(Tok::from).collect();
        let qcodes = analyzed.tokens.iter().map(|t| phonetic_codes(&self.metaphone, &t.text)).collect();
        (qtoks, qcodes)
    }

    /// Similarity of query token `i` and token `j` of an indexed name (`ctoks`, `itoks`).
    #[allow(clippy::too_many_arguments)]
    fn token_score(
        &self,
        qtoks: &[Tok<'_>],
        qcodes: &[[u64; 2]],
        ctoks: &[Tok<'_>],
        itoks: &[index::IToken],
        i: usize,
        j: usize,
        mode: NameMode,
    ) -> (f64, TokenHow) {
        let peq = phonetic_equal(qcodes[i], self.names.vocab.phonetic[itoks[j].vid as usize]);
        token_similarity(&qtoks[i], &ctoks[j], peq, mode)
    }

    /// The rows in `sims` of an indexed name's tokens (`ctoks`, `itoks`), computing the rows
    /// of tokens not met before.
    #[allow(clippy::too_many_arguments)]
    fn sim_rows(
        &self,
        sims: &mut TokenSims,
        qtoks: &[Tok<'_>],
        qcodes: &[[u64; 2]],
        ctoks: &[Tok<'_>],
        itoks: &[index::IToken],
        mode: NameMode,
        rows: &mut Vec<u32>,
    ) {
        rows.clear();
        for (j, t) in itoks.iter().enumerate().take(64) {
            let next = sims.rows.len() as u32;
            let row = *sims.rows.entry((t.vid, t.abjad)).or_insert(next);
            if row == next {
                for i in 0..sims.width {
                    sims.table.push(self.token_score(qtoks, qcodes, ctoks, itoks, i, j, mode));
                }
            }
            rows.push(row);
        }
    }

    /// Whether the policy screens this entity at all (source enabled, a category screened).
    fn screened(&self, e: &Entity, policy: &Policy) -> bool {
        policy.source(&e.source).enabled && e.categories.iter().any(|c| policy.categories.contains(c))
    }

    /// A candidate's scores, without allocating, or `None` when it is too weak to mention
    /// (below the relevance floor and not a name match that other fields ruled out).
    fn name_scores(
        &self,
        cand: &Candidate,
        query: &Query,
        countries: &[String],
        policy: &Policy,
    ) -> Option<NameScores> {
        let e = &self.entities[cand.entity as usize];
        let dob_score =
            query.birth_date.and_then(|q| date_similarity(q, &e.birth_dates, policy.strict)).map(|(s, _, _)| pct(s));
        let name_score = pct(cand.score);
        let (match_score, weights_applied) =
            combine(policy.match_weights, Some(name_score), dob_score, country_score(e, countries, policy).0);
        let threshold = policy.threshold_for(&e.source);
        if match_score < decide::RELEVANCE_FLOOR && name_score < threshold {
            return None;
        }
        Some(NameScores { name_score, match_score, weights_applied, threshold })
    }

    /// The hit, with its explanation, for a scored candidate. The name comparison is run
    /// once more to recover which tokens aligned.
    #[allow(clippy::too_many_arguments)]
    fn name_hit(
        &self,
        cand: &Candidate,
        scores: &NameScores,
        query_name: &str,
        qtoks: &[Tok<'_>],
        qcodes: &[[u64; 2]],
        sims: &mut TokenSims,
        query: &Query,
        countries: &[String],
        policy: &Policy,
    ) -> Hit {
        let e = &self.entities[cand.entity as usize];
        let risk_factors = self.risk[cand.entity as usize];
        let NameScores { name_score, match_score, weights_applied, threshold } = *scores;
        let (dob_score, dob) = self.dob_field(e, query, policy);
        let (country_score, country) = country_field(e, countries, policy);
        let matched = e.names.get(cand.name as usize).map(|n| n.value.clone()).unwrap_or_default();
        let mut ctoks = Vec::new();
        self.listed_tokens_into(cand.name_id, &mut ctoks);
        let ix = &self.names;
        let itoks = ix.name_tokens(cand.name_id);
        let mode = NameMode { strict: policy.strict, listed_is_person: e.kind == EntityKind::Person };
        let mut rows = Vec::new();
        self.sim_rows(sims, qtoks, qcodes, &ctoks, itoks, mode, &mut rows);
        let mut alignments = Vec::new();
        let cmp = compare_names(qtoks, &ctoks, mode, &mut alignments, |i, j| sims.get(rows[j], i));
        let (tokens, unmatched_query_tokens, unmatched_listed_tokens) = cmp.explain(&alignments, qtoks, &ctoks);
        let risk_score = risk_factors.score(policy.risk_weights);
        let status = if match_score >= threshold { HitStatus::Unreviewed } else { HitStatus::FalsePositive };
        let summary = summarize(query_name, &matched, name_score, dob_score, country_score, match_score);
        Hit {
            entity_id: e.id.clone(),
            source: e.source.clone(),
            matched_name: matched.clone(),
            match_score,
            risk_score,
            categories: e.categories.clone(),
            review_status: status,
            explanation: Explanation {
                summary,
                query_name: Some(query_name.to_string()),
                matched_name: matched,
                matched_name_kind: cand.kind,
                golden_key: None,
                name_score: Some(name_score),
                dob_score,
                country_score,
                weights_applied,
                tokens,
                unmatched_query_tokens,
                unmatched_listed_tokens,
                dob,
                country,
                risk_factors,
            },
        }
    }

    /// The tokens of an indexed name, ready for comparison, into a reused buffer.
    fn listed_tokens_into<'a>(&'a self, name_id: u32, out: &mut Vec<Tok<'a>>) {
        let ix = &self.names;
        out.clear();
        out.extend(ix.name_tokens(name_id).iter().map(|t| Tok {
            text: &ix.vocab.text[t.vid as usize],
            key: std::borrow::Cow::Borrowed(&*ix.vocab.key[t.vid as usize]),
            class: t.class,
            role: t.role,
            group: ix.vocab.group[t.vid as usize],
            abjad: t.abjad,
            script: t.script,
            arabic: if t.abjad { ix.vocab.arabic.get(&t.vid).map(|s| &**s) } else { None },
            letters: ix.vocab.letters[t.vid as usize],
        }));
    }

    fn golden_hit(&self, ei: u32, key: GoldenKey, query: &Query, countries: &[String], policy: &Policy) -> Hit {
        let e = &self.entities[ei as usize];
        let risk_factors = self.risk[ei as usize];
        let (dob_score, dob) = self.dob_field(e, query, policy);
        let (country_score, country) = country_field(e, countries, policy);
        let matched = e.primary_name().unwrap_or_default().to_string();
        let summary = format!(
            "{} {} is listed for this entity: identity match (golden key, score 100)",
            key.kind.replace('_', " "),
            key.value
        );
        Hit {
            entity_id: e.id.clone(),
            source: e.source.clone(),
            matched_name: matched.clone(),
            match_score: 100,
            risk_score: risk_factors.score(policy.risk_weights),
            categories: e.categories.clone(),
            review_status: HitStatus::Unreviewed,
            explanation: Explanation {
                summary,
                query_name: query.name.clone(),
                matched_name: matched,
                matched_name_kind: NameKind::Primary,
                golden_key: Some(key),
                name_score: None,
                dob_score,
                country_score,
                weights_applied: MatchWeights { name: 0, dob: 0, country: 0 },
                tokens: Vec::new(),
                unmatched_query_tokens: Vec::new(),
                unmatched_listed_tokens: Vec::new(),
                dob,
                country,
                risk_factors,
            },
        }
    }

    fn dob_field(&self, e: &Entity, query: &Query, policy: &Policy) -> (Option<u8>, Option<DobExplanation>) {
        match query.birth_date.and_then(|q| date_similarity(q, &e.birth_dates, policy.strict).map(|r| (q, r))) {
            Some((q, (s, how, listed))) => (Some(pct(s)), Some(DobExplanation { query: q, listed, how })),
            None => (None, None),
        }
    }
}

/// How a query name is analysed: as the type the caller says it is.
/// Relatives held back from retrieval, with the evidence weight and bit of their query token.
type HeldBack<'r> = (f32, &'r [Relative], u32);

/// Adds held-back relatives' evidence to the names given (names already found): each
/// query token adds its strongest relative among a name's tokens, unless the name already
/// has evidence for that token. The postings are walked in order against a bit set of those
/// names, which stays in cache where the evidence table does not. `marks` is all zero
/// before and after. Returns the largest evidence credited (0 when none was).
fn credit_found(
    ix: &NameIndex,
    acc: &mut [(f32, u32)],
    marks: &mut [u64],
    names: impl Iterator<Item = u32> + Clone,
    groups: &[HeldBack<'_>],
) -> f32 {
    let mut best = 0.0f32;
    if groups.is_empty() {
        return best;
    }
    for n in names.clone() {
        marks[n as usize / 64] |= 1 << (n % 64);
    }
    for &(w, rels, bit) in groups {
        // Strongest relative first: the first one a name meets is its best.
        for r in rels {
            for &n in ix.postings(r.vid) {
                if marks[n as usize / 64] & (1 << (n % 64)) == 0 {
                    continue;
                }
                let (a, m) = &mut acc[n as usize];
                if *m & bit == 0 {
                    *m |= bit;
                    *a += w * r.strength;
                    raise(&mut best, *a);
                }
            }
        }
    }
    for n in names {
        marks[n as usize / 64] = 0;
    }
    best
}

/// Keeps the best-supported name's evidence as evidence is added. Not `f32::max`: evidence is
/// never NaN, and the NaN handling cost more than the add in the postings walk.
#[inline]
fn raise(best: &mut f32, evidence: f32) {
    if evidence > *best {
        *best = evidence;
    }
}

fn query_context(subject: Option<SubjectType>) -> NameContext {
    match subject {
        Some(SubjectType::Person) => NameContext::Person,
        Some(SubjectType::Organization) => NameContext::Organization,
        None => NameContext::Any,
    }
}

/// Persons match persons; organisations match organisations, vessels and aircraft; entries
/// of unknown type (bare wallet lists) match anything.
fn kind_fits(subject: Option<SubjectType>, kind: EntityKind) -> bool {
    match (subject, kind) {
        (None, _) | (_, EntityKind::Unknown) => true,
        (Some(SubjectType::Person), k) => k == EntityKind::Person,
        (Some(SubjectType::Organization), k) => k != EntityKind::Person,
    }
}

/// Country score under the policy's confidence settings, and which scenario applied.
fn country_score(e: &Entity, countries: &[String], policy: &Policy) -> (Option<u8>, &'static str) {
    let conf = policy.country_confidence;
    let mut listed = e.nationalities.iter().chain(&e.countries);
    if countries.is_empty() || e.nationalities.is_empty() && e.countries.is_empty() {
        return (conf.none, "none");
    }
    if listed.any(|l| countries.contains(l)) {
        (Some(conf.matching), "matching")
    } else {
        (Some(conf.mismatching), "mismatching")
    }
}

fn country_field(e: &Entity, countries: &[String], policy: &Policy) -> (Option<u8>, Option<CountryExplanation>) {
    let (score, how) = country_score(e, countries, policy);
    let explanation = score.map(|_| CountryExplanation {
        query: countries.to_vec(),
        listed: e.nationalities.iter().chain(&e.countries).cloned().collect(),
        how,
    });
    (score, explanation)
}

/// Weighted mean over the known fields; returns the score and the weights that applied.
fn combine(w: MatchWeights, name: Option<u8>, dob: Option<u8>, country: Option<u8>) -> (u8, MatchWeights) {
    let parts = [(w.name, name), (w.dob, dob), (w.country, country)];
    let total: u32 = parts.iter().filter(|(_, s)| s.is_some()).map(|(w, _)| u32::from(*w)).sum();
    if total == 0 {
        return (0, MatchWeights { name: 0, dob: 0, country: 0 });
    }
    let sum: u32 = parts.iter().filter_map(|(w, s)| s.map(|s| u32::from(*w) * u32::from(s))).sum();
    let applied = |i: usize| parts[i].1.map(|_| ((u32::from(parts[i].0) * 100 + total / 2) / total) as u8).unwrap_or(0);
    (((sum + total / 2) / total) as u8, MatchWeights { name: applied(0), dob: applied(1), country: applied(2) })
}

fn summarize(query: &str, matched: &str, name: u8, dob: Option<u8>, country: Option<u8>, total: u8) -> String {
    use std::fmt::Write;
    let mut s = format!("`{query}` ~ `{matched}`: name {name}");
    // Writing to a String cannot fail.
    let _ = match dob {
        Some(d) => write!(s, ", birth date {d}"),
        None => write!(s, ", birth date unknown"),
    };
    let _ = match country {
        Some(c) => write!(s, ", country {c}"),
        None => write!(s, ", country unknown"),
    };
    let _ = write!(s, " => match score {total}");
    s
}

#[cfg(test)]
mod tests;
