//! String similarity on folded ASCII tokens.
//!
//! Tokens are short lowercase ASCII (the normalizer guarantees it), so these work on bytes
//! with fixed-size stack state instead of the allocating generic versions: scoring runs them
//! thousands of times per query.

/// Longest token compared character by character; longer ones are truncated (names have no
/// meaningful 64+ letter parts, and the bound keeps the matcher allocation-free).
const MAX_LEN: usize = 64;

/// Jaro similarity in [0, 1].
pub fn jaro(a: &[u8], b: &[u8]) -> f64 {
    let a = &a[..a.len().min(MAX_LEN)];
    let b = &b[..b.len().min(MAX_LEN)];
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    // Where each letter occurs in b, as bit sets (one per low five bits: letters get a slot
    // each): a's characters then find their first free match inside the window with a few
    // bit operations instead of a scan.
    let mut occurs = [0u64; 32];
    for (j, &cb) in b.iter().enumerate() {
        occurs[usize::from(cb & 31)] |= 1 << j;
    }
    let below = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    let mut b_used: u64 = 0;
    let mut a_matched: u64 = 0;
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        let mut free = occurs[usize::from(ca & 31)] & below(hi) & !below(lo) & !b_used;
        // Digits and other bytes share slots with letters: confirm the byte.
        while free != 0 {
            let j = free.trailing_zeros() as usize;
            if b[j] == ca {
                b_used |= 1 << j;
                a_matched |= 1 << i;
                matches += 1;
                break;
            }
            free &= free - 1;
        }
    }
    if matches == 0 {
        return 0.0;
    }
    // Count transpositions: matched characters of a and b taken in order.
    let mut transpositions = 0usize;
    let mut j = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        if a_matched & (1 << i) == 0 {
            continue;
        }
        while b_used & (1 << j) == 0 {
            j += 1;
        }
        if b[j] != ca {
            transpositions += 1;
        }
        j += 1;
    }
    let m = matches as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - (transpositions / 2) as f64) / m) / 3.0
}

/// Jaro-Winkler similarity in [0, 1] (prefix scale 0.1, prefix up to 4, boost above 0.7).
pub fn jaro_winkler(a: &[u8], b: &[u8]) -> f64 {
    let j = jaro(a, b);
    if j <= 0.7 {
        return j;
    }
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    j + prefix as f64 * 0.1 * (1.0 - j)
}

/// A letter's bit in a [`letter_set`]: its low six bits, so that a-z each get their own
/// (digits share theirs with p-z, which only makes a set claim more).
pub fn letter_bit(c: u8) -> u64 {
    1 << (c & 63)
}

/// The letters of a token as a bit set (for [`jaro_winkler_at_most`]).
pub fn letter_set(t: &[u8]) -> u64 {
    t[..t.len().min(MAX_LEN)].iter().fold(0, |m, &c| m | letter_bit(c))
}

