//! SePPO's generic preference core (arXiv 2410.05255; seppo.md, **reconstructed**: the paper's
//! code snapshot has no training code, and the anchor rule below is the spec's reading).
//! There are no human pairs: "chosen" is a positive sample `y+` from the data, "rejected" is
//! `y_ref`, a sample of the reference model (a previous checkpoint). With
//!
//! `d_pos = log pi(y+) - log pi_ref(y+)`, `d_ref = log pi(y_ref) - log pi_ref(y_ref)`,
//! `s = +1 if d_pos > 0 else -1` (detached; the Anchor-based Adaptive Flipper),
//! `L = -log sigmoid(beta (d_pos - s d_ref))`, mean over pairs.
//!
//! When the policy already beats the reference on the anchor `y+` (`d_pos > 0`), the
//! reference's sample is presumed worse and pushed down as in DPO; otherwise it is presumed good
//! and pulled up together with `y+`. A tie (`d_pos = 0`) flips, as the spec's "else" does.
//! Choosing the reference checkpoint and sampling `y_ref` belong to the loop, not here.
//! Rewards are DPO's `beta * d`, before the flip.
use serde::{Deserialize, Serialize};

use super::support::{log_ratios, mean, paired_output, wrong_input};
use super::{InputKind, PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `preference.seppo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeppoConfig {
    /// KL strength; 0.1 for token LLMs (seppo.md; diffusion models use about 2000–5000).
    pub beta: f64,
}

impl Default for SeppoConfig {
    fn default() -> Self {
        Self { beta: 0.1 }
    }
}

impl Settings for SeppoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.seppo.beta", self.beta, self.beta > 0.0, "> 0")
    }
}

/// The SePPO loss over a paired batch of (positive, reference sample); the reference
/// log-probs are required. `metrics["flip_fraction"]` is the share of pairs with `s = -1`.
pub fn seppo_loss(b: &PreferenceBatch, c: &SeppoConfig) -> Result<PreferenceLoss, MethodError> {
    let (d_pos, d_ref) = log_ratios("seppo", b)?;
    let ahead = d_pos.detach().gt(0.0);
    let sign = ahead.to_kind(d_pos.kind()) * 2.0 - 1.0;
    let losses = -((&d_pos - &d_ref * &sign) * c.beta).log_sigmoid();
    let mut out = paired_output(losses, d_pos * c.beta, d_ref * c.beta, b);
    out.metrics
        .insert("flip_fraction", mean(&ahead.logical_not()));
    Ok(out)
}

impl PreferenceObjective for SeppoConfig {
    fn name(&self) -> &'static str {
        "seppo"
    }
    fn input(&self) -> InputKind {
        InputKind::Paired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Paired(b) => seppo_loss(b, self),
            other => Err(wrong_input("seppo", "paired", other)),
        }
    }
}
