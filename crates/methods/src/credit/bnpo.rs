//! BNPO, Beta Normalization Policy Optimization (arXiv 2506.02864; code changyi7231/BNPO;
//! spec bnpo.md, confidence high for the implementation).
//!
//! Each prompt's pass rate `p_q` is treated as Beta-distributed over the batch. The batch's
//! method-of-moments fit `a = mu (mu (1 - mu) / var - 1)`, `b = (1 - mu) (...)` gives the
//! normalization parameters `alpha = max(1 + a/3, 1)`, `beta = max(1 + b/3, 1)`, and
//! `A_i = (R~_i - p_q) / BetaPdf(p_q; alpha, beta)` with `R~ = (R - r_min) / (r_max - r_min)`.
//! `alpha = beta = 1` is Dr. GRPO (`R - p`), `alpha = beta = 3/2` is GRPO with population std
//! up to a constant. The parameters are refitted on every batch, as in the code (not an EMA).
//! The optional advantage decomposition over several reward components is not implemented:
//! the loop scores one scalar reward per response.
use serde::{Deserialize, Serialize};

use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `method.credit.bnpo`: the affine map of rewards onto `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BnpoConfig {
    pub reward_min: f64,
    pub reward_max: f64,
}

impl Default for BnpoConfig {
    fn default() -> Self {
        Self {
            reward_min: 0.0,
            reward_max: 1.0,
        }
    }
}

impl Settings for BnpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.bnpo.reward_max",
            self.reward_max,
            self.reward_max > self.reward_min && self.reward_min.is_finite(),
            "> method.credit.bnpo.reward_min (both finite)",
        )
    }
}

/// The code clamps `1 / pdf` so that a pass rate of exactly 0 or 1 (pdf 0 when alpha > 1)
/// stays finite; those samples have `R - p = 0` anyway.
const MAX_INVERSE_DENSITY: f64 = 1e6;
/// Below this batch variance of pass rates the moment fit is undefined (bnpo.md, Ambiguities).
const MIN_VARIANCE: f64 = 1e-8;

#[derive(Debug, Clone)]
pub struct Bnpo {
    pub config: BnpoConfig,
}

impl AdvantageEstimator for Bnpo {
    fn name(&self) -> &'static str {
        "bnpo"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check("bnpo")?;
        Ok(Advantages::Sequence(beta_normalized_advantage(
            batch,
            &self.config,
        )))
    }
}

/// Normalization parameters `(alpha, beta)` fitted to a batch of per-prompt pass rates.
pub fn beta_normalization_params(pass_rates: &[f64]) -> (f64, f64) {
    let n = pass_rates.len();
    if n < 2 {
        return (1.0, 1.0);
    }
    let mu = pass_rates.iter().sum::<f64>() / n as f64;
    let var = pass_rates.iter().map(|p| (p - mu) * (p - mu)).sum::<f64>() / (n - 1) as f64;
    if var < MIN_VARIANCE {
        return (1.0, 1.0);
    }
    let common = mu * (1.0 - mu) / var - 1.0;
    let a = mu * common;
    let b = (1.0 - mu) * common;
    ((1.0 + a / 3.0).max(1.0), (1.0 + b / 3.0).max(1.0))
}

/// Normalized Beta density `p^(a-1) (1-p)^(b-1) / B(a, b)`.
pub fn beta_pdf(p: f64, a: f64, b: f64) -> f64 {
    let log_beta = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    p.powf(a - 1.0) * (1.0 - p).powf(b - 1.0) / log_beta.exp()
}

pub fn beta_normalized_advantage(batch: &CreditBatch, config: &BnpoConfig) -> Vec<f64> {
    let span = config.reward_max - config.reward_min;
    let scaled: Vec<f64> = batch
        .rewards
        .iter()
        .map(|r| (r - config.reward_min) / span)
        .collect();
    let groups = batch.groups();
    let pass_rates: Vec<f64> = groups
        .iter()
        .map(|members| {
            if members.len() < 2 {
                0.0
            } else {
                members.iter().map(|&i| scaled[i]).sum::<f64>() / members.len() as f64
            }
        })
        .collect();
    let (alpha, beta) = beta_normalization_params(&pass_rates);
    let mut adv = vec![0.0; batch.len()];
    for (members, &p) in groups.iter().zip(&pass_rates) {
        let weight = (1.0 / beta_pdf(p, alpha, beta)).clamp(0.0, MAX_INVERSE_DENSITY);
        for &i in members {
            adv[i] = (scaled[i] - p) * weight;
        }
    }
    adv
}

/// Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for positive arguments, which is
/// all BNPO needs (alpha, beta >= 1).
fn ln_gamma(x: f64) -> f64 {
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEF[0];
    for (k, c) in COEF.iter().enumerate().skip(1) {
        sum += c / (x + k as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }
}
