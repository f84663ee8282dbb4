//! Gradient and Hessian estimators from one trajectory (npg-igt-harpg.md, "Method"), for a
//! [`SoftmaxLinear`] policy and discount γ:
//! - GPOMDP g(τ,θ) = Σ_h (Σ_{k≤h} ∇log π(a_k|s_k)) γ^h r_h = Σ_h G_h ∇log π(a_h|s_h) with
//!   G_h = Σ_{j≥h} γ^j r_j, which is also ∇Φ(θ;τ) for the surrogate
//!   Φ(θ;τ) = Σ_h G_h log π_θ(a_h|s_h);
//! - ψ(θ;τ) = Σ_h ∇log π(a_h|s_h);
//! - B(τ,θ) = ∇Φ ψᵀ + ∇²Φ, unbiased for ∇²J(θ) when τ ~ π_θ, used only through
//!   B v = ∇Φ (ψᵀv) + Σ_h G_h ∇²log π(·|s_h) v.
//!
//! Every function takes θ and recomputes π along the stored states, so the finite-difference
//! tests can move θ while keeping the trajectory fixed.
use super::softmax_linear::{dot, SoftmaxLinear};

/// One episode: the features φ(s_h) (`[len][dim]` row-major), actions and rewards.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trajectory {
    pub features: Vec<f64>,
    pub actions: Vec<usize>,
    pub rewards: Vec<f64>,
}

impl Trajectory {
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The undiscounted return, what CartPole's score counts.
    pub fn total_reward(&self) -> f64 {
        self.rewards.iter().sum()
    }

    fn phi(&self, h: usize, dim: usize) -> &[f64] {
        &self.features[h * dim..][..dim]
    }
}

/// G_h = Σ_{j≥h} γ^j r_j: the reward to go, discounted from time 0 (not from h), as the
/// GPOMDP form of the spec has γ^h inside.
pub fn discounted_to_go(rewards: &[f64], gamma: f64) -> Vec<f64> {
    let mut weight = 1.0;
    let mut discounted: Vec<f64> = rewards
        .iter()
        .map(|r| {
            let x = weight * r;
            weight *= gamma;
            x
        })
        .collect();
    for h in (0..discounted.len().saturating_sub(1)).rev() {
        discounted[h] += discounted[h + 1];
    }
    discounted
}

/// Φ(θ;τ) = Σ_h G_h log π_θ(a_h|s_h).
pub fn surrogate(policy: &SoftmaxLinear, theta: &[f64], traj: &Trajectory, gamma: f64) -> f64 {
    let to_go = discounted_to_go(&traj.rewards, gamma);
    (0..traj.len())
        .map(|h| to_go[h] * policy.log_prob(theta, traj.phi(h, policy.dim), traj.actions[h]))
        .sum()
}

/// The GPOMDP gradient g(τ,θ) = ∇Φ(θ;τ).
pub fn gpomdp(policy: &SoftmaxLinear, theta: &[f64], traj: &Trajectory, gamma: f64) -> Vec<f64> {
    let to_go = discounted_to_go(&traj.rewards, gamma);
    weighted_scores(policy, theta, traj, &to_go)
}

/// ψ(θ;τ) = Σ_h ∇log π_θ(a_h|s_h).
pub fn score_sum(policy: &SoftmaxLinear, theta: &[f64], traj: &Trajectory) -> Vec<f64> {
    weighted_scores(policy, theta, traj, &vec![1.0; traj.len()])
}

/// ∇²Φ(θ;τ) v = Σ_h G_h ∇²log π_θ(·|s_h) v.
pub fn surrogate_hessian_vector(
    policy: &SoftmaxLinear,
    theta: &[f64],
    traj: &Trajectory,
    gamma: f64,
    v: &[f64],
) -> Vec<f64> {
    let to_go = discounted_to_go(&traj.rewards, gamma);
    let mut out = vec![0.0; policy.n_params()];
    let mut probs = vec![0.0; policy.actions];
    for (h, g) in to_go.iter().enumerate() {
        let phi = traj.phi(h, policy.dim);
        policy.probs(theta, phi, &mut probs);
        policy.add_hessian_vector(&probs, phi, v, *g, &mut out);
    }
    out
}

/// B(τ,θ) v = ∇Φ (ψᵀv) + ∇²Φ v: the Hessian-aided correction of HARPG.
pub fn hessian_estimate_vector(
    policy: &SoftmaxLinear,
    theta: &[f64],
    traj: &Trajectory,
    gamma: f64,
    v: &[f64],
) -> Vec<f64> {
    let grad = gpomdp(policy, theta, traj, gamma);
    let psi_v = dot(&score_sum(policy, theta, traj), v);
    let mut out = surrogate_hessian_vector(policy, theta, traj, gamma, v);
    for (o, g) in out.iter_mut().zip(&grad) {
        *o += g * psi_v;
    }
    out
}

/// Σ_h w_h ∇log π_θ(a_h|s_h).
fn weighted_scores(
    policy: &SoftmaxLinear,
    theta: &[f64],
    traj: &Trajectory,
    weights: &[f64],
) -> Vec<f64> {
    let mut out = vec![0.0; policy.n_params()];
    let mut probs = vec![0.0; policy.actions];
    for (h, w) in weights.iter().enumerate() {
        let phi = traj.phi(h, policy.dim);
        policy.probs(theta, phi, &mut probs);
        policy.add_score(&probs, phi, traj.actions[h], *w, &mut out);
    }
    out
}
