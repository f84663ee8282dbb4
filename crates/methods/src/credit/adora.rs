//! ADORA, Advantage Dynamics via Online Rollout Adaptation (arXiv 2602.10019; code
//! ShadeCloak/ADORA; spec adora.md, confidence medium-high for the released LLM variant).
//!
//! A per-group weight on top of any estimator's advantages. Length-Advantage criterion (the
//! code's default): a group is "temporarily advantageous" (TAS) iff its longest correct response
//! (`R > correct_threshold`) is longer than the mean length of its incorrect, non-truncated
//! responses (`len < max_length_threshold`); with no correct or no such incorrect response the
//! group is TDS. `A_i <- w_g A_i` with `w_g = weight_tas` or `weight_tds`. The code attenuates
//! (`weight_tas = 1`, `weight_tds = 0.1`); the paper's amplification for strong LLMs is
//! `weight_tas > 1`, `weight_tds = 1`. Weights use this step's rollouts only (no memory), and
//! `weight_tas = weight_tds = 1` leaves the base estimator's advantages unchanged.
use serde::{Deserialize, Serialize};

use super::{Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::PlanStep;
use crate::parts::{resolve, Part, PartEntry, PartKind, Settings};

/// `method.credit.adora`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdoraConfig {
    /// A response is correct when its reward exceeds this (code: 1.01 on Logic-RL's 3-point
    /// scale; 0.5 suits 0/1 verifiers).
    pub correct_threshold: f64,
    /// Responses at least this long count as truncated and are left out of the incorrect mean
    /// (code default 4054 tokens).
    pub max_length_threshold: usize,
    pub weight_tas: f64,
    pub weight_tds: f64,
}

impl Default for AdoraConfig {
    fn default() -> Self {
        Self {
            correct_threshold: 0.5,
            max_length_threshold: 4054,
            weight_tas: 1.0,
            weight_tds: 0.1,
        }
    }
}

impl Settings for AdoraConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.adora.correct_threshold",
            self.correct_threshold,
            true,
            "finite",
        )?;
        check_range(
            "method.credit.adora.weight_tas",
            self.weight_tas,
            self.weight_tas >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.credit.adora.weight_tds",
            self.weight_tds,
            self.weight_tds >= 0.0,
            ">= 0",
        )
    }
}

/// Length-Advantage criterion for one group (member indices into the batch).
pub fn is_temporarily_advantageous(
    batch: &CreditBatch,
    members: &[usize],
    config: &AdoraConfig,
) -> bool {
    let longest_correct = members
        .iter()
        .filter(|&&i| batch.rewards[i] > config.correct_threshold)
        .map(|&i| batch.response_lens[i])
        .max();
    let incorrect: Vec<f64> = members
        .iter()
        .filter(|&&i| {
            batch.rewards[i] <= config.correct_threshold
                && batch.response_lens[i] < config.max_length_threshold
        })
        .map(|&i| batch.response_lens[i] as f64)
        .collect();
    match longest_correct {
        Some(longest) if !incorrect.is_empty() => {
            longest as f64 > incorrect.iter().sum::<f64>() / incorrect.len() as f64
        }
        _ => false,
    }
}

/// Per-response weight `w_g` of its group, `[B]`.
pub fn adora_group_weights(batch: &CreditBatch, config: &AdoraConfig) -> Vec<f64> {
    let mut weights = vec![1.0; batch.len()];
    for members in batch.groups() {
        let w = if is_temporarily_advantageous(batch, &members, config) {
            config.weight_tas
        } else {
            config.weight_tds
        };
        for &i in &members {
            weights[i] = w;
        }
    }
    weights
}

/// Scales each response's advantages (sequence- or token-level) by its weight.
pub fn scale_advantages(advantages: &mut Advantages, weights: &[f64]) {
    match advantages {
        Advantages::Sequence(a) => a.iter_mut().zip(weights).for_each(|(a, w)| *a *= w),
        Advantages::Token(rows) => rows
            .iter_mut()
            .zip(weights)
            .for_each(|(row, w)| row.iter_mut().for_each(|a| *a *= w)),
    }
}

/// The part: this step's group weights on whatever the estimator produced.
struct Adora(AdoraConfig);

impl Part for Adora {
    fn apply(&self, step: PlanStep) -> Result<(), MethodError> {
        let PlanStep { plan, batch, .. } = step;
        let weights = adora_group_weights(batch, &self.0);
        let tas = weights.iter().filter(|&&w| w == self.0.weight_tas).count();
        plan.metrics
            .insert("adora/tas_frac", tas as f64 / weights.len().max(1) as f64);
        scale_advantages(&mut plan.advantages, &weights);
        Ok(())
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "adora",
    kind: PartKind::Reweight,
    table: "adora",
    description: "ADORA: per-group weights from the Length-Advantage criterion (TDS x0.1)",
    spec: "adora.md",
    reconstructed: false,
    build: |input| Ok(Box::new(Adora(input.parse()?))),
    resolve: resolve::<AdoraConfig>,
};
