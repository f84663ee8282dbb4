//! The objective: the only part of a method that touches tensors and autograd.
//!
//! One contract for every policy loss, after verl's `core_algos.py`: new, old and optional
//! reference log-probs, advantages, a response mask and an optional entropy, all `[B, T]`,
//! go in; a scalar loss and a metrics map come out. The loss is built from orthogonal parts:
//! a ratio level ([`ratio`]), a trust region ([`clip`]), one aggregation ([`aggregate`]), and
//! regularizers ([`kl`], entropy). PPO for control uses the same [`clip::clipped_surrogate`].
pub mod aggregate;
pub mod bounded_ratio;
pub mod clip;
pub mod dapo_step;
pub mod etr;
pub mod hapo;
pub mod kl;
pub mod planned;
pub mod pointwise;
pub mod ratio;
pub mod rows;
pub mod value;

pub use aggregate::{aggregate, Aggregation, LossScale};
pub use bounded_ratio::{bounded_ratio_loss, Divergence, PolicyKernel};
pub use clip::{clipped_surrogate, ClipBounds, Surrogate};
pub use dapo_step::step_regression_loss;
pub use etr::{elastic_bounds, ElasticConfig, SampleBounds};
pub use hapo::{
    entropy_stats, hapo_terms, normalized_entropy, quantile_nearest, EntropyStats, HapoConfig,
    HapoTerms,
};
pub use kl::{kl_penalty, KlEstimator};
pub use planned::PlannedLoss;
pub use ratio::{importance_ratio, RatioLevel};
pub use rows::{column, flat_values, rows_tensor, tensor_rows, token_rows};
pub use value::clipped_value_loss;

use std::collections::BTreeMap;
use std::sync::Arc;

use tch::{Kind, Tensor};

use crate::config::{MethodConfig, ObjectiveConfig};
use crate::error::MethodError;

/// Inputs of a policy loss. Every tensor is `[B, T]` over response tokens; `mask` is 1.0 on
/// tokens that count. `old_logp`, `ref_logp` and `advantages` must be detached.
pub struct PolicyTerms<'a> {
    pub logp: &'a Tensor,
    pub old_logp: &'a Tensor,
    pub ref_logp: Option<&'a Tensor>,
    pub advantages: &'a Tensor,
    pub mask: &'a Tensor,
    pub entropy: Option<&'a Tensor>,
}

/// A scalar loss to backpropagate, and what to log about it (plain numbers).
pub struct LossOutput {
    pub loss: Tensor,
    pub metrics: BTreeMap<&'static str, f64>,
}

/// A trust region that sets each token's clip range, and may redistribute its advantage, from
/// the training forward itself (a part's tensor side, e.g. HAPO's entropy-adaptive rule).
pub trait TokenTrustRegion: Send + Sync {
    /// `ratio`, `advantages`, `entropy` and `mask` are `[b, T]`; `clip` the configured
    /// `(clip_low, clip_high)`.
    fn region(
        &self,
        ratio: &Tensor,
        advantages: &Tensor,
        entropy: &Tensor,
        mask: &Tensor,
        clip: (f64, f64),
    ) -> TokenRegion;
}

/// Per-token bounds and advantages of one minibatch, and per-token quantities whose masked
/// means the loss logs under their names.
pub struct TokenRegion {
    pub bounds: ClipBounds,
    pub advantages: Tensor,
    pub logged: Vec<(&'static str, Tensor)>,
}

/// The clipped policy-gradient objective configured by [`ObjectiveConfig`]:
/// `L = agg(-min(r A, clip(r) A)) + kl_coef agg(KL) - entropy_coef agg(H)`.
pub struct PolicyObjective {
    pub config: ObjectiveConfig,
    /// The trust-region part's per-token rule, when it has one.
    token_region: Option<Arc<dyn TokenTrustRegion>>,
}

impl PolicyObjective {
    /// The loss with the trust-region part `config.trust_region` names; an error when that
    /// part or its settings are not valid.
    pub fn new(config: ObjectiveConfig) -> Result<Self, MethodError> {
        let method = MethodConfig {
            objective: config.clone(),
            ..MethodConfig::default()
        };
        let token_region = method
            .build_parts()?
            .into_iter()
            .find_map(|(_, part)| part.token_trust_region());
        Ok(Self {
            config,
            token_region,
        })
    }

