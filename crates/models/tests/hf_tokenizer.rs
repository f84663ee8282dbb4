//! `HfTokenizer` against what transformers' tokenizer made of the same texts and conversations
//! (tests/fixtures/qwen2_tied_chat/expected.json, written by scripts/make_hf_fixtures.py).
use std::path::PathBuf;

use polopt_models::{ChatMessage, HfTokenizer, ModelError};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/qwen2_tied_chat")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    serde_json::from_value(v.clone()).unwrap()
}

fn messages(v: &Value) -> Vec<ChatMessage> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn encodes_and_decodes_like_transformers() {
    let tok = HfTokenizer::from_dir(&dir()).unwrap();
    assert_eq!(tok.eos_token(), Some("<|im_end|>"));
    assert_eq!(tok.token_id("<|im_end|>"), Some(2));
    for case in expected()["texts"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = tok.encode(text, false).unwrap();
        assert_eq!(got, ids(&case["ids"]), "{text:?}");
        assert_eq!(
            tok.decode(&got, false).unwrap(),
            case["decoded"].as_str().unwrap()
        );
    }
}

#[test]
fn chat_template_renders_like_transformers() {
    let tok = HfTokenizer::from_dir(&dir()).unwrap();
    let expected = expected();
    for case in expected["chats"].as_array().unwrap() {
        let msgs = messages(&case["messages"]);
        let rendered = tok.apply_chat_template(&msgs, None, true).unwrap();
        assert_eq!(rendered, case["rendered"].as_str().unwrap());
        assert_eq!(tok.encode_chat(&msgs, true).unwrap(), ids(&case["ids"]));
    }
    let case = &expected["tools"];
    let tools = case["tools"].as_array().unwrap();
    let rendered = tok
        .apply_chat_template(&messages(&case["messages"]), Some(tools), false)
        .unwrap();
    assert_eq!(rendered, case["rendered"].as_str().unwrap());
}

#[test]
fn template_errors_and_missing_tokenizer_are_reported() {
    let err = polopt_models::hf_tokenizer::render_chat_template(
        "{{ raise_exception('roles must alternate') }}",
        &minijinja_value(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("roles must alternate"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    match HfTokenizer::from_dir(empty.path()) {
        Err(ModelError::MissingFile { path, .. }) => assert!(path.ends_with("tokenizer.json")),
        other => panic!("expected MissingFile, got {:?}", other.err()),
    }
}

fn minijinja_value() -> minijinja::Value {
    minijinja::Value::from(())
}
