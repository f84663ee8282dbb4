//! `[rollout]`: where the group-RL loop's completions come from (docs/scale-out.md).
//!
//! ```toml
//! [rollout]
//! source = "vllm"               # "local" (default) | "vllm" | "sglang"
//! url = "http://10.0.0.5:8000"  # the engine's base URL
//! timeout_s = 600               # whole request, connect to last byte
//! retries = 3                   # on connection errors, timeouts and 5xx, with backoff
//! publish_dir = "/shared/polopt-model"  # the HF directory the engine serves and reloads
//! ```
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{HttpOptions, RolloutSource, SglangSource, VllmSource};
use crate::error::TrainError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutSection {
    /// `local` (the in-process sampler), `vllm` or `sglang`.
    pub source: String,
    /// The engine's base URL (`http://host:port`).
    pub url: String,
    /// vLLM's served model name, sent as `model` (empty: left out; vLLM then uses its one model).
    pub model: String,
    pub timeout_s: f64,
    pub retries: usize,
    /// The Hugging Face directory the engine was started on; the trainer rewrites it after every
    /// update and asks the engine to reload it. Empty: `<run dir>/publish`.
    pub publish_dir: String,
    /// vLLM only: the worker method `/collective_rpc` calls (`reload_weights`, or a worker
    /// extension's, which gets the directory as its argument).
    pub vllm_reload_method: String,
}

impl Default for RolloutSection {
    fn default() -> Self {
        Self {
            source: "local".into(),
            url: String::new(),
            model: String::new(),
            timeout_s: 600.0,
            retries: 3,
            publish_dir: String::new(),
            vllm_reload_method: "reload_weights".into(),
        }
    }
}

impl RolloutSection {
    pub fn is_local(&self) -> bool {
        *self == Self::default()
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |key: &str, want: &str, got: &dyn std::fmt::Debug| {
            Err(TrainError::Config(format!(
                "config key `rollout.{key}`: expected {want}, got {got:?}"
            )))
        };
        if !matches!(self.source.as_str(), "local" | "vllm" | "sglang") {
            return bad("source", "\"local\", \"vllm\" or \"sglang\"", &self.source);
        }
        if self.source != "local" && !self.url.starts_with("http://") {
            return bad(
                "url",
                "the engine's base URL, http://host:port (TLS is not built in)",
                &self.url,
            );
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            return bad("timeout_s", "seconds > 0", &self.timeout_s);
        }
        Ok(())
    }

    /// The directory published to the engine.
    pub fn publish_dir(&self, run_dir: &Path) -> PathBuf {
        match self.publish_dir.as_str() {
            "" => run_dir.join("publish"),
            dir => PathBuf::from(dir),
        }
    }

    /// The engine client, or `None` for the in-process sampler.
    pub fn remote(&self) -> Result<Option<Box<dyn RolloutSource>>, TrainError> {
        self.validate()?;
        let options = HttpOptions {
            timeout: Duration::from_secs_f64(self.timeout_s),
            retries: self.retries,
            ..HttpOptions::default()
        };
        let model = (!self.model.is_empty()).then(|| self.model.clone());
        Ok(match self.source.as_str() {
            "vllm" => Some(Box::new(
                VllmSource::new(&self.url, model, options)
                    .with_reload_method(&self.vllm_reload_method),
            )),
            "sglang" => Some(Box::new(SglangSource::new(&self.url, options))),
            _ => None,
        })
    }
}