    /// `bounds` lets a trust-region part (per-sample or per-token clip ranges) replace the
    /// configured constants; `None` uses `clip_low`/`clip_high`.
    /// Whether a part sets per-token clip ranges from this minibatch's statistics (HAPO).
    pub fn has_token_trust_region(&self) -> bool {
        self.token_region.is_some()
    }

    pub fn loss(
        &self,
        terms: &PolicyTerms,
        scale: &LossScale,
        bounds: Option<&ClipBounds>,
    ) -> LossOutput {
        let c = &self.config;
        let ratio = importance_ratio(terms.logp, terms.old_logp, terms.mask, c.ratio);
        let constant = ClipBounds::constant(c.clip_low, c.clip_high);
        // A per-token rule needs this forward's entropy, which the loops always pass; without
        // it the trust region stays constant.
        let region = match (&self.token_region, terms.entropy) {
            (Some(rule), Some(entropy)) => Some(rule.region(
                &ratio,
                terms.advantages,
                entropy,
                terms.mask,
                (c.clip_low, c.clip_high),
            )),
            _ => None,
        };
        let bounds = region
            .as_ref()
            .map(|r| &r.bounds)
            .or(bounds)
            .unwrap_or(&constant);
        let advantages = region.as_ref().map_or(terms.advantages, |r| &r.advantages);
        let surrogate = match c.kernel {
            PolicyKernel::Clip => clipped_surrogate(&ratio, advantages, bounds, c.dual_clip),
            PolicyKernel::BoundedRatio => {
                bounded_ratio_loss(&ratio, advantages, bounds, c.divergence)
            }
        };
        let policy_loss = aggregate(&surrogate.per_token_loss, terms.mask, c.aggregation, scale);
        let mut loss = policy_loss.shallow_clone();

        let mut metrics = BTreeMap::new();
        metrics.insert("policy_loss", policy_loss.double_value(&[]));
        let token_count = terms.mask.sum(Kind::Float).double_value(&[]).max(1.0);
        let masked_mean =
            |t: &Tensor| (t * terms.mask).sum(Kind::Float).double_value(&[]) / token_count;
        metrics.insert(
            "clip_frac_low",
            masked_mean(&surrogate.clipped_low.to_kind(Kind::Float)),
        );
        metrics.insert(
            "clip_frac_high",
            masked_mean(&surrogate.clipped_high.to_kind(Kind::Float)),
        );
        let log_ratio = (terms.logp - terms.old_logp).detach();
        // k3 of old vs new: the approx-KL that PPO implementations log.
        metrics.insert(
            "approx_kl",
            masked_mean(&(log_ratio.exp() - 1 - &log_ratio)),
        );
        metrics.insert("ratio_mean", masked_mean(&ratio.detach()));
        for (name, values) in region.iter().flat_map(|r| &r.logged) {
            metrics.insert(name, masked_mean(&values.to_kind(Kind::Float)));
        }

        if let (Some(ref_logp), true) = (terms.ref_logp, c.kl_coef > 0.0) {
            let kl = kl_penalty(terms.logp, ref_logp, c.kl_estimator);
            let kl_loss = aggregate(&kl, terms.mask, c.aggregation, scale);
            metrics.insert("kl", kl_loss.double_value(&[]));
            loss += kl_loss * c.kl_coef;
        } else if let Some(ref_logp) = terms.ref_logp {
            metrics.insert(
                "kl",
                masked_mean(&kl_penalty(&terms.logp.detach(), ref_logp, KlEstimator::K3)),
            );
        }
        if let Some(entropy) = terms.entropy {
            let ent = aggregate(entropy, terms.mask, c.aggregation, scale);
            metrics.insert("entropy", masked_mean(&entropy.detach()));
            if c.entropy_coef != 0.0 {
                loss -= ent * c.entropy_coef;
            }
        }
        LossOutput { loss, metrics }
    }
}

/// Losses and statistics accumulate in f32 even for bf16 inputs (backend.md), and stay in
/// f64 when the inputs are f64 (gradient tests).
pub fn accumulation_kind(t: &Tensor) -> Kind {
    if t.kind() == Kind::Double {
        Kind::Double
    } else {
        Kind::Float
    }
}
