//! Good files: the field map, chat prompts, numbers, meta, and JSONL = Parquet.
use polopt_envs::data::{FieldMap, OnBadRow};
use polopt_envs::text::Problem;
use serde_json::{json, Value};

use crate::{fields, fixture, load_ok, problems, temp_file};

/// `a op b` of a tiny_math prompt "What is a op b?", evaluated.
fn evaluate(prompt: &str) -> Option<i64> {
    let body = prompt.strip_prefix("What is ")?.strip_suffix('?')?;
    let at = body.find(['+', '-', '*'])?;
    let (a, b) = (
        body[..at].parse::<i64>().ok()?,
        body[at + 1..].parse::<i64>().ok()?,
    );
    Some(match &body[at..=at] {
        "+" => a + b,
        "-" => a - b,
        _ => a * b,
    })
}

#[test]
fn tiny_math_jsonl_gives_text_prompts_with_their_numeric_answers() {
    let ps = problems("tiny_math.jsonl");
    assert_eq!(ps.len(), 16);
    assert_eq!(ps[0].prompt, "What is 3+4?");
    for (i, p) in ps.iter().enumerate() {
        assert_eq!(
            Some(p.answer.clone()),
            evaluate(&p.prompt).map(|x| x.to_string()),
            "{p:?}"
        );
        assert_eq!(p.solution, p.answer);
        assert_eq!(p.key, format!("tiny_math.jsonl#{i}"));
        assert_eq!(
            p.meta,
            json!({}),
            "prompt and answer are not repeated in meta"
        );
    }
}

