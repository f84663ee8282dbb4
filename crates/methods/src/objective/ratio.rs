//! Importance ratio rules (grpo-family.md, "Clipped surrogate" and "GSPO").
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioLevel {
    /// `r_{i,t} = exp(logp - logp_old)` (PPO, GRPO).
    Token,
    /// GSPO-token form: `s_{i,t} = sg[s_i] * exp(logp - sg[logp])` with
    /// `s_i = exp(mean_t(logp - logp_old))`. Every token carries the value `s_i`, so with a
    /// per-sequence advantage and seq-mean-token-mean aggregation this equals GSPO exactly,
    /// while still letting token-level advantages flow (GSPO paper, section 4.3).
    Sequence,
}

/// `[B, T]` ratios under the given rule; padded tokens get ratio 1 through the mask.
pub fn importance_ratio(
    logp: &Tensor,
    old_logp: &Tensor,
    mask: &Tensor,
    level: RatioLevel,
) -> Tensor {
    let log_ratio = (logp - old_logp) * mask;
    match level {
        RatioLevel::Token => log_ratio.exp(),
        RatioLevel::Sequence => {
            let lens = mask
                .sum_dim_intlist(&[-1i64][..], true, super::accumulation_kind(mask))
                .clamp_min(1.0);
            let seq_log_ratio =
                log_ratio.sum_dim_intlist(&[-1i64][..], true, super::accumulation_kind(mask))
                    / lens;
            let seq_ratio = seq_log_ratio.detach().exp();
            seq_ratio * (logp - logp.detach()).exp()
        }
    }
}
