//! A Hugging Face tokenizer: `tokenizer.json` through the `tokenizers` crate (the same Rust code
//! that transformers' fast tokenizers run), plus the chat template that transformers applies,
//! read from `chat_template.jinja` (transformers 5) or `tokenizer_config.json`'s
//! `chat_template`, and rendered with minijinja under transformers' Jinja settings
//! (`trim_blocks`, `lstrip_blocks`, loop controls, `raise_exception`, Python string methods).
use std::path::{Path, PathBuf};

use minijinja::{Environment, ErrorKind};
use serde::Serialize;
use serde_json::Value;

use crate::error::ModelError;

pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
pub const CHAT_TEMPLATE_FILE: &str = "chat_template.jinja";

/// One turn of a conversation, as transformers' `apply_chat_template` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
}

pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    chat_template: Option<String>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    pad_token: Option<String>,
}

impl HfTokenizer {
    /// Reads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json` (special
    /// tokens, chat template) and `dir/chat_template.jinja` (which wins, as in transformers).
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join(TOKENIZER_FILE);
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                path,
                hint: "no tokenizer.json in the model directory".into(),
            });
        }
        let inner = tokenizers::Tokenizer::from_file(&path).map_err(|e| ModelError::Tokenizer {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut tokenizer = HfTokenizer {
            inner,
            path,
            chat_template: None,
            bos_token: None,
            eos_token: None,
            pad_token: None,
        };
        let config_path = dir.join(TOKENIZER_CONFIG_FILE);
        if config_path.is_file() {
            tokenizer.read_config(&config_path)?;
        }
        let template_path = dir.join(CHAT_TEMPLATE_FILE);
        if template_path.is_file() {
            let text = std::fs::read_to_string(&template_path)
                .map_err(|e| ModelError::io(&template_path, e))?;
            tokenizer.chat_template = Some(text);
        }
        Ok(tokenizer)
    }

    fn read_config(&mut self, path: &Path) -> Result<(), ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let config: Value = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        // Special tokens are a string or an AddedToken object `{"content": ...}`.
        let token = |field: &str| -> Option<String> {
            let v = config.get(field)?;
            v.as_str()
                .or_else(|| v.get("content").and_then(Value::as_str))
                .map(str::to_string)
        };
        self.bos_token = token("bos_token");
        self.eos_token = token("eos_token");
        self.pad_token = token("pad_token");
        self.chat_template = match config.get("chat_template") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            // A list of named templates: transformers uses the one named "default".
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .and_then(|t| t.get("template"))
                .and_then(Value::as_str)
                .map(str::to_string),
            Some(other) => {
                return Err(ModelError::Tokenizer {
                    path: path.to_path_buf(),
                    reason: format!(
                        "field `chat_template` must be a string or a list, got {other}"
                    ),
                })
            }
        };
        Ok(())
    }

    /// Vocabulary size including added (special) tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn token_id(&self, token: &str) -> Option<i64> {
        self.inner.token_to_id(token).map(i64::from)
    }

    pub fn bos_token(&self) -> Option<&str> {
        self.bos_token.as_deref()
    }

    pub fn eos_token(&self) -> Option<&str> {
        self.eos_token.as_deref()
    }

    pub fn pad_token(&self) -> Option<&str> {
        self.pad_token.as_deref()
    }

    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// Token ids of `text`; `add_special_tokens` applies the tokenizer's post-processor
    /// (e.g. Llama's `<|begin_of_text|>`), as transformers' `tokenizer(text)` does by default.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<i64>, ModelError> {
        let encoding = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|e| self.error(format!("cannot encode: {e}")))?;
        Ok(encoding.get_ids().iter().map(|&id| i64::from(id)).collect())
    }

    pub fn decode(&self, ids: &[i64], skip_special_tokens: bool) -> Result<String, ModelError> {
        let ids: Vec<u32> = ids
            .iter()
            .map(|&id| {
                u32::try_from(id).map_err(|_| self.error(format!("token id {id} is negative")))
            })
            .collect::<Result<_, _>>()?;
        self.inner
            .decode(&ids, skip_special_tokens)
            .map_err(|e| self.error(format!("cannot decode: {e}")))
    }

    /// The conversation rendered by the chat template, as transformers'
    /// `apply_chat_template(messages, tools=tools, add_generation_prompt=..., tokenize=False)`.
    /// `tools` are JSON schemas; their keys render in sorted order (serde_json's maps).
    pub fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        tools: Option<&[Value]>,
        add_generation_prompt: bool,
    ) -> Result<String, ModelError> {
        let template = self.chat_template.as_deref().ok_or_else(|| {
            ModelError::ChatTemplate(format!(
                "the tokenizer at {} has no chat template",
                self.path.display()
            ))
        })?;
        render_chat_template(
            template,
            &minijinja::context! {
                messages => messages,
                tools => tools,
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
                pad_token => self.pad_token,
            },
        )
    }

    /// [`Self::apply_chat_template`] then [`Self::encode`] without added special tokens (the
    /// template writes them), as transformers' `apply_chat_template(..., tokenize=True)`.
    pub fn encode_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<Vec<i64>, ModelError> {
        self.encode(
            &self.apply_chat_template(messages, None, add_generation_prompt)?,
            false,
        )
    }

    fn error(&self, reason: String) -> ModelError {
        ModelError::Tokenizer {
            path: self.path.clone(),
            reason,
        }
    }
}

/// Renders a Jinja chat template with transformers' environment settings.
pub fn render_chat_template(
    template: &str,
    context: &minijinja::Value,
) -> Result<String, ModelError> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |message: String| -> Result<String, _> {
        Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
    });
    // transformers' `tojson` is Python's json.dumps: ", " and ": " separators, non-ASCII kept.
    env.add_filter("tojson", |value: minijinja::Value| -> Result<String, _> {
        python_json(&value).map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e))
    });
    let describe = |e: minijinja::Error| {
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason.push_str(&format!(": {s}"));
            source = s.source();
        }
        ModelError::ChatTemplate(reason)
    };
    env.add_template("chat", template).map_err(describe)?;
    env.get_template("chat")
        .and_then(|t| t.render(context))
        .map_err(describe)
}

/// `json.dumps(value)` with Python's default separators.
fn python_json(value: &minijinja::Value) -> Result<String, String> {
    struct PythonFormatter;
    impl serde_json::ser::Formatter for PythonFormatter {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                writer.write_all(b", ")
            }
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
        ) -> std::io::Result<()> {
            writer.write_all(b": ")
        }
    }
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    value
        .serialize(&mut serializer)
        .map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}
