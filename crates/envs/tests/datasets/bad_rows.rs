//! Bad rows and bad files: every message names the file, the row and the field.
use polopt_envs::data::{DataError, FieldMap, OnBadRow, RowRef, MAX_SKIP_REASONS};

use crate::{fields, fixture, load_err, load_ok, temp_file};

/// The error of a one-row JSONL file holding `line`.
fn one_line_error(line: &str) -> String {
    let (_dir, path) = temp_file("one.jsonl", line.as_bytes());
    load_err(&path, &FieldMap::default(), OnBadRow::Error).to_string()
}

#[test]
fn the_first_bad_row_stops_the_load_with_file_line_and_reason() {
    let e = load_err(
        &fixture("bad_rows.jsonl"),
        &FieldMap::default(),
        OnBadRow::Error,
    );
    assert!(
        matches!(
            &e,
            DataError::BadRow {
                row: RowRef::Line(2),
                field: None,
                ..
            }
        ),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(
        message.contains("bad_rows.jsonl: line 2: not valid JSON"),
        "{message}"
    );
}

#[test]
fn each_kind_of_bad_row_names_its_field() {
    let cases = [
        (r#"{"question": "q", "answer": 1}"#, "line 1, field `prompt`: missing"),
        (r#"{"prompt": 5, "answer": 1}"#, "line 1, field `prompt`: expected a string or a list of {role, content} messages, got a number"),
        (r#"{"prompt": null, "answer": 1}"#, "field `prompt`: expected a string or a list of {role, content} messages, got null"),
        (r#"{"prompt": " \t", "answer": 1}"#, "field `prompt`: the prompt is empty"),
        (r#"{"prompt": "q"}"#, "field `answer`: missing (for a dataset without answers, set `answer = \"\"`"),
        (r#"{"prompt": "q", "answer": [1]}"#, "field `answer`: expected a string or a number, got a list"),
        (r#"{"prompt": "q", "answer": ""}"#, "field `answer`: the answer is empty"),
        (r#"{"prompt": [], "answer": 1}"#, "field `prompt`: the list of messages is empty"),
        (r#"{"prompt": ["hi"], "answer": 1}"#, "field `prompt[0]`: expected a {role, content} object, got a string"),
        (r#"{"prompt": [{"role": "user", "content": 8}], "answer": 1}"#, "field `prompt[0].content`: expected a string, got a number"),
        (r#"{"prompt": [{"content": "x"}], "answer": 1}"#, "field `prompt[0].role`: missing"),
        (r#"{"prompt": [{"role": "system", "content": "x"}], "answer": 1}"#, "field `prompt`: no message has role `user`"),
        (r#"{"prompt": [{"role": "user", "content": ""}], "answer": 1}"#, "field `prompt`: the prompt is empty"),
        (r#"{"prompt": [{"role": "user", "content": "q"}], "messages": 1, "answer": 1}"#, "field `messages`: this column clashes with meta.messages"),
        (r#""just a string""#, "line 1: expected a JSON object, got a string"),
    ];
    for (line, expected) in cases {
        let message = one_line_error(line);
        assert!(message.contains("one.jsonl: "), "{message}");
        assert!(
            message.contains(expected),
            "{line}\n  gave {message}\n  wanted {expected}"
        );
    }
}

#[test]
fn skip_mode_counts_bad_rows_and_keeps_the_first_reasons() {
    let (ps, report) = load_ok(
        &fixture("bad_rows.jsonl"),
        &FieldMap::default(),
        OnBadRow::Skip,
    );
    let keys: Vec<&str> = ps.iter().map(|p| p.key.as_str()).collect();
    // Skipped rows keep their index (the blank line 5 is no row), so keys do not shift.
    assert_eq!(keys, ["bad_rows.jsonl#0", "bad_rows.jsonl#7"]);
    assert_eq!(
        (report.rows_read, report.rows_kept, report.skipped),
        (9, 2, 7)
    );
    assert_eq!(report.first_skips.len(), MAX_SKIP_REASONS);
    let wanted = [
        "line 2: not valid JSON",
        "line 3, field `prompt`: missing",
        "line 4, field `prompt`: expected a string",
        "line 6, field `prompt`: the prompt is empty",
        "line 7, field `answer`: expected a string or a number, got a list",
    ];
    for (reason, wanted) in report.first_skips.iter().zip(wanted) {
        assert!(reason.contains(wanted), "{reason} should contain {wanted}");
    }
}

#[test]
fn parquet_bad_rows_name_the_row_index() {
    let path = fixture("nulls.parquet");
    let message = load_err(&path, &FieldMap::default(), OnBadRow::Error).to_string();
    assert!(
        message.contains("nulls.parquet: row 1, field `prompt`: expected a string or a list of {role, content} messages, got null"),
        "{message}"
    );
    let (ps, report) = load_ok(&path, &FieldMap::default(), OnBadRow::Skip);
    let keys: Vec<&str> = ps.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["nulls.parquet#0", "nulls.parquet#3"]);
    assert_eq!((report.rows_read, report.skipped), (4, 2));
    assert!(
        report.first_skips[1].contains("row 2, field `prompt`: the prompt is empty"),
        "{report:?}"
    );
}

#[test]
fn a_parquet_file_without_the_prompt_column_is_one_error_listing_the_columns() {
    let e = load_err(
        &fixture("tiny_math.parquet"),
        &fields("question", Some("answer")),
        OnBadRow::Skip,
    );
    let message = e.to_string();
    assert!(
        message.contains("tiny_math.parquet: no column `question` (the field map's `prompt`); the columns are: prompt, answer"),
        "{message}"
    );
    let e = load_err(
        &fixture("tiny_math.parquet"),
        &fields("prompt", Some("solution")),
        OnBadRow::Error,
    );
    assert!(
        e.to_string()
            .contains("no column `solution` (the field map's `answer`)"),
        "{e}"
    );
}

#[test]
fn a_parquet_codec_left_out_of_the_build_is_named_with_the_ones_it_reads() {
    let e = load_err(
        &fixture("mixed.brotli.parquet"),
        &FieldMap::default(),
        OnBadRow::Skip,
    );
    let message = e.to_string();
    assert!(message.contains("brotli"), "{message}");
    assert!(
        message.contains("uncompressed, snappy, gzip and zstd"),
        "{message}"
    );
}

#[test]
fn missing_files_unknown_formats_and_empty_datasets_are_clear_errors() {
    let missing = fixture("no_such.jsonl");
    let e = load_err(&missing, &FieldMap::default(), OnBadRow::Error);
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("no_such.jsonl: No such file"), "{e}");

    let (_dir, csv) = temp_file("data.csv", b"prompt,answer\n");
    let e = load_err(&csv, &FieldMap::default(), OnBadRow::Error).to_string();
    assert!(e.contains("data.csv: unknown dataset format `.csv`"), "{e}");

    let (_dir, empty) = temp_file("empty.jsonl", b"\n\n");
    let e = load_err(&empty, &FieldMap::default(), OnBadRow::Error).to_string();
    assert!(
        e.contains("empty.jsonl: no problems left after reading 0 rows (0 skipped)"),
        "{e}"
    );

    let (_dir, all_bad) = temp_file("all_bad.jsonl", b"{\"q\": 1}\n{\"q\": 2}\n");
    let e = load_err(&all_bad, &FieldMap::default(), OnBadRow::Skip).to_string();
    assert!(
        e.contains("after reading 2 rows (2 skipped); the first: "),
        "{e}"
    );
    assert!(e.contains("line 1, field `prompt`: missing"), "{e}");
}

#[test]
fn a_json_array_file_and_a_line_that_is_not_utf8_are_reported() {
    let (_dir, array) = temp_file("array.json", br#"[{"prompt": "a", "answer": 1}]"#);
    let e = load_err(&array, &FieldMap::default(), OnBadRow::Skip).to_string();
    assert!(
        e.contains("array.json: this is one JSON array, not JSON lines"),
        "{e}"
    );

    let (_dir, latin1) = temp_file(
        "latin1.jsonl",
        b"{\"prompt\": \"caf\xe9\", \"answer\": 1}\n",
    );
    let e = load_err(&latin1, &FieldMap::default(), OnBadRow::Error).to_string();
    assert!(e.contains("latin1.jsonl: line 1: not valid UTF-8"), "{e}");
}

#[test]
fn a_field_map_that_cannot_work_is_rejected_before_reading() {
    let e = load_err(
        &fixture("tiny_math.jsonl"),
        &fields("", Some("answer")),
        OnBadRow::Error,
    );
    assert!(
        e.to_string()
            .contains("field map: `prompt` must name a column"),
        "{e}"
    );
    let e = load_err(
        &fixture("tiny_math.jsonl"),
        &fields("answer", Some("answer")),
        OnBadRow::Error,
    );
    assert!(e.to_string().contains("name the same column"), "{e}");
}
