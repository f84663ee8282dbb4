//! N-PG-IGT (npg-igt-harpg.md): normalized policy gradient whose momentum is evaluated at an
//! extrapolated point, "implicit gradient transport", so that the averaged gradients are
//! (to first order) all gradients at the current θ without importance weights:
//! ```text
//! θ̃_t = θ_t + ((1−η_t)/η_t)(θ_t − θ_{t−1})
//! d_t = (1−η_t) d_{t−1} + η_t g(τ_t, θ̃_t),  τ_t ~ π_{θ̃_t}
//! θ_{t+1} = θ_t + γ_t d_t/‖d_t‖
//! ```
//! with η_t = (2/(t+2))^{4/5}, γ_t = γ_0·2/(t+2) (the spec's recommended schedules), θ_{−1} = θ_0,
//! d_{−1} = 0. The baseline `npg-momentum-*` is the same loop without the extrapolation
//! (θ̃_t = θ_t): normalized PG with momentum, so the two differ only in IGT.
use super::harness::Harness;
use super::{momentum_weight, normalized_step, step_length};
use crate::{Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// γ_0 on both environments, and for the ablation: the best of {0.1, 0.3, 0.5, 0.7, 1, 3} by
/// mean training return on CartPole (tuning seeds 100–104, docs/methods/npg_igt_harpg.md); on
/// the bandit a first step as long as vanilla PG's first (lr 3 · ‖∇J(0)‖ ≈ 1).
const STEP0: f64 = 1.0;

/// The IGT point θ̃ = θ_t + ((1−η)/η)(θ_t − θ_{t−1}).
pub fn igt_point(theta: &[f64], theta_prev: &[f64], eta: f64) -> Vec<f64> {
    let k = (1.0 - eta) / eta;
    theta
        .iter()
        .zip(theta_prev)
        .map(|(x, p)| x + k * (x - p))
        .collect()
}

/// d_t = (1−η) d_{t−1} + η g.
pub fn momentum(d_prev: &[f64], g: &[f64], eta: f64) -> Vec<f64> {
    d_prev
        .iter()
        .zip(g)
        .map(|(d, x)| (1.0 - eta) * d + eta * x)
        .collect()
}

/// `npg-igt-*`.
pub fn run_igt(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, true)
}

/// `npg-momentum-*`: the ablation without extrapolation.
pub fn run_momentum(
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
    extrapolate: bool,
) -> Result<TheoryRun, TheoryError> {
    let mut h = Harness::new(spec, settings)?;
    let step0 = settings.f64("step0", STEP0, 0.0, 1e6)?;
    let power = settings.f64("momentum_power", 0.8, 0.0, 1.0)?;
    settings.finish()?;

    let mut theta = h.initial_theta();
    let mut theta_prev = theta.clone();
    let mut d = vec![0.0; theta.len()];
    for t in 0..spec.steps {
        let eta = momentum_weight(t, power);
        let point = if extrapolate {
            igt_point(&theta, &theta_prev, eta)
        } else {
            theta.clone()
        };
        let (g, batch_return) = h.batch_gradient(&point);
        d = momentum(&d, &g, eta);
        let next = normalized_step(&theta, &d, step_length(t, step0));
        theta_prev = std::mem::replace(&mut theta, next);
        h.record(t, &theta, batch_return, progress)?;
    }
    Ok(h.finish(&theta))
}
