//! Text <-> token ids for the loops: the built-in character vocabulary of the synthetic tasks,
//! or a Hugging Face `tokenizer.json` with its chat template (`model.path`). The loops only
//! see this one type, so every rollout kind, scorer and evaluation works on either.
use std::path::Path;

use polopt_envs::text::Problem;
use polopt_models::{CharTokenizer, ChatMessage, HfTokenizer, ModelError, TransformerConfig};

use crate::error::TrainError;

pub enum Codec {
    /// The text tasks' characters; a prompt is `<bos>` + its characters. Boxed: its ASCII
    /// lookup table makes it a kilobyte, and a codec is built once per run.
    Char(Box<CharTokenizer>),
    Hf(Box<HfCodec>),
}

/// A Hugging Face tokenizer and the special ids of the model it belongs to.
pub struct HfCodec {
    tok: HfTokenizer,
    /// Every id that ends a completion (`generation_config.json` may list several, as
    /// Qwen2.5-Instruct does: `<|im_end|>` and `<|endoftext|>`); the first is the one the
    /// sampler writes.
    eos: Vec<i64>,
    pad: i64,
    bos: Option<i64>,
    /// Render prompts through the chat template (with the generation prompt); off, or
    /// without a template, a prompt is its text encoded with the tokenizer's own specials.
    chat: bool,
    system: Option<String>,
}

/// How prompts become ids for a Hugging Face model (`data.chat_template`, `data.system_prompt`).
#[derive(Debug, Clone, Default)]
pub struct PromptFormat {
    pub chat_template: bool,
    pub system_prompt: Option<String>,
}

impl Codec {
    /// The built-in character vocabulary of the text tasks.
    pub fn builtin() -> Self {
        Codec::Char(Box::new(CharTokenizer::new()))
    }

    /// The built-in vocabulary extended by a task's extra characters (agent environments).
    pub fn builtin_with(extra: &str) -> Result<Self, TrainError> {
        CharTokenizer::with_extra(extra)
            .map(|t| Codec::Char(Box::new(t)))
            .map_err(|e| TrainError::Task(format!("task characters {extra:?}: {e}")))
    }

