//! OFAC's `Remarks` field: the part of an SDN entry that carries birth dates, documents, aliases
//! and wallets in the legacy CSV, e.g.
//!
//! ```text
//! DOB 25 Mar 1977; POB Wuhan City, Hubei, China; citizen China; Gender Male;
//! Digital Currency Address - XBT 12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h;
//! alt. Digital Currency Address - XBT 1Kuf2Rd8...; Citizen's Card Number 421002197703250019 (China);
//! a.k.a. 'ZHOU, William'; a.k.a. 'YAN, Steven'.
//! ```
//!
//! The field is split on `;` outside single-quoted names (a quote opens after a space and closes
//! before `;`, `.`, `,`, a space or the end, so apostrophes inside names such as `'ABU-'UMAR'`
//! do not confuse it; an unclosed quote falls back to a plain split). Each segment loses one
//! trailing `.` and an `alt. ` prefix, then is matched by its label. What is extracted:
//!
//! * `DOB ...` — every date form OFAC uses, see [`super::dates`] (ranges become every year,
//!   `circa X` becomes X);
//! * `POB ...` — birth place as written; `nationality X` / `citizen X` — ISO codes;
//! * `Gender Male|Female`;
//! * `a.k.a. 'X'` (alias), `f.k.a. 'X'` (former name), `n.k.a. 'X'` (now known as: an alias);
//! * `Digital Currency Address - <TICKER> <address>` for any ticker (XBT, ETH, XMR, USDT, TRX,
//!   SOL, ...: the ticker is not checked against a list, so new chains work unchanged);
//! * documents by label ([`DOCUMENT_LABELS`]): number up to ` (`, ` issued` or ` expires`, and the
//!   issuing country from the first parenthesised country name;
//! * IMO numbers (`Vessel Registration Identification IMO 1234567`, `Company Number IMO ...`,
//!   `Identification Number IMO ...`), aircraft tail and serial numbers, `Nationality of
//!   Registration X`.
//!
//! Anything else (`Linked To:`, websites, phone numbers, sanctions notes) is ignored.

use super::countries::{self, CountryResolver};
use super::dates::extract_dates;
use super::model::{DocumentKind, Entity, Gender, NameKind, PartialDate};

