//! DCPO, Distribution-Centric Policy Optimization (2026; code 597358816/DCPO, an EasyR1/verl
//! fork; spec dcpo.md, confidence medium-high for the released implementation).
//!
//! Sampling stays on-policy; a REINFORCE regularizer on correct responses is evaluated as if
//! the data came from the old policy at temperature `T` (a flatter or sharper "target
//! distribution"), through a second, detached importance ratio folded into the advantage:
//!
//! `A^_{i,t} = (1 - alpha) A_i^GRPO + alpha 1[R_i > 0.05] rho_{i,t}`,
//! `rho_{i,t} = exp(log pi_old^T(o_t) - log pi_old(o_t))`.
//!
//! A controller keeps the entropy near a target `H_0` from one step to the next: with `H` the
//! previous step's mean sampled-token NLL, `T = 1.2` if `H <= H_0` else `0.8`, and
//! `alpha' = min(|H_0 - H|, 0.1) / acc`, `alpha = alpha' / (1 + alpha')`, with `acc` the share
//! of the batch's responses with reward above the threshold. `H` is cross-step state
//! ([`DcpoState`]), saved in checkpoints.
//!
//! Choices where the spec is silent (docs/methods/dcpo.md, "Deviations"):
//! - the first step has no `H` yet: `alpha = 0` (a GRPO step) and no extra forward pass;
//! - `acc = 0` (no correct response) gives `alpha = 0` instead of a division by zero: the
//!   regularizer term is empty then, and `alpha -> 1` would only erase the GRPO advantage;
//! - `T` divides the logits directly (absolute temperature), and `rho` is taken against the
//!   old log-probs at the rollout temperature; the two agree at the usual `rl.temperature = 1`.
use serde::{Deserialize, Serialize};

use crate::error::{check_range, MethodError};
use std::collections::BTreeMap;

use super::{Advantages, CreditBatch};
use crate::parts::PlanStep;
use crate::parts::{load_state, resolve, save_state, Part, PartEntry, PartKind, Settings};
use crate::plan::{StepContext, StepFeedback};

/// Which per-step entropy estimate drives the controller (`method.credit.dcpo.entropy_estimate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntropyEstimate {
    /// Mean `-log pi(o_t)` of the sampled tokens (the released code).
    #[default]
    SampledNll,
    /// Mean full-vocabulary entropy of the same positions.
    FullEntropy,
}

/// `method.credit.dcpo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DcpoConfig {
    /// Target entropy `H_0` (`entropy_base`; 0.5 in the run script, 0.25 best in the ablation).
    pub entropy_target: f64,
    /// Target temperature when the entropy is at or below `H_0`.
    pub temperature_high: f64,
    /// Target temperature when the entropy is above `H_0`.
    pub temperature_low: f64,
    /// Cap on `|H_0 - H|` in `alpha'`; 0 makes `alpha = 0` and DCPO is GRPO exactly.
    pub alpha_cap: f64,
    /// A response is correct (gets the regularizer, counts in `acc`) when `R` exceeds this.
    pub correct_threshold: f64,
    /// Optional upper clamp on `rho` (`[0, rho_max]`); absent = unclamped, as the code.
    pub rho_max: Option<f64>,
    pub entropy_estimate: EntropyEstimate,
}

impl Default for DcpoConfig {
    fn default() -> Self {
        Self {
            entropy_target: 0.5,
            temperature_high: 1.2,
            temperature_low: 0.8,
            alpha_cap: 0.1,
            correct_threshold: 0.05,
            rho_max: None,
            entropy_estimate: EntropyEstimate::SampledNll,
        }
    }
}

impl Settings for DcpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.dcpo.entropy_target",
            self.entropy_target,
            self.entropy_target >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.credit.dcpo.temperature_high",
            self.temperature_high,
            self.temperature_high > 0.0 && self.temperature_high <= 10.0,
            "in (0, 10]",
        )?;
        check_range(
            "method.credit.dcpo.temperature_low",
            self.temperature_low,
            self.temperature_low > 0.0 && self.temperature_low <= 10.0,
            "in (0, 10]",
        )?;
        check_range(
            "method.credit.dcpo.alpha_cap",
            self.alpha_cap,
            self.alpha_cap >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.credit.dcpo.correct_threshold",
            self.correct_threshold,
            true,
            "finite",
        )?;
        if let Some(m) = self.rho_max {
            check_range("method.credit.dcpo.rho_max", m, m > 0.0, "> 0 (or absent)")?;
        }
        Ok(())
    }
}

/// The controller's memory between steps (checkpointed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DcpoState {
    /// Entropy estimate of the previous step's update; `None` before the first.
    pub prev_entropy: Option<f64>,
}

/// `T`: flatter target when entropy is at or below `H_0`, sharper above.
pub fn target_temperature(prev_entropy: f64, config: &DcpoConfig) -> f64 {
    if prev_entropy <= config.entropy_target {
        config.temperature_high
    } else {
        config.temperature_low
    }
}

/// `alpha = alpha' / (1 + alpha')`, `alpha' = min(|H_0 - H|, cap) / acc`; 0 when `acc = 0`.
pub fn mixing_weight(prev_entropy: f64, accuracy: f64, config: &DcpoConfig) -> f64 {
    let gap = (config.entropy_target - prev_entropy)
        .abs()
        .min(config.alpha_cap);
    if accuracy <= 0.0 || gap == 0.0 {
        return 0.0;
    }
    let raw = gap / accuracy;
    raw / (1.0 + raw)
}

/// Share of responses whose reward exceeds `threshold`.
pub fn accuracy(rewards: &[f64], threshold: f64) -> f64 {
    let correct = rewards.iter().filter(|&&r| r > threshold).count();
    correct as f64 / rewards.len().max(1) as f64
}

