//! RiskPO, Risk-based Policy Optimization via Verifiable Reward (arXiv 2510.00911; code
//! RTkenny/RiskPO, `compute_grpo_bundle_rvar_outcome_advantage_quantile_tracking`; spec
//! riskpo.md, confidence high).
//!
//! Binary per-question rewards make quantiles degenerate, so `bundle_size` consecutive prompts
//! form a bundle and "paper" `j` takes the `j`-th response of each: `X_j = sum_q R_{q,j}`. With
//! quantiles `a = F^-1(alpha)`, `b = F^-1(beta)` of the paper scores, the Mixed VaR advantage is
//! `g = (w g_CVaR + g_RVaR) / (w + 1)`, `g_RVaR = [(X-a)^+ - (X-b)^+ + (a-b)] / (beta - alpha)`,
//! `g_CVaR = -(a - X)^+ / alpha`, divided by the bundle's `std(X)`, then assigned to responses
//! (`std` credit: `A_{q,j} = g_j / std(R_q)`). In `track` mode the quantiles come from a
//! tracker over levels 0.05..0.95 updated by SGD on the quantile loss after each batch; the
//! advantage of step t uses the tracker of step t-1 and the first step uses the bundle's own
//! quantiles. The tracker is cross-step state: this estimator must be built once per run.
//! The tracker is saved in checkpoints ([`AdvantageEstimator::state`]), so resume is exact.
//!
//! Deviation (knob `score_std_floor`, 0 = the spec's formula): a bundle whose papers all score
//! the same has `std(X) = 0`, and with tracked quantiles `g != 0` there (e.g. every paper 0
//! below a tracked `a > 0`), so `g / (0 + 1e-6)` gives advantages of order 1e6. Like the
//! spec's own rule for `std(R_q)`, a `std(X)` below the floor is taken as 1.
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{mean_std, AdvantageEstimator, Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantileMode {
    /// Per-bundle empirical quantiles (linear interpolation, as torch.quantile).
    Batch,
    /// Global quantiles tracked across steps by SGD (the run scripts' mode).
    Track,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskCredit {
    /// `g_j / std(R_q)` (unbiased std; 1 when below 1e-3). Script default.
    Std,
    /// `g_j` for every response of paper j.
    Uniform,
    /// `0.5 g_j` for a correct response, `1.5 g_j` otherwise.
    Score,
}

/// `method.credit.riskpo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskpoConfig {
    pub bundle_size: usize,
    /// Lower quantile level alpha (CVaR tail, range-VaR lower edge).
    pub quantile_low: f64,
    /// Upper quantile level beta (range-VaR upper edge).
    pub quantile_high: f64,
    /// Weight w of the CVaR term in the mix; 0 leaves the range-VaR alone.
    pub mix_weight: f64,
    pub quantile_mode: QuantileMode,
    pub tracker_lr: f64,
    pub credit: RiskCredit,
    /// Keep the "natural baseline" `(a - b)` inside g_RVaR (code default on).
    pub natural_baseline: bool,
    /// A bundle's `std(X)` below this is taken as 1 (0 = exactly the spec's formula).
    pub score_std_floor: f64,
}

impl Default for RiskpoConfig {
    fn default() -> Self {
        Self {
            bundle_size: 5,
            quantile_low: 0.2,
            quantile_high: 0.9,
            mix_weight: 1.5,
            quantile_mode: QuantileMode::Track,
            tracker_lr: 0.1,
            credit: RiskCredit::Std,
            natural_baseline: true,
            score_std_floor: 1e-3,
        }
    }
}

impl Settings for RiskpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.riskpo.bundle_size",
            self.bundle_size as f64,
            self.bundle_size >= 1,
            ">= 1",
        )?;
        check_range(
            "method.credit.riskpo.quantile_low",
            self.quantile_low,
            (0.05..=0.95).contains(&self.quantile_low),
            "in [0.05, 0.95] (the tracker's levels)",
        )?;
        check_range(
            "method.credit.riskpo.quantile_high",
            self.quantile_high,
            (0.05..=0.95).contains(&self.quantile_high) && self.quantile_high > self.quantile_low,
            "in (quantile_low, 0.95]",
        )?;
        check_range(
            "method.credit.riskpo.mix_weight",
            self.mix_weight,
            self.mix_weight >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.credit.riskpo.score_std_floor",
            self.score_std_floor,
            self.score_std_floor >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.credit.riskpo.tracker_lr",
            self.tracker_lr,
            self.tracker_lr > 0.0,
            "> 0",
        )
    }
}

/// Quantile levels of the tracker: 0.05, 0.10, ..., 0.95.
pub fn tracker_levels() -> Vec<f64> {
    (1..=19).map(|k| k as f64 * 0.05).collect()
}

/// Linear-interpolation quantile of unsorted values (torch.quantile's default).
pub fn quantile(values: &[f64], level: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    let pos = level * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (pos - lo as f64) * (v[hi] - v[lo])
}

/// Global quantiles tracked by SGD on the pinball loss: `q_k += lr (level_k - F^(q_k))`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuantileTracker {
    /// Empty until the first batch initializes it.
    pub values: Vec<f64>,
}