/// One fact read from a remarks segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Remark<'a> {
    BirthDates(Vec<PartialDate>),
    BirthPlace(&'a str),
    /// Raw country text (`nationality X`); resolved when applied.
    Nationality(&'a str),
    /// Raw country text (`citizen X`); resolved when applied.
    Citizenship(&'a str),
    Gender(Gender),
    Name {
        value: &'a str,
        kind: NameKind,
    },
    Wallet {
        chain: &'a str,
        address: &'a str,
    },
    Document {
        kind: DocumentKind,
        number: &'a str,
        country: Option<&'static str>,
    },
    /// The number part after `IMO`.
    Imo(&'a str),
    /// `Nationality of Registration X` (companies, vessels): a linked country.
    RegistrationCountry(&'a str),
}

/// Labels of identity and registration documents, in matching order (longer labels sharing a
/// prefix come first).
pub const DOCUMENT_LABELS: &[(&str, DocumentKind)] = &[
    ("Diplomatic Passport", DocumentKind::Passport),
    ("Passport No.", DocumentKind::Passport),
    ("Passport", DocumentKind::Passport),
    ("National ID No.", DocumentKind::NationalId),
    ("National ID Number", DocumentKind::NationalId),
    ("National Identification Number", DocumentKind::NationalId),
    ("Citizen's Card Number", DocumentKind::NationalId),
    ("Personal ID Card", DocumentKind::NationalId),
    ("Cedula No.", DocumentKind::NationalId),
    ("D.N.I.", DocumentKind::NationalId),
    ("C.U.R.P.", DocumentKind::NationalId),
    ("Kenyan ID No.", DocumentKind::NationalId),
    ("SSN", DocumentKind::NationalId),
    ("Identification Number", DocumentKind::NationalId),
    ("Tax ID No.", DocumentKind::TaxId),
    ("R.F.C.", DocumentKind::TaxId),
    ("NIT #", DocumentKind::TaxId),
    ("RUC #", DocumentKind::TaxId),
    ("V.A.T. Number", DocumentKind::TaxId),
    ("Registration Number", DocumentKind::Registration),
    ("Registration ID", DocumentKind::Registration),
    ("Business Registration Number", DocumentKind::Registration),
    ("Business Registration Document #", DocumentKind::Registration),
    ("Business Number", DocumentKind::Registration),
    ("Company Number", DocumentKind::Registration),
    ("Commercial Registry Number", DocumentKind::Registration),
    ("Chamber of Commerce Number", DocumentKind::Registration),
    ("Unified Social Credit Code (USCC)", DocumentKind::Registration),
    ("Legal Entity Number", DocumentKind::Registration),
    ("Government Gazette Number", DocumentKind::Registration),
    ("Public Registration Number", DocumentKind::Registration),
    ("Certificate of Incorporation Number", DocumentKind::Registration),
    ("Trade License No.", DocumentKind::Registration),
    ("Economic Register Number (CBLS)", DocumentKind::Registration),
    ("Folio Mercantil No.", DocumentKind::Registration),
    ("Matricula Mercantil No", DocumentKind::Registration),
    ("C.R. No.", DocumentKind::Registration),
    ("Aircraft Tail Number", DocumentKind::Registration),
    ("Aircraft Manufacturer's Serial Number (MSN)", DocumentKind::Other),
    ("Residency Number", DocumentKind::Other),
    ("Birth Certificate Number", DocumentKind::Other),
    ("Driver's License No.", DocumentKind::Other),
    ("Immigration No.", DocumentKind::Other),
    ("MMSI", DocumentKind::Other),
];

/// Labels whose value is an IMO number (`<label> IMO 1234567`).
const IMO_LABELS: &[&str] =
    &["Vessel Registration Identification", "Identification Number", "Company Number", "Registration Number"];

/// Splits remarks on `;` outside single-quoted names (see the module doc).
pub fn split_remarks(remarks: &str) -> Vec<&str> {
    let b = remarks.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut quote_open: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => match quote_open {
                None if i == 0 || b[i - 1] == b' ' => quote_open = Some(i),
                Some(_) if matches!(b.get(i + 1), None | Some(b';' | b'.' | b',' | b' ')) => quote_open = None,
                _ => {}
            },
            b';' if quote_open.is_none() => {
                out.push(&remarks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
        if i == b.len()
            && let Some(q) = quote_open.take()
        {
            // Never closed: split the rest of the field plainly, from the segment holding
            // the quote on.
            debug_assert!(q >= start);
            for part in remarks[start..].split(';') {
                out.push(part);
            }
            return clean(out);
        }
    }
    out.push(&remarks[start..]);
    clean(out)
}

fn clean(parts: Vec<&str>) -> Vec<&str> {
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

/// Case-insensitive ASCII prefix strip that never slices inside a character.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) { s.get(prefix.len()..) } else { None }
}

/// `label` followed by a space (or `:`), then the value.
fn labelled<'a>(seg: &'a str, label: &str) -> Option<&'a str> {
    let rest = strip_prefix_ci(seg, label)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    if rest.starts_with(' ') || rest.is_empty() {
        let v = rest.trim();
        if v.is_empty() { None } else { Some(v) }
    } else {
        None
    }
}

/// Removes one pair of enclosing quotes (`'X'` or `"X"`), or a lone leading one.
fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q) {
            return inner.strip_suffix(q).unwrap_or(inner).trim();
        }
    }
    s
}

