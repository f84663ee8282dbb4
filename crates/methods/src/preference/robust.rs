//! Robust DPO (Chowdhury et al. 2024, "Provably Robust DPO", arXiv 2403.00409), as TRL's
//! `loss_type="robust"`: with `u = beta h` (DPO's scaled log-ratio margin) and label-flip
//! rate `eps < 0.5`,
//!
//! `L = [-(1 - eps) log sigmoid(u) + eps log sigmoid(-u)] / (1 - 2 eps)`, mean over pairs,
//!
//! an unbiased estimate of the clean-label DPO loss under random flips (unlike cDPO's
//! smoothing, the `eps` term enters with a plus sign). Not in preference-baselines.md: the
//! formula follows the paper and TRL's `DPOTrainer.dpo_loss`. `eps = 0` is plain DPO.
use serde::{Deserialize, Serialize};

use super::support::{margin_loss, wrong_input};
use super::{InputKind, PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `preference.robust`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RobustConfig {
    /// KL strength, as DPO's. Default 0.1.
    pub beta: f64,
    /// Assumed label-flip rate, in `[0, 0.5)` (the loss divides by `1 - 2 eps`). Default 0.
    pub label_smoothing: f64,
}

impl Default for RobustConfig {
    fn default() -> Self {
        Self {
            beta: 0.1,
            label_smoothing: 0.0,
        }
    }
}

impl Settings for RobustConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.robust.beta", self.beta, self.beta > 0.0, "> 0")?;
        check_range(
            "preference.robust.label_smoothing",
            self.label_smoothing,
            (0.0..0.5).contains(&self.label_smoothing),
            "in [0, 0.5)",
        )
    }
}

/// The robust DPO loss over a paired batch (the reference log-probs are required).
pub fn robust_loss(b: &PreferenceBatch, c: &RobustConfig) -> Result<PreferenceLoss, MethodError> {
    let eps = c.label_smoothing;
    margin_loss("robust", b, c.beta, false, |h| {
        let u = h * c.beta;
        (-(u.log_sigmoid() * (1.0 - eps)) + (-u).log_sigmoid() * eps) / (1.0 - 2.0 * eps)
    })
}

impl PreferenceObjective for RobustConfig {
    fn name(&self) -> &'static str {
        "robust"
    }
    fn input(&self) -> InputKind {
        InputKind::Paired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Paired(b) => robust_loss(b, self),
            other => Err(wrong_input("robust", "paired", other)),
        }
    }
}
