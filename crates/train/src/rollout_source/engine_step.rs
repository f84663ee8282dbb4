//! One generation round of the group rollout from an engine: the rollout's prompts (each once;
//! the engine samples `n = rl.group_size` of each) in, the rollout's rows out (prompt-major,
//! `row = prompt * n + j`, as the in-process sampler lays them out), with the engine's
//! behaviour log-probs of each row.
use polopt_models::SamplingConfig;

use super::{FinishReason, RolloutSource, SamplingRequest};
use crate::error::TrainError;
use crate::tool_rollout::Sampled;

/// The rows and, per row, the behaviour log-prob of every response token.
pub fn engine_rows(
    engine: &dyn RolloutSource,
    prompts: &[Vec<i64>],
    group_size: usize,
    sampling: &SamplingConfig,
) -> Result<(Vec<Sampled>, Vec<Vec<f32>>), TrainError> {
    let request = SamplingRequest {
        n: group_size,
        max_new_tokens: sampling.max_new_tokens.max(0) as usize,
        temperature: sampling.temperature,
        top_p: sampling.top_p,
    };
    let groups = engine.generate(prompts, &request)?;
    let mut rows = Vec::with_capacity(prompts.len() * group_size);
    let mut logp = Vec::with_capacity(prompts.len() * group_size);
    for completion in groups.into_iter().flatten() {
        rows.push(Sampled {
            response: completion.tokens,
            truncated: completion.finish == FinishReason::Length,
            ..Default::default()
        });
        logp.push(completion.logprobs);
    }
    Ok((rows, logp))
}