/// Number and issuing country of a document value such as
/// `MD222228 (Burma) issued 15 May 2018 expires 14 May 2023` or `HRA 737191 (Stuttgart) (Germany)`.
fn document_value(value: &str) -> Option<(&str, Option<&'static str>)> {
    let mut end = value.len();
    for marker in [" (", " issued", " expires", " Issued", " Expires", ", issued"] {
        if let Some(p) = value.find(marker) {
            end = end.min(p);
        }
    }
    let number = value[..end].trim().trim_start_matches(['#', ':']).trim().trim_end_matches([',', '.']);
    if !number.bytes().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut country = None;
    let mut rest = &value[end..];
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        if let Some(c) = countries::iso2(&rest[open + 1..open + close]) {
            country = Some(c);
            break;
        }
        rest = &rest[open + close + 1..];
    }
    Some((number, country))
}

/// Reads one remarks segment; `None` for segments that carry nothing the model keeps.
pub fn parse_segment(segment: &str) -> Option<Remark<'_>> {
    let seg = segment.trim();
    let seg = seg.strip_suffix('.').unwrap_or(seg).trim();
    let seg = strip_prefix_ci(seg, "alt. ").map(str::trim).unwrap_or(seg);
    if let Some(v) = labelled(seg, "DOB") {
        let dates = extract_dates(v);
        return if dates.is_empty() { None } else { Some(Remark::BirthDates(dates)) };
    }
    if let Some(v) = labelled(seg, "POB") {
        return Some(Remark::BirthPlace(v));
    }
    if let Some(v) = labelled(seg, "Nationality of Registration") {
        return Some(Remark::RegistrationCountry(v));
    }
    if let Some(v) = labelled(seg, "nationality") {
        return Some(Remark::Nationality(v));
    }
    if let Some(v) = labelled(seg, "citizen") {
        return Some(Remark::Citizenship(v));
    }
    if let Some(v) = labelled(seg, "Gender") {
        return match v.to_ascii_lowercase().as_str() {
            "male" => Some(Remark::Gender(Gender::Male)),
            "female" => Some(Remark::Gender(Gender::Female)),
            _ => None,
        };
    }
    for (label, kind) in [("a.k.a.", NameKind::Alias), ("f.k.a.", NameKind::Former), ("n.k.a.", NameKind::Alias)] {
        if let Some(v) = labelled(seg, label) {
            let value = unquote(v);
            return if value.is_empty() { None } else { Some(Remark::Name { value, kind }) };
        }
    }
    if let Some(v) = strip_prefix_ci(seg, "Digital Currency Address -") {
        let mut words = v.split_whitespace();
        let chain = words.next()?;
        let address = words.next()?.trim_end_matches([',', ';']);
        if !chain.bytes().all(|c| c.is_ascii_alphanumeric()) || address.is_empty() {
            return None;
        }
        return Some(Remark::Wallet { chain, address });
    }
    for label in IMO_LABELS {
        if let Some(v) = labelled(seg, label)
            && let Some(n) = strip_prefix_ci(v, "IMO")
        {
            let n = n.trim();
            if n.bytes().any(|c| c.is_ascii_digit()) {
                return Some(Remark::Imo(n));
            }
        }
    }
    for (label, kind) in DOCUMENT_LABELS {
        if let Some(v) = labelled(seg, label) {
            let (number, country) = document_value(v)?;
            return Some(Remark::Document { kind: *kind, number, country });
        }
    }
    None
}

/// All facts of a remarks field, in order.
pub fn parse_remarks(remarks: &str) -> Vec<Remark<'_>> {
    split_remarks(remarks).into_iter().filter_map(parse_segment).collect()
}

