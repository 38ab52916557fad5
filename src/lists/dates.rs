//! Dates as lists write them: `25 Mar 1977`, `Mar 1962`, `circa 1957`, `1960 to 1962`,
//! `14.4.1965 or 1.3.1964`, `(a) 17.8.1957, (b) 17.8.1958`, `00/00/1980`, `1962-11-23`.
//!
//! Ranges (`1960 to 1962`, `1979-1982`, `08 Nov 1985 to 07 Nov 1986`) become every year of the
//! range as a year-only date, because a year-only date is what the matcher compares at year
//! precision; a range longer than [`MAX_RANGE_YEARS`] keeps only its two end years, so a typo
//! cannot flood an entity with dates. `circa X` records X: tolerance is the matcher's job.

use super::model::PartialDate;

/// Longest birth-date range expanded into single years.
pub const MAX_RANGE_YEARS: u16 = 10;

/// Years outside this window are not birth or listing dates (catches `3033`-style typos).
const PLAUSIBLE_YEARS: std::ops::RangeInclusive<u16> = 1800..=2100;

pub(crate) fn month_from_word(word: &str) -> Option<u8> {
    let w = word.to_ascii_lowercase();
    let m = match w.as_str() {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    };
    Some(m)
}

/// A date from parts where 0 means unknown (UK HMT writes `00/00/1980` for "1980").
pub(crate) fn date_from_parts(year: u32, month: u32, day: u32) -> Option<PartialDate> {
    let year = u16::try_from(year).ok().filter(|y| PLAUSIBLE_YEARS.contains(y))?;
    let month = u8::try_from(month).ok()?;
    let day = u8::try_from(day).ok()?;
    match (month, day) {
        (0, _) => Some(PartialDate::year(year)),
        (m, 0) => PartialDate::new(year, Some(m), None),
        (m, d) => PartialDate::new(year, Some(m), Some(d)),
    }
}

