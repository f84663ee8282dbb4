//! Trust regions: the PPO clipped surrogate with symmetric, asymmetric (DAPO clip-higher),
//! per-sample or per-token bounds, and verl's dual clip (grpo-family.md, ppo-baseline.md).
use tch::Tensor;

/// Clip range `[1 - low, 1 + high]`; each side is a tensor broadcastable to `[B, T]`, so
/// elastic (per-sample) and adaptive (per-token) trust regions plug in without a new loss.
pub struct ClipBounds {
    pub low: Tensor,
    pub high: Tensor,
}

impl ClipBounds {
    pub fn constant(low: f64, high: f64) -> Self {
        Self {
            low: Tensor::from(low),
            high: Tensor::from(high),
        }
    }
}

/// Per-token loss of the clipped surrogate and where clipping removed the gradient.
pub struct Surrogate {
    /// `-min(r A, clip(r, 1-low, 1+high) A)`, with the dual clip for `A < 0` if set.
    pub per_token_loss: Tensor,
    /// `A < 0` and `r < 1 - low`: the ratio fell below the trust region (no gradient).
    pub clipped_low: Tensor,
    /// `A > 0` and `r > 1 + high`: the ratio rose above the trust region (no gradient).
    pub clipped_high: Tensor,
}

pub fn clipped_surrogate(
    ratio: &Tensor,
    advantages: &Tensor,
    bounds: &ClipBounds,
    dual_clip: Option<f64>,
) -> Surrogate {
    // Constant bounds are 0-d CPU tensors; libtorch will not mix them with CUDA operands.
    let (device, kind) = (ratio.device(), ratio.kind());
    let lower = (-&bounds.low + 1.0).to_device(device).to_kind(kind);
    let upper = (&bounds.high + 1.0).to_device(device).to_kind(kind);
    let clipped_ratio = ratio.clamp_tensor(Some(&lower), Some(&upper));
    let unclipped = -(ratio * advantages);
    let clipped = -(&clipped_ratio * advantages);
    let mut per_token_loss = unclipped.maximum(&clipped);
    if let Some(c) = dual_clip {
        // For negative advantages a huge ratio would give an unbounded loss; verl caps it at -A c.
        let cap = -(advantages * c);
        let capped = per_token_loss.minimum(&cap);
        per_token_loss = capped.where_self(&advantages.lt(0.0), &per_token_loss);
    }
    let detached = ratio.detach();
    let clipped_low = advantages.lt(0.0).logical_and(&detached.lt_tensor(&lower));
    let clipped_high = advantages.gt(0.0).logical_and(&detached.gt_tensor(&upper));
    Surrogate {
        per_token_loss,
        clipped_low,
        clipped_high,
    }
}
