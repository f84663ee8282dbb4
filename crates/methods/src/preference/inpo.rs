//! INPO (2024, arXiv 2407.00617; inpo.md, confidence M: the paper's eta and tau
//! values are unverified): online mirror descent towards the Nash policy of a general
//! preference game, as a squared loss on sampled pairs,
//!
//! `h = log[pi(y_w)/pi(y_l)] - (tau/eta) log[pi_ref(y_w)/pi_ref(y_l)]
//!      - (1 - tau/eta) log[pi_t(y_w)/pi_t(y_l)]`,
//! `L = (h - 1/(2 eta))^2`, mean over pairs,
//!
//! with summed response log-probs, `pi_ref` the fixed SFT model and `pi_t` the previous iterate
//! (both detached; the batch's `iterate_*` fields). `eta` is the *inverse* step size (inpo.md,
//! "Ambiguities"). `tau = eta` drops `pi_t` and is IPO with `beta = eta`; `tau = 0` is pure OMD.
//!
//! Rewards are `eta * (log pi(y) - (tau/eta) log pi_ref(y) - (1 - tau/eta) log pi_t(y))`, the
//! log-ratio against the step's geometric-mixture anchor, so that their margin is `eta * h`
//! and, at `tau = eta`, they are IPO's.
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::support::{log_ratios, mean, paired_output, same_length, wrong_input};
use super::{InputKind, PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::{check_range, MethodError};
use crate::objective::accumulation_kind;
use crate::parts::Settings;

/// `preference.inpo`. Defaults are inpo.md's test vector (`eta = 1`, `tau = 0.1`); its
/// recommended grid is `1/(2 eta)` in {0.5, 1, 2.5} and `tau/eta` in {0, 0.1, 0.3}.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InpoConfig {
    /// Inverse OMD step size, > 0; the loss is minimal at `h = 1/(2 eta)`.
    pub eta: f64,
    /// KL regularisation towards `pi_ref`, in `[0, eta]`.
    pub tau: f64,
}

impl Default for InpoConfig {
    fn default() -> Self {
        Self { eta: 1.0, tau: 0.1 }
    }
}

impl Settings for InpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.inpo.eta", self.eta, self.eta > 0.0, "> 0")?;
        // tau > eta would give pi_t a negative weight: the OMD step's anchor stops being a
        // geometric mixture of the reference and the iterate.
        check_range(
            "preference.inpo.tau",
            self.tau,
            (0.0..=self.eta).contains(&self.tau),
            "in [0, eta]",
        )
    }
}

/// The previous iterate's log-probs, detached, or an error naming the missing one.
fn iterate(b: &PreferenceBatch) -> Result<(Tensor, Tensor), MethodError> {
    let missing = |what: &str| MethodError::Shape {
        part: "inpo",
        detail: format!("{what} is missing; INPO needs the previous iterate pi_t's log-probs"),
    };
    let chosen = b
        .iterate_chosen_logp
        .ok_or_else(|| missing("iterate_chosen_logp"))?;
    let rejected = b
        .iterate_rejected_logp
        .ok_or_else(|| missing("iterate_rejected_logp"))?;
    same_length(
        "inpo",
        &[
            ("policy_chosen_logp", b.policy_chosen_logp),
            ("iterate_chosen_logp", chosen),
            ("iterate_rejected_logp", rejected),
        ],
    )?;
    let kind = accumulation_kind(b.policy_chosen_logp);
    Ok((
        chosen.detach().to_kind(kind),
        rejected.detach().to_kind(kind),
    ))
}

/// The INPO loss over a paired batch; the reference and the iterate log-probs are required.
/// `metrics["h"]` is the mean of `h`.
pub fn inpo_loss(b: &PreferenceBatch, c: &InpoConfig) -> Result<PreferenceLoss, MethodError> {
    let (ratio_ref_c, ratio_ref_r) = log_ratios("inpo", b)?;
    let (iter_c, iter_r) = iterate(b)?;
    let w = c.tau / c.eta;
    // log pi - w log pi_ref - (1 - w) log pi_t = w (log pi - log pi_ref) + (1 - w) (log pi -
    // log pi_t): at tau = eta the iterate's term is multiplied by exactly 0, so it is IPO's.
    let kind = accumulation_kind(b.policy_chosen_logp);
    let anchored = |ratio_ref: Tensor, logp: &Tensor, iter: Tensor| {
        ratio_ref * w + (logp.to_kind(kind) - iter) * (1.0 - w)
    };
    let chosen = anchored(ratio_ref_c, b.policy_chosen_logp, iter_c);
    let rejected = anchored(ratio_ref_r, b.policy_rejected_logp, iter_r);
    let h = &chosen - &rejected;
    let losses = (&h - 1.0 / (2.0 * c.eta)).square();
    let mut out = paired_output(losses, chosen * c.eta, rejected * c.eta, b);
    out.metrics.insert("h", mean(&h));
    Ok(out)
}

impl PreferenceObjective for InpoConfig {
    fn name(&self) -> &'static str {
        "inpo"
    }
    fn input(&self) -> InputKind {
        InputKind::Paired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Paired(b) => inpo_loss(b, self),
            other => Err(wrong_input("inpo", "paired", other)),
        }
    }
}
