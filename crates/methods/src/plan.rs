//! One step's credit and selection as the loop consumes it: the hook between the parts
//! registered by name and the training loop, so that a loop never branches on a method.
//!
//! [`MethodRuntime`] is built once per run (estimators may carry cross-step state, e.g.
//! RiskPO's quantile tracker) and turns a scored batch into an [`UpdatePlan`] on plain data:
//! advantages (after any reweighting), and the optional per-sample clip bounds (elastic trust
//! region), token keep-masks (D3S) and second advantage with its blend weight (COPO). The
//! tensor side is [`crate::objective::PlannedLoss`].
//!
//! Around the plan, three generic hooks: the runtime may ask for old log-probs at a second
//! temperature ([`MethodRuntime::extra_old_temperature`], DCPO), is told the step's entropy
//! after the update ([`MethodRuntime::observe_step`]), and hands the sampler entropy statistics
//! ([`MethodRuntime::sampling_entropy_stats`], HAPO). What it remembers between steps is
//! [`MethodState`], saved in checkpoints.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::MethodConfig;
use crate::credit::{
    accuracy, add_bias, adora_group_weights, aspo_bias, copo_blend, dcpo_advantages, estimator,
    mixing_weight, scale_advantages, target_ratio, target_temperature, AdvantageEstimator,
    Advantages, CopoBlend, CreditBatch, DcpoState, EntropyEstimate, ResponseInfo,
};
use crate::error::MethodError;
use crate::objective::{elastic_bounds, entropy_stats, EntropyStats, SampleBounds};
use crate::select::{
    max_variance_subset, nonzero_group_frac, scale_replayed, serr_shape, top_tokens_mask,
};

/// Per-group reweighting applied after the estimator (`method.credit.reweight`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reweight {
    #[default]
    None,
    /// ADORA's Length-Advantage group weights (`method.credit.adora`).
    Adora,
}

/// Bias added to the estimator's advantages from per-response rollout data
/// (`method.credit.shaping`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shaping {
    #[default]
    None,
    /// ASPO's bounded early-tool-call bias (`method.credit.aspo`); needs
    /// [`StepContext::responses`].
    Aspo,
}

/// A second, batch-level advantage blended into the loss (`method.credit.global_advantage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobalAdvantage {
    #[default]
    None,
    /// COPO's consistency advantage gated by outcome entropy (`method.credit.copo`).
    Copo,
}

/// A cross-step entropy controller that reshapes the advantage (`method.credit.entropy_control`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntropyControl {
    #[default]
    None,
    /// DCPO's target-temperature REINFORCE term, weighted to keep entropy near `H_0`
    /// (`method.credit.dcpo`).
    Dcpo,
}

/// Data and token down-sampling between credit and loss (`method.select.downsample`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Downsample {
    #[default]
    None,
    /// D3S max-variance samples and top |A| H tokens on a schedule (`method.select.d3s`).
    D3s,
}

/// Cross-step replay of past responses (`method.select.replay`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replay {
    #[default]
    None,
    /// R³: per-query buffer, cross-context replay, reflection, SERR (`method.select.r3`).
    R3,
}

/// Trust-region shape (`method.objective.trust_region`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustRegion {
    /// `clip_low` / `clip_high` for every token.
    #[default]
    Constant,
    /// ETR's per-sample bounds (`method.objective.elastic`).
    Elastic,
    /// HAPO's per-token bounds from normalized entropy, with its advantage redistribution
    /// (`method.objective.hapo`).
    EntropyAdaptive,
}

/// What one update needs beyond the log-probs, on plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    pub advantages: Advantages,
    pub clip_bounds: Option<SampleBounds>,
    /// `[B][len_i]`, 1.0 on tokens that reach the loss.
    pub token_keep: Option<Vec<Vec<f64>>>,
    pub blend: Option<CopoBlend>,
    pub metrics: BTreeMap<&'static str, f64>,
}

