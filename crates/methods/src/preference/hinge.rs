//! The SLiC hinge loss (Zhao et al. 2023, arXiv 2305.10425) on DPO's log-ratio margin, as TRL's
//! `loss_type="hinge"`: `L = relu(1 - beta h)` with
//! `h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))`, mean over pairs.
//!
//! Not in preference-baselines.md: the formula follows TRL's `DPOTrainer.dpo_loss`; `beta`
//! plays the role of SLiC's inverse margin `1/delta`.
use serde::{Deserialize, Serialize};

use super::support::{margin_loss, wrong_input};
use super::{InputKind, PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `preference.hinge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HingeConfig {
    /// Scale of the margin; the loss is zero once `h >= 1/beta`. Default 0.1 (TRL's).
    pub beta: f64,
}

impl Default for HingeConfig {
    fn default() -> Self {
        Self { beta: 0.1 }
    }
}

impl Settings for HingeConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.hinge.beta", self.beta, self.beta > 0.0, "> 0")
    }
}

/// The hinge loss over a paired batch (the reference log-probs are required).
pub fn hinge_loss(b: &PreferenceBatch, c: &HingeConfig) -> Result<PreferenceLoss, MethodError> {
    margin_loss("hinge", b, c.beta, false, |h| (-(h * c.beta) + 1.0).relu())
}

impl PreferenceObjective for HingeConfig {
    fn name(&self) -> &'static str {
        "hinge"
    }
    fn input(&self) -> InputKind {
        InputKind::Paired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Paired(b) => hinge_loss(b, self),
            other => Err(wrong_input("hinge", "paired", other)),
        }
    }
}
