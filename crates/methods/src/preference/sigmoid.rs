//! DPO's logistic loss (Rafailov et al. 2023, arXiv 2305.18290; preference-baselines.md "DPO"),
//! with label smoothing as in conservative DPO (Mitchell 2023, TRL `loss_type="sigmoid"`):
//!
//! `u = beta [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))]`,
//! `L = -(1 - eps) log sigmoid(u) - eps log sigmoid(-u)`, mean over pairs.
//! With `eps = 0` this is the spec's `L_DPO = -log sigmoid(u)`.
use serde::{Deserialize, Serialize};

use super::support::{margin_loss, smoothed_logistic, wrong_input};
use super::{InputKind, PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `preference.sigmoid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigmoidConfig {
    /// KL strength; spec default 0.1 (range 0.01–0.5).
    pub beta: f64,
    /// Probability that a preference label is flipped, in `[0, 0.5]`; 0 is plain DPO.
    pub label_smoothing: f64,
}

impl Default for SigmoidConfig {
    fn default() -> Self {
        Self {
            beta: 0.1,
            label_smoothing: 0.0,
        }
    }
}

impl Settings for SigmoidConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.sigmoid.beta", self.beta, self.beta > 0.0, "> 0")?;
        check_range(
            "preference.sigmoid.label_smoothing",
            self.label_smoothing,
            (0.0..=0.5).contains(&self.label_smoothing),
            "in [0, 0.5]",
        )
    }
}

/// The DPO loss over a paired batch (the reference log-probs are required).
pub fn sigmoid_loss(b: &PreferenceBatch, c: &SigmoidConfig) -> Result<PreferenceLoss, MethodError> {
    margin_loss("sigmoid", b, c.beta, false, |logits| {
        smoothed_logistic(&(logits * c.beta), c.label_smoothing)
    })
}

impl PreferenceObjective for SigmoidConfig {
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    fn input(&self) -> InputKind {
        InputKind::Paired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Paired(b) => sigmoid_loss(b, self),
            other => Err(wrong_input("sigmoid", "paired", other)),
        }
    }
}