/// Per-step inputs besides the scored batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepContext<'a> {
    /// Training progress in `[0, 1]` (step / total steps), for schedules.
    pub progress: f64,
    /// Old-policy full-vocabulary entropy `[B][len_i]`, when [`MethodRuntime::needs_old_entropy`].
    pub old_entropy: Option<&'a [Vec<f64>]>,
    /// `[B]`, responses that hit the generation limit (R³'s SERR).
    pub truncated: Option<&'a [bool]>,
    /// `[B]`, off-policy samples replayed from a buffer (R³'s CCR).
    pub replayed: Option<&'a [bool]>,
    /// Old-policy log-probs at the temperature [`MethodRuntime::extra_old_temperature`] asked
    /// for, with those at the rollout temperature.
    pub tempered_old_logp: Option<TemperedOldLogp<'a>>,
    /// Per-response rollout data `[B]` (correctness, first tool call), for shaping parts.
    pub responses: Option<&'a [ResponseInfo]>,
}

/// The sampled tokens' old-policy log-probs at two temperatures, `[B][len_i]` each, from one
/// forward pass (detached).
#[derive(Debug, Clone, Copy)]
pub struct TemperedOldLogp<'a> {
    pub temperature: f64,
    /// At `temperature`.
    pub tempered: &'a [Vec<f64>],
    /// At the rollout temperature (the behaviour policy).
    pub base: &'a [Vec<f64>],
}

/// What the loop reports after a step's update, for controllers that look back one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFeedback {
    /// Mean `-log pi(o_t)` of the sampled tokens over the step's minibatch forwards.
    pub token_nll_mean: f64,
    /// Mean full-vocabulary entropy of the same positions.
    pub entropy_mean: f64,
    /// Every valid token's entropy, once each (first epoch), when
    /// [`MethodRuntime::needs_token_entropies`]; empty otherwise.
    pub token_entropies: Vec<f64>,
}

/// Cross-step state of a run's method parts, saved in each checkpoint so that resume is exact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodState {
    pub dcpo: DcpoState,
    /// HAPO's entropy normalization of the last step, for the next rollout's sampler.
    pub hapo_entropy: Option<EntropyStats>,
    /// The advantage estimator's own state (RiskPO's quantile tracker); `null` when stateless.
    pub estimator: serde_json::Value,
}

pub struct MethodRuntime {
    config: MethodConfig,
    estimator: Box<dyn AdvantageEstimator>,
    state: MethodState,
}

impl MethodRuntime {
    pub fn new(config: &MethodConfig) -> Result<Self, MethodError> {
        config.validate()?;
        Ok(Self {
            config: config.clone(),
            estimator: estimator(&config.credit)?,
            state: MethodState::default(),
        })
    }

    /// A second old-policy temperature whose log-probs the next [`Self::plan`] needs
    /// ([`StepContext::tempered_old_logp`]); `None` when no part needs one this step.
    pub fn extra_old_temperature(&self) -> Option<f64> {
        let c = &self.config.credit;
        if c.entropy_control != EntropyControl::Dcpo {
            return None;
        }
        let h = self.state.dcpo.prev_entropy?;
        // alpha = 0 whatever the accuracy: the tempered pass would be wasted.
        let gap = (c.dcpo.entropy_target - h).abs().min(c.dcpo.alpha_cap);
        (gap > 0.0).then(|| target_temperature(h, &c.dcpo))
    }

    /// Whether [`StepFeedback::token_entropies`] is wanted (HAPO's adaptive temperature).
    pub fn needs_token_entropies(&self) -> bool {
        self.config.objective.hapo.temperature_tau > 0.0
    }

    /// `tau` and the previous step's entropy statistics for adaptive temperature sampling;
    /// `None` when off or before the first update (then the rollout uses the plain `T_0`).
    pub fn sampling_entropy_stats(&self) -> Option<(f64, EntropyStats)> {
        let tau = self.config.objective.hapo.temperature_tau;
        (tau > 0.0).then_some(())?;
        self.state.hapo_entropy.map(|s| (tau, s))
    }

    /// Takes the finished step's entropy statistics into the cross-step state.
    pub fn observe_step(&mut self, feedback: &StepFeedback) {
        if self.needs_token_entropies() && !feedback.token_entropies.is_empty() {
            let pivot = self.config.objective.hapo.entropy_pivot;
            let stats = entropy_stats(&feedback.token_entropies, pivot);
            let finite = [stats.pivot, stats.spread, stats.scale_pos, stats.scale_neg]
                .iter()
                .all(|v| v.is_finite());
            if finite {
                self.state.hapo_entropy = Some(stats);
            }
        }
        let c = &self.config.credit;
        if c.entropy_control == EntropyControl::Dcpo {
            let h = match c.dcpo.entropy_estimate {
                EntropyEstimate::SampledNll => feedback.token_nll_mean,
                EntropyEstimate::FullEntropy => feedback.entropy_mean,
            };
            // A non-finite step was already counted and skipped by the loop; keep the last
            // finite estimate rather than poisoning every later step.
            if h.is_finite() {
                self.state.dcpo.prev_entropy = Some(h);
            }
        }
    }

