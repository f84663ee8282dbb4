//! KTO (Ethayarajh et al. 2024, arXiv 2402.01306; preference-baselines.md "KTO") on unpaired
//! desirable/undesirable examples:
//!
//! `r = log pi(y|x) - log pi_ref(y|x)`; `z_ref = max(0, mean over mismatched pairs (x', y) of
//! r(x', y))`, detached; `v = lambda_D sigmoid(beta (r - z_ref))` if desirable,
//! `lambda_U sigmoid(beta (z_ref - r))` if not; `L = mean over examples of (lambda_y - v)`.
//!
//! The reference point follows the spec, which matches TRL's `KTOTrainer`: the caller scores
//! mismatched pairs (TRL cycles completions by one within the batch) and passes their log-probs
//! as `kl_policy_logp`/`kl_reference_logp`; the mean is taken over this batch only (TRL
//! additionally averages across data-parallel ranks). Without mismatched pairs `z_ref = 0`,
//! as TRL does when it skips the KL estimate.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::support::{mean, same_length, wrong_input};
use super::{InputKind, PreferenceData, PreferenceLoss, PreferenceObjective, UnpairedBatch};
use crate::error::{check_range, MethodError};
use crate::objective::accumulation_kind;
use crate::parts::Settings;

/// `preference.kto`. The spec suggests keeping
/// `desirable_weight * n_D / (undesirable_weight * n_U)` in `[1, 4/3]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KtoConfig {
    /// Default 0.1.
    pub beta: f64,
    /// `lambda_D`, default 1.
    pub desirable_weight: f64,
    /// `lambda_U`, default 1.
    pub undesirable_weight: f64,
}

impl Default for KtoConfig {
    fn default() -> Self {
        Self {
            beta: 0.1,
            desirable_weight: 1.0,
            undesirable_weight: 1.0,
        }
    }
}

impl Settings for KtoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.kto.beta", self.beta, self.beta > 0.0, "> 0")?;
        check_range(
            "preference.kto.desirable_weight",
            self.desirable_weight,
            self.desirable_weight >= 0.0,
            ">= 0",
        )?;
        check_range(
            "preference.kto.undesirable_weight",
            self.undesirable_weight,
            self.undesirable_weight >= 0.0,
            ">= 0",
        )
    }
}

/// The detached reference point `z_ref` (a 0-d tensor), from the mismatched pairs if given.
fn reference_point(b: &UnpairedBatch, kind: Kind) -> Result<Tensor, MethodError> {
    let zero = || Tensor::zeros([], (kind, b.policy_logp.device()));
    match (b.kl_policy_logp, b.kl_reference_logp) {
        (None, None) => Ok(zero()),
        (Some(p), Some(r)) => {
            same_length("kto", &[("kl_policy_logp", p), ("kl_reference_logp", r)])?;
            let kl = (p.to_kind(kind) - r.to_kind(kind)).mean(kind).detach();
            Ok(kl.clamp_min(0.0))
        }
        _ => Err(MethodError::Shape {
            part: "kto",
            detail: "give both kl_policy_logp and kl_reference_logp, or neither".into(),
        }),
    }
}

/// The KTO loss over an unpaired batch; `losses` is per example, in batch order.
pub fn kto_loss(b: &UnpairedBatch, c: &KtoConfig) -> Result<PreferenceLoss, MethodError> {
    same_length(
        "kto",
        &[
            ("policy_logp", b.policy_logp),
            ("reference_logp", b.reference_logp),
            ("desirable", b.desirable),
        ],
    )?;
    let kind = accumulation_kind(b.policy_logp);
    let z_ref = reference_point(b, kind)?;
    let desirable = b.desirable.to_kind(Kind::Double).gt(0.5);
    let ratio = b.policy_logp.to_kind(kind) - b.reference_logp.detach().to_kind(kind);
    // `lambda - v` with `1 - sigmoid(a) = sigmoid(-a)`, which keeps precision when v is near 1.
    let chosen_losses = ((&z_ref - &ratio) * c.beta).sigmoid() * c.desirable_weight;
    let rejected_losses = ((&ratio - &z_ref) * c.beta).sigmoid() * c.undesirable_weight;
    let losses = chosen_losses.where_self(&desirable, &rejected_losses);
    let rewards = (&ratio * c.beta).detach();
    let chosen_rewards = rewards.masked_select(&desirable);
    let rejected_rewards = rewards.masked_select(&desirable.logical_not());

    let mut metrics = BTreeMap::new();
    metrics.insert("kl_reference_point", mean(&z_ref));
    metrics.insert("desirable_fraction", mean(&desirable));
    // Means over each subset; NaN when the batch has none of that kind.
    metrics.insert("reward_chosen", mean(&chosen_rewards));
    metrics.insert("reward_rejected", mean(&rejected_rewards));
    metrics.insert(
        "reward_margin",
        mean(&chosen_rewards) - mean(&rejected_rewards),
    );
    metrics.insert(
        "logp_chosen",
        mean(&b.policy_logp.masked_select(&desirable)),
    );
    metrics.insert(
        "logp_rejected",
        mean(&b.policy_logp.masked_select(&desirable.logical_not())),
    );
    let loss = losses.mean(kind);
    metrics.insert("loss", mean(&loss));
    Ok(PreferenceLoss {
        loss,
        losses,
        chosen_rewards,
        rejected_rewards,
        metrics,
    })
}

impl PreferenceObjective for KtoConfig {
    fn name(&self) -> &'static str {
        "kto"
    }
    fn input(&self) -> InputKind {
        InputKind::Unpaired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Unpaired(b) => kto_loss(b, self),
            other => Err(wrong_input("kto", "unpaired", other)),
        }
    }
}
