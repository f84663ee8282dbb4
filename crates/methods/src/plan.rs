//! One step's credit and selection as the loop consumes it: the hook between the parts
//! registered by name and the training loop, so that a loop never branches on a method.
//!
//! [`MethodRuntime`] is built once per run (estimators may carry cross-step state, e.g.
//! RiskPO's quantile tracker) and turns a scored batch into an [`UpdatePlan`] on plain data:
//! advantages (after any reweighting), and the optional per-sample clip bounds (elastic trust
//! region), token keep-masks (D3S) and second advantage with its blend weight (COPO). The
//! tensor side is [`crate::objective::PlannedLoss`].
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::MethodConfig;
use crate::credit::{
    add_bias, adora_group_weights, aspo_bias, copo_blend, estimator, scale_advantages,
    AdvantageEstimator, Advantages, CopoBlend, CreditBatch, ResponseInfo,
};
use crate::error::MethodError;
use crate::objective::{elastic_bounds, SampleBounds};
use crate::select::{max_variance_subset, top_tokens_mask};

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

/// Data and token down-sampling between credit and loss (`method.select.downsample`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Downsample {
    #[default]
    None,
    /// D3S max-variance samples and top |A| H tokens on a schedule (`method.select.d3s`).
    D3s,
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
    /// Per-response rollout data `[B]` (correctness, first tool call), for shaping parts.
    pub responses: Option<&'a [ResponseInfo]>,
}

pub struct MethodRuntime {
    config: MethodConfig,
    estimator: Box<dyn AdvantageEstimator>,
}

impl MethodRuntime {
    pub fn new(config: &MethodConfig) -> Result<Self, MethodError> {
        config.validate()?;
        Ok(Self {
            config: config.clone(),
            estimator: estimator(&config.credit)?,
        })
    }

    pub fn needs_old_entropy(&self) -> bool {
        self.config.select.downsample == Downsample::D3s && self.config.select.d3s.selects_tokens()
    }

    pub fn plan(&self, batch: &CreditBatch, ctx: &StepContext) -> Result<UpdatePlan, MethodError> {
        let c = &self.config;
        let mut advantages = self.estimator.estimate(batch)?;
        let mut metrics = BTreeMap::new();
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
}
