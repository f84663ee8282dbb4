//! JSON lines: one object per line, as `datasets.Dataset.to_json` writes (`.jsonl` or `.json`).
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use super::row::{kind, Fault};
use super::{Collector, DataError, RowParser, RowRef};

pub(super) fn read<P: RowParser>(path: &Path, rows: &mut Collector<P>) -> Result<(), DataError> {
    let shown = rows.source.path.to_string();
    let io_error = |e| DataError::Io {
        path: shown.clone(),
        source: e,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io_error)?);
    let mut bytes = Vec::new();
    let mut line_number = 0;
    let mut index = 0;
    loop {
        bytes.clear();
        // Bytes, not `lines()`: a line that is not UTF-8 is one bad row, not an I/O failure.
        if reader.read_until(b'\n', &mut bytes).map_err(io_error)? == 0 {
            return Ok(());
        }
        line_number += 1;
        let at = RowRef::Line(line_number);
        let line = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => {
                rows.unreadable(at, Fault::whole_row(format!("not valid UTF-8 ({e})")))?;
                index += 1;
                continue;
            }
        };
        let line = if line_number == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if index == 0 && line.starts_with('[') {
            return Err(DataError::Format {
                path: shown,
                message: "this is one JSON array, not JSON lines (one object per line); \
                          convert it with `jq -c '.[]' in.json > out.jsonl`"
                    .to_string(),
            });
        }
        match parse_line(line, rows.parser.answer_column()) {
            Ok((columns, answer_text)) => rows.row(index, at, columns, answer_text)?,
            Err(fault) => rows.unreadable(at, fault)?,
        }
        index += 1;
    }
}

/// The line's columns, and the answer column's number as written when it is one.
fn parse_line(
    line: &str,
    answer_column: Option<&str>,
) -> Result<(Map<String, Value>, Option<String>), Fault> {
    let columns: Map<String, Value> = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(columns)) => columns,
        Ok(other) => {
            return Err(Fault::whole_row(format!(
                "expected a JSON object, got {}",
                kind(&other)
            )))
        }
        Err(e) => return Err(Fault::whole_row(format!("not valid JSON: {e}"))),
    };
    let answer_text = answer_column
        .filter(|name| matches!(columns.get(*name), Some(Value::Number(_))))
        .and_then(|name| raw_member(line, name))
        .map(str::to_string);
    Ok((columns, answer_text))
}

/// The text of the top-level member `name` of the JSON object `text`, exactly as written; the
/// last one when the name repeats (as serde_json keeps the last). `text` must already have
/// parsed as an object, so the scan only has to find where each value ends.
pub(super) fn raw_member<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let b = text.as_bytes();
    let mut i = skip_space(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut found = None;
    loop {
        i = skip_space(b, i);
        if b.get(i) != Some(&b'"') {
            return found;
        }
        let key_end = string_end(b, i)?;
        let key: String = serde_json::from_str(text.get(i..key_end)?).ok()?;
        i = skip_space(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_space(b, i + 1);
        let end = value_end(b, start)?;
        if key == name {
            found = Some(text.get(start..end)?.trim_end());
        }
        i = skip_space(b, end);
        if b.get(i) != Some(&b',') {
            return found;
        }
        i += 1;
    }
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The index just past the closing quote of the string that opens at `start`.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index of the `,` or `}` that ends the value starting at `start`.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => {
                i = string_end(b, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(i),
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::raw_member;

    #[test]
    fn raw_member_returns_numbers_as_written() {
        let line = r#"{"a": [1, {"answer": 9}], "answer" : 1.50 , "b": "x,}\"answer\": 2"}"#;
        assert_eq!(raw_member(line, "answer"), Some("1.50"));
        assert_eq!(raw_member(r#"{"answer":1e3}"#, "answer"), Some("1e3"));
        assert_eq!(raw_member(r#"{"answer":-0}"#, "answer"), Some("-0"));
    }

    #[test]
    fn raw_member_takes_the_last_of_repeated_names_and_decodes_escaped_names() {
        assert_eq!(raw_member(r#"{"x": 1, "x": 2.0}"#, "x"), Some("2.0"));
        assert_eq!(raw_member(r#"{"\u0061nswer": 7}"#, "answer"), Some("7"));
        assert_eq!(raw_member(r#"{"other": 7}"#, "answer"), None);
    }
}
