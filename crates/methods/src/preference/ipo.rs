//! IPO (Azar et al. 2023, arXiv 2310.12036, ΨPO with identity Ψ; preference-baselines.md "IPO"):
//!
//! `h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))`,
//! `L = (h - 1/(2 tau))^2`, mean over pairs; `tau` is called `beta` here as in TRL.
//!
//! The spec's formula and test vector use summed log-probs, so that is the default. TRL's
//! `loss_type="ipo"` averages token log-probs first; `length_normalized = true` does the same
//! (each log-ratio divided by its response's token count), for parity with TRL runs.
//! Rewards (`beta * log-ratio`) stay summed in both modes, as TRL logs them.
use serde::{Deserialize, Serialize};

use super::support::{margin_loss, wrong_input};
use super::{InputKind, PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `preference.ipo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IpoConfig {
    /// Regularisation `tau`; the minimum of the loss is at `h = 1/(2 beta)`. Default 0.1.
    pub beta: f64,
    /// Mean token log-probs instead of sums (TRL's convention). Default false (the spec's).
    pub length_normalized: bool,
}

impl Default for IpoConfig {
    fn default() -> Self {
        Self {
            beta: 0.1,
            length_normalized: false,
        }
    }
}

impl Settings for IpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.ipo.beta", self.beta, self.beta > 0.0, "> 0")
    }
}

/// The IPO loss over a paired batch (the reference log-probs are required).
pub fn ipo_loss(b: &PreferenceBatch, c: &IpoConfig) -> Result<PreferenceLoss, MethodError> {
    let target = 1.0 / (2.0 * c.beta);
    margin_loss("ipo", b, c.beta, c.length_normalized, |h| {
        (h - target).square()
    })
}

impl PreferenceObjective for IpoConfig {
    fn name(&self) -> &'static str {
        "ipo"
    }
    fn input(&self) -> InputKind {
        InputKind::Paired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Paired(b) => ipo_loss(b, self),
            other => Err(wrong_input("ipo", "paired", other)),
        }
    }
}
