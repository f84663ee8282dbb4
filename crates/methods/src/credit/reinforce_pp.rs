//! REINFORCE++ (Hu 2025, arXiv 2501.03262) and verl's REINFORCE++-baseline (grpo-family.md).
//!
//! REINFORCE++: per-token return with the KL penalty folded into the reward,
//! `A_t = sum_{s>=t} gamma^{s-t} (r_s - beta KL_s)`, the outcome reward landing on the last
//! token, then whitened over every valid token of the batch.
//! REINFORCE++-baseline: `a_i = R_i - mean_group(R)`, broadcast to tokens, then whitened over
//! all tokens of the batch, so longer responses weigh more in the batch statistics.
use super::{mean_std, AdvantageEstimator, Advantages, CreditBatch};
use crate::error::MethodError;

#[derive(Debug, Clone, Copy)]
pub struct ReinforcePP {
    pub gamma: f64,
    pub kl_coef: f64,
    pub eps: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct ReinforcePPBaseline {
    pub eps: f64,
}

impl AdvantageEstimator for ReinforcePP {
    fn name(&self) -> &'static str {
        "reinforce_pp"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check("reinforce_pp")?;
        let returns = discounted_token_returns(batch, self.gamma, self.kl_coef)?;
        Ok(Advantages::Token(whiten_tokens(&returns, self.eps)))
    }
}

impl AdvantageEstimator for ReinforcePPBaseline {
    fn name(&self) -> &'static str {
        "reinforce_pp_baseline"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check("reinforce_pp_baseline")?;
        let centered = super::group_relative_advantage(batch, false, 1, 0.0);
        let tokens: Vec<Vec<f64>> = centered
            .iter()
            .zip(batch.response_lens)
            .map(|(&a, &len)| vec![a; len])
            .collect();
        Ok(Advantages::Token(whiten_tokens(&tokens, self.eps)))
    }
}

/// Reward-to-go per token with the outcome reward on the last token and `-kl_coef * KL_t` on
/// every token.
pub fn discounted_token_returns(
    batch: &CreditBatch,
    gamma: f64,
    kl_coef: f64,
) -> Result<Vec<Vec<f64>>, MethodError> {
    let mut out = Vec::with_capacity(batch.len());
    for (i, &len) in batch.response_lens.iter().enumerate() {
        let kl_row = batch.token_kl.map(|k| &k[i]);
        if let Some(row) = kl_row {
            if row.len() < len {
                return Err(MethodError::Shape {
                    part: "reinforce_pp",
                    detail: format!("token_kl[{i}] has {} tokens, response has {len}", row.len()),
                });
            }
        }
        let mut returns = vec![0.0; len];
        let mut running = 0.0;
        for t in (0..len).rev() {
            let kl = kl_row.map_or(0.0, |row| row[t]);
            let outcome = if t + 1 == len { batch.rewards[i] } else { 0.0 };
            running = outcome - kl_coef * kl + gamma * running;
            returns[t] = running;
        }
        out.push(returns);
    }
    Ok(out)
}

/// `(x - mean) / (std + eps)` over all tokens of all responses (unbiased std, as torch.std).
pub fn whiten_tokens(values: &[Vec<f64>], eps: f64) -> Vec<Vec<f64>> {
    let flat = values.iter().flatten().copied();
    let (mean, std) = mean_std(flat, 1);
    let std = std.unwrap_or(1.0);
    values
        .iter()
        .map(|row| row.iter().map(|v| (v - mean) / (std + eps)).collect())
        .collect()
}