#[test]
fn chat_prompts_take_the_last_user_message_and_keep_all_messages_in_meta() {
    let plain = problems("tiny_math.jsonl");
    let chat = problems("tiny_math_chat.jsonl");
    assert_eq!(chat.len(), plain.len());
    for (c, p) in chat.iter().zip(&plain) {
        assert_eq!((&c.prompt, &c.answer), (&p.prompt, &p.answer));
        let messages = &c.meta["messages"];
        assert_eq!(messages[0]["role"], "system");
        assert_eq!(messages[1], json!({"role": "user", "content": p.prompt}));
    }
    // Multi-turn: the last user turn, not the first, and the column named `messages` itself.
    let (mixed, _) = load_ok(
        &fixture("mixed.jsonl"),
        &fields("messages", Some("answer")),
        OnBadRow::Error,
    );
    assert_eq!(mixed[2].prompt, "And times 3?");
    assert_eq!(mixed[2].meta["messages"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        mixed[2].meta["prompt"], "And times 3?",
        "the unused string column is meta"
    );
}

#[test]
fn numeric_answers_keep_the_text_the_file_writes() {
    let answers: Vec<String> = problems("numbers.jsonl")
        .into_iter()
        .map(|p| p.answer)
        .collect();
    let written = [
        "1.50",
        "1e3",
        "-0",
        "42",
        "123456789012345678901234567890",
        "7",
        "2.0",
    ];
    assert_eq!(answers, written);
    // Meta holds JSON values, not text: only the answer is kept as written.
    assert_eq!(problems("numbers.jsonl")[6].meta["level"], json!(1.5));
}

#[test]
fn every_other_column_goes_into_meta_under_its_own_name() {
    let ps = problems("mixed.jsonl");
    let p = &ps[0];
    assert_eq!(
        (p.prompt.as_str(), p.answer.as_str()),
        ("Add 2 and 3.", "5")
    );
    let names: Vec<&String> = p
        .meta
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    let expected = [
        "level", "messages", "note", "score", "source", "tags", "weight",
    ];
    assert_eq!(names, expected);
    assert_eq!(p.meta["source"], json!({"name": "gen", "version": 2}));
    assert_eq!(p.meta["tags"], json!(["add"]));
    assert_eq!(p.meta["note"], Value::Null);
    assert_eq!(p.meta["weight"], json!(0.1));
}

#[test]
fn a_dataset_without_answers_loads_with_empty_answers_and_the_column_in_meta() {
    let (ps, _) = load_ok(
        &fixture("tiny_math.jsonl"),
        &fields("prompt", None),
        OnBadRow::Error,
    );
    assert_eq!((ps[0].answer.as_str(), ps[0].solution.as_str()), ("", ""));
    assert_eq!(ps[0].meta, json!({"answer": 7}));
    let (ps, _) = load_ok(
        &fixture("mixed.jsonl"),
        &fields("prompt", None),
        OnBadRow::Error,
    );
    assert_eq!(ps[1].meta["answer"], "42");
}

/// Problems with the file name taken out of the key, to compare two files of one dataset.
fn without_file_name(ps: Vec<Problem>) -> Vec<Problem> {
    ps.into_iter()
        .map(|mut p| {
            p.key = p
                .key
                .split_once('#')
                .map(|(_, row)| row.to_string())
                .unwrap_or_default();
            p
        })
        .collect()
}

#[test]
fn parquet_files_load_to_the_same_problems_as_their_jsonl_twins() {
    let load_rows = |name: &str, fields: &FieldMap| {
        without_file_name(load_ok(&fixture(name), fields, OnBadRow::Error).0)
    };
    let default = FieldMap::default();
    let tiny = load_rows("tiny_math.jsonl", &default);
    assert_eq!(
        load_rows("tiny_math.parquet", &default),
        tiny,
        "int64 answers, 4 row groups"
    );
    for fields in [default.clone(), fields("messages", Some("answer"))] {
        let jsonl = load_rows("mixed.jsonl", &fields);
        assert_eq!(jsonl.len(), 3);
        for parquet in ["mixed.parquet", "mixed.zstd.parquet", "mixed.gzip.parquet"] {
            assert_eq!(
                load_rows(parquet, &fields),
                jsonl,
                "{parquet} with {fields:?}"
            );
        }
    }
}

#[test]
fn parquet_keys_name_the_file_and_the_row() {
    let keys: Vec<String> = problems("tiny_math.parquet")
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(keys.len(), 16);
    assert_eq!(
        (keys[0].as_str(), keys[15].as_str()),
        ("tiny_math.parquet#0", "tiny_math.parquet#15")
    );
}

#[test]
fn crlf_line_ends_a_byte_order_mark_and_blank_lines_are_tolerated() {
    let text =
        "\u{feff}{\"prompt\": \"a\", \"answer\": 1}\r\n\r\n  \n{\"prompt\": \"b\", \"answer\": 2}";
    let (_dir, path) = temp_file("windows.jsonl", text.as_bytes());
    let (ps, report) = load_ok(&path, &FieldMap::default(), OnBadRow::Error);
    let got: Vec<(&str, &str, &str)> = ps
        .iter()
        .map(|p| (p.prompt.as_str(), p.answer.as_str(), p.key.as_str()))
        .collect();
    assert_eq!(
        got,
        [("a", "1", "windows.jsonl#0"), ("b", "2", "windows.jsonl#1")]
    );
    assert_eq!(
        (report.rows_read, report.rows_kept, report.skipped),
        (2, 2, 0)
    );
}

#[test]
fn field_maps_default_reject_unknown_keys_and_read_an_empty_answer_as_none() {
    let parse = |v: Value| serde_json::from_value::<FieldMap>(v);
    assert_eq!(
        parse(json!({})).ok(),
        Some(fields("prompt", Some("answer")))
    );
    assert_eq!(
        parse(json!({"answer": ""})).ok(),
        Some(fields("prompt", None))
    );
    assert_eq!(
        parse(json!({"answer": null})).ok(),
        Some(fields("prompt", None))
    );
    assert_eq!(
        parse(json!({"prompt": "question", "answer": "solution"})).ok(),
        Some(fields("question", Some("solution")))
    );
    let unknown = parse(json!({"promt": "question"}))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("unknown field `promt`"), "{unknown}");
}
