//! Preference datasets (docs/data.md, "Preference data"): paired and unpaired rows, text and
//! chat, the implicit prompt, Parquet = JSONL, bad rows, the skip policy and `split_unpaired`.
//! Every fixture is written by its test into a temporary folder; the Parquet ones with the
//! `parquet` crate's writer.
use std::fmt::Display;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use polopt_envs::data::{
    load_preferences, split_unpaired, DataError, DataReport, OnBadRow, Preference,
    PreferenceExample, PreferenceFields, RowRef,
};
use serde_json::{json, Value};

fn must<T, E: Display>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// A folder holding the test's files, removed when dropped.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(must(tempfile::tempdir(), "tempdir"))
    }

    /// `rows` as JSON lines in the file `name`.
    fn jsonl(&self, name: &str, rows: &[Value]) -> PathBuf {
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        self.text(name, &text)
    }

    fn text(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        must(std::fs::write(&path, text), "write fixture");
        path
    }

    /// A Parquet file `name` with `columns` (all the same length) under `schema`, one row group.
    fn parquet(&self, name: &str, schema: &str, columns: &[Column]) -> PathBuf {
        let path = self.0.path().join(name);
        let schema = Arc::new(must(parse_message_type(schema), "schema"));
        let file = must(File::create(&path), "create parquet");
        let props = Arc::new(WriterProperties::builder().build());
        let mut writer = must(SerializedFileWriter::new(file, schema, props), "writer");
        let mut group = must(writer.next_row_group(), "row group");
        for column in columns {
            let Some(mut out) = must(group.next_column(), "column") else {
                panic!("more columns than the schema has");
            };
            match column {
                Column::Text(values) => {
                    let values: Vec<ByteArray> =
                        values.iter().map(|s| ByteArray::from(*s)).collect();
                    must(
                        out.typed::<ByteArrayType>()
                            .write_batch(&values, None, None),
                        "write text",
                    );
                }
                Column::OptionalText(values) => {
                    let defs: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
                    let present: Vec<ByteArray> = values
                        .iter()
                        .flatten()
                        .map(|s| ByteArray::from(*s))
                        .collect();
                    must(
                        out.typed::<ByteArrayType>()
                            .write_batch(&present, Some(&defs), None),
                        "write optional text",
                    );
                }
                Column::Int(values) => {
                    must(
                        out.typed::<Int64Type>().write_batch(values, None, None),
                        "write int",
                    );
                }
                Column::Bool(values) => {
                    must(
                        out.typed::<BoolType>().write_batch(values, None, None),
                        "write bool",
                    );
                }
            }
            must(out.close(), "close column");
        }
        must(group.close(), "close row group");
        must(writer.close(), "close file");
        path
    }
}

