//! Running a [`Behaviour`] in an environment: collecting transitions into an
//! [`OfflineDataset`] (§3: reset seeds `seed_base + episode_index`, a separate policy stream, a
//! partial final episode kept with `timeouts = 1`), and evaluating episode returns.
use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::behaviour::{Behaviour, Chosen};
use super::dataset::{Actions, OfflineDataset};
use super::error::OfflineError;
use crate::classic::{make, ActionRef, Env};

/// A stretch of a dataset acted by one behaviour.
#[derive(Debug, Clone)]
pub struct Stage {
    pub behaviour: Behaviour,
    /// Transitions this stage contributes.
    pub transitions: usize,
    /// Stored in `policy_id` for each of its transitions.
    pub policy_id: u8,
}

/// Seeds of one collection: episode `i` resets with `reset_seed_base + i`; the policy draws
/// from `ChaCha8Rng::seed_from_u64(policy_seed)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    pub reset_seed_base: u64,
    pub policy_seed: u64,
}

fn step(
    env: &mut dyn Env,
    behaviour: &Behaviour,
    rng: &mut ChaCha8Rng,
    next_obs: &mut [f32],
) -> Result<(Chosen, crate::classic::Transition), OfflineError> {
    let chosen = behaviour.act(&env.state(), rng)?;
    let transition = match chosen {
        Chosen::Discrete(a) => env.step_into(ActionRef::Discrete(a), next_obs)?,
        Chosen::Continuous { action, .. } => {
            env.step_into(ActionRef::Continuous(&[action]), next_obs)?
        }
    };
    Ok((chosen, transition))
}

/// Collects `sum(stage.transitions)` transitions of `env_id`, stages in order; an episode runs
/// on across a stage boundary (the behaviour changes mid-episode, as a learner's would).
/// `progress` is called with the number of transitions done, every 4096 and at the end.
pub fn collect(
    env_id: &str,
    stages: &[Stage],
    seeds: Seeds,
    progress: &mut dyn FnMut(usize),
) -> Result<OfflineDataset, OfflineError> {
    let mut env = make(env_id)?;
    let obs_dim = env.obs_dim();
    let n: usize = stages.iter().map(|s| s.transitions).sum();
    let discrete = stages.first().is_none_or(|s| s.behaviour.is_discrete());
    let mut d = OfflineDataset {
        obs_dim,
        act_dim: 1,
        observations: Vec::with_capacity(n * obs_dim),
        actions: if discrete {
            Actions::Discrete(Vec::with_capacity(n))
        } else {
            Actions::Continuous(Vec::with_capacity(n))
        },
        rewards: Vec::with_capacity(n),
        next_observations: Vec::with_capacity(n * obs_dim),
        terminals: Vec::with_capacity(n),
        timeouts: Vec::with_capacity(n),
        episode_id: Vec::with_capacity(n),
        step_in_episode: Vec::with_capacity(n),
        policy_id: Vec::with_capacity(n),
        logp: (!discrete).then(|| Vec::with_capacity(n)),
        metadata: BTreeMap::new(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seeds.policy_seed);
    let mut obs = vec![0.0f32; obs_dim];
    let mut next_obs = vec![0.0f32; obs_dim];
    let mut episode: i64 = 0;
    let mut t_in_episode: i32 = 0;
    env.reset_into(Some(seeds.reset_seed_base), &mut obs);
    for stage in stages {
        for _ in 0..stage.transitions {
            let (chosen, tr) = step(env.as_mut(), &stage.behaviour, &mut rng, &mut next_obs)?;
            d.observations.extend_from_slice(&obs);
            match (&mut d.actions, chosen) {
                (Actions::Discrete(a), Chosen::Discrete(x)) => a.push(x),
                (Actions::Continuous(a), Chosen::Continuous { action, logp }) => {
                    a.push(action);
                    if let Some(l) = d.logp.as_mut() {
                        l.push(logp);
                    }
                }
                _ => {
                    return Err(OfflineError::Unsupported(
                        "stages mix discrete and continuous behaviours".into(),
                    ))
                }
            }
            d.rewards.push(tr.reward as f32);
            d.next_observations.extend_from_slice(&next_obs);
            d.terminals.push(u8::from(tr.terminated));
            d.timeouts.push(u8::from(tr.truncated && !tr.terminated));
            d.episode_id.push(episode);
            d.step_in_episode.push(t_in_episode);
            d.policy_id.push(stage.policy_id);
            t_in_episode += 1;
            if tr.terminated || tr.truncated {
                episode += 1;
                t_in_episode = 0;
                env.reset_into(Some(seeds.reset_seed_base + episode as u64), &mut obs);
            } else {
                obs.copy_from_slice(&next_obs);
            }
            if d.rewards.len().is_multiple_of(4096) {
                progress(d.rewards.len());
            }
        }
    }
    // The cut at N ends the partial last episode like a time limit (D4RL's convention).
    if let (Some(last), Some(timeout)) = (d.terminals.last(), d.timeouts.last_mut()) {
        if *last == 0 {
            *timeout = 1;
        }
    }
    progress(d.rewards.len());
    Ok(d)
}

/// Undiscounted returns of `episodes` complete episodes with reset seeds
/// `seeds.reset_seed_base + i` and one policy stream across them.
pub fn evaluate(
    env_id: &str,
    behaviour: &Behaviour,
    episodes: usize,
    seeds: Seeds,
) -> Result<Vec<f64>, OfflineError> {
    let mut env = make(env_id)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seeds.policy_seed);
    let mut next_obs = vec![0.0f32; env.obs_dim()];
    let mut returns = Vec::with_capacity(episodes);
    for i in 0..episodes {
        env.reset_into(Some(seeds.reset_seed_base + i as u64), &mut next_obs);
        let mut total = 0.0;
        loop {
            let (_, tr) = step(env.as_mut(), behaviour, &mut rng, &mut next_obs)?;
            total += tr.reward;
            if tr.terminated || tr.truncated {
                break;
            }
        }
        returns.push(total);
    }
    Ok(returns)
}

/// Mean and (population) standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}
