//! The one error type of the offline-data module. Messages name the file and the field, so a
//! user with a stale or foreign file knows what to regenerate.
use std::path::PathBuf;

use crate::classic::EnvError;

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not a safetensors file, or a corrupt one.
    #[error("{path}: not a valid safetensors file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: field {field:?} is missing (regenerate with `polopt dataset`)")]
    MissingField { path: PathBuf, field: &'static str },
    #[error("{path}: field {field:?} has dtype {got}; expected {expected}")]
    WrongDtype {
        path: PathBuf,
        field: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("{path}: field {field:?} has shape {got:?}; expected {expected}")]
    WrongShape {
        path: PathBuf,
        field: &'static str,
        expected: String,
        got: Vec<usize>,
    },
    /// A field whose first dimension differs from `observations`' N.
    #[error("{path}: field {field:?} has {got} rows but observations has N = {n}")]
    LengthMismatch {
        path: PathBuf,
        field: &'static str,
        n: usize,
        got: usize,
    },
    /// A metadata entry that is required or must agree with the tensors.
    #[error("{path}: metadata {key:?}: {reason}")]
    Metadata {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
    /// An in-memory dataset whose fields disagree (checked before saving).
    #[error("dataset field {field:?}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// An environment without a scripted expert, or a split name we do not know.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Env(#[from] EnvError),
}
