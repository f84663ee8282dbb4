//! EXPO's edit policy π_φ(δ | s, a): a tanh-Gaussian over δ ∈ (−1, 1)^k conditioned on the
//! state and the base action, applied as ã = clip(a + βδ, −1, 1) (spec §Method 3).
//!
//! The density of the *scaled* edit βδ is what the entropy terms use:
//! log p(βδ) = log π_φ(δ) − k log β, with log π_φ(δ) = Σ_i [log N(u_i; μ_i, σ_i²)
//! − log(1 − tanh²(u_i) + 1e-6)] for δ = tanh(u) (SAC's change of variables).
use std::f64::consts::PI;

use tch::nn::{Module, VarStore};
use tch::{Device, Tensor};

use super::params::{Activation, Mlp};

/// log σ is clamped to this range, as in SAC implementations.
const LOG_STD_RANGE: (f64, f64) = (-5.0, 2.0);

/// log π_φ(tanh u) for raw samples `u: [B, k]` of N(mean, exp(log_std)²) → `[B]`.
pub fn tanh_gaussian_log_prob(u: &Tensor, mean: &Tensor, log_std: &Tensor) -> Tensor {
    let z = (u - mean) / log_std.exp();
    let gaussian = z.square() * -0.5 - log_std - 0.5 * (2.0 * PI).ln();
    let jacobian = (-u.tanh().square() + (1.0 + 1e-6)).log();
    (gaussian - jacobian).sum_dim_intlist(-1, false, u.kind())
}

/// log p(βδ) = log π_φ(δ) − k log β: the log-density of the edit as added to the action.
pub fn scaled_log_prob(log_prob: &Tensor, act_dim: i64, beta: f64) -> Tensor {
    log_prob - act_dim as f64 * beta.ln()
}

/// ã = clip(a + β tanh(u), −1, 1).
pub fn apply_edit(actions: &Tensor, u: &Tensor, beta: f64) -> Tensor {
    (actions + u.tanh() * beta).clamp(-1.0, 1.0)
}

/// A sampled edit: raw `u`, δ = tanh(u) and log p(βδ) (scaled), all `[B, k]` / `[B]`.
pub struct EditSample {
    pub u: Tensor,
    pub delta: Tensor,
    pub log_prob: Tensor,
}

pub struct EditPolicy {
    pub vs: VarStore,
    net: Mlp,
    pub act_dim: i64,
}

impl EditPolicy {
    pub fn new(obs_dim: i64, act_dim: i64, hidden: &[i64]) -> Self {
        let vs = VarStore::new(Device::Cpu);
        let net = Mlp::new(
            &vs.root(),
            obs_dim + act_dim,
            hidden,
            2 * act_dim,
            Activation::Relu,
        );
        EditPolicy { vs, net, act_dim }
    }

    /// Mean and clamped log σ of u, each `[B, k]`.
    pub fn distribution(&self, obs: &Tensor, actions: &Tensor) -> (Tensor, Tensor) {
        let out = self.net.forward(&Tensor::cat(
            &[obs.shallow_clone(), actions.shallow_clone()],
            1,
        ));
        let parts = out.chunk(2, 1);
        let log_std = parts[1].clamp(LOG_STD_RANGE.0, LOG_STD_RANGE.1);
        (parts[0].shallow_clone(), log_std)
    }

    /// A reparameterised edit for each row (gradients flow into φ).
    pub fn sample(&self, obs: &Tensor, actions: &Tensor, beta: f64) -> EditSample {
        let (mean, log_std) = self.distribution(obs, actions);
        let u = &mean + log_std.exp() * mean.randn_like();
        let log_prob = scaled_log_prob(
            &tanh_gaussian_log_prob(&u, &mean, &log_std),
            self.act_dim,
            beta,
        );
        EditSample {
            delta: u.tanh(),
            u,
            log_prob,
        }
    }
}
