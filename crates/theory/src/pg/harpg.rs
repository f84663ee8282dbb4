//! (N)-HARPG (npg-igt-harpg.md): STORM-like recursive momentum whose correction is a
//! Hessian-vector product at a random point between the last two iterates, so the recursion
//! stays unbiased without importance weights:
//! ```text
//! d_0 = g(τ_0, θ_0);  for t ≥ 1:
//!   q_t ~ U[0,1],  θ̂_t = q_t θ_t + (1−q_t) θ_{t−1},  τ̂_t ~ π_{θ̂_t},  τ_t ~ π_{θ_t}
//!   v_t = B(τ̂_t, θ̂_t)(θ_t − θ_{t−1})
//!   d_t = (1−η_t)(d_{t−1} + v_t) + η_t g(τ_t, θ_t)
//!   N-HARPG: θ_{t+1} = θ_t + γ_t d_t/‖d_t‖     HARPG: θ_{t+1} = θ_t + γ d_t
//! ```
//! with η_t = 2/(t+2) and γ_t = γ_0·2/(t+2) (N-HARPG) or a constant γ (HARPG), as the spec
//! recommends. With a batch, each of the `hessian_batch` trajectories τ̂ draws its own q and is
//! sampled at its own θ̂ (independent unbiased estimates, averaged), and g is the batch mean.
//! An iteration thus costs `batch + hessian_batch` trajectories (the paper's "2 per iteration").
use rand::RngExt;

use super::estimators::hessian_estimate_vector;
use super::harness::Harness;
use super::{momentum_weight, normalized_step, step_length};
use crate::{rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// d_t = (1−η)(d_{t−1} + v) + η g.
pub fn harpg_direction(d_prev: &[f64], v: &[f64], g: &[f64], eta: f64) -> Vec<f64> {
    d_prev
        .iter()
        .zip(v)
        .zip(g)
        .map(|((d, v), g)| (1.0 - eta) * (d + v) + eta * g)
        .collect()
}

/// `nharpg-*`: normalized steps γ_0·2/(t+2).
pub fn run_normalized(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, true)
}

/// `harpg-*`: plain steps γ·d_t with a constant γ.
pub fn run_plain(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, false)
}

fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
    normalized: bool,
) -> Result<TheoryRun, TheoryError> {
    let mut h = Harness::new(spec, settings)?;
    // N-HARPG's γ_0 is a length in parameter space; HARPG's γ multiplies the raw direction.
    // CartPole defaults: the best by mean training return on tuning seeds 100–104 (γ_0 from
    // {0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 1, 3}, γ from {3e-5, 1e-4, 3e-4, 5e-4, 1e-3, ..., 3e-2});
    // bandit defaults: a first step about as long as N-PG-IGT's (docs/methods/npg_igt_harpg.md).
    let step = match (normalized, h.is_bandit()) {
        (true, true) => settings.f64("step0", 1.0, 0.0, 1e6)?,
        (true, false) => settings.f64("step0", 0.6, 0.0, 1e6)?,
        (false, true) => settings.f64("lr", 3.0, 0.0, 1e6)?,
        (false, false) => settings.f64("lr", 5e-4, 0.0, 1e6)?,
    };
    let power = settings.f64("momentum_power", 1.0, 0.0, 1.0)?;
    let hessian_batch = settings.usize("hessian_batch", h.batch, 1, 100_000)?;
    settings.finish()?;
    let mut q_rng = rng(spec.seed, "hessian-point");

    let mut theta = h.initial_theta();
    let mut theta_prev = theta.clone();
    let mut d: Vec<f64> = Vec::new();
    for t in 0..spec.steps {
        let (g, batch_return) = h.batch_gradient(&theta);
        if t == 0 {
            d = g;
        } else {
            let delta: Vec<f64> = theta.iter().zip(&theta_prev).map(|(x, p)| x - p).collect();
            let mut v = vec![0.0; theta.len()];
            for _ in 0..hessian_batch {
                let q: f64 = q_rng.random();
                let point: Vec<f64> = theta_prev
                    .iter()
                    .zip(&delta)
                    .map(|(p, dl)| p + q * dl)
                    .collect();
                let traj = h.sample(&point);
                let bv = hessian_estimate_vector(&h.policy, &point, &traj, h.gamma, &delta);
                for (vi, x) in v.iter_mut().zip(bv) {
                    *vi += x / hessian_batch as f64;
                }
            }
            d = harpg_direction(&d, &v, &g, momentum_weight(t, power));
        }
        let next = if normalized {
            normalized_step(&theta, &d, step_length(t, step))
        } else {
            theta.iter().zip(&d).map(|(x, y)| x + step * y).collect()
        };
        theta_prev = std::mem::replace(&mut theta, next);
        h.record(t, &theta, batch_return, progress)?;
    }
    Ok(h.finish(&theta))
}
