//! Batch screening: JSON lines in, exactly one JSON line out per input line, in order.
//!
//! A bad line gets an error line (with its line number) instead of aborting the run: a
//! compliance team screening a customer base needs every other result.

use std::io::{BufRead, Write};
use std::time::Instant;

use serde::Serialize;

use crate::lists::Category;

use super::{Decision, Explanation, NoMatchReason, Policy, Query, ResultCode, Screening, Watchlists};

/// One hit as the batch output shows it.
#[derive(Debug, Serialize)]
struct BatchHit<'a> {
    entity_id: &'a str,
    source: &'a str,
    matched_name: &'a str,
    match_score: u8,
    risk_score: u8,
    categories: &'a [Category],
    explanation: &'a Explanation,
}

#[derive(Debug, Serialize)]
struct BatchResult<'a> {
    id: Option<&'a str>,
    decision: Decision,
    result_code: ResultCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_match_reason: Option<NoMatchReason>,
    hits: Vec<BatchHit<'a>>,
}

#[derive(Debug, Serialize)]
struct BatchError<'a> {
    id: Option<&'a str>,
    line: usize,
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

/// Counts reported at the end of a batch run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    pub queries: usize,
    pub flagged: usize,
    pub errors: usize,
    pub elapsed_ms: u128,
}

impl BatchSummary {
    pub fn per_second(&self) -> f64 {
        if self.elapsed_ms == 0 {
            self.queries as f64 * 1000.0
        } else {
            self.queries as f64 * 1000.0 / self.elapsed_ms as f64
        }
    }
}

/// Lines handled per parallel step; bounds memory while keeping both cores busy.
const CHUNK: usize = 512;

/// Screens every line of `input` and writes one result line per input line to `output`.
/// `progress` is called with the number of lines done so far.
pub fn run_batch(
    lists: &Watchlists,
    policy: &Policy,
    input: impl BufRead,
    mut output: impl Write,
    threads: usize,
    mut progress: impl FnMut(usize),
) -> std::io::Result<BatchSummary> {
    let start = Instant::now();
    let mut summary = BatchSummary::default();
    let mut lines = input.lines();
    let mut line_no = 0usize;
    loop {
        let mut chunk: Vec<(usize, String)> = Vec::with_capacity(CHUNK);
        for line in lines.by_ref() {
            line_no += 1;
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            chunk.push((line_no, line));
            if chunk.len() == CHUNK {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let results = screen_chunk(lists, policy, &chunk, threads.max(1));
        for (out, flagged, error) in results {
            summary.queries += 1;
            summary.flagged += usize::from(flagged);
            summary.errors += usize::from(error);
            output.write_all(out.as_bytes())?;
            output.write_all(b"\n")?;
        }
        progress(summary.queries);
    }
    output.flush()?;
    summary.elapsed_ms = start.elapsed().as_millis();
    Ok(summary)
}

/// Screens a chunk on `threads` threads, keeping input order.
fn screen_chunk(
    lists: &Watchlists,
    policy: &Policy,
    chunk: &[(usize, String)],
    threads: usize,
) -> Vec<(String, bool, bool)> {
    let per = chunk.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunk
            .chunks(per.max(1))
            .map(|part| {
                s.spawn(move || part.iter().map(|(n, l)| screen_line(lists, policy, *n, l)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

/// The `id` of an input line: a string, or a number written as a string.
pub fn line_id(value: &serde_json::Value) -> Option<String> {
    value.get("id").and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string())))
}

/// Screens one input line; returns the output line, whether it was flagged, whether it failed.
pub fn screen_line(lists: &Watchlists, policy: &Policy, line_no: usize, line: &str) -> (String, bool, bool) {
    let mut value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return (error_line(None, line_no, "input_json_invalid", e.to_string()), false, true),
    };
    let id = line_id(&value);
    // Ids may be numbers or strings in the input; the output always writes a string.
    if let Some(obj) = value.as_object_mut() {
        obj.remove("id");
    }
    let query: Query = match serde_json::from_value(value) {
        Ok(q) => q,
        Err(e) => return (error_line(id.as_deref(), line_no, "input_field_invalid", e.to_string()), false, true),
    };
    match lists.screen(&query, policy) {
        Ok(s) => (result_line(id.as_deref(), &s), !s.hits.is_empty(), false),
        Err(e) => (error_line(id.as_deref(), line_no, e.code(), e.to_string()), false, true),
    }
}

/// The result line of one screening, exactly as the batch command writes it.
pub fn result_line(id: Option<&str>, s: &Screening) -> String {
    let hits = s
        .hits
        .iter()
        .map(|h| BatchHit {
            entity_id: &h.entity_id,
            source: &h.source,
            matched_name: &h.matched_name,
            match_score: h.match_score,
            risk_score: h.risk_score,
            categories: &h.categories,
            explanation: &h.explanation,
        })
        .collect();
    let r =
        BatchResult { id, decision: s.decision, result_code: s.result_code, no_match_reason: s.no_match_reason, hits };
    serde_json::to_string(&r).unwrap_or_else(|e| error_line(id, 0, "output_encoding", e.to_string()))
}

fn error_line(id: Option<&str>, line: usize, code: &str, message: String) -> String {
    let e = BatchError { id, line, error: ErrorBody { code, message } };
    // Serializing plain strings and numbers cannot fail; fall back to a fixed line anyway.
    serde_json::to_string(&e).unwrap_or_else(|_| format!("{{\"line\":{line},\"error\":{{\"code\":\"{code}\"}}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screening::synthetic::synthetic_list;

    #[test]
    fn one_line_out_per_line_in_with_errors_inline() {
        let lists = Watchlists::build(vec![synthetic_list(200, 3)]);
        let input = concat!(
            "{\"id\":\"a\",\"name\":\"Nobody In Particular\",\"entity_type\":\"person\"}\n",
            "not json\n",
            "{\"id\":\"c\",\"name\":\"x\",\"birth_date\":\"1990-13-01\"}\n",
            "\n",
            "{\"id\":7,\"countries\":[\"IR\"]}\n",
        );
        let mut out = Vec::new();
        let summary = run_batch(&lists, &Policy::default(), input.as_bytes(), &mut out, 2, |_| {}).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(summary.queries, 4);
        assert_eq!(summary.errors, 3);
        assert_eq!(lines[0]["id"], "a");
        assert_eq!(lines[0]["decision"], "no-match");
        assert_eq!(lines[0]["result_code"], "1031");
        assert_eq!(lines[1]["line"], 2);
        assert_eq!(lines[1]["error"]["code"], "input_json_invalid");
        assert_eq!(lines[2]["id"], "c");
        assert_eq!(lines[2]["error"]["code"], "input_field_invalid");
        assert_eq!(lines[3]["id"], "7");
        assert_eq!(lines[3]["error"]["code"], "query_empty");
    }
}