impl QuantileTracker {
    pub fn update(&mut self, scores: &[f64], lr: f64) {
        if scores.is_empty() {
            return;
        }
        let levels = tracker_levels();
        if self.values.is_empty() {
            self.values = levels.iter().map(|&l| quantile(scores, l)).collect();
            return;
        }
        for (q, level) in self.values.iter_mut().zip(levels) {
            let below = scores.iter().filter(|&&x| x < *q).count() as f64 / scores.len() as f64;
            *q += lr * (level - below);
        }
    }

    /// The tracked quantile at `level`, interpolated between the grid's levels.
    pub fn at(&self, level: f64) -> Option<f64> {
        if self.values.is_empty() {
            return None;
        }
        let pos = (level / 0.05 - 1.0).clamp(0.0, (self.values.len() - 1) as f64);
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(self.values.len() - 1);
        Some(self.values[lo] + (pos - lo as f64) * (self.values[hi] - self.values[lo]))
    }
}

/// Mixed-VaR paper advantages `g_j` of one bundle, before the `std(X)` scaling.
pub fn mixed_var(scores: &[f64], a: f64, b: f64, config: &RiskpoConfig) -> Vec<f64> {
    let (alpha, beta, w) = (config.quantile_low, config.quantile_high, config.mix_weight);
    let pos = |x: f64| x.max(0.0);
    let baseline = if config.natural_baseline { a - b } else { 0.0 };
    scores
        .iter()
        .map(|&x| {
            let range_var = (pos(x - a) - pos(x - b) + baseline) / (beta - alpha);
            let cvar = -pos(a - x) / alpha;
            (w * cvar + range_var) / (w + 1.0)
        })
        .collect()
}

pub struct RiskPo {
    pub config: RiskpoConfig,
    pub tracker: Mutex<QuantileTracker>,
}

impl RiskPo {
    pub fn new(config: RiskpoConfig) -> Self {
        Self {
            config,
            tracker: Mutex::new(QuantileTracker::default()),
        }
    }
}

impl AdvantageEstimator for RiskPo {
    fn name(&self) -> &'static str {
        "riskpo"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check("riskpo")?;
        let mut tracker = self
            .tracker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tracked = match self.config.quantile_mode {
            QuantileMode::Track => tracker
                .at(self.config.quantile_low)
                .zip(tracker.at(self.config.quantile_high)),
            QuantileMode::Batch => None,
        };
        let (adv, scores) = bundle_advantages(batch, &self.config, tracked);
        if self.config.quantile_mode == QuantileMode::Track {
            tracker.update(&scores, self.config.tracker_lr);
        }
        Ok(Advantages::Sequence(adv))
    }
    fn state(&self) -> serde_json::Value {
        let tracker = self
            .tracker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        serde_json::json!({ "tracker": tracker.values })
    }
    fn restore(&self, state: &serde_json::Value) -> Result<(), MethodError> {
        let values: Vec<f64> =
            serde_json::from_value(state["tracker"].clone()).map_err(|e| MethodError::State {
                part: "riskpo",
                detail: format!("quantile tracker: {e}"),
            })?;
        self.tracker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values = values;
        Ok(())
    }
}

/// Advantages of every response, and every paper score of the batch (for the tracker).
/// `quantiles = Some((a, b))` uses global quantiles; `None` each bundle's own.
pub fn bundle_advantages(
    batch: &CreditBatch,
    config: &RiskpoConfig,
    quantiles: Option<(f64, f64)>,
) -> (Vec<f64>, Vec<f64>) {
    let mut adv = vec![0.0; batch.len()];
    let mut all_scores = Vec::new();
    let groups = batch.groups();
    for bundle in groups.chunks(config.bundle_size) {
        let papers = bundle.iter().map(Vec::len).min().unwrap_or(0);
        if papers == 0 {
            continue;
        }
        let scores: Vec<f64> = (0..papers)
            .map(|j| bundle.iter().map(|q| batch.rewards[q[j]]).sum())
            .collect();
        let (a, b) = quantiles.unwrap_or_else(|| {
            (
                quantile(&scores, config.quantile_low),
                quantile(&scores, config.quantile_high),
            )
        });
        let score_std = match mean_std(scores.iter().copied(), 1).1 {
            Some(s) if s >= config.score_std_floor => s,
            _ => 1.0,
        };
        let g: Vec<f64> = mixed_var(&scores, a, b, config)
            .into_iter()
            .map(|g| g / (score_std + 1e-6))
            .collect();
        for question in bundle {
            let rewards = question.iter().map(|&i| batch.rewards[i]);
            let q_std = match mean_std(rewards, 1).1 {
                Some(s) if s >= 1e-3 => s,
                _ => 1.0,
            };
            for (j, &i) in question.iter().take(papers).enumerate() {
                adv[i] = match config.credit {
                    RiskCredit::Std => g[j] / (q_std + 1e-6),
                    RiskCredit::Uniform => g[j],
                    RiskCredit::Score if batch.rewards[i] >= 1.0 => 0.5 * g[j],
                    RiskCredit::Score => 1.5 * g[j],
                };
            }
        }
        all_scores.extend(scores);
    }
    (adv, all_scores)
}
