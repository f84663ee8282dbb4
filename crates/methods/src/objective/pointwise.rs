//! The policy and value losses of [`super::PolicyObjective`] on plain numbers, with their
//! derivatives, for callers that do their own backward pass (the control trainer's native CPU
//! backend, whose networks are too small for a tensor library's per-op overhead).
//!
//! Each function here is the element-wise definition the tensor kernels ([`super::clip`],
//! [`super::bounded_ratio`], [`super::value`]) compute, written once more without tensors
//! because a per-element closed form is what a hand-written backward needs; the tests in
//! `tests/pointwise_objective.rs` pin both forms to each other (values, gradients through
//! autograd, clip flags) over grids that cover every branch, so they cannot drift.
//! [`policy_loss_rows`] is [`super::PolicyObjective::loss`] for one token per row (`T = 1`):
//! every aggregation is then the mean over rows and both ratio levels are the token ratio.
use std::collections::BTreeMap;

use super::bounded_ratio::{Divergence, PolicyKernel};
use crate::config::ObjectiveConfig;

/// One element of a policy kernel: its loss, `d loss / d ratio`, and the clip flags the
/// tensor kernels report (`A < 0, r < 1 - low` and `A > 0, r > 1 + high`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelPoint {
    pub loss: f64,
    pub d_ratio: f64,
    pub clipped_low: bool,
    pub clipped_high: bool,
}

fn flags(ratio: f64, adv: f64, low: f64, high: f64) -> (bool, bool) {
    (
        adv < 0.0 && ratio < 1.0 - low,
        adv > 0.0 && ratio > 1.0 + high,
    )
}

/// `-min(r A, clip(r, 1 - low, 1 + high) A)`, capped at `-A c` for `A < 0` under the dual
/// clip. Where clipping wins the gradient is zero; at ties both sides agree (clamp passes the
/// gradient on its closed interval), as in autograd.
pub fn clip_point(
    ratio: f64,
    adv: f64,
    low: f64,
    high: f64,
    dual_clip: Option<f64>,
) -> KernelPoint {
    let clipped_ratio = ratio.clamp(1.0 - low, 1.0 + high);
    let unclipped = -ratio * adv;
    let clipped = -clipped_ratio * adv;
    let (mut loss, mut d_ratio) = if unclipped >= clipped {
        (unclipped, -adv)
    } else {
        (clipped, 0.0)
    };
    if let Some(c) = dual_clip {
        let cap = -adv * c;
        if adv < 0.0 && cap < loss {
            (loss, d_ratio) = (cap, 0.0);
        }
    }
    let (clipped_low, clipped_high) = flags(ratio, adv, low, high);
    KernelPoint {
        loss,
        d_ratio,
        clipped_low,
        clipped_high,
    }
}

/// `|A| D(r, r*)` with `r* = 1 + high` for `A > 0` and `1 - low` otherwise (BPO's kernel).
pub fn bounded_ratio_point(
    ratio: f64,
    adv: f64,
    low: f64,
    high: f64,
    divergence: Divergence,
) -> KernelPoint {
    let target = if adv > 0.0 { 1.0 + high } else { 1.0 - low };
    let weight = adv.abs();
    let gap = ratio - target;
    let sign = if adv > 0.0 {
        1.0
    } else if adv < 0.0 {
        -1.0
    } else {
        0.0
    };
    let (d, d_d) = match divergence {
        // relu'(0) = 0, as in libtorch.
        Divergence::Hinge => {
            let h = -gap * sign;
            if h > 0.0 {
                (h, -sign)
            } else {
                (0.0, 0.0)
            }
        }
        Divergence::Squared => (0.5 * gap * gap, gap),
        Divergence::Kl => (gap - target * (ratio / target).ln(), 1.0 - target / ratio),
    };
    let (clipped_low, clipped_high) = flags(ratio, adv, low, high);
    KernelPoint {
        loss: weight * d,
        d_ratio: weight * d_d,
        clipped_low,
        clipped_high,
    }
}

