//! A small RFC 4180 reader over text already in memory.
//!
//! Why not the `csv` crate: it silently accepts a quoted field that is never closed (a truncated
//! download then loads as a shorter list) and reports positions in records rather than the
//! physical lines an operator sees in an editor. This reader refuses an unterminated quote and
//! text after a closing quote, reports the physical line a record starts on, and borrows field
//! text from the buffer unless the field holds escaped quotes.
//!
//! Leniencies that real lists need: a `"` inside an unquoted field is taken literally, blank lines
//! are skipped, and spaces or tabs between a closing quote and the delimiter are ignored.

use std::borrow::Cow;

/// What is wrong, and on which physical line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CsvError {
    pub line: usize,
    pub message: String,
}

pub(crate) struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    delimiter: u8,
}

impl<'a> CsvReader<'a> {
    /// `delimiter` must be an ASCII byte (`,`, `;`, tab).
    pub fn new(text: &'a str, delimiter: u8) -> Self {
        debug_assert!(delimiter.is_ascii());
        CsvReader { text, pos: 0, line: 1, delimiter }
    }

    /// Reads the next record into `fields` (cleared first). Returns the line the record starts
    /// on, or `None` at the end of the text.
    pub fn next_record(&mut self, fields: &mut Vec<Cow<'a, str>>) -> Result<Option<usize>, CsvError> {
        let bytes = self.text.as_bytes();
        // Skip blank lines.
        loop {
            if self.pos >= bytes.len() {
                return Ok(None);
            }
            match bytes[self.pos] {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                }
                b'\r' if bytes.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                }
                _ => break,
            }
        }
        fields.clear();
        let start_line = self.line;
        loop {
            let field = if bytes.get(self.pos) == Some(&b'"') { self.quoted_field()? } else { self.unquoted_field() };
            fields.push(field);
            match bytes.get(self.pos) {
                None => return Ok(Some(start_line)),
                Some(&b) if b == self.delimiter => {
                    self.pos += 1;
                    // A delimiter right before the end of the text or line still opens an
                    // (empty) last field; the loop reads it as an empty unquoted field.
                }
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(Some(start_line));
                }
                Some(b'\r') if bytes.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                    return Ok(Some(start_line));
                }
                Some(_) => {
                    // Only reachable after a quoted field (unquoted ones stop at these bytes).
                    return Err(CsvError {
                        line: self.line,
                        message: format!("unexpected text after a closing quote in field {}", fields.len()),
                    });
                }
            }
        }
    }

    fn unquoted_field(&mut self) -> Cow<'a, str> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut end = start;
        while end < bytes.len() {
            let b = bytes[end];
            if b == self.delimiter || b == b'\n' {
                break;
            }
            if b == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
                break;
            }
            end += 1;
        }
        self.pos = end;
        // Slicing is safe: `start` and `end` sit on ASCII bytes or the ends of the text.
        Cow::Borrowed(&self.text[start..end])
    }

    fn quoted_field(&mut self) -> Result<Cow<'a, str>, CsvError> {
        let bytes = self.text.as_bytes();
        let open_line = self.line;
        self.pos += 1; // opening quote
        let mut segment_start = self.pos;
        let mut owned: Option<String> = None;
        loop {
            let Some(rel) = bytes[self.pos..].iter().position(|&b| b == b'"') else {
                return Err(CsvError {
                    line: open_line,
                    message: "unterminated quoted field (missing closing quote; truncated file?)".to_string(),
                });
            };
            let quote = self.pos + rel;
            self.line += bytes[self.pos..quote].iter().filter(|&&b| b == b'\n').count();
            if bytes.get(quote + 1) == Some(&b'"') {
                // Escaped quote: keep text up to and including one quote.
                owned.get_or_insert_with(String::new).push_str(&self.text[segment_start..=quote]);
                self.pos = quote + 2;
                segment_start = self.pos;
                continue;
            }
            let value = match owned {
                Some(mut s) => {
                    s.push_str(&self.text[segment_start..quote]);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&self.text[segment_start..quote]),
            };
            self.pos = quote + 1;
            while matches!(bytes.get(self.pos), Some(b' ' | b'\t')) && bytes[self.pos] != self.delimiter {
                self.pos += 1;
            }
            return Ok(value);
        }
    }
}

/// Index of the header column named `name` (exact, after trimming).
pub(crate) fn column(header: &[Cow<'_, str>], name: &str) -> Option<usize> {
    header.iter().position(|h| h.trim() == name)
}

/// `-0-` is how OFAC's legacy CSVs write "no value"; empty means the same everywhere.
pub(crate) fn non_null(field: &str) -> Option<&str> {
    let v = field.trim();
    if v.is_empty() || v == "-0-" { None } else { Some(v) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(text: &str, delim: u8) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
        let mut r = CsvReader::new(text, delim);
        let mut f = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = r.next_record(&mut f)? {
            out.push((line, f.iter().map(|x| x.to_string()).collect()));
        }
        Ok(out)
    }

    #[test]
    fn reads_quoted_escaped_and_multiline_fields() {
        let recs = all("a,\"b,c\",\"d \"\"e\"\"\"\r\n\n1,\"x\ny\",\n", b',').unwrap();
        assert_eq!(recs[0], (1, vec!["a".into(), "b,c".into(), "d \"e\"".into()]));
        assert_eq!(recs[1], (3, vec!["1".into(), "x\ny".into(), "".into()]));
        assert_eq!(recs.len(), 2);
    }

    #[test]
    fn other_delimiters_and_literal_quotes() {
        let recs = all("\"a\"\t\"b\"\nx\"y\tz", b'\t').unwrap();
        assert_eq!(recs[0].1, vec!["a", "b"]);
        assert_eq!(recs[1].1, vec!["x\"y", "z"]);
    }

    #[test]
    fn refuses_unterminated_quote_with_its_line() {
        let err = all("a,b\n1,\"open\n2,3\n", b',').unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unterminated"));
    }

    #[test]
    fn refuses_text_after_closing_quote() {
        let err = all("a,b\n\"x\"y,z\n", b',').unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("after a closing quote"));
    }

    #[test]
    fn ofac_null_marker() {
        assert_eq!(non_null("-0- "), None);
        assert_eq!(non_null(" "), None);
        assert_eq!(non_null(" CUBA "), Some("CUBA"));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC*", d in prop::sample::select(vec![b',', b';', b'\t'])) {
            let _ = all(&s, d);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..256)) {
            let s = String::from_utf8_lossy(&b);
            let _ = all(&s, b',');
        }
    }
}
