//! ORPO (Hong et al. 2024, arXiv 2403.07691; TRL `ORPOTrainer.odds_ratio_loss`). Not in the
//! shared spec: this follows the paper (eqs. 4–7) and TRL 1.16's code. Reference-free; with
//! mean token log-probs `a_w = log pi(y_w) / |y_w|`, `a_l = log pi(y_l) / |y_l|`,
//!
//! `log_odds = (a_w - a_l) - (log(1 - exp(a_w)) - log(1 - exp(a_l)))`,
//! `L = -a_w - lambda * log sigmoid(log_odds)`, mean over pairs.
//!
//! `-a_w` is the SFT term, the NLL of the chosen response. TRL computes it inside the forward,
//! as a token mean over all chosen tokens of the batch (prompt tokens included); here each
//! pair's token mean over its response is averaged over pairs, so the two agree only when every
//! chosen sequence has the same length and no prompt is trained on. The reference log-probs,
//! if given, are ignored. Rewards are `lambda * a`, as TRL logs them.
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::support::{check_paired, lengths, mean, paired_output, wrong_input};
use super::{InputKind, PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `preference.orpo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrpoConfig {
    /// The paper's `lambda`, the weight of the odds-ratio term; named `beta` as in TRL, whose
    /// default (0.1) this is.
    pub beta: f64,
}

impl Default for OrpoConfig {
    fn default() -> Self {
        Self { beta: 0.1 }
    }
}

impl Settings for OrpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.orpo.beta", self.beta, self.beta > 0.0, "> 0")
    }
}

/// `log(1 - exp(x))` for `x <= 0` without cancellation, as TRL's `log1mexp`: `log1p(-exp(x))`
/// below `-ln 2`, `log(-expm1(x))` above (Mächler 2012). Each branch sees an input clamped to
/// its own side, so that the branch not taken cannot put a NaN into the gradient; and `x` is
/// kept below `-tiny` (the kind's smallest normal number), so that a response whose mean
/// log-prob rounds to 0 (a confident bf16 model) gives large but finite odds, not `inf - inf`.
fn log1mexp(x: &Tensor) -> Tensor {
    let ln2 = std::f64::consts::LN_2;
    let tiny = if x.kind() == Kind::Double {
        f64::MIN_POSITIVE
    } else {
        f64::from(f32::MIN_POSITIVE)
    };
    let x = x.clamp_max(-tiny);
    let far = x.clamp_max(-ln2).exp().neg().log1p();
    let near = x.clamp_min(-ln2).expm1().neg().log();
    near.where_self(&x.ge(-ln2), &far)
}

/// Mean token log-prob in the kind of `len` (the accumulation kind), after checking that no
/// log-prob is positive or NaN (an upstream bug; `log(1 - p)` is undefined for `p > 1`).
fn mean_logp(what: &'static str, logp: &Tensor, len: &Tensor) -> Result<Tensor, MethodError> {
    let logp = logp.to_kind(len.kind());
    let bad = logp.detach().gt(0.0).logical_or(&logp.isnan());
    if bad.any().int64_value(&[]) != 0 {
        let index = bad.to_kind(Kind::Int64).argmax(0, false).int64_value(&[]);
        return Err(MethodError::OutOfRange {
            field: what,
            value: format!("{} at index {index}", logp.double_value(&[index])),
            expected: "log-probs <= 0",
        });
    }
    Ok(logp / len)
}

/// The ORPO loss over a paired batch; needs no reference log-probs. `metrics` adds `nll` (mean
/// of `-a_w`), `odds_ratio_loss` (mean of `-lambda log sigmoid(log_odds)`), and TRL's
/// `log_odds_ratio` (mean of `log sigmoid(log_odds)`) and `log_odds_chosen` (mean `log_odds`).
pub fn orpo_loss(b: &PreferenceBatch, c: &OrpoConfig) -> Result<PreferenceLoss, MethodError> {
    check_paired("orpo", b, false)?;
    let (len_c, len_r) = lengths(b)?;
    let a_w = mean_logp("policy_chosen_logp", b.policy_chosen_logp, &len_c)?;
    let a_l = mean_logp("policy_rejected_logp", b.policy_rejected_logp, &len_r)?;
    let log_odds = (&a_w - &a_l) - (log1mexp(&a_w) - log1mexp(&a_l));
    let log_sigmoid = log_odds.log_sigmoid();
    let nll = -&a_w;
    let odds_ratio = &log_sigmoid * (-c.beta);
    let losses = &nll + &odds_ratio;
    let mut out = paired_output(losses, &a_w * c.beta, &a_l * c.beta, b);
    out.metrics.insert("nll", mean(&nll));
    out.metrics.insert("odds_ratio_loss", mean(&odds_ratio));
    out.metrics.insert("log_odds_ratio", mean(&log_sigmoid));
    out.metrics.insert("log_odds_chosen", mean(&log_odds));
    Ok(out)
}

impl PreferenceObjective for OrpoConfig {
    fn name(&self) -> &'static str {
        "orpo"
    }
    fn input(&self) -> InputKind {
        InputKind::Paired
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Paired(b) => orpo_loss(b, self),
            other => Err(wrong_input("orpo", "paired", other)),
        }
    }
}
