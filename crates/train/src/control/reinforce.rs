//! REINFORCE with a learned baseline (reinforce-ac-baseline.md): each update collects exactly
//! `algo.batch_episodes` whole episodes with one environment, so every return is a complete
//! reward-to-go `G_t` (a time-limit cut bootstraps with the critic, as everywhere else). The
//! weights `G_t - V(s_t)` come from GAE with lambda = 1, which is that difference exactly
//! (the preset sets lambda = 1); the update is one step of the score-function loss on the
//! actor and one MSE step on the baseline, each with its own Adam.
use rand_chacha::ChaCha8Rng;

use super::envs::ControlEnvs;
use super::mlp::{ActorSnapshot, Head};
use super::rollout::{collect, Normalizers, RolloutBuffer};
use crate::error::TrainError;

/// Steps one environment until `episodes` episodes have ended. The environment autoresets,
/// so the next call starts on a fresh episode too.
pub fn collect_episodes(
    actor: &ActorSnapshot,
    head: &Head,
    envs: &mut ControlEnvs,
    norms: &mut Normalizers,
    rng: &mut ChaCha8Rng,
    episodes: usize,
) -> Result<RolloutBuffer, TrainError> {
    let rngs = std::slice::from_mut(rng);
    let mut buf = collect(actor, head, envs, norms, rngs, 0, None)?;
    while buf.finished.len() < episodes {
        let step = collect(actor, head, envs, norms, rngs, 1, None)?;
        let offset = buf.rewards.len();
        buf.obs.extend_from_slice(&step.obs);
        buf.actions.extend_from_slice(&step.actions);
        buf.rewards.extend_from_slice(&step.rewards);
        buf.terminated.extend_from_slice(&step.terminated);
        buf.truncated.extend_from_slice(&step.truncated);
        buf.truncated_at
            .extend(step.truncated_at.iter().map(|k| k + offset));
        buf.truncated_obs.extend_from_slice(&step.truncated_obs);
        buf.finished.extend_from_slice(&step.finished);
        buf.last_obs = step.last_obs;
    }
    Ok(buf)
}