/// An upper bound of [`jaro_winkler`] from the letters the two tokens share (`a_set` and
/// `b_set` are their [`letter_set`]s), in a few operations: a Jaro match pairs equal letters,
/// so a letter absent from the other token never matches (bytes sharing a slot only loosen
/// the bound). Scoring compares every query token with every listed token met, and most
/// pairs share too few letters to be worth the full comparison.
pub fn jaro_winkler_at_most(a: &[u8], a_set: u64, b: &[u8], b_set: u64) -> f64 {
    let a = &a[..a.len().min(MAX_LEN)];
    let b = &b[..b.len().min(MAX_LEN)];
    if a.is_empty() || b.is_empty() {
        return if a.len() == b.len() { 1.0 } else { 0.0 };
    }
    let present = |t: &[u8], set: u64| t.iter().filter(|&&c| set & letter_bit(c) != 0).count();
    let m = present(a, b_set).min(present(b, a_set));
    if m == 0 {
        return 0.0;
    }
    let m = m as f64;
    let j = (m / a.len() as f64 + m / b.len() as f64 + 1.0) / 3.0;
    // The prefix bonus is at most 4 × 0.1 of what is left, and only above 0.7.
    if j > 0.7 { j + 0.4 * (1.0 - j) } else { j }
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), giving up
/// early once it exceeds `max`; returns `max + 1` in that case.
pub fn osa_distance_within(a: &[u8], b: &[u8], max: usize) -> usize {
    let a = &a[..a.len().min(MAX_LEN)];
    let b = &b[..b.len().min(MAX_LEN)];
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let n = b.len();
    const W: usize = MAX_LEN + 1;
    // Three rows (two back, previous, current) in one array, rotated by offset; distances
    // never exceed 64, so bytes suffice.
    let mut rows = [0u8; 3 * W];
    for (j, slot) in rows[W..W + n + 1].iter_mut().enumerate() {
        *slot = j as u8;
    }
    let (mut p2, mut p1, mut cur) = (0usize, W, 2 * W);
    for i in 1..=a.len() {
        rows[cur] = i as u8;
        let mut row_min = rows[cur];
        for j in 1..=n {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut v = (rows[p1 + j] + 1).min(rows[cur + j - 1] + 1).min(rows[p1 + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(rows[p2 + j - 2] + 1);
            }
            rows[cur + j] = v;
            row_min = row_min.min(v);
        }
        if usize::from(row_min) > max {
            return max + 1;
        }
        (p2, p1, cur) = (p1, cur, p2);
    }
    usize::from(rows[p1 + n]).min(max + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaro_winkler_known_values() {
        let close = |x: f64, y: f64| (x - y).abs() < 1e-3;
        assert!(close(jaro(b"martha", b"marhta"), 0.944));
        assert!(close(jaro_winkler(b"martha", b"marhta"), 0.961));
        assert!(close(jaro_winkler(b"dwayne", b"duane"), 0.84));
        assert!(close(jaro_winkler(b"dixon", b"dicksonx"), 0.813));
        assert_eq!(jaro_winkler(b"abc", b"abc"), 1.0);
        assert_eq!(jaro_winkler(b"abc", b"xyz"), 0.0);
        assert_eq!(jaro_winkler(b"", b"a"), 0.0);
    }

    #[test]
    fn agrees_with_strsim() {
        let words =
            ["putin", "puttin", "vladimir", "wladimir", "mohammed", "muhammad", "al", "el", "x", "qaddafi", "gaddafi"];
        for a in words {
            for b in words {
                let ours = jaro_winkler(a.as_bytes(), b.as_bytes());
                let theirs = strsim::jaro_winkler(a, b);
                assert!((ours - theirs).abs() < 1e-9, "{a} {b}: {ours} vs {theirs}");
            }
        }
    }

    #[test]
    fn osa_distance() {
        assert_eq!(osa_distance_within(b"putin", b"putin", 2), 0);
        assert_eq!(osa_distance_within(b"putin", b"ptuin", 2), 1);
        assert_eq!(osa_distance_within(b"putin", b"putn", 2), 1);
        assert_eq!(osa_distance_within(b"kitten", b"sitting", 2), 3);
        assert_eq!(osa_distance_within(b"a", b"abcdef", 2), 3);
    }

    proptest::proptest! {
        #[test]
        fn osa_agrees_with_strsim(a in "[a-e]{0,12}", b in "[a-e]{0,12}", max in 0usize..4) {
            let theirs = strsim::osa_distance(&a, &b).min(max + 1);
            proptest::prop_assert_eq!(osa_distance_within(a.as_bytes(), b.as_bytes(), max), theirs);
        }

        #[test]
        fn jw_never_exceeds_its_bound(a in "[a-h0-9]{0,12}", b in "[a-h0-9]{0,12}") {
            let (a, b) = (a.as_bytes(), b.as_bytes());
            let bound = jaro_winkler_at_most(a, letter_set(a), b, letter_set(b));
            proptest::prop_assert!(jaro_winkler(a, b) <= bound + 1e-12);
        }

        #[test]
        fn jw_is_bounded_and_symmetric(a in "[a-z]{0,70}", b in "[a-z]{0,70}") {
            let x = jaro_winkler(a.as_bytes(), b.as_bytes());
            let y = jaro_winkler(b.as_bytes(), a.as_bytes());
            proptest::prop_assert!((0.0..=1.0).contains(&x));
            proptest::prop_assert!((x - y).abs() < 1e-9);
        }
    }
}
