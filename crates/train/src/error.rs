use std::path::{Path, PathBuf};
use thiserror::Error;

/// Errors of the training layer; each says what to fix.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("checkpoint {path}: {detail}")]
    Checkpoint { path: PathBuf, detail: String },
    #[error("task: {0}")]
    Task(String),
    #[error("model: {0}")]
    Model(String),
    #[error("method: {0}")]
    Method(#[from] polopt_methods::MethodError),
    #[error("non-finite {what} at step {step} (run.on_nan = \"stop\"); {hint}")]
    NonFinite {
        what: String,
        step: usize,
        hint: &'static str,
    },
    /// A reward function failed on a batch (an exception, a timeout, a malformed result): the
    /// batch has no rewards, so the step cannot go on. A NaN reward is not this error.
    #[error("reward `{reward}`: {detail}")]
    Reward { reward: String, detail: String },
    #[error("torch: {0}")]
    Torch(#[from] tch::TchError),
    /// A rollout engine (vLLM, SGLang) failed or answered a malformed batch (`[rollout]`).
    #[error("rollout source: {0}")]
    Rollout(#[from] crate::rollout_source::RolloutError),
}

impl TrainError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