    /// Everything that carries over steps, for checkpoints.
    pub fn state(&self) -> MethodState {
        MethodState {
            estimator: self.estimator.state(),
            ..self.state.clone()
        }
    }

    /// Restores the state of a checkpoint (resume).
    pub fn restore(&mut self, state: MethodState) -> Result<(), MethodError> {
        if !state.estimator.is_null() {
            self.estimator.restore(&state.estimator)?;
        }
        self.state = state;
        Ok(())
    }

    pub fn needs_old_entropy(&self) -> bool {
        let s = &self.config.select;
        (s.downsample == Downsample::D3s && s.d3s.selects_tokens())
            || (s.replay == Replay::R3 && s.r3.r_max > 0.0)
    }

    pub fn plan(&self, batch: &CreditBatch, ctx: &StepContext) -> Result<UpdatePlan, MethodError> {
        let c = &self.config;
        let mut metrics = BTreeMap::new();
        let shaped: Vec<f64>;
        let shaped_batch: CreditBatch;
        let batch = match c.select.replay {
            Replay::None => batch,
            Replay::R3 => {
                // SERR rewrites rewards before credit, so every later part sees the shaped ones.
                let n = batch.len();
                let no_flags = vec![false; n];
                let truncated = ctx.truncated.unwrap_or(&no_flags);
                let replayed = ctx.replayed.unwrap_or(&no_flags);
                if truncated.len() != n || replayed.len() != n {
                    return Err(MethodError::Shape {
                        part: "r3",
                        detail: format!(
                            "rewards {n}, truncated {}, replayed {}",
                            truncated.len(),
                            replayed.len()
                        ),
                    });
                }
                let (rewards, groups) = match (ctx.old_entropy, c.select.r3.r_max > 0.0) {
                    (Some(entropy), true) if entropy.len() != n => {
                        return Err(MethodError::Shape {
                            part: "r3",
                            detail: format!("rewards {n}, entropy rows {}", entropy.len()),
                        })
                    }
                    (Some(entropy), true) => {
                        serr_shape(batch, truncated, replayed, entropy, &c.select.r3)
                    }
                    (None, true) => {
                        return Err(MethodError::Shape {
                            part: "r3",
                            detail: "SERR (r_max > 0) needs the old policy's entropy".into(),
                        })
                    }
                    (_, false) => (batch.rewards.to_vec(), 0),
                };
                metrics.insert("r3/serr_groups", groups as f64);
                metrics.insert(
                    "r3/replayed",
                    replayed.iter().filter(|&&r| r).count() as f64,
                );
                shaped = rewards;
                shaped_batch = CreditBatch {
                    rewards: &shaped,
                    ..*batch
                };
                &shaped_batch
            }
        };
        let mut advantages = self.estimator.estimate(batch)?;
        if c.select.replay == Replay::R3 {
            if let Some(replayed) = ctx.replayed {
                scale_replayed(&mut advantages, replayed, c.select.r3.alpha);
            }
        }
        // For every method, so that R³'s claim (~all groups carry signal) compares with GRPO.
        metrics.insert(
            "nonzero_adv_group_frac",
            nonzero_group_frac(batch, &advantages.per_sequence()),
        );
        if c.credit.shaping == Shaping::Aspo {
            let info = ctx.responses.ok_or_else(|| MethodError::Shape {
                part: "aspo",
                detail: "needs per-response correctness and tool-call positions \
                         (StepContext::responses), which this loop did not provide"
                    .into(),
            })?;
            let bias = aspo_bias(&advantages.per_sequence(), batch, info, &c.credit.aspo)?;
            let eligible = info
                .iter()
                .filter(|r| r.correct && r.first_tool_call.is_some())
                .count();
            let n = batch.len().max(1) as f64;
            metrics.insert("aspo/eligible_frac", eligible as f64 / n);
            metrics.insert(
                "aspo/bias_abs_mean",
                bias.iter().map(|b| b.abs()).sum::<f64>() / eligible.max(1) as f64,
            );
            add_bias(&mut advantages, &bias);
        }
        if c.credit.reweight == Reweight::Adora {
            let weights = adora_group_weights(batch, &c.credit.adora);
            let tas = weights
                .iter()
                .filter(|&&w| w == c.credit.adora.weight_tas)
                .count();
            metrics.insert("adora/tas_frac", tas as f64 / weights.len().max(1) as f64);
            scale_advantages(&mut advantages, &weights);
        }
        if c.credit.entropy_control == EntropyControl::Dcpo {
            advantages = self.dcpo_advantages(batch, ctx, advantages, &mut metrics)?;
        }
        let per_sequence = advantages.per_sequence();
        let clip_bounds = (c.objective.trust_region == TrustRegion::Elastic).then(|| {
            let b = elastic_bounds(
                batch,
                &per_sequence,
                c.objective.clip_low,
                c.objective.clip_high,
                &c.objective.elastic,
            );
            let n = b.high.len().max(1) as f64;
            metrics.insert("etr/clip_high_mean", b.high.iter().sum::<f64>() / n);
            b
        });
        let blend = (c.credit.global_advantage == GlobalAdvantage::Copo).then(|| {
            let blend = copo_blend(batch, &c.credit.copo, c.credit.eps);
            let n = blend.local_weights.len().max(1) as f64;
            metrics.insert(
                "copo/local_weight_mean",
                blend.local_weights.iter().sum::<f64>() / n,
            );
            blend
        });
        let token_keep = if c.select.downsample == Downsample::D3s {
            let (n_frac, k_frac) = c.select.d3s.schedule(ctx.progress);
            let n = ((n_frac * batch.len() as f64).ceil() as usize).clamp(1, batch.len().max(1));
            let kept = max_variance_subset(&per_sequence, n);
            let entropy = if k_frac < 1.0 { ctx.old_entropy } else { None };
            if k_frac < 1.0 && entropy.is_none() {
                return Err(MethodError::Shape {
                    part: "d3s",
                    detail: "token selection needs the old policy's entropy".into(),
                });
            }
            let token_adv = |i: usize, t: usize| match &advantages {
                Advantages::Sequence(a) => a[i],
                Advantages::Token(rows) => rows[i].get(t).copied().unwrap_or(0.0),
            };
            let mask = top_tokens_mask(&kept, batch.response_lens, token_adv, entropy, k_frac);
            let total: usize = batch.response_lens.iter().sum();
            let kept_tokens: f64 = mask.iter().flatten().sum();
            metrics.insert(
                "d3s/sample_frac",
                kept.len() as f64 / batch.len().max(1) as f64,
            );
            metrics.insert("d3s/token_frac", kept_tokens / total.max(1) as f64);
            Some(mask)
        } else {
            None
        };
        Ok(UpdatePlan {
            advantages,
            clip_bounds,
            token_keep,
            blend,
            metrics,
        })
    }

