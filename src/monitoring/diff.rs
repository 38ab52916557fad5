//! What changed between two snapshots of one list: entities new, removed and updated, and for
//! each update which fields changed.
//!
//! Entities are matched by their canonical id (`<source>:<native id>`), so a renamed entry is an
//! update of `names`, while an entry re-published under a new native id is one removal and one
//! addition (as the list itself says). Fields are compared as sets: an importer or a publisher
//! reordering aliases, countries or programs is not a change; a name changing kind (alias to
//! weak alias) is. One hash map over the old snapshot, one pass over the new: linear in the
//! size of both lists.
//!
//! Monitoring re-screens subjects against the diff only: `added` entities (new hits),
//! `removed` ids (hits that disappear) and `updated` entities (hits whose score may change);
//! [`EntityUpdate::fields`] says whether matching fields changed at all.

use std::collections::BTreeMap;
use std::hash::Hash;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::lists::Entity;

/// A field of [`Entity`], as diffs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityField {
    Kind,
    Names,
    BirthDates,
    BirthPlaces,
    Nationalities,
    Countries,
    Documents,
    Wallets,
    Categories,
    Programs,
    Gender,
    Addresses,
    Positions,
    ListedOn,
}

impl EntityField {
    pub const ALL: [EntityField; 14] = [
        EntityField::Kind,
        EntityField::Names,
        EntityField::BirthDates,
        EntityField::BirthPlaces,
        EntityField::Nationalities,
        EntityField::Countries,
        EntityField::Documents,
        EntityField::Wallets,
        EntityField::Categories,
        EntityField::Programs,
        EntityField::Gender,
        EntityField::Addresses,
        EntityField::Positions,
        EntityField::ListedOn,
    ];

    /// The field's name in [`Entity`] (and in its JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityField::Kind => "kind",
            EntityField::Names => "names",
            EntityField::BirthDates => "birth_dates",
            EntityField::BirthPlaces => "birth_places",
            EntityField::Nationalities => "nationalities",
            EntityField::Countries => "countries",
            EntityField::Documents => "documents",
            EntityField::Wallets => "wallets",
            EntityField::Categories => "categories",
            EntityField::Programs => "programs",
            EntityField::Gender => "gender",
            EntityField::Addresses => "addresses",
            EntityField::Positions => "positions",
            EntityField::ListedOn => "listed_on",
        }
    }

    /// Whether the screening engine reads this field to find or score a hit (names, birth
    /// dates, nationalities, countries, documents, wallets, kind, categories). A change limited
    /// to other fields (addresses, programs, positions, ...) cannot change a match score, only
    /// what an officer reads.
    pub fn affects_matching(self) -> bool {
        matches!(
            self,
            EntityField::Kind
                | EntityField::Names
                | EntityField::BirthDates
                | EntityField::Nationalities
                | EntityField::Countries
                | EntityField::Documents
                | EntityField::Wallets
                | EntityField::Categories
        )
    }
}

impl std::fmt::Display for EntityField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entity present in both snapshots whose content changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityUpdate {
    pub old: Entity,
    pub new: Entity,
    /// The fields that differ, in [`EntityField::ALL`] order; never empty.
    pub fields: Vec<EntityField>,
}

impl EntityUpdate {
    pub fn id(&self) -> &str {
        &self.new.id
    }

    /// Whether any changed field can change a match (see [`EntityField::affects_matching`]).
    pub fn affects_matching(&self) -> bool {
        self.fields.iter().any(|f| f.affects_matching())
    }
}

/// The difference between an old and a new snapshot of a list.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ListDiff {
    /// In the new snapshot only, in the new snapshot's order.
    pub added: Vec<Entity>,
    /// In the old snapshot only, in the old snapshot's order.
    pub removed: Vec<Entity>,
    /// In both, changed, in the new snapshot's order.
    pub updated: Vec<EntityUpdate>,
    /// In both, unchanged.
    pub unchanged: usize,
}

/// Counts of a [`ListDiff`], for logs, metrics and events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSummary {
    pub added: usize,
    pub removed: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Of the updated entities, how many changed each field (fields that never changed are
    /// absent).
    pub fields: BTreeMap<EntityField, usize>,
}

impl ListDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.updated.is_empty()
    }

    pub fn summary(&self) -> DiffSummary {
        let mut fields = BTreeMap::new();
        for u in &self.updated {
            for f in &u.fields {
                *fields.entry(*f).or_insert(0) += 1;
            }
        }
        DiffSummary {
            added: self.added.len(),
            removed: self.removed.len(),
            updated: self.updated.len(),
            unchanged: self.unchanged,
            fields,
        }
    }

    /// Every entity id the diff touches (added, removed, updated).
    pub fn changed_ids(&self) -> impl Iterator<Item = &str> {
        self.added
            .iter()
            .map(|e| e.id.as_str())
            .chain(self.removed.iter().map(|e| e.id.as_str()))
            .chain(self.updated.iter().map(|u| u.id()))
    }
}