/// Adds the facts of `remarks` to `entity`.
pub fn apply_remarks(entity: &mut Entity, remarks: &str, countries: &mut CountryResolver) {
    for fact in parse_remarks(remarks) {
        match fact {
            Remark::BirthDates(dates) => dates.into_iter().for_each(|d| entity.add_birth_date(d)),
            Remark::BirthPlace(p) => entity.add_birth_place(p),
            Remark::Nationality(c) | Remark::Citizenship(c) => {
                for code in countries.many(c) {
                    entity.add_nationality(code);
                }
            }
            Remark::RegistrationCountry(c) => {
                for code in countries.many(c) {
                    entity.add_country(code);
                }
            }
            Remark::Gender(g) => entity.gender = Some(g),
            Remark::Name { value, kind } => entity.add_name(value, kind),
            Remark::Wallet { chain, address } => entity.add_wallet(chain, address),
            Remark::Document { kind, number, country } => entity.add_document(kind, number, country),
            Remark::Imo(n) => entity.add_imo(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::model::EntityKind;
    use proptest::prelude::*;

    const YAN: &str = "DOB 25 Mar 1977; POB Wuhan City, Hubei, China; citizen China; Gender Male; \
        Digital Currency Address - XBT 12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h; alt. Digital Currency Address - XBT \
        1Kuf2Rd8mDyAViwBozGTNYnvWL8uYFrkVo; Chinese Commercial Code 7346 2556 0365; Citizen's Card Number \
        421002197703250019 (China); a.k.a. 'ZHOU, William'; a.k.a. 'YAN, Steven'.";

    #[test]
    fn reads_a_full_sdn_remark() {
        let mut e = Entity::new("t", "25308", EntityKind::Person);
        let mut c = CountryResolver::new();
        apply_remarks(&mut e, YAN, &mut c);
        assert_eq!(e.birth_dates, [PartialDate::new(1977, Some(3), Some(25)).unwrap()]);
        assert_eq!(e.birth_places, ["Wuhan City, Hubei, China"]);
        assert_eq!(e.nationalities, ["CN"]);
        assert_eq!(e.gender, Some(Gender::Male));
        assert_eq!(e.wallets.len(), 2);
        assert_eq!(e.wallets[0].chain, "XBT");
        assert_eq!(e.documents.len(), 1);
        assert_eq!(e.documents[0].kind, DocumentKind::NationalId);
        assert_eq!(e.documents[0].number, "421002197703250019");
        assert_eq!(e.documents[0].country.as_deref(), Some("CN"));
        let names: Vec<&str> = e.names.iter().map(|n| n.value.as_str()).collect();
        assert_eq!(names, ["ZHOU, William", "YAN, Steven"]);
    }

    #[test]
    fn dob_forms() {
        let years = |s: &str| match parse_segment(s) {
            Some(Remark::BirthDates(d)) => d.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(years("DOB 25 Mar 1977"), ["1977-03-25"]);
        assert_eq!(years("DOB 1962"), ["1962"]);
        assert_eq!(years("DOB Mar 1962"), ["1962-03"]);
        assert_eq!(years("DOB circa 1957"), ["1957"]);
        assert_eq!(years("DOB 1960 to 1962"), ["1960", "1961", "1962"]);
        assert_eq!(years("alt. DOB 01 Jan 1973 to 31 Dec 1973"), ["1973"]);
        assert_eq!(years("DOB circa 1979-1982."), ["1979", "1980", "1981", "1982"]);
    }

    #[test]
    fn documents_with_countries_and_issue_dates() {
        assert_eq!(
            parse_segment("Passport T14553558 (Iran)"),
            Some(Remark::Document { kind: DocumentKind::Passport, number: "T14553558", country: Some("IR") })
        );
        assert_eq!(
            parse_segment("alt. Passport MD222228 (Burma) issued 15 May 2018 expires 14 May 2023"),
            Some(Remark::Document { kind: DocumentKind::Passport, number: "MD222228", country: Some("MM") })
        );
        assert_eq!(
            parse_segment("Registration Number HRA 737191 (Stuttgart) (Germany)."),
            Some(Remark::Document { kind: DocumentKind::Registration, number: "HRA 737191", country: Some("DE") })
        );
        assert_eq!(
            parse_segment("Cedula No. 18110470 (Colombia)"),
            Some(Remark::Document { kind: DocumentKind::NationalId, number: "18110470", country: Some("CO") })
        );
        assert_eq!(
            parse_segment("Tax ID No. 7826058631 (Russia)"),
            Some(Remark::Document { kind: DocumentKind::TaxId, number: "7826058631", country: Some("RU") })
        );
        assert_eq!(
            parse_segment("National ID No. 0036824240 (Iran)"),
            Some(Remark::Document { kind: DocumentKind::NationalId, number: "0036824240", country: Some("IR") })
        );
        assert_eq!(
            parse_segment("Identification Number 10260371950 (Iran)"),
            Some(Remark::Document { kind: DocumentKind::NationalId, number: "10260371950", country: Some("IR") })
        );
        assert_eq!(parse_segment("Vessel Registration Identification IMO 9283007"), Some(Remark::Imo("9283007")));
        assert_eq!(parse_segment("Identification Number IMO 4112088."), Some(Remark::Imo("4112088")));
        assert_eq!(parse_segment("Passport issued by the State"), None);
    }

    #[test]
    fn names_wallets_gender() {
        assert_eq!(parse_segment("a.k.a. 'BNC'."), Some(Remark::Name { value: "BNC", kind: NameKind::Alias }));
        assert_eq!(parse_segment("f.k.a. 'ZOMEX'."), Some(Remark::Name { value: "ZOMEX", kind: NameKind::Former }));
        assert_eq!(parse_segment("n.k.a. 'LGOK'"), Some(Remark::Name { value: "LGOK", kind: NameKind::Alias }));
        assert_eq!(parse_segment("Gender Female."), Some(Remark::Gender(Gender::Female)));
        for (seg, chain, addr) in [
            (
                "Digital Currency Address - ETH 0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c",
                "ETH",
                "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c",
            ),
            ("alt. Digital Currency Address - XMR 4AbC", "XMR", "4AbC"),
            (
                "Digital Currency Address - USDT TTgcTTNbNuFdbrhvbjMZVrdU5KALyzDaPw.",
                "USDT",
                "TTgcTTNbNuFdbrhvbjMZVrdU5KALyzDaPw",
            ),
            ("Digital Currency Address - SOL 5dbXj", "SOL", "5dbXj"),
            ("Digital Currency Address - ARB 0xabc", "ARB", "0xabc"),
        ] {
            assert_eq!(parse_segment(seg), Some(Remark::Wallet { chain, address: addr }), "{seg}");
        }
    }

    #[test]
    fn splitting_respects_quoted_names() {
        assert_eq!(split_remarks("a.k.a. 'A; B'; DOB 1962"), ["a.k.a. 'A; B'", "DOB 1962"]);
        assert_eq!(
            split_remarks("a.k.a. 'ABU-'UMAR'; a.k.a. ''FUPI''; DOB 1970."),
            ["a.k.a. 'ABU-'UMAR'", "a.k.a. ''FUPI''", "DOB 1970."]
        );
        // An unclosed quote does not swallow the rest.
        assert_eq!(split_remarks("a.k.a. 'OPEN; DOB 1962"), ["a.k.a. 'OPEN", "DOB 1962"]);
        assert_eq!(
            parse_segment("a.k.a. 'ABU-'UMAR'."),
            Some(Remark::Name { value: "ABU-'UMAR", kind: NameKind::Alias })
        );
    }

    proptest! {
        #[test]
        fn arbitrary_remarks_never_panic(s in "\\PC*") {
            let mut e = Entity::new("t", "1", EntityKind::Person);
            let mut c = CountryResolver::new();
            apply_remarks(&mut e, &s, &mut c);
        }

        #[test]
        fn remark_like_text_never_panics(
            parts in prop::collection::vec(
                prop::sample::select(vec!["DOB ", "a.k.a. '", "alt. ", "Passport ", "Digital Currency Address - ", "'", ";", ".", " (", ")", "é", "1977", "Mar", " to ", "IMO "]),
                0..30,
            )
        ) {
            let s: String = parts.concat();
            let mut e = Entity::new("t", "1", EntityKind::Person);
            let mut c = CountryResolver::new();
            apply_remarks(&mut e, &s, &mut c);
        }
    }
}
