//! COPO, Consistency-Aware Policy Optimization (arXiv 2508.04138; spec copo.md, confidence
//! medium-low). Reconstructed from the abstract and summaries: the global advantage and the
//! blend below are the spec's [RECON] forms, not the paper's code.
//!
//! A group whose responses all agree has zero GRPO advantage. COPO adds a batch-level
//! "global" advantage per prompt, `A^glob_q = (p_q - mean_batch p) / (std_batch p + eps)` with
//! `p_q` the prompt's pass rate (unbiased batch std), and blends per prompt
//! `L_q = w_q L^loc_q + (1 - w_q) L^glob_q` with `w_q = sigmoid(gamma (H_q - rho))`, where
//! `H_q = -p ln p - (1-p) ln(1-p)` is the entropy of the group's outcomes. Consistent groups
//! (`H = 0`) thus learn mostly from the global term. The loss side of the blend lives in
//! `objective::planned` (two surrogate terms, each scaled by its non-negative weight).
use serde::{Deserialize, Serialize};

use super::{mean_std, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::PlanStep;
use crate::parts::{resolve, Part, PartEntry, PartKind, Settings};

/// `method.credit.copo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopoConfig {
    /// Sigmoid temperature gamma of the local/global gate.
    pub gamma: f64,
    /// Outcome-entropy threshold rho (nats) where the gate is 1/2.
    pub rho: f64,
    /// A response counts as correct when its reward exceeds this (pass rate, outcome entropy).
    pub correct_threshold: f64,
}

impl Default for CopoConfig {
    fn default() -> Self {
        Self {
            gamma: 10.0,
            rho: 0.3,
            correct_threshold: 0.5,
        }
    }
}

impl Settings for CopoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.copo.gamma",
            self.gamma,
            self.gamma >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.credit.copo.rho",
            self.rho,
            self.rho >= 0.0,
            ">= 0 nats",
        )?;
        check_range(
            "method.credit.copo.correct_threshold",
            self.correct_threshold,
            true,
            "finite",
        )
    }
}

/// Per-response global advantage and local weight `w_q`, both `[B]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CopoBlend {
    pub global_advantages: Vec<f64>,
    pub local_weights: Vec<f64>,
}

/// Entropy (nats) of a binary outcome with success probability `p`.
pub fn outcome_entropy(p: f64) -> f64 {
    let term = |x: f64| if x > 0.0 { -x * x.ln() } else { 0.0 };
    term(p) + term(1.0 - p)
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub fn copo_blend(batch: &CreditBatch, config: &CopoConfig, eps: f64) -> CopoBlend {
    let groups = batch.groups();
    let pass_rates: Vec<f64> = groups
        .iter()
        .map(|members| {
            let correct = members
                .iter()
                .filter(|&&i| batch.rewards[i] > config.correct_threshold)
                .count();
            correct as f64 / members.len().max(1) as f64
        })
        .collect();
    let (mean, std) = mean_std(pass_rates.iter().copied(), 1);
    // A lone prompt, or a batch where every prompt has the same pass rate, has no batch
    // contrast: the global advantage is 0 rather than 0/0.
    let denom = std.map_or(0.0, |s| s + eps);
    let mut global_advantages = vec![0.0; batch.len()];
    let mut local_weights = vec![1.0; batch.len()];
    for (members, &p) in groups.iter().zip(&pass_rates) {
        let global = if denom > 0.0 { (p - mean) / denom } else { 0.0 };
        let w = sigmoid(config.gamma * (outcome_entropy(p) - config.rho));
        for &i in members {
            global_advantages[i] = global;
            local_weights[i] = w;
        }
    }
    CopoBlend {
        global_advantages,
        local_weights,
    }
}

/// The part: the batch-level advantage and its per-group gate, blended in the loss.
struct Copo {
    config: CopoConfig,
    /// `method.credit.eps` of the group std.
    eps: f64,
}

impl Part for Copo {
    fn apply(&self, step: PlanStep) -> Result<(), MethodError> {
        let PlanStep { plan, batch, .. } = step;
        let blend = copo_blend(batch, &self.config, self.eps);
        let n = blend.local_weights.len().max(1) as f64;
        plan.metrics.insert(
            "copo/local_weight_mean",
            blend.local_weights.iter().sum::<f64>() / n,
        );
        plan.blend = Some(blend);
        Ok(())
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "copo",
    kind: PartKind::GlobalAdvantage,
    table: "copo",
    description:
        "COPO: consistency advantage over the batch, gated by each group's outcome entropy",
    spec: "copo.md",
    reconstructed: false,
    build: |input| {
        Ok(Box::new(Copo {
            config: input.parse()?,
            eps: input.method.credit.eps,
        }))
    },
    resolve: resolve::<CopoConfig>,
};
