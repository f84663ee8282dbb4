//! The bounded-ratio loss kernel of BPO / GBPO (Bounded Ratio RL, arXiv 2604.18578; spec
//! brrl-bpo-gbpo.md, confidence medium-low). Reconstructed: the divergence D is the spec's
//! [RECON] choice, the paper's Thm 4.1 form was not readable.
//!
//! BRRL's analytic target moves each ratio to `rho* = 1 + eps sign(A)` (`1 + eps_high` for
//! `A > 0`, `1 - eps_low` for `A < 0`); BPO fits it with the advantage-weighted divergence
//! `l = |A| D(rho, rho*)`. `D = hinge` (`(rho* - rho)^+` for `A > 0`, `(rho - rho*)^+` for
//! `A < 0`) is PPO's clipped surrogate up to a rho-independent constant, so it has PPO's
//! gradients; `squared` (`(rho - rho*)^2 / 2`) also pulls back ratios that overshoot the
//! target; `kl` is `(rho - rho*) - rho* ln(rho / rho*)`. `A = 0` contributes nothing.
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::clip::{ClipBounds, Surrogate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Divergence {
    Hinge,
    Squared,
    Kl,
}

/// Per-token `|A| D(rho, rho*)`; the clip flags mark ratios outside `[1 - low, 1 + high]` on
/// the side the advantage pushes, as for the clipped surrogate's metrics.
pub fn bounded_ratio_loss(
    ratio: &Tensor,
    advantages: &Tensor,
    bounds: &ClipBounds,
    divergence: Divergence,
) -> Surrogate {
    let lower = (-&bounds.low + 1.0).to_kind(ratio.kind());
    let upper = (&bounds.high + 1.0).to_kind(ratio.kind());
    let positive = advantages.gt(0.0);
    let target = upper.where_self(&positive, &lower);
    let weight = advantages.abs();
    let gap = ratio - &target;
    let d = match divergence {
        // (rho* - rho)^+ for A > 0 and (rho - rho*)^+ for A < 0, i.e. relu(-sign(A) gap).
        Divergence::Hinge => (-(&gap * advantages.sign())).relu(),
        Divergence::Squared => gap.square() * 0.5,
        Divergence::Kl => &gap - &target * (ratio / &target).log(),
    };
    let detached = ratio.detach();
    Surrogate {
        per_token_loss: weight * d,
        clipped_low: advantages.lt(0.0).logical_and(&detached.lt_tensor(&lower)),
        clipped_high: positive.logical_and(&detached.gt_tensor(&upper)),
    }
}

/// Per-token loss kernel (`method.objective.kernel`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKernel {
    /// PPO's clipped surrogate `-min(r A, clip(r) A)`, with the dual clip if set.
    #[default]
    Clip,
    /// `|A| D(r, 1 + eps sign(A))` with `method.objective.divergence`.
    BoundedRatio,
}