enum Column {
    /// A `required binary (UTF8)` column.
    Text(Vec<&'static str>),
    /// An `optional binary (UTF8)` column; `None` is a null.
    OptionalText(Vec<Option<&'static str>>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
}

fn text(values: &[&'static str]) -> Column {
    Column::Text(values.to_vec())
}

fn load_ok(path: &Path, on_bad_row: OnBadRow) -> (Vec<PreferenceExample>, DataReport) {
    match load_preferences(path, &PreferenceFields::default(), on_bad_row) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn examples(path: &Path) -> Vec<PreferenceExample> {
    load_ok(path, OnBadRow::Error).0
}

fn load_err(path: &Path, fields: &PreferenceFields) -> DataError {
    match load_preferences(path, fields, OnBadRow::Error) {
        Ok((examples, _)) => panic!(
            "{} should fail, loaded {} examples",
            path.display(),
            examples.len()
        ),
        Err(e) => e,
    }
}

fn paired(chosen: &str, rejected: &str) -> Preference {
    Preference::Paired {
        chosen: chosen.to_string(),
        rejected: rejected.to_string(),
    }
}

fn unpaired(completion: &str, desirable: bool) -> Preference {
    Preference::Unpaired {
        completion: completion.to_string(),
        desirable,
    }
}

fn user(content: &str) -> Value {
    json!({"role": "user", "content": content})
}

fn assistant(content: &str) -> Value {
    json!({"role": "assistant", "content": content})
}

fn system(content: &str) -> Value {
    json!({"role": "system", "content": content})
}

/// The examples with the file name taken out of the keys, to compare two files of one dataset.
fn without_file_name(examples: Vec<PreferenceExample>) -> Vec<PreferenceExample> {
    examples
        .into_iter()
        .map(|mut e| {
            e.prompt.key = e
                .prompt
                .key
                .split_once('#')
                .map(|(_, row)| row.to_string())
                .unwrap_or_default();
            e
        })
        .collect()
}

const TEXT_PAIRS: [(&str, &str, &str, i64); 3] = [
    ("The sky is", " blue.", " green.", 7),
    ("2+2=", "4", "5", 8),
    ("Name a prime.", "7", "9", 9),
];

fn text_pairs_jsonl(dir: &Dir) -> PathBuf {
    let rows: Vec<Value> = TEXT_PAIRS
        .iter()
        .map(|(p, c, r, id)| json!({"id": id, "prompt": p, "chosen": c, "rejected": r}))
        .collect();
    dir.jsonl("pairs.jsonl", &rows)
}

#[test]
fn text_pairs_load_as_prompt_problems_with_chosen_and_rejected_responses() {
    let dir = Dir::new();
    let (got, report) = load_ok(&text_pairs_jsonl(&dir), OnBadRow::Error);
    assert_eq!(got.len(), 3);
    for (i, (e, (p, c, r, id))) in got.iter().zip(TEXT_PAIRS).enumerate() {
        assert_eq!(e.prompt.prompt, p);
        assert_eq!(e.response, paired(c, r), "leading spaces are kept");
        assert_eq!(e.prompt.key, format!("pairs.jsonl#{i}"));
        assert_eq!(e.prompt.meta, json!({"id": id}), "only the other columns");
        assert_eq!(
            (e.prompt.answer.as_str(), e.prompt.solution.as_str()),
            ("", "")
        );
    }
    assert_eq!(
        (report.rows_read, report.rows_kept, report.skipped),
        (3, 3, 0)
    );
}

#[test]
fn chat_pairs_take_the_assistant_content_and_keep_the_prompt_messages_in_meta() {
    let dir = Dir::new();
    let prompt = json!([system("Be brief."), user("What color is the sky?")]);
    let path = dir.jsonl(
        "chat.jsonl",
        &[json!({
            "prompt": prompt,
            "chosen": [assistant("It is blue.")],
            "rejected": [assistant("It is green.")],
            "source": "zen",
        })],
    );
    let got = examples(&path);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].prompt.prompt, "What color is the sky?");
    assert_eq!(got[0].response, paired("It is blue.", "It is green."));
    assert_eq!(
        got[0].prompt.meta,
        json!({"messages": prompt, "source": "zen"})
    );
}

#[test]
fn an_implicit_prompt_is_the_conversation_chosen_and_rejected_share() {
    let dir = Dir::new();
    let turns = [
        system("Be brief."),
        user("Hi"),
        assistant("Hello."),
        user("What color is the sky?"),
    ];
    let conversation = |answer: &str| {
        let mut messages = turns.to_vec();
        messages.push(assistant(answer));
        messages
    };
    let implicit = dir.jsonl(
        "implicit.jsonl",
        &[json!({"chosen": conversation("Blue."), "rejected": conversation("Green.")})],
    );
    let explicit = dir.jsonl(
        "explicit.jsonl",
        &[json!({
            "prompt": turns,
            "chosen": [assistant("Blue.")],
            "rejected": [assistant("Green.")],
        })],
    );
    let got = examples(&implicit);
    assert_eq!(
        got[0].prompt.prompt, "What color is the sky?",
        "the last user turn"
    );
    assert_eq!(got[0].response, paired("Blue.", "Green."));
    assert_eq!(got[0].prompt.meta["messages"], json!(turns));
    assert_eq!(
        without_file_name(got),
        without_file_name(examples(&explicit)),
        "implicit and explicit prompts give the same example"
    );
}

#[test]
fn unpaired_labels_are_booleans_or_zero_and_one() {
    let dir = Dir::new();
    let path = dir.jsonl(
        "kto.jsonl",
        &[
            json!({"prompt": "The sky is", "completion": " blue.", "label": true}),
            json!({"prompt": "The sky is", "completion": " green.", "label": false}),
            json!({"prompt": "2+2=", "completion": "4", "label": 1}),
            json!({"prompt": "2+2=", "completion": "5", "label": 0}),
            json!({
                "prompt": [user("What color is the sky?")],
                "completion": [assistant("Blue.")],
                "label": true,
            }),
        ],
    );
    let got: Vec<(String, Preference)> = examples(&path)
        .into_iter()
        .map(|e| (e.prompt.prompt, e.response))
        .collect();
    let expected = [
        ("The sky is", unpaired(" blue.", true)),
        ("The sky is", unpaired(" green.", false)),
        ("2+2=", unpaired("4", true)),
        ("2+2=", unpaired("5", false)),
        ("What color is the sky?", unpaired("Blue.", true)),
    ]
    .map(|(p, r)| (p.to_string(), r));
    assert_eq!(got, expected);
}

#[test]
fn an_answer_column_becomes_the_answer_as_written_and_other_columns_stay_meta() {
    let dir = Dir::new();
    let path = dir.text(
        "answers.jsonl",
        "{\"prompt\": \"Half of 3?\", \"chosen\": \"1.50\", \"rejected\": \"2\", \"answer\": 1.50, \"level\": 2}\n",
    );
    let got = examples(&path);
    assert_eq!(
        (
            got[0].prompt.answer.as_str(),
            got[0].prompt.solution.as_str()
        ),
        ("1.50", "1.50")
    );
    assert_eq!(got[0].prompt.meta, json!({"level": 2}));
}

#[test]
fn parquet_pairs_load_to_the_same_examples_as_their_jsonl_twin() {
    let dir = Dir::new();
    let parquet = dir.parquet(
        "pairs.parquet",
        "message schema { required binary prompt (UTF8); required binary chosen (UTF8); \
         required binary rejected (UTF8); required int64 id; }",
        &[
            text(&TEXT_PAIRS.map(|t| t.0)),
            text(&TEXT_PAIRS.map(|t| t.1)),
            text(&TEXT_PAIRS.map(|t| t.2)),
            Column::Int(TEXT_PAIRS.map(|t| t.3).to_vec()),
        ],
    );
    let from_parquet = examples(&parquet);
    assert_eq!(from_parquet[2].prompt.key, "pairs.parquet#2");
    assert_eq!(
        without_file_name(from_parquet),
        without_file_name(examples(&text_pairs_jsonl(&dir)))
    );
}

#[test]
fn parquet_unpaired_rows_load_to_the_same_examples_as_their_jsonl_twin() {
    let dir = Dir::new();
    let rows = [
        ("The sky is", " blue.", true),
        ("The sky is", " green.", false),
    ];
    let parquet = dir.parquet(
        "kto.parquet",
        "message schema { required binary prompt (UTF8); required binary completion (UTF8); \
         required boolean label; }",
        &[
            text(&rows.map(|r| r.0)),
            text(&rows.map(|r| r.1)),
            Column::Bool(rows.map(|r| r.2).to_vec()),
        ],
    );
    let jsonl = dir.jsonl(
        "kto.jsonl",
        &rows.map(|(p, c, l)| json!({"prompt": p, "completion": c, "label": l})),
    );
    let from_parquet = examples(&parquet);
    assert_eq!(from_parquet[1].response, unpaired(" green.", false));
    assert_eq!(
        without_file_name(from_parquet),
        without_file_name(examples(&jsonl))
    );
}

/// The error of a JSONL file `pairs.jsonl` whose first line is a good pair and whose second
/// line is `line`.
fn second_line_error(line: &Value) -> (DataError, String) {
    let dir = Dir::new();
    let good = json!({"prompt": "p", "chosen": "a", "rejected": "b"});
    let path = dir.jsonl("pairs.jsonl", &[good, line.clone()]);
    let e = load_err(&path, &PreferenceFields::default());
    let message = e.to_string();
    (e, message)
}

#[test]
fn each_bad_paired_row_names_the_file_the_line_and_the_field() {
    let chat = |items: &[Value]| Value::Array(items.to_vec());
    let cases = [
        (json!({"prompt": "p", "chosen": "a"}), "rejected", "missing"),
        (
            json!({"prompt": "p", "chosen": "a", "rejected": 3}),
            "rejected",
            "expected a string or a list of {role, content} messages, got a number",
        ),
        (
            json!({"prompt": "p", "chosen": "a", "rejected": null}),
            "rejected",
            "got null",
        ),
        (
            json!({"prompt": "p", "chosen": "a", "rejected": " \n"}),
            "rejected",
            "the response is empty",
        ),
        (
            json!({"prompt": "p", "chosen": "same", "rejected": "same"}),
            "rejected",
            "the same as `chosen`: identical responses carry no preference",
        ),
        (
            json!({"prompt": "p", "chosen": [user("a")], "rejected": [assistant("b")]}),
            "chosen[0].role",
            "a response ends with the assistant's message, got role `user`",
        ),
        (
            json!({"prompt": "p", "chosen": [assistant("a")], "rejected": [{"content": "b"}]}),
            "rejected[0].role",
            "missing",
        ),
        (
            json!({"prompt": "p", "chosen": [], "rejected": "b"}),
            "chosen",
            "the list of messages is empty",
        ),
        (
            json!({"prompt": "p", "chosen": [user("q"), assistant("a")], "rejected": [assistant("b")]}),
            "chosen",
            "2 messages; next to a prompt column a response is its one assistant message",
        ),
        (
            json!({"prompt": "", "chosen": "a", "rejected": "b"}),
            "prompt",
            "the prompt is empty",
        ),
        (
            json!({"prompt": [system("s")], "chosen": "a", "rejected": "b"}),
            "prompt",
            "no message has role `user`",
        ),
        (
            json!({"chosen": "The sky is blue.", "rejected": "The sky is green."}),
            "prompt",
            "missing (without a prompt column, `chosen` and `rejected` must be chat lists",
        ),
        (
            json!({
                "chosen": chat(&[user("q"), assistant("a")]),
                "rejected": chat(&[user("other q"), assistant("b")]),
            }),
            "rejected",
            "they differ from `chosen`'s at message 0",
        ),
        (
            json!({"chosen": [assistant("a")], "rejected": [assistant("b")]}),
            "prompt",
            "hold only the assistant's message, so there is no prompt",
        ),
        (
            json!({"chosen": chat(&[system("s"), assistant("a")]), "rejected": chat(&[system("s"), assistant("b")])}),
            "chosen",
            "no message has role `user`",
        ),
        (
            json!({"prompt": "p", "completion": "a", "label": true}),
            "completion",
            "an unpaired row in a paired file (as line 1 is); a file holds one layout",
        ),
        (
            json!({"prompt": "p", "chosen": "a", "rejected": "b", "answer": [1]}),
            "answer",
            "expected a string or a number, got a list",
        ),
    ];
    for (line, field, reason) in cases {
        let (e, message) = second_line_error(&line);
        assert!(
            matches!(
                &e,
                DataError::BadRow { row: RowRef::Line(2), field: Some(f), .. } if f == field
            ),
            "{line}: {e:?}"
        );
        let expected = format!("pairs.jsonl: line 2, field `{field}`: ");
        assert!(message.contains(&expected), "{line}: {message}");
        assert!(message.contains(reason), "{line}: {message}");
    }
}

#[test]
fn each_bad_unpaired_row_names_the_file_the_line_and_the_field() {
    let cases = [
        (
            json!({"prompt": "p", "completion": "a"}),
            "label",
            "missing",
        ),
        (
            json!({"prompt": "p", "completion": "a", "label": 2}),
            "label",
            "expected true/false or 1/0, got 2",
        ),
        (
            json!({"prompt": "p", "completion": "a", "label": "yes"}),
            "label",
            "expected true/false or 1/0, got a string",
        ),
        (
            json!({"prompt": "p", "completion": "a", "label": 1.0}),
            "label",
            "got 1.0",
        ),
        (
            json!({"prompt": "p", "completion": "", "label": true}),
            "completion",
            "the response is empty",
        ),
        (
            json!({"prompt": "p", "completion": [system("a")], "label": true}),
            "completion[0].role",
            "got role `system`",
        ),
        (
            json!({"completion": [user("q"), assistant("a")], "label": true}),
            "prompt",
            "missing (unpaired rows need a prompt column)",
        ),
        (
            json!({"prompt": "p", "chosen": "a", "rejected": "b"}),
            "chosen",
            "a paired row in an unpaired file (as line 1 is)",
        ),
    ];
    let dir = Dir::new();
    for (line, field, reason) in cases {
        let good = json!({"prompt": "p", "completion": "a", "label": 0});
        let path = dir.jsonl("kto.jsonl", &[good, line.clone()]);
        let message = load_err(&path, &PreferenceFields::default()).to_string();
        let expected = format!("kto.jsonl: line 2, field `{field}`: ");
        assert!(message.contains(&expected), "{line}: {message}");
        assert!(message.contains(reason), "{line}: {message}");
    }
}

#[test]
fn a_row_with_both_layouts_or_neither_names_the_columns_it_has() {
    let (e, message) =
        second_line_error(&json!({"prompt": "p", "chosen": "a", "rejected": "b", "label": true}));
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
    assert!(
        message.contains("pairs.jsonl: line 2: both paired (`chosen`, `rejected`) and unpaired (`label`) columns"),
        "{message}"
    );
    assert!(
        message.contains("the columns are: chosen, label, prompt, rejected"),
        "{message}"
    );
    let (_, message) = second_line_error(&json!({"prompt": "p", "response": "a"}));
    assert!(
        message.contains("line 2: no preference columns: paired rows need `chosen` and `rejected`, unpaired rows `completion` and `label`; the columns are: prompt, response"),
        "{message}"
    );
}

#[test]
fn parquet_bad_rows_and_schemas_name_the_row_or_the_columns() {
    let dir = Dir::new();
    let nulls = dir.parquet(
        "nulls.parquet",
        "message schema { required binary prompt (UTF8); required binary chosen (UTF8); \
         optional binary rejected (UTF8); }",
        &[
            text(&["p0", "p1"]),
            text(&["a", "a"]),
            Column::OptionalText(vec![Some("b"), None]),
        ],
    );
    let message = load_err(&nulls, &PreferenceFields::default()).to_string();
    assert!(
        message.contains("nulls.parquet: row 1, field `rejected`: expected a string or a list of {role, content} messages, got null"),
        "{message}"
    );

    let both = dir.parquet(
        "both.parquet",
        "message schema { required binary prompt (UTF8); required binary chosen (UTF8); \
         required binary completion (UTF8); }",
        &[text(&["p"]), text(&["a"]), text(&["b"])],
    );
    let e = load_err(&both, &PreferenceFields::default());
    assert!(matches!(e, DataError::Format { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message
            .contains("both.parquet: both paired (`chosen`) and unpaired (`completion`) columns")
            && message.contains("the columns are: prompt, chosen, completion"),
        "{message}"
    );

    let half = dir.parquet(
        "half.parquet",
        "message schema { required binary prompt (UTF8); required binary chosen (UTF8); }",
        &[text(&["p"]), text(&["a"])],
    );
    let e = load_err(&half, &PreferenceFields::default());
    assert!(
        matches!(&e, DataError::MissingColumn { column, .. } if column == "rejected"),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("half.parquet: no column `rejected` (the field map's `rejected`); the columns are: prompt, chosen"),
        "{e}"
    );
}

#[test]
fn skipped_rows_are_counted_and_keys_keep_the_row_index() {
    let dir = Dir::new();
    let path = dir.jsonl(
        "mixed_quality.jsonl",
        &[
            json!({"prompt": "p0", "chosen": "a", "rejected": "b"}),
            json!({"prompt": "p1", "chosen": "same", "rejected": "same"}),
            json!({"prompt": "p2", "chosen": "a", "rejected": ""}),
            json!({"prompt": "p3", "chosen": "c", "rejected": "d"}),
        ],
    );
    let (got, report) = load_ok(&path, OnBadRow::Skip);
    let keys: Vec<&str> = got.iter().map(|e| e.prompt.key.as_str()).collect();
    assert_eq!(keys, ["mixed_quality.jsonl#0", "mixed_quality.jsonl#3"]);
    assert_eq!(
        (report.rows_read, report.rows_kept, report.skipped),
        (4, 2, 2)
    );
    assert_eq!(report.first_skips.len(), 2);
    assert!(
        report.first_skips[0].contains("line 2, field `rejected`: the same as `chosen`"),
        "{:?}",
        report.first_skips
    );
    assert!(
        report.first_skips[1].contains("line 3, field `rejected`: the response is empty"),
        "{:?}",
        report.first_skips
    );
}

#[test]
fn a_file_with_every_row_skipped_is_empty() {
    let dir = Dir::new();
    let path = dir.jsonl(
        "bad.jsonl",
        &[
            json!({"prompt": "p", "chosen": "x", "rejected": "x"}),
            json!({"prompt": "p", "completion": "x", "label": true}),
        ],
    );
    let e = match load_preferences(&path, &PreferenceFields::default(), OnBadRow::Skip) {
        Ok((examples, _)) => panic!("loaded {} examples", examples.len()),
        Err(e) => e,
    };
    assert!(
        matches!(
            e,
            DataError::Empty {
                rows_read: 2,
                skipped: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("the first: "), "{e}");
}

#[test]
fn split_unpaired_makes_each_pair_a_desirable_and_an_undesirable_example() {
    let dir = Dir::new();
    let pairs = examples(&text_pairs_jsonl(&dir));
    let split = split_unpaired(pairs.clone());
    assert_eq!(split.len(), 2 * pairs.len());
    for (halves, pair) in split.chunks(2).zip(&pairs) {
        let Preference::Paired { chosen, rejected } = &pair.response else {
            panic!("{pair:?} is not a pair");
        };
        assert_eq!(halves[0].response, unpaired(chosen, true));
        assert_eq!(halves[1].response, unpaired(rejected, false));
        assert_eq!(halves[0].prompt.key, format!("{}/chosen", pair.prompt.key));
        assert_eq!(
            halves[1].prompt.key,
            format!("{}/rejected", pair.prompt.key)
        );
        for half in halves {
            assert_eq!(
                (&half.prompt.prompt, &half.prompt.meta),
                (&pair.prompt.prompt, &pair.prompt.meta)
            );
        }
    }
    assert_eq!(
        split_unpaired(split.clone()),
        split,
        "unpaired examples pass through"
    );
}

#[test]
fn preference_fields_default_to_trl_names_rename_columns_and_reject_clashes() {
    let fields: PreferenceFields = must(serde_json::from_value(json!({})), "defaults");
    assert_eq!(fields, PreferenceFields::default());
    assert_eq!(
        (
            fields.prompt.as_str(),
            fields.chosen.as_str(),
            fields.rejected.as_str()
        ),
        ("prompt", "chosen", "rejected")
    );
    assert_eq!(
        (fields.completion.as_str(), fields.label.as_str()),
        ("completion", "label")
    );
    let unknown = serde_json::from_value::<PreferenceFields>(json!({"chosn": "a"}));
    assert!(unknown.is_err(), "unknown keys are errors");

    let dir = Dir::new();
    let path = dir.jsonl(
        "renamed.jsonl",
        &[json!({"question": "q", "good": "a", "bad": "b", "prompt": "kept in meta"})],
    );
    let renamed = PreferenceFields {
        prompt: "question".to_string(),
        chosen: "good".to_string(),
        rejected: "bad".to_string(),
        ..PreferenceFields::default()
    };
    let (got, _) = must(
        load_preferences(&path, &renamed, OnBadRow::Error),
        "renamed",
    );
    assert_eq!(got[0].prompt.prompt, "q");
    assert_eq!(got[0].response, paired("a", "b"));
    assert_eq!(got[0].prompt.meta, json!({"prompt": "kept in meta"}));

    let clash = PreferenceFields {
        rejected: "chosen".to_string(),
        ..PreferenceFields::default()
    };
    let message = load_err(&path, &clash).to_string();
    assert!(
        message.contains("field map: `chosen` and `rejected` name the same column"),
        "{message}"
    );
    let answer = PreferenceFields {
        completion: "answer".to_string(),
        ..PreferenceFields::default()
    };
    let message = load_err(&path, &answer).to_string();
    assert!(
        message.contains("`completion` names the `answer` column"),
        "{message}"
    );
}
