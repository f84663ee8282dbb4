//! ETR, Outcome-Guided Elastic Trust Regions (arXiv 2601.03723; spec etr.md, confidence LOW).
//! Reconstructed from the abstract: both mechanisms are the paper's in kind, their functional
//! forms and defaults are the spec's [RECON] choices.
//!
//! Per-sample clip range, elastic at two levels, folded into the trust region (the advantage
//! stays GRPO's):
//! - micro, per sample: `1 + alpha min(|A_i|, cap)`, so confident samples move further;
//! - macro, per group: `m_g = 1 + beta (var_g / var_max - 1)`, with the group's population
//!   reward variance over its maximum `(reward_span / 2)^2` (for 0/1 rewards `4 p (1 - p)`), so
//!   groups in the "optimal learning zone" p = 1/2 keep the full budget.
//!
//! `eps_i^{low,high} = eps_{low,high} (1 + alpha min(|A_i|, cap)) m_g`, all detached. With
//! `alpha = beta = 0` the bounds are the constants and ETR is GRPO exactly. Both bounds widen,
//! as the spec's formula says (its one-sided alternative is not implemented).
use serde::{Deserialize, Serialize};

use crate::credit::CreditBatch;
use crate::error::{check_range, MethodError};
use crate::parts::PlanStep;
use crate::parts::{resolve, Part, PartEntry, PartKind, Settings};

/// `method.objective.elastic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElasticConfig {
    /// Micro-level gain alpha on `min(|A|, cap)`.
    pub alpha: f64,
    /// Macro-level strength beta: a group with zero reward variance gets `1 - beta`.
    pub beta: f64,
    /// Cap c on `|A|` so outliers do not open the trust region without bound.
    pub cap: f64,
    /// `max R - min R` of the reward scale; the largest group variance is `(span/2)^2`.
    pub reward_span: f64,
}

impl Default for ElasticConfig {
    fn default() -> Self {
        Self {
            alpha: 0.0,
            beta: 0.0,
            cap: 3.0,
            reward_span: 1.0,
        }
    }
}

impl Settings for ElasticConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.objective.elastic.alpha",
            self.alpha,
            self.alpha >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.objective.elastic.beta",
            self.beta,
            (0.0..=1.0).contains(&self.beta),
            "in [0, 1]",
        )?;
        check_range(
            "method.objective.elastic.cap",
            self.cap,
            self.cap > 0.0,
            "> 0",
        )?;
        check_range(
            "method.objective.elastic.reward_span",
            self.reward_span,
            self.reward_span > 0.0,
            "> 0",
        )
    }
}

/// Per-sample clip widths `(eps_low_i, eps_high_i)`, `[B]` each.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleBounds {
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

/// Macro factor `m_g` of a group's rewards.
pub fn group_budget(rewards: &[f64], config: &ElasticConfig) -> f64 {
    let n = rewards.len().max(1) as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let var = rewards.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n;
    let var_max = 0.25 * config.reward_span * config.reward_span;
    1.0 + config.beta * ((var / var_max).min(1.0) - 1.0)
}

/// Elastic bounds from sequence advantages (GRPO's) and the batch's groups.
pub fn elastic_bounds(
    batch: &CreditBatch,
    advantages: &[f64],
    clip_low: f64,
    clip_high: f64,
    config: &ElasticConfig,
) -> SampleBounds {
    let mut low = vec![clip_low; batch.len()];
    let mut high = vec![clip_high; batch.len()];
    for members in batch.groups() {
        let rewards: Vec<f64> = members.iter().map(|&i| batch.rewards[i]).collect();
        let m = group_budget(&rewards, config);
        for &i in &members {
            let micro = 1.0 + config.alpha * advantages[i].abs().min(config.cap);
            low[i] = clip_low * micro * m;
            high[i] = clip_high * micro * m;
        }
    }
    SampleBounds { low, high }
}

/// The part: per-sample bounds around the configured clip range.
struct Etr {
    config: ElasticConfig,
    clip_low: f64,
    clip_high: f64,
}

impl Part for Etr {
    fn apply(&self, step: PlanStep) -> Result<(), MethodError> {
        let PlanStep { plan, batch, .. } = step;
        let per_sequence = plan.advantages.per_sequence();
        let bounds = elastic_bounds(
            batch,
            &per_sequence,
            self.clip_low,
            self.clip_high,
            &self.config,
        );
        let n = bounds.high.len().max(1) as f64;
        plan.metrics
            .insert("etr/clip_high_mean", bounds.high.iter().sum::<f64>() / n);
        plan.clip_bounds = Some(bounds);
        Ok(())
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "elastic",
    kind: PartKind::TrustRegion,
    table: "elastic",
    description: "ETR: per-sample elastic clip range from |A| and the group's reward variance",
    spec: "etr.md",
    reconstructed: true,
    build: |input| {
        let o = &input.method.objective;
        Ok(Box::new(Etr {
            config: input.parse()?,
            clip_low: o.clip_low,
            clip_high: o.clip_high,
        }))
    },
    resolve: resolve::<ElasticConfig>,
};
