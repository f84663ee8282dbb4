//! The in-process sampler as a [`RolloutSource`]: the policy's KV-cache sampler on the
//! trainer's own weights, called exactly as the group rollout calls it (prompts repeated `n`
//! times, prompt-major, in chunks of `rl.generation_batch_size`), so its completions and
//! log-probs are the group rollout's. Call it inside `with_torch_seed`, like the rollout.
use std::path::Path;

use polopt_models::SamplingConfig;
use tch::Kind;

use super::{check_batch, Completion, FinishReason, RolloutError, RolloutSource, SamplingRequest};
use crate::policy::Policy;

pub struct LocalSource<'a> {
    pub policy: &'a Policy,
    pub eos_token_id: i64,
    pub pad_token_id: i64,
    pub stop_at_eos: bool,
    /// Completions per sampler call (0 = the whole batch at once).
    pub generation_batch_size: usize,
}

impl LocalSource<'_> {
    fn sampling(&self, request: &SamplingRequest) -> SamplingConfig {
        SamplingConfig {
            temperature: request.temperature,
            top_p: request.top_p,
            max_new_tokens: request.max_new_tokens as i64,
            eos_token_id: self.eos_token_id,
            pad_token_id: self.pad_token_id,
            stop_at_eos: self.stop_at_eos,
        }
    }
}

impl RolloutSource for LocalSource<'_> {
    fn generate(
        &self,
        prompts: &[Vec<i64>],
        request: &SamplingRequest,
    ) -> Result<Vec<Vec<Completion>>, RolloutError> {
        let sampling = self.sampling(request);
        let repeated: Vec<Vec<i64>> = prompts
            .iter()
            .flat_map(|p| std::iter::repeat_n(p.clone(), request.n))
            .collect();
        let chunk = match self.generation_batch_size {
            0 => repeated.len().max(1),
            n => n,
        };
        let mut flat = Vec::with_capacity(repeated.len());
        for rows in repeated.chunks(chunk) {
            let rollout = self
                .policy
                .sample_adaptive(rows, &sampling, None)
                .map_err(|e| RolloutError::Local(e.to_string()))?;
            let ids = rollout.response_ids_with_eos();
            let width = rollout.response_width().max(0) as usize;
            let logp: Vec<f32> = match width {
                0 => Vec::new(),
                _ => Vec::<f32>::try_from(
                    rollout
                        .logp
                        .to_device(tch::Device::Cpu)
                        .to_kind(Kind::Float)
                        .contiguous()
                        .view([-1]),
                )
                .map_err(|e| RolloutError::Local(e.to_string()))?,
            };
            for (b, (tokens, &truncated)) in ids.into_iter().zip(&rollout.truncated).enumerate() {
                let logprobs = logp
                    .get(b * width..b * width + tokens.len())
                    .map(<[f32]>::to_vec)
                    .unwrap_or_default();
                flat.push(Completion {
                    tokens,
                    logprobs,
                    finish: match truncated {
                        true => FinishReason::Length,
                        false => FinishReason::Stop,
                    },
                });
            }
        }
        let mut groups = Vec::with_capacity(prompts.len());
        let mut it = flat.into_iter();
        for _ in prompts {
            groups.push(it.by_ref().take(request.n).collect());
        }
        check_batch("local", prompts.len(), request.n, &groups)?;
        Ok(groups)
    }

    fn publish_weights(&self, _model_dir: &Path) -> Result<(), RolloutError> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "local"
    }
}
