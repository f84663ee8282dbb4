//! HAPO's token-level group average advantage (spec hapo.md, part 2; code
//! starriver030515/HAPO `core_algos.py`). The entropy-aware loss parts are in
//! `objective/hapo.rs`.
//!
//! Every valid token carries its response's reward, so the group's mean and population std are
//! length-weighted: `mu_g = sum_i L_i R_i / sum_i L_i`,
//! `sigma_g = sqrt(sum_i L_i (R_i - mu_g)^2 / sum_i L_i)`, `A_i = (R_i - mu_g) / (sigma_g + eps)`.
//! A group where any `|A_i| >= 5` (one very long response dominating the statistics) falls back
//! to GRPO's advantage.
use super::{group_relative_advantage, AdvantageEstimator, Advantages, CreditBatch};
use crate::error::MethodError;

/// `|A|` at or above which a group falls back to GRPO.
pub const TOKEN_MEAN_FALLBACK: f64 = 5.0;

#[derive(Debug, Clone, Copy)]
pub struct TokenGroupMean {
    /// Of the GRPO fallback's std.
    pub std_ddof: u32,
    pub eps: f64,
}

impl AdvantageEstimator for TokenGroupMean {
    fn name(&self) -> &'static str {
        "token_group_mean"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check(self.name())?;
        Ok(Advantages::Sequence(token_group_mean_advantage(
            batch,
            self.std_ddof,
            self.eps,
        )))
    }
}

/// Per-response advantage from length-weighted group statistics, GRPO where it blows up.
pub fn token_group_mean_advantage(batch: &CreditBatch, std_ddof: u32, eps: f64) -> Vec<f64> {
    let grpo = group_relative_advantage(batch, true, std_ddof, eps);
    let mut adv = vec![0.0; batch.len()];
    for members in batch.groups() {
        let weight = |i: usize| batch.response_lens[i] as f64;
        let total: f64 = members.iter().map(|&i| weight(i)).sum();
        if total <= 0.0 {
            continue;
        }
        let mean = members
            .iter()
            .map(|&i| weight(i) * batch.rewards[i])
            .sum::<f64>()
            / total;
        let var = members
            .iter()
            .map(|&i| weight(i) * (batch.rewards[i] - mean).powi(2))
            .sum::<f64>()
            / total;
        let values: Vec<f64> = members
            .iter()
            .map(|&i| (batch.rewards[i] - mean) / (var.sqrt() + eps))
            .collect();
        let fallback = values.iter().any(|a| a.abs() >= TOKEN_MEAN_FALLBACK);
        for (&i, a) in members.iter().zip(values) {
            adv[i] = if fallback { grpo[i] } else { a };
        }
    }
    adv
}
