//! The character vocabulary as Hugging Face tokenizer files, so that a model trained on the
//! built-in tasks becomes an ordinary model directory: `tokenizer.json` (a `WordLevel` model
//! over single characters, `<bos>` added by the post-processor, a `Fuse` decoder) and
//! `tokenizer_config.json` naming the specials. Encoding a prompt with it gives exactly the ids
//! of `<bos>` + [`CharTokenizer::encode`]; decoding drops the specials as
//! [`CharTokenizer::decode`] does (`tests/char_export.rs` checks both).
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::checkpoint::write_atomic;
use crate::error::ModelError;
use crate::tokenizer::{CharTokenizer, BOS, EOS, PAD};

/// Writes `tokenizer.json` and `tokenizer_config.json` for `tok` into `dir`.
pub fn write_tokenizer_files(tok: &CharTokenizer, dir: &Path) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let json_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::Json { path, source }
    };
    let path = dir.join("tokenizer.json");
    let text = serde_json::to_string_pretty(&tokenizer_json(tok)).map_err(json_error(&path))?;
    write_atomic(&path, text.as_bytes())?;
    let path = dir.join("tokenizer_config.json");
    let config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "unk_token": PAD,
        "model_max_length": 1_000_000,
        "clean_up_tokenization_spaces": false,
    });
    let text = serde_json::to_string_pretty(&config).map_err(json_error(&path))?;
    write_atomic(&path, text.as_bytes())
}

/// The `tokenizers` library's JSON for the character vocabulary.
pub fn tokenizer_json(tok: &CharTokenizer) -> Value {
    let mut vocab = Map::new();
    for id in 0..tok.vocab_size() as i64 {
        if let Some(token) = tok.token(id) {
            vocab.insert(token, json!(id));
        }
    }
    let added: Vec<Value> = [
        (PAD, tok.pad_id()),
        (BOS, tok.bos_id()),
        (EOS, tok.eos_id()),
    ]
    .iter()
    .map(|(content, id)| {
        json!({
            "id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true,
        })
    })
    .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        // Every character is its own pre-token; `(?s)` so that "\n" is one too.
        "pre_tokenizer": {
            "type": "Split",
            "pattern": { "Regex": "(?s)." },
            "behavior": "Isolated",
            "invert": false,
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                { "SpecialToken": { "id": BOS, "type_id": 0 } },
                { "Sequence": { "id": "A", "type_id": 0 } },
            ],
            "pair": [
                { "SpecialToken": { "id": BOS, "type_id": 0 } },
                { "Sequence": { "id": "A", "type_id": 0 } },
                { "Sequence": { "id": "B", "type_id": 1 } },
            ],
            "special_tokens": {
                BOS: { "id": BOS, "ids": [tok.bos_id()], "tokens": [BOS] },
            },
        },
        // WordLevel's default decoding joins tokens with spaces; characters must be glued.
        "decoder": { "type": "Fuse" },
        "model": { "type": "WordLevel", "vocab": vocab, "unk_token": PAD },
    })
}
