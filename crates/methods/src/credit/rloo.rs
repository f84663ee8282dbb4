//! RLOO (Ahmadian et al. 2024, arXiv 2402.14740): leave-one-out baseline,
//! `A_i = R_i - (1/(G-1)) sum_{j != i} R_j = G/(G-1) (R_i - mean)` (grpo-family.md).
use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::MethodError;

#[derive(Debug, Clone, Copy)]
pub struct Rloo;

impl AdvantageEstimator for Rloo {
    fn name(&self) -> &'static str {
        "rloo"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check("rloo")?;
        Ok(Advantages::Sequence(leave_one_out_advantage(batch)))
    }
}

/// A group of one has no other member to form a baseline; its advantage is 0.
pub fn leave_one_out_advantage(batch: &CreditBatch) -> Vec<f64> {
    let mut adv = vec![0.0; batch.len()];
    for members in batch.groups() {
        let g = members.len();
        if g < 2 {
            continue;
        }
        let total: f64 = members.iter().map(|&i| batch.rewards[i]).sum();
        for &i in &members {
            adv[i] = batch.rewards[i] - (total - batch.rewards[i]) / (g - 1) as f64;
        }
    }
    adv
}
