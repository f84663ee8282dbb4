//! `RolloutSource`: where a step's completions come from (docs/scale-out.md, "Rollouts from a
//! vLLM or SGLang server"; design: shared/design/scale-out.md (b)).
//!
//! The contract is narrow on purpose: prompt token ids in; for every prompt exactly `n`
//! completions out, each with its sampled token ids, the behaviour log-prob of every sampled
//! token and a finish reason. Token ids, never text, cross the boundary, so the trainer scores
//! exactly the tokens the engine sampled (no re-tokenisation drift).
//!
//! - [`local`]: today's in-process sampler on the policy (the default).
//! - [`vllm`]: vLLM's OpenAI-compatible `/v1/completions` in token-in / token-out mode.
//! - [`sglang`]: SGLang's native `/generate` with `input_ids` and `return_logprob`.
//! - [`http`]: the shared transport: timeouts, retries with backoff on connection errors and
//!   5xx, errors that name the URL.
//! - [`mismatch`]: engine vs trainer log-probs as metrics (mean and max |Δ logp|).
use std::path::Path;

pub mod config;
pub mod engine_step;
pub mod http;
pub mod local;
pub mod mismatch;
pub mod sglang;
pub mod vllm;

pub use http::{HttpOptions, RolloutError};
pub use local::LocalSource;
pub use sglang::SglangSource;
pub use vllm::VllmSource;

/// How to sample: one request's knobs, shared by every prompt of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingRequest {
    /// Completions per prompt (the group size).
    pub n: usize,
    pub max_new_tokens: usize,
    pub temperature: f64,
    pub top_p: f64,
}

/// Why a completion ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// The model emitted its end token (or a stop sequence).
    Stop,
    /// `max_new_tokens` reached: the completion is truncated.
    Length,
    /// Anything else the engine reported (e.g. `abort`), kept verbatim.
    Other(String),
}

impl FinishReason {
    /// The names vLLM and SGLang use: `stop`, `length`, anything else verbatim.
    pub fn from_engine(name: &str) -> Self {
        match name {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            other => FinishReason::Other(other.to_string()),
        }
    }
}

/// One sampled completion of one prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Sampled token ids, the end token included when one was produced.
    pub tokens: Vec<i64>,
    /// The behaviour log-prob of each sampled token (`logprobs.len() == tokens.len()`).
    pub logprobs: Vec<f32>,
    pub finish: FinishReason,
}

/// A source of completions for a batch of prompts.
pub trait RolloutSource {
    /// For every prompt, exactly `request.n` completions, in prompt order: `out[i][j]` is the
    /// j-th completion of `prompts[i]`. A short or malformed answer is an error naming the
    /// prompt, never a partial batch.
    fn generate(
        &self,
        prompts: &[Vec<i64>],
        request: &SamplingRequest,
    ) -> Result<Vec<Vec<Completion>>, RolloutError>;

    /// Makes the source sample from the Hugging Face checkpoint in `model_dir` from now on
    /// (the engine's reload-from-disk endpoint). The in-process sampler shares the trainer's
    /// weights and has nothing to do.
    fn publish_weights(&self, model_dir: &Path) -> Result<(), RolloutError>;

    /// A short name for metrics and errors (`local`, `vllm`, `sglang`).
    fn name(&self) -> &'static str;
}

/// Checks the shape every source must return: `prompts` groups of `n`, tokens and log-probs of
/// equal length, finite log-probs. The error names the prompt index (and the completion).
pub fn check_batch(
    source: &str,
    prompts: usize,
    n: usize,
    batch: &[Vec<Completion>],
) -> Result<(), RolloutError> {
    if batch.len() != prompts {
        return Err(RolloutError::Shape(format!(
            "{source}: {} prompt groups back for {prompts} prompts sent",
            batch.len()
        )));
    }
    for (i, group) in batch.iter().enumerate() {
        if group.len() != n {
            return Err(RolloutError::Shape(format!(
                "{source}: prompt {i} got {} completions, expected n = {n}",
                group.len()
            )));
        }
        for (j, c) in group.iter().enumerate() {
            if c.tokens.len() != c.logprobs.len() {
                return Err(RolloutError::Shape(format!(
                    "{source}: prompt {i} completion {j} has {} tokens but {} log-probs",
                    c.tokens.len(),
                    c.logprobs.len()
                )));
            }
            if let FinishReason::Other(reason) = &c.finish {
                // An aborted completion (engine paused, worker lost) is not a sample.
                return Err(RolloutError::Shape(format!(
                    "{source}: prompt {i} completion {j} ended with finish reason `{reason}`"
                )));
            }
            if let Some(t) = c.logprobs.iter().position(|lp| !lp.is_finite()) {
                return Err(RolloutError::Shape(format!(
                    "{source}: prompt {i} completion {j} token {t} has a non-finite log-prob"
                )));
            }
        }
    }
    Ok(())
}

/// Groups completions tagged with their prompt-major position (`index = i * n + j`, the order
/// and numbering both engines answer in) into `prompts` groups of `n`. A position out of range
/// or seen twice, or a prompt with other than `n` completions, is an error naming the prompt.
pub(crate) fn group_indexed(
    source: &str,
    items: Vec<(usize, Completion)>,
    prompts: usize,
    n: usize,
) -> Result<Vec<Vec<Completion>>, RolloutError> {
    let total = prompts * n;
    let mut slots: Vec<Option<Completion>> = vec![None; total];
    for (index, completion) in items {
        let slot = slots.get_mut(index).ok_or_else(|| {
            RolloutError::Shape(format!(
                "{source}: completion index {index} is out of range for {prompts} prompts x n = {n}"
            ))
        })?;
        if slot.replace(completion).is_some() {
            return Err(RolloutError::Shape(format!(
                "{source}: completion index {index} (prompt {}) came back twice",
                index / n.max(1)
            )));
        }
    }
    let mut groups = Vec::with_capacity(prompts);
    for i in 0..prompts {
        let group: Vec<Completion> = slots[i * n..(i + 1) * n]
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        if group.len() != n {
            return Err(RolloutError::Shape(format!(
                "{source}: prompt {i} got {} completions, expected n = {n} (a partial batch is \
                 never used)",
                group.len()
            )));
        }
        groups.push(group);
    }
    Ok(groups)
}
