//! One error type for the models layer. Every variant names the thing the user has to fix:
//! the config field, the tensor, the character, the file.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("config field `{field}`: {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    #[error("unsupported model: {what} (supported: model_type \"qwen2\" or \"llama\", architectures Qwen2ForCausalLM or LlamaForCausalLM)")]
    UnknownArchitecture { what: String },

    #[error("checkpoint is a different architecture: `{field}` is {found} in the checkpoint but {expected} in the model it is loaded into")]
    ConfigMismatch {
        field: &'static str,
        expected: String,
        found: String,
    },

    #[error("tensor `{name}` is missing from {path}")]
    MissingTensor { name: String, path: PathBuf },

    #[error("tensor `{name}` in {path} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        path: PathBuf,
        expected: Vec<i64>,
        found: Vec<i64>,
    },

    #[error("tensor `{name}` in {path} is not a parameter of this model")]
    UnexpectedTensor { name: String, path: PathBuf },

    #[error("tensor `{name}`: dtype {dtype} is not supported")]
    UnsupportedDtype { name: String, dtype: String },

    #[error("{path}: {hint}")]
    MissingFile { path: PathBuf, hint: String },

    #[error("{path}: invalid shard index: {reason}")]
    InvalidIndex { path: PathBuf, reason: String },

    #[error("{path}: field `{field}`: {reason}")]
    ConfigField {
        path: PathBuf,
        field: String,
        reason: String,
    },

    #[error("{path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },

    #[error("chat template: {0}")]
    ChatTemplate(String),

    #[error("{path}: not a valid safetensors file: {detail}")]
    Safetensors { path: PathBuf, detail: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },

    #[error("character {ch:?} at position {position} is not in the vocabulary")]
    UnknownChar { ch: char, position: usize },

    #[error("tokenizer vocabulary: {0}")]
    InvalidVocab(String),

    #[error("sampling `{field}`: {reason}")]
    InvalidSampling { field: &'static str, reason: String },

    #[error("invalid input: {0}")]
    InvalidInput(String),

    #[error("torch: {0}")]
    Torch(#[from] tch::TchError),
}

impl ModelError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        ModelError::InvalidConfig {
            field,
            reason: reason.into(),
        }
    }
}