    /// The tokenizer of the model directory `dir`, with the model's special ids.
    pub fn from_model_dir(
        dir: &Path,
        config: &TransformerConfig,
        format: &PromptFormat,
    ) -> Result<Self, TrainError> {
        let model_error = |e: ModelError| TrainError::Model(format!("model.path: {e}"));
        let tok = HfTokenizer::from_dir(dir).map_err(model_error)?;
        let token_id = |t: Option<&str>| t.and_then(|t| tok.token_id(t));
        let mut eos: Vec<i64> = token_id(tok.eos_token()).into_iter().collect();
        for id in generation_eos(dir)?
            .into_iter()
            .chain(config.eos_token_id.iter().flat_map(|t| t.ids()))
        {
            if !eos.contains(&id) {
                eos.push(id);
            }
        }
        if eos.is_empty() {
            return Err(TrainError::Config(format!(
                "model.path = {}: no end-of-sequence token (eos_token in tokenizer_config.json, \
                 eos_token_id in config.json or generation_config.json)",
                dir.display()
            )));
        }
        let pad = token_id(tok.pad_token())
            .or(config.pad_token_id)
            .unwrap_or(eos[0]);
        let bos = token_id(tok.bos_token()).or(config.bos_token_id);
        let chat = format.chat_template && tok.chat_template().is_some();
        Ok(Codec::Hf(Box::new(HfCodec {
            tok,
            eos,
            pad,
            bos,
            chat,
            system: format.system_prompt.clone(),
        })))
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Codec::Char(t) => t.vocab_size(),
            Codec::Hf(h) => h.tok.vocab_size(),
        }
    }

    pub fn pad_id(&self) -> i64 {
        match self {
            Codec::Char(t) => t.pad_id(),
            Codec::Hf(h) => h.pad,
        }
    }

    /// The id a model config names as `bos_token_id` (HF models without one: the pad id).
    pub fn bos_id(&self) -> i64 {
        match self {
            Codec::Char(t) => t.bos_id(),
            Codec::Hf(h) => h.bos.unwrap_or(h.pad),
        }
    }

    /// The end-of-sequence id the sampler writes and stops at.
    pub fn eos_id(&self) -> i64 {
        match self {
            Codec::Char(t) => t.eos_id(),
            Codec::Hf(h) => h.eos[0],
        }
    }

    /// Whether `id` is a special token (never part of a completion's text).
    pub fn is_special(&self, id: i64) -> bool {
        match self {
            Codec::Char(t) => t.is_special(id),
            Codec::Hf(h) => h.eos.contains(&id) || id == h.pad || Some(id) == h.bos,
        }
    }

    /// Ids of plain text (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, ModelError> {
        match self {
            Codec::Char(t) => t.encode(text),
            Codec::Hf(h) => h.tok.encode(text, false),
        }
    }

    /// Text of `ids` without special tokens. An id the tokenizer cannot decode (it came from
    /// the model's logits, whose width may exceed the vocabulary) decodes to U+FFFD rather
    /// than failing a rollout.
    pub fn decode(&self, ids: &[i64]) -> String {
        match self {
            Codec::Char(t) => t.decode(ids),
            Codec::Hf(h) => h.tok.decode(ids, true).unwrap_or_else(|_| {
                ids.iter()
                    .map(|&id| {
                        h.tok
                            .decode(&[id], true)
                            .unwrap_or_else(|_| "\u{FFFD}".into())
                    })
                    .collect()
            }),
        }
    }

    /// The prompt ids of `problem`: for the character vocabulary `<bos>` + the text; for a
    /// Hugging Face model the chat template over `meta.messages` (or one user message holding
    /// the prompt) with the generation prompt, or without a template the text with the
    /// tokenizer's own specials (as `tokenizer(text)` in transformers).
    ///
    /// A dataset row loaded under `data.on_long_prompt = "truncate_left"` carries its limit in
    /// `meta.max_prompt_tokens`: only its last that many ids are kept.
    pub fn encode_prompt(&self, problem: &Problem) -> Result<Vec<i64>, TrainError> {
        let mut ids = self.encode_full_prompt(problem)?;
        if let Some(limit) = problem
            .meta
            .get("max_prompt_tokens")
            .and_then(|v| v.as_u64())
        {
            let limit = limit as usize;
            if ids.len() > limit {
                ids.drain(..ids.len() - limit);
            }
        }
        Ok(ids)
    }

    fn encode_full_prompt(&self, problem: &Problem) -> Result<Vec<i64>, TrainError> {
        let bad = |e: ModelError| TrainError::Task(format!("prompt {:?}: {e}", problem.prompt));
        match self {
            Codec::Char(t) => {
                let mut ids = vec![t.bos_id()];
                ids.extend(t.encode(&problem.prompt).map_err(bad)?);
                Ok(ids)
            }
            Codec::Hf(h) if h.chat => {
                let mut messages = messages_of(problem)?;
                if let Some(system) = &h.system {
                    if messages.first().map(|m| m.role.as_str()) != Some("system") {
                        messages.insert(0, ChatMessage::new("system", system.clone()));
                    }
                }
                h.tok.encode_chat(&messages, true).map_err(bad)
            }
            Codec::Hf(h) => h.tok.encode(&problem.prompt, true).map_err(bad),
        }
    }
}

/// The conversation of a dataset row (`meta.messages`, as the data layer stores chat prompts),
/// or one user turn with the prompt text.
fn messages_of(problem: &Problem) -> Result<Vec<ChatMessage>, TrainError> {
    let Some(list) = problem.meta.get("messages") else {
        return Ok(vec![ChatMessage::new("user", problem.prompt.clone())]);
    };
    serde_json::from_value(list.clone()).map_err(|e| {
        TrainError::Task(format!(
            "problem {}: field `messages` is not a list of {{role, content}}: {e}",
            problem.key
        ))
    })
}

/// `eos_token_id` of `generation_config.json` (an id or a list), when the file exists.
fn generation_eos(dir: &Path) -> Result<Vec<i64>, TrainError> {
    let path = dir.join("generation_config.json");
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    Ok(match value.get("eos_token_id") {
        Some(serde_json::Value::Number(n)) => n.as_i64().into_iter().collect(),
        Some(serde_json::Value::Array(ids)) => ids.iter().filter_map(|v| v.as_i64()).collect(),
        _ => Vec::new(),
    })
}
