//! GBPO's advantage: the group-relative median baseline of Bounded Ratio RL (arXiv 2604.18578;
//! spec brrl-bpo-gbpo.md, confidence medium-low). Reconstructed: the spec's [RECON] form
//! `A~_i = R_i - median_g R` (optionally divided by the group std + eps, as GRPO does).
//!
//! BRRL's analytic optimum moves each action's ratio to `1 + eps sign(Q - median)`, so the
//! baseline is the median, not the mean: with binary rewards the majority outcome (equal to
//! the median) gets no push and only the minority outcome is moved. The loss kernel that pulls
//! ratios toward that target is `objective::bounded_ratio`.
use serde::{Deserialize, Serialize};

use super::{mean_std, AdvantageEstimator, Advantages, CreditBatch};
use crate::error::MethodError;

/// `method.credit.gbpo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GbpoConfig {
    /// Divide by the group std + eps after subtracting the median (the spec leaves it open).
    pub scale_by_std: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct MedianBaseline {
    pub scale_by_std: bool,
    pub std_ddof: u32,
    pub eps: f64,
}

impl AdvantageEstimator for MedianBaseline {
    fn name(&self) -> &'static str {
        "gbpo"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check("gbpo")?;
        Ok(Advantages::Sequence(group_median_advantage(
            batch,
            self.scale_by_std,
            self.std_ddof,
            self.eps,
        )))
    }
}

/// Median of a non-empty slice; the mean of the two middle values for an even count (so an
/// evenly split binary group is centred at 1/2, as the mean would be).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

pub fn group_median_advantage(
    batch: &CreditBatch,
    scale_by_std: bool,
    std_ddof: u32,
    eps: f64,
) -> Vec<f64> {
    let mut adv = vec![0.0; batch.len()];
    for members in batch.groups() {
        let rewards: Vec<f64> = members.iter().map(|&i| batch.rewards[i]).collect();
        let centre = median(&rewards);
        let std = if scale_by_std && members.len() > 1 {
            mean_std(rewards.iter().copied(), std_ddof).1.unwrap_or(1.0)
        } else {
            1.0
        };
        let denom = if scale_by_std && std + eps > 0.0 {
            std + eps
        } else {
            1.0
        };
        for &i in &members {
            adv[i] = (batch.rewards[i] - centre) / denom;
        }
    }
    adv
}

impl crate::parts::Settings for GbpoConfig {}