/// `rho = exp(log pi_old^T - log pi_old)` per token, optionally clamped to `[0, rho_max]`.
pub fn target_ratio(
    tempered: &[Vec<f64>],
    base: &[Vec<f64>],
    rho_max: Option<f64>,
) -> Vec<Vec<f64>> {
    tempered
        .iter()
        .zip(base)
        .map(|(t_row, b_row)| {
            t_row
                .iter()
                .zip(b_row)
                .map(|(t, b)| {
                    let rho = (t - b).exp();
                    rho_max.map_or(rho, |m| rho.min(m))
                })
                .collect()
        })
        .collect()
}

/// `A^_{i,t} = (1 - alpha) A_i + alpha 1[R_i > threshold] rho_{i,t}`, `[B][len_i]`.
pub fn dcpo_advantages(
    grpo: &[f64],
    rewards: &[f64],
    rho: &[Vec<f64>],
    alpha: f64,
    threshold: f64,
) -> Vec<Vec<f64>> {
    grpo.iter()
        .zip(rewards)
        .zip(rho)
        .map(|((&a, &r), row)| {
            let correct = if r > threshold { 1.0 } else { 0.0 };
            row.iter()
                .map(|&rho| (1.0 - alpha) * a + alpha * correct * rho)
                .collect()
        })
        .collect()
}

/// The part: the controller (state: last step's entropy) and the mixed advantage.
struct Dcpo {
    config: DcpoConfig,
    state: DcpoState,
}

impl Part for Dcpo {
    fn extra_old_temperature(&self) -> Option<f64> {
        let c = &self.config;
        let h = self.state.prev_entropy?;
        // alpha = 0 whatever the accuracy: the tempered pass would be wasted.
        let gap = (c.entropy_target - h).abs().min(c.alpha_cap);
        (gap > 0.0).then(|| target_temperature(h, c))
    }

    fn observe_step(&mut self, feedback: &StepFeedback) {
        let h = match self.config.entropy_estimate {
            EntropyEstimate::SampledNll => feedback.token_nll_mean,
            EntropyEstimate::FullEntropy => feedback.entropy_mean,
        };
        // A non-finite step was already counted and skipped by the loop; keep the last
        // finite estimate rather than poisoning every later step.
        if h.is_finite() {
            self.state.prev_entropy = Some(h);
        }
    }

    fn apply(&self, step: PlanStep) -> Result<(), MethodError> {
        let PlanStep { plan, batch, ctx } = step;
        if let Some(mixed) = self.mixed(batch, ctx, &plan.advantages, &mut plan.metrics)? {
            plan.advantages = mixed;
        }
        Ok(())
    }

    fn state(&self) -> serde_json::Value {
        save_state(&self.state)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), MethodError> {
        self.state = load_state("dcpo", state)?;
        Ok(())
    }
}

impl Dcpo {
    /// GRPO's advantage mixed with the target-distribution REINFORCE term; `None` (unchanged)
    /// while `alpha = 0`.
    fn mixed(
        &self,
        batch: &CreditBatch,
        ctx: &StepContext,
        advantages: &Advantages,
        metrics: &mut BTreeMap<&'static str, f64>,
    ) -> Result<Option<Advantages>, MethodError> {
        let c = &self.config;
        let acc = accuracy(batch.rewards, c.correct_threshold);
        metrics.insert("dcpo/accuracy", acc);
        let Some(h) = self.state.prev_entropy else {
            metrics.insert("dcpo/alpha", 0.0);
            return Ok(None);
        };
        let alpha = mixing_weight(h, acc, c);
        let temperature = target_temperature(h, c);
        metrics.insert("dcpo/alpha", alpha);
        metrics.insert("dcpo/prev_entropy", h);
        metrics.insert("dcpo/temperature", temperature);
        if alpha == 0.0 {
            return Ok(None);
        }
        let shape = |detail: String| MethodError::Shape {
            part: "dcpo",
            detail,
        };
        let Advantages::Sequence(base_adv) = advantages else {
            return Err(shape(
                "needs a sequence-level estimator (one advantage per response)".into(),
            ));
        };
        let old = ctx
            .tempered_old_logp
            .filter(|o| o.temperature == temperature)
            .ok_or_else(|| shape(format!("needs old log-probs at temperature {temperature}")))?;
        let rows_fit = |rows: &[Vec<f64>]| {
            rows.len() == batch.len()
                && rows
                    .iter()
                    .zip(batch.response_lens)
                    .all(|(r, &l)| r.len() == l)
        };
        if !rows_fit(old.tempered) || !rows_fit(old.base) {
            return Err(shape(
                "old log-probs do not match the response lengths".into(),
            ));
        }
        let rho = target_ratio(old.tempered, old.base, c.rho_max);
        let flat = rho.iter().flatten();
        if let Some((index, &value)) = flat.clone().enumerate().find(|(_, r)| !r.is_finite()) {
            return Err(MethodError::NonFinite {
                part: "dcpo",
                what: "target ratio rho",
                index,
                value,
            });
        }
        let tokens = flat.clone().count().max(1) as f64;
        metrics.insert("dcpo/rho_mean", flat.sum::<f64>() / tokens);
        Ok(Some(Advantages::Token(dcpo_advantages(
            base_adv,
            batch.rewards,
            &rho,
            alpha,
            c.correct_threshold,
        ))))
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "dcpo",
    kind: PartKind::Controller,
    table: "dcpo",
    description: "DCPO: target-temperature REINFORCE term mixed in to hold entropy near H_0",
    spec: "dcpo.md",
    reconstructed: false,
    build: |input| {
        Ok(Box::new(Dcpo {
            config: input.parse()?,
            state: DcpoState::default(),
        }))
    },
    resolve: resolve::<DcpoConfig>,
};
