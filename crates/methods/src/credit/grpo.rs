//! GRPO and Dr. GRPO group-relative advantages (grpo-family.md, "Advantage estimators").
//!
//! GRPO (DeepSeekMath, arXiv 2402.03300): `A_i = (R_i - mean_j R_j) / (std_j R_j + eps)`.
//! Dr. GRPO (arXiv 2503.20783): `A_i = R_i - mean_j R_j`, since dividing by the group std
//! up-weights questions that are nearly always solved or nearly always failed.
use super::{mean_std, AdvantageEstimator, Advantages, CreditBatch};
use crate::error::MethodError;

/// Group normalization, with or without the std division.
#[derive(Debug, Clone, Copy)]
pub struct GroupNorm {
    pub scale_by_std: bool,
    /// 1 = unbiased (torch.std, verl and TRL), 0 = population std.
    pub std_ddof: u32,
    pub eps: f64,
}

impl GroupNorm {
    /// GRPO (`scale_by_std`) or Dr. GRPO with the configured std convention.
    pub fn of(config: &crate::config::CreditConfig, scale_by_std: bool) -> Self {
        Self {
            scale_by_std,
            std_ddof: config.std_ddof,
            eps: config.eps,
        }
    }
}

impl AdvantageEstimator for GroupNorm {
    fn name(&self) -> &'static str {
        if self.scale_by_std {
            "grpo"
        } else {
            "dr_grpo"
        }
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check(self.name())?;
        Ok(Advantages::Sequence(group_relative_advantage(
            batch,
            self.scale_by_std,
            self.std_ddof,
            self.eps,
        )))
    }
}

/// Per-response group-relative advantage. A group of one has mean 0 and std 1 (verl's
/// convention), so a lone response keeps its raw reward as advantage.
pub fn group_relative_advantage(
    batch: &CreditBatch,
    scale_by_std: bool,
    std_ddof: u32,
    eps: f64,
) -> Vec<f64> {
    let mut adv = vec![0.0; batch.len()];
    for members in batch.groups() {
        let rewards = members.iter().map(|&i| batch.rewards[i]);
        let (mean, std) = if members.len() == 1 {
            (0.0, 1.0)
        } else {
            let (m, s) = mean_std(rewards, std_ddof);
            (m, s.unwrap_or(1.0))
        };
        for &i in &members {
            let centered = batch.rewards[i] - mean;
            adv[i] = if scale_by_std {
                centered / (std + eps)
            } else {
                centered
            };
        }
    }
    adv
}
