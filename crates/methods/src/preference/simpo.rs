//! SimPO (Meng et al. 2024, arXiv 2405.14734; preference-baselines.md "SimPO"): reference-free
//! and length-normalised,
//!
//! `z = (beta/|y_w|) log pi(y_w) - (beta/|y_l|) log pi(y_l) - gamma`, `L = -log sigmoid(z)`,
//!
//! mean over pairs. The reference log-probs, if given, are ignored. `label_smoothing` is TRL's
//! (`CPOTrainer`, `loss_type="simpo"`): `-(1 - eps) log sigmoid(z) - eps log sigmoid(-z)`;
//! its default 0 is the paper's loss. Rewards are `beta * log pi(y) / |y|`, as TRL logs them.
use serde::{Deserialize, Serialize};

use super::support::{check_paired, lengths, paired_output, smoothed_logistic, wrong_input};
use super::{InputKind, PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::{check_range, MethodError};
use crate::objective::accumulation_kind;
use crate::parts::Settings;

/// `preference.simpo`. Defaults are the spec's example (`beta = 2`, `gamma = 1`); the spec
/// suggests `gamma / beta` in 0.3–0.8.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimpoConfig {
    /// Scale of the mean token log-prob reward; spec range 2.0–2.5 (up to 10).
    pub beta: f64,
    /// Target reward margin, >= 0.
    pub gamma: f64,
    /// Label-flip rate in `[0, 0.5]`; 0 is the paper's loss.
    pub label_smoothing: f64,
}

impl Default for SimpoConfig {
    fn default() -> Self {
        Self {
            beta: 2.0,
            gamma: 1.0,
            label_smoothing: 0.0,
        }
    }
}

impl Settings for SimpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.simpo.beta", self.beta, self.beta > 0.0, "> 0")?;
        check_range(
            "preference.simpo.gamma",
            self.gamma,
            self.gamma >= 0.0,
            ">= 0",
        )?;
        check_range(
            "preference.simpo.label_smoothing",
            self.label_smoothing,
            (0.0..=0.5).contains(&self.label_smoothing),
            "in [0, 0.5]",
        )
    }
}

/// The SimPO loss over a paired batch; needs no reference log-probs.
pub fn simpo_loss(b: &PreferenceBatch, c: &SimpoConfig) -> Result<PreferenceLoss, MethodError> {
    check_paired("simpo", b, false)?;
    let kind = accumulation_kind(b.policy_chosen_logp);
    let (len_c, len_r) = lengths(b)?;
    let chosen = b.policy_chosen_logp.to_kind(kind) / len_c * c.beta;
    let rejected = b.policy_rejected_logp.to_kind(kind) / len_r * c.beta;
    let z = &chosen - &rejected - c.gamma;
    let losses = smoothed_logistic(&z, c.label_smoothing);
    Ok(paired_output(losses, chosen, rejected, b))
}

impl PreferenceObjective for SimpoConfig {
    fn name(&self) -> &'static str {
        "simpo"
    }
    fn input(&self) -> InputKind {
        InputKind::Paired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Paired(b) => simpo_loss(b, self),
            other => Err(wrong_input("simpo", "paired", other)),
        }
    }
}
