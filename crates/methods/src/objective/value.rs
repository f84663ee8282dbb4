//! The PPO value loss (ppo-baseline.md): clipped, `0.5 max((V - R)^2, (V_clip - R)^2)` with
//! `V_clip = V_old + clip(V - V_old, -eps_v, eps_v)`, or unclipped `0.5 (V - R)^2`.
use tch::Tensor;

/// Per-element value loss; aggregate it with the policy loss's aggregation.
pub fn clipped_value_loss(
    values: &Tensor,
    old_values: &Tensor,
    returns: &Tensor,
    clip: Option<f64>,
) -> Tensor {
    let unclipped = (values - returns).square();
    match clip {
        Some(eps) => {
            let v_clip = old_values + (values - old_values).clamp(-eps, eps);
            let clipped = (v_clip - returns).square();
            unclipped.maximum(&clipped) * 0.5
        }
        None => unclipped * 0.5,
    }
}