/// `dd/mm/yyyy` or `dd.mm.yyyy` (European order, zeros for unknown parts).
pub(crate) fn parse_dmy(s: &str) -> Option<PartialDate> {
    let parts: Vec<&str> = s.trim().split(['/', '.', '-']).collect();
    match parts.as_slice() {
        [d, m, y] if y.len() == 4 => date_from_parts(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
        _ => None,
    }
}

/// `mm/dd/yyyy` (US order, as BIS writes dates).
pub(crate) fn parse_mdy(s: &str) -> Option<PartialDate> {
    let parts: Vec<&str> = s.trim().split('/').collect();
    match parts.as_slice() {
        [m, d, y] if y.len() == 4 => date_from_parts(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
        _ => None,
    }
}

/// The date part of an ISO 8601 date or timestamp (`2025-12-08T08:44:02` -> 2025-12-08).
pub(crate) fn parse_iso_prefix(s: &str) -> Option<PartialDate> {
    let s = s.trim();
    let date = s.split(['T', ' ']).next().unwrap_or(s);
    PartialDate::parse_iso(date)
}

/// Today (UTC): list dates later than this are typos (`3033-09-30`) and ignored.
pub(crate) fn today() -> PartialDate {
    let now = chrono::Utc::now().date_naive();
    use chrono::Datelike;
    PartialDate::new(now.year() as u16, Some(now.month() as u8), Some(now.day() as u8))
        .unwrap_or(PartialDate::year(2999))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Num(&'a str),
    Word(&'a str),
    Punct(u8),
}

fn tokenize(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            toks.push(Tok::Num(&s[start..i]));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            toks.push(Tok::Word(&s[start..i]));
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii() {
            toks.push(Tok::Punct(c));
            i += 1;
        } else {
            // Any non-ASCII character separates tokens; skip its continuation bytes.
            toks.push(Tok::Punct(0));
            i += 1;
            while i < b.len() && (b[i] & 0xC0) == 0x80 {
                i += 1;
            }
        }
    }
    toks
}

fn num(t: Option<&Tok<'_>>, len: std::ops::RangeInclusive<usize>) -> Option<u32> {
    match t {
        Some(Tok::Num(n)) if len.contains(&n.len()) => n.parse().ok(),
        _ => None,
    }
}

fn is_punct(t: Option<&Tok<'_>>, p: u8) -> bool {
    matches!(t, Some(Tok::Punct(c)) if *c == p)
}

fn month_tok(t: Option<&Tok<'_>>) -> Option<u8> {
    match t {
        Some(Tok::Word(w)) => month_from_word(w),
        _ => None,
    }
}

/// Tries to read one date at `toks[i..]`; returns the date and the index after it.
fn date_at(toks: &[Tok<'_>], i: usize) -> Option<(PartialDate, usize)> {
    let t = |k: usize| toks.get(i + k);
    // d.m.yyyy, d/m/yyyy, d-m-yyyy
    if let (Some(d), Some(m)) = (num(t(0), 1..=2), num(t(2), 1..=2))
        && let Some(Tok::Punct(sep)) = t(1)
        && matches!(sep, b'.' | b'/' | b'-')
        && is_punct(t(3), *sep)
        && let Some(y) = num(t(4), 4..=4)
    {
        return date_from_parts(y, m, d).map(|x| (x, i + 5));
    }
    // yyyy-mm-dd, yyyy-mm
    if let Some(y) = num(t(0), 4..=4)
        && is_punct(t(1), b'-')
        && let Some(m) = num(t(2), 1..=2)
    {
        if is_punct(t(3), b'-')
            && let Some(d) = num(t(4), 1..=2)
        {
            return date_from_parts(y, m, d).map(|x| (x, i + 5));
        }
        return date_from_parts(y, m, 0).map(|x| (x, i + 3));
    }
    // d Mon[.] [,] yyyy
    if let Some(d) = num(t(0), 1..=2) {
        let mut k = 1;
        if is_punct(t(k), b'.') {
            k += 1;
        }
        if let Some(m) = month_tok(t(k)) {
            k += 1;
            while is_punct(t(k), b'.') || is_punct(t(k), b',') {
                k += 1;
            }
            if let Some(y) = num(t(k), 4..=4) {
                return date_from_parts(y, u32::from(m), d).map(|x| (x, i + k + 1));
            }
        }
    }
    // Mon[.] yyyy, Mon d, yyyy
    if let Some(m) = month_tok(t(0)) {
        let mut k = 1;
        if is_punct(t(k), b'.') {
            k += 1;
        }
        if let Some(y) = num(t(k), 4..=4) {
            return date_from_parts(y, u32::from(m), 0).map(|x| (x, i + k + 1));
        }
        if let Some(d) = num(t(k), 1..=2)
            && is_punct(t(k + 1), b',')
            && let Some(y) = num(t(k + 2), 4..=4)
        {
            return date_from_parts(y, u32::from(m), d).map(|x| (x, i + k + 3));
        }
    }
    // yyyy
    if let Some(y) = num(t(0), 4..=4) {
        return date_from_parts(y, 0, 0).map(|x| (x, i + 1));
    }
    None
}

/// Every year from `from` to `to` (see the module doc for the cap), as year-only dates.
pub(crate) fn year_range(from: u16, to: u16, out: &mut Vec<PartialDate>) {
    let (a, b) = if from <= to { (from, to) } else { (to, from) };
    if b - a <= MAX_RANGE_YEARS {
        out.extend((a..=b).map(PartialDate::year));
    } else {
        out.push(PartialDate::year(a));
        out.push(PartialDate::year(b));
    }
}

/// All dates in a free-text date field, ranges expanded (see the module doc). Unparseable text
/// yields nothing.
pub fn extract_dates(text: &str) -> Vec<PartialDate> {
    let toks = tokenize(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let Some((first, next)) = date_at(&toks, i) else {
            i += 1;
            continue;
        };
        // A range: `<date> to <date>` or `<year>-<year>`.
        let joiner = match toks.get(next) {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("to") => true,
            Some(Tok::Punct(b'-')) => first.month.is_none(),
            _ => false,
        };
        if joiner && let Some((second, after)) = date_at(&toks, next + 1) {
            year_range(first.year, second.year, &mut out);
            i = after;
            continue;
        }
        out.push(first);
        i = next;
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &[PartialDate]) -> Vec<String> {
        v.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn ofac_forms() {
        assert_eq!(s(&extract_dates("25 Mar 1977")), ["1977-03-25"]);
        assert_eq!(s(&extract_dates("1962")), ["1962"]);
        assert_eq!(s(&extract_dates("Mar 1962")), ["1962-03"]);
        assert_eq!(s(&extract_dates("circa 1957")), ["1957"]);
        assert_eq!(s(&extract_dates("1960 to 1962")), ["1960", "1961", "1962"]);
        assert_eq!(s(&extract_dates("circa 1979-1982")), ["1979", "1980", "1981", "1982"]);
        assert_eq!(s(&extract_dates("08 Nov 1985 to 07 Nov 1986")), ["1985", "1986"]);
        assert_eq!(s(&extract_dates("1900 to 1960")), ["1900", "1960"]);
    }

    #[test]
    fn european_and_iso_forms() {
        assert_eq!(s(&extract_dates("(a) 17.8.1957, (b) 17.8.1958")), ["1957-08-17", "1958-08-17"]);
        assert_eq!(s(&extract_dates("14.4.1965 or 1.3.1964")), ["1965-04-14", "1964-03-01"]);
        assert_eq!(s(&extract_dates("1962-11-23")), ["1962-11-23"]);
        assert_eq!(s(&extract_dates("11 Sept. 2018")), ["2018-09-11"]);
        assert_eq!(s(&extract_dates("March 25, 1977")), ["1977-03-25"]);
        assert_eq!(s(&extract_dates("unknown")), Vec::<String>::new());
    }

    #[test]
    fn numeric_orders() {
        assert_eq!(parse_dmy("00/00/1980").unwrap().to_string(), "1980");
        assert_eq!(parse_dmy("13/04/2018").unwrap().to_string(), "2018-04-13");
        assert_eq!(parse_dmy("04/07/2018").unwrap().to_string(), "2018-07-04");
        assert_eq!(parse_mdy("11/16/2023").unwrap().to_string(), "2023-11-16");
        assert_eq!(parse_mdy("13/16/2023"), None);
        assert_eq!(parse_iso_prefix("2025-12-08T08:44:02").unwrap().to_string(), "2025-12-08");
        assert_eq!(date_from_parts(3033, 9, 30), None);
    }

    proptest! {
        #[test]
        fn never_panics(t in "\\PC*") {
            let _ = extract_dates(&t);
            let _ = parse_dmy(&t);
            let _ = parse_mdy(&t);
        }
    }
}