/// Compares two snapshots of a list. Entity ids are unique within a loaded list (the importers
/// check it); given duplicates anyway, the last old entity of an id is the one compared, each new
/// occurrence is compared on its own, and a removed id is reported once.
pub fn diff(old: &[Entity], new: &[Entity]) -> ListDiff {
    let mut by_id: FxHashMap<&str, &Entity> = FxHashMap::default();
    by_id.reserve(old.len());
    for e in old {
        by_id.insert(e.id.as_str(), e);
    }
    let mut seen: FxHashMap<&str, ()> = FxHashMap::default();
    seen.reserve(new.len());
    let mut out = ListDiff::default();
    for e in new {
        seen.insert(e.id.as_str(), ());
        match by_id.get(e.id.as_str()) {
            None => out.added.push(e.clone()),
            Some(before) => {
                let fields = changed_fields(before, e);
                if fields.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.updated.push(EntityUpdate { old: (*before).clone(), new: e.clone(), fields });
                }
            }
        }
    }
    // Old entities not in the new snapshot; `by_id` keeps one entry per id, so a duplicated
    // old id is reported once.
    for e in old {
        if !seen.contains_key(e.id.as_str()) && by_id.remove(e.id.as_str()).is_some() {
            out.removed.push(e.clone());
        }
    }
    out
}

/// The fields that differ between two versions of an entity, in [`EntityField::ALL`] order.
/// List fields are compared as sets (order is not a change).
pub fn changed_fields(old: &Entity, new: &Entity) -> Vec<EntityField> {
    use EntityField as F;
    let mut out = Vec::new();
    let mut check = |field: F, same: bool| {
        if !same {
            out.push(field);
        }
    };
    check(F::Kind, old.kind == new.kind);
    check(F::Names, same_set(&old.names, &new.names, |n| (n.value.as_str(), n.kind)));
    check(F::BirthDates, same_set(&old.birth_dates, &new.birth_dates, |d| *d));
    check(F::BirthPlaces, same_set(&old.birth_places, &new.birth_places, |s| s.as_str()));
    check(F::Nationalities, same_set(&old.nationalities, &new.nationalities, |s| s.as_str()));
    check(F::Countries, same_set(&old.countries, &new.countries, |s| s.as_str()));
    check(
        F::Documents,
        same_set(&old.documents, &new.documents, |d| (d.kind as u8, d.number.as_str(), d.country.as_deref())),
    );
    check(F::Wallets, same_set(&old.wallets, &new.wallets, |w| (w.chain.as_str(), w.address.as_str())));
    check(F::Categories, same_set(&old.categories, &new.categories, |c| *c));
    check(F::Programs, same_set(&old.programs, &new.programs, |s| s.as_str()));
    check(F::Gender, old.gender == new.gender);
    check(F::Addresses, same_set(&old.addresses, &new.addresses, |s| s.as_str()));
    check(F::Positions, same_set(&old.positions, &new.positions, |s| s.as_str()));
    check(F::ListedOn, old.listed_on == new.listed_on);
    out
}

