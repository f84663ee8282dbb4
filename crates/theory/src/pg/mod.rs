//! Policy gradient with momentum, extrapolation and Hessian-aided recursion
//! (npg-igt-harpg.md; Fatkhullin, Barakat, Kireeva, He, ICML 2023), and the plain baselines,
//! on a two-armed bandit and CartPole with a softmax-linear policy. No tensors: scores,
//! surrogate Hessian-vector products and the bandit's exact J, ∇J, ∇²J are closed forms.
//!
//! Map:
//! - [`softmax_linear`]: the policy, ∇log π and ∇²log π · v.
//! - [`estimators`]: GPOMDP, the surrogate Φ, B(τ,θ)·v.
//! - [`tasks`]: the bandit and CartPole, trajectory sampling, the bandit's exact values.
//! - `harness`: shared settings, batches, measurement and curve.
//! - [`npg_igt`]: N-PG-IGT and its ablation without extrapolation (normalized PG with
//!   momentum); [`harpg`]: HARPG and N-HARPG; [`vpg`]: vanilla GPOMDP.
pub mod estimators;
mod harness;
pub mod harpg;
pub mod npg_igt;
pub mod softmax_linear;
pub mod tasks;
pub mod vpg;

use softmax_linear::norm;

/// η_t = (2/(t+2))^power: the momentum weight of the new gradient (η_0 = 1). The spec
/// recommends power 4/5 for N-PG-IGT and 1 for (N)-HARPG.
pub fn momentum_weight(t: u64, power: f64) -> f64 {
    (2.0 / (t as f64 + 2.0)).powf(power)
}

/// γ_t = γ_0 · 2/(t+2), the spec's step length for the normalized methods.
pub fn step_length(t: u64, step0: f64) -> f64 {
    step0 * 2.0 / (t as f64 + 2.0)
}

/// θ + len · d/‖d‖; θ unchanged when d = 0 (no direction to normalise).
pub fn normalized_step(theta: &[f64], d: &[f64], len: f64) -> Vec<f64> {
    let n = norm(d);
    if n == 0.0 {
        return theta.to_vec();
    }
    theta.iter().zip(d).map(|(x, y)| x + len * y / n).collect()
}
