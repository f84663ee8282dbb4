//! Vanilla policy gradient, the spec's baseline: θ_{t+1} = θ_t + α ĝ_t with ĝ_t the batch-mean
//! GPOMDP estimate at θ_t (REINFORCE with reward-to-go, no critic, no baseline, as in the
//! paper's comparison) and a constant step α.
use super::harness::Harness;
use crate::{Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// `vpg-*`.
pub fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    let mut h = Harness::new(spec, settings)?;
    // CartPole: the best of {3e-4, 1e-3, 3e-3, 1e-2, 3e-2} by mean training return on tuning
    // seeds 100–104; bandit: lr · ‖∇J(0)‖ ≈ 1, the normalized methods' first step length.
    let lr = settings.f64("lr", if h.is_bandit() { 3.0 } else { 3e-3 }, 0.0, 1e6)?;
    settings.finish()?;

    let mut theta = h.initial_theta();
    for t in 0..spec.steps {
        let (g, batch_return) = h.batch_gradient(&theta);
        for (x, gi) in theta.iter_mut().zip(&g) {
            *x += lr * gi;
        }
        h.record(t, &theta, batch_return, progress)?;
    }
    Ok(h.finish(&theta))
}