/// Whether two lists hold the same elements, counting repeats, in any order.
fn same_set<'a, T: PartialEq, K: Ord + Hash + 'a>(a: &'a [T], b: &'a [T], key: impl Fn(&'a T) -> K) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a == b {
        return true;
    }
    let mut ka: Vec<K> = a.iter().map(&key).collect();
    let mut kb: Vec<K> = b.iter().map(&key).collect();
    ka.sort_unstable();
    kb.sort_unstable();
    ka == kb
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::{Category, DocumentKind, EntityKind, NameKind, PartialDate};

    fn person(id: &str, name: &str) -> Entity {
        let mut e = Entity::new("l", id, EntityKind::Person);
        e.add_name(name, NameKind::Primary);
        e.add_category(Category::Sanction);
        e
    }

    #[test]
    fn new_removed_updated_and_unchanged() {
        let a = person("1", "Anna A");
        let b = person("2", "Bert B");
        let c = person("3", "Carl C");
        let mut b2 = b.clone();
        b2.add_name("Bertie B", NameKind::Alias);
        b2.add_birth_date(PartialDate::year(1970));
        let d = person("4", "Dora D");
        let d_diff = diff(&[a.clone(), b.clone(), c.clone()], &[d.clone(), b2.clone(), a.clone()]);
        assert_eq!(d_diff.added, vec![d]);
        assert_eq!(d_diff.removed, vec![c]);
        assert_eq!(d_diff.updated.len(), 1);
        assert_eq!(d_diff.updated[0].id(), "l:2");
        assert_eq!(d_diff.updated[0].fields, vec![EntityField::Names, EntityField::BirthDates]);
        assert_eq!(d_diff.updated[0].old, b);
        assert_eq!(d_diff.updated[0].new, b2);
        assert_eq!(d_diff.unchanged, 1);
        let s = d_diff.summary();
        assert_eq!((s.added, s.removed, s.updated, s.unchanged), (1, 1, 1, 1));
        assert_eq!(s.fields.get(&EntityField::Names), Some(&1));
        assert_eq!(s.fields.get(&EntityField::Programs), None);
        let mut ids: Vec<&str> = d_diff.changed_ids().collect();
        ids.sort();
        assert_eq!(ids, ["l:2", "l:3", "l:4"]);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["fields"]["birth_dates"], 1);
    }

    #[test]
    fn identical_and_empty_snapshots() {
        let list = vec![person("1", "A"), person("2", "B")];
        let same = diff(&list, &list);
        assert!(same.is_empty());
        assert_eq!(same.unchanged, 2);
        assert!(diff(&[], &[]).is_empty());
        let all_new = diff(&[], &list);
        assert_eq!(all_new.added.len(), 2);
        let all_gone = diff(&list, &[]);
        assert_eq!(all_gone.removed.len(), 2);
    }

    #[test]
    fn order_is_not_a_change_but_kind_is() {
        let mut a = person("1", "Anna A");
        a.add_name("Ann A", NameKind::Alias);
        a.add_country("FR");
        a.add_country("DE");
        a.add_program("SDGT");
        a.add_program("IRAN");
        let mut b = a.clone();
        b.names.reverse();
        b.countries.reverse();
        b.programs.reverse();
        assert!(changed_fields(&a, &b).is_empty());
        b.names[0].kind = NameKind::Weak;
        assert_eq!(changed_fields(&a, &b), vec![EntityField::Names]);
    }

    #[test]
    fn every_field_is_compared() {
        let base = person("1", "Anna A");
        type Edit = Box<dyn Fn(&mut Entity)>;
        let edits: Vec<(EntityField, Edit)> = vec![
            (EntityField::Kind, Box::new(|e| e.kind = EntityKind::Organization)),
            (EntityField::Names, Box::new(|e| e.add_name("Other", NameKind::Alias))),
            (EntityField::BirthDates, Box::new(|e| e.add_birth_date(PartialDate::year(1950)))),
            (EntityField::BirthPlaces, Box::new(|e| e.add_birth_place("Paris"))),
            (EntityField::Nationalities, Box::new(|e| e.add_nationality("FR"))),
            (EntityField::Countries, Box::new(|e| e.add_country("FR"))),
            (EntityField::Documents, Box::new(|e| e.add_document(DocumentKind::Passport, "X1", Some("FR")))),
            (EntityField::Wallets, Box::new(|e| e.add_wallet("XBT", "1abc"))),
            (EntityField::Categories, Box::new(|e| e.add_category(Category::Pep))),
            (EntityField::Programs, Box::new(|e| e.add_program("SDGT"))),
            (EntityField::Gender, Box::new(|e| e.gender = Some(crate::lists::Gender::Female))),
            (EntityField::Addresses, Box::new(|e| e.add_address("1 Main St"))),
            (EntityField::Positions, Box::new(|e| e.add_position("Minister"))),
            (EntityField::ListedOn, Box::new(|e| e.set_listed_on(PartialDate::year(2020)))),
        ];
        assert_eq!(edits.len(), EntityField::ALL.len());
        for (field, edit) in &edits {
            let mut e = base.clone();
            edit(&mut e);
            assert_eq!(changed_fields(&base, &e), vec![*field], "{field}");
        }
        // A document's country is part of the document.
        let mut a = base.clone();
        a.add_document(DocumentKind::Passport, "X1", Some("FR"));
        let mut b = a.clone();
        b.documents[0].country = Some("DE".into());
        assert_eq!(changed_fields(&a, &b), vec![EntityField::Documents]);
        assert!(EntityField::Names.affects_matching() && !EntityField::Addresses.affects_matching());
        let json: Vec<String> = EntityField::ALL.iter().map(|f| serde_json::to_string(f).unwrap()).collect();
        assert!(json.iter().zip(EntityField::ALL).all(|(j, f)| *j == format!("\"{}\"", f.as_str())));
    }

    #[test]
    fn duplicated_ids_are_reported_once() {
        let a = person("1", "A");
        let d = diff(&[a.clone(), a.clone()], &[]);
        assert_eq!(d.removed.len(), 1);
        let d = diff(&[], &[a.clone(), a]);
        assert_eq!(d.added.len(), 2, "the new side is taken as given");
    }

    #[test]
    fn twenty_thousand_entities_diff_fast() {
        let old: Vec<Entity> = (0..20_000).map(|i| person(&i.to_string(), &format!("Name {i}"))).collect();
        let mut new: Vec<Entity> = old[1_000..].to_vec();
        for e in new.iter_mut().step_by(20) {
            e.add_country("FR");
        }
        new.extend((20_000..21_000).map(|i| person(&i.to_string(), &format!("Name {i}"))));
        let t = std::time::Instant::now();
        let d = diff(&old, &new);
        let took = t.elapsed();
        assert_eq!((d.added.len(), d.removed.len(), d.updated.len()), (1_000, 1_000, 950));
        assert_eq!(d.unchanged, 19_000 - 950);
        assert!(took.as_secs() < 2, "diff of 20,000 entities took {took:?}");
    }
}