    /// DCPO (credit/dcpo.rs): GRPO's advantage mixed with the target-distribution REINFORCE
    /// term; unchanged while `alpha = 0`.
    fn dcpo_advantages(
        &self,
        batch: &CreditBatch,
        ctx: &StepContext,
        advantages: Advantages,
        metrics: &mut BTreeMap<&'static str, f64>,
    ) -> Result<Advantages, MethodError> {
        let c = &self.config.credit.dcpo;
        let acc = accuracy(batch.rewards, c.correct_threshold);
        metrics.insert("dcpo/accuracy", acc);
        let Some(h) = self.state.dcpo.prev_entropy else {
            metrics.insert("dcpo/alpha", 0.0);
            return Ok(advantages);
        };
        let alpha = mixing_weight(h, acc, c);
        let temperature = target_temperature(h, c);
        metrics.insert("dcpo/alpha", alpha);
        metrics.insert("dcpo/prev_entropy", h);
        metrics.insert("dcpo/temperature", temperature);
        if alpha == 0.0 {
            return Ok(advantages);
        }
        let shape = |detail: String| MethodError::Shape {
            part: "dcpo",
            detail,
        };
        let Advantages::Sequence(base_adv) = &advantages else {
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
        Ok(Advantages::Token(dcpo_advantages(
            base_adv,
            batch.rewards,
            &rho,
            alpha,
            c.correct_threshold,
        )))
    }
}