/// The configured kernel at one element (constant clip bounds).
pub fn kernel_point(config: &ObjectiveConfig, ratio: f64, adv: f64) -> KernelPoint {
    let (low, high) = (config.clip_low, config.clip_high);
    match config.kernel {
        PolicyKernel::Clip => clip_point(ratio, adv, low, high, config.dual_clip),
        PolicyKernel::BoundedRatio => bounded_ratio_point(ratio, adv, low, high, config.divergence),
    }
}

/// [`super::clipped_value_loss`] at one element: the loss and `d loss / d value`. At a tie of
/// the two squares autograd's `maximum` splits the gradient in half, which this follows.
pub fn value_point(value: f64, old_value: f64, ret: f64, clip: Option<f64>) -> (f64, f64) {
    let unclipped = (value - ret) * (value - ret);
    let Some(eps) = clip else {
        return (0.5 * unclipped, value - ret);
    };
    let delta = value - old_value;
    let v_clip = old_value + delta.clamp(-eps, eps);
    let pass = if (-eps..=eps).contains(&delta) {
        1.0
    } else {
        0.0
    };
    let clipped = (v_clip - ret) * (v_clip - ret);
    let (d_un, d_cl) = (value - ret, (v_clip - ret) * pass);
    let grad = if unclipped > clipped {
        d_un
    } else if unclipped < clipped {
        d_cl
    } else {
        0.5 * (d_un + d_cl)
    };
    (0.5 * unclipped.max(clipped), grad)
}

/// [`super::PolicyObjective::loss`] over rows of one token each, without a reference model:
/// the loss, its gradients with respect to every row's log-prob and entropy, and the same
/// metrics (`policy_loss`, `clip_frac_low`, `clip_frac_high`, `approx_kl`, `ratio_mean`,
/// `entropy` when given).
pub struct RowsLoss {
    pub loss: f64,
    pub d_logp: Vec<f64>,
    /// `d loss / d H_i` (the same for every row: `-entropy_coef / B`).
    pub d_entropy: f64,
    pub metrics: BTreeMap<&'static str, f64>,
}

pub fn policy_loss_rows(
    config: &ObjectiveConfig,
    logp: &[f64],
    old_logp: &[f64],
    advantages: &[f64],
    entropy: Option<&[f64]>,
) -> RowsLoss {
    let n = logp.len().max(1) as f64;
    let mut d_logp = Vec::with_capacity(logp.len());
    let (mut loss, mut low, mut high, mut kl, mut ratio_sum) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for ((&lp, &old), &adv) in logp.iter().zip(old_logp).zip(advantages) {
        let log_ratio = lp - old;
        let ratio = log_ratio.exp();
        let p = kernel_point(config, ratio, adv);
        loss += p.loss;
        d_logp.push(p.d_ratio * ratio / n);
        low += f64::from(u8::from(p.clipped_low));
        high += f64::from(u8::from(p.clipped_high));
        kl += log_ratio.exp_m1() - log_ratio;
        ratio_sum += ratio;
    }
    let policy_loss = loss / n;
    let mut metrics = BTreeMap::from([
        ("policy_loss", policy_loss),
        ("clip_frac_low", low / n),
        ("clip_frac_high", high / n),
        ("approx_kl", kl / n),
        ("ratio_mean", ratio_sum / n),
    ]);
    let mut total = policy_loss;
    let mut d_entropy = 0.0;
    if let Some(h) = entropy {
        let mean = h.iter().sum::<f64>() / n;
        metrics.insert("entropy", mean);
        if config.entropy_coef != 0.0 {
            total -= config.entropy_coef * mean;
            d_entropy = -config.entropy_coef / n;
        }
    }
    RowsLoss {
        loss: total,
        d_logp,
        d_entropy,
        metrics,
    }
}
