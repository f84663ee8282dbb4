//! One on-policy rollout: `N` environments for `T` steps with the actor's Rust snapshot, then
//! the critic's values for GAE in one batch of the learner's backend (ppo-baseline.md,
//! "Rollout").
//!
//! Buffers are time-major (`t * N + i`), the layout [`Trajectories`] expects. Observations are
//! stored normalised (when `env.norm_obs`), rewards scaled (when `env.norm_reward`); episode
//! statistics are always the raw returns.
use polopt_methods::credit::Trajectories;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::data_parallel::World;
use super::envs::{ControlEnvs, Finished};
use super::mlp::{ActScratch, ActorSnapshot, Head};
use super::normalize::{ObsNormalizer, RewardScaler};
use crate::error::TrainError;

/// The running normalisers, saved in checkpoints.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Normalizers {
    pub obs: Option<ObsNormalizer>,
    pub reward: Option<RewardScaler>,
}

impl Normalizers {
    /// `raw` normalised with the current statistics (a copy when observation norm is off).
    pub fn normalized(&self, raw: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(raw);
        if let Some(n) = &self.obs {
            n.normalize(raw, out);
        }
    }
}

pub struct RolloutBuffer {
    pub num_envs: usize,
    pub obs_dim: usize,
    pub action_dim: usize,
    /// `[T * N * obs_dim]`
    pub obs: Vec<f32>,
    /// `[T * N * action_dim]`, as sampled (before clipping to the action space).
    pub actions: Vec<f32>,
    /// `[T * N]`, scaled when reward normalisation is on.
    pub rewards: Vec<f64>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    /// Flat indices `t * N + i` of truncated steps, and their final observations
    /// (`[len * obs_dim]`), for the bootstrap.
    pub truncated_at: Vec<usize>,
    pub truncated_obs: Vec<f32>,
    /// `[N * obs_dim]`: the observations after the last step.
    pub last_obs: Vec<f32>,
    pub finished: Vec<Finished>,
}

impl RolloutBuffer {
    pub fn len(&self) -> usize {
        self.rewards.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
}

/// Clips a sampled action to the space before it is sent (Gaussian heads only).
pub fn env_action(head: &Head, sampled: &[f32], out: &mut [f32]) {
    out.copy_from_slice(sampled);
    if let Head::Gaussian { low, high, .. } = head {
        for ((a, &lo), &hi) in out.iter_mut().zip(low).zip(high) {
            *a = a.clamp(lo, hi);
        }
    }
}

/// Steps the environments `steps` times with actions sampled from `actor`. `rngs` holds one
/// stream shared by all environments, or one per environment (data-parallel runs, where each
/// rank holds some of the environments and must draw what one process would draw for them).
pub fn collect(
    actor: &ActorSnapshot,
    head: &Head,
    envs: &mut ControlEnvs,
    norms: &mut Normalizers,
    rngs: &mut [ChaCha8Rng],
    steps: usize,
    world: Option<&World>,
) -> Result<RolloutBuffer, TrainError> {
    let (n, od, ad) = (envs.num_envs(), envs.obs_dim, envs.action_dim);
    let mut buf = RolloutBuffer {
        num_envs: n,
        obs_dim: od,
        action_dim: ad,
        obs: Vec::with_capacity(steps * n * od),
        actions: Vec::with_capacity(steps * n * ad),
        rewards: Vec::with_capacity(steps * n),
        terminated: Vec::with_capacity(steps * n),
        truncated: Vec::with_capacity(steps * n),
        truncated_at: Vec::new(),
        truncated_obs: Vec::new(),
        last_obs: Vec::new(),
        finished: Vec::new(),
    };
    let mut scratch = ActScratch::default();
    let mut current = Vec::new();
    let mut sent = vec![0f32; n * ad];
    let mut row = Vec::new();
    norms.normalized(&envs.obs, &mut current);
    for t in 0..steps {
        buf.obs.extend_from_slice(&current);
        for i in 0..n {
            let start = buf.actions.len();
            buf.actions.resize(start + ad, 0.0);
            let shared = rngs.len() == 1;
            let Some(rng) = rngs.get_mut(if shared { 0 } else { i }) else {
                return Err(TrainError::Task(format!(
                    "{} sampling streams for {n} environments",
                    rngs.len()
                )));
            };
            actor.act(
                &current[i * od..(i + 1) * od],
                rng,
                false,
                &mut scratch,
                &mut buf.actions[start..],
            );
            env_action(head, &buf.actions[start..], &mut sent[i * ad..(i + 1) * ad]);
        }
        envs.step(&sent)?;
        buf.finished.extend_from_slice(&envs.finished);
        let done: Vec<bool> = (0..n)
            .map(|i| envs.terminated[i] || envs.truncated[i])
            .collect();
        // The running statistics see every environment of the run: on a data-parallel rank,
        // all ranks' rows gathered (data_parallel.rs), so every rank keeps the same normalisers.
        let normalising = norms.obs.is_some() || norms.reward.is_some();
        let gathered = match world {
            Some(w) if w.world_size() > 1 && normalising => {
                Some(w.gather_step(&envs.obs, &envs.rewards, &done)?)
            }
            _ => None,
        };
        let (all_obs, all_rewards, all_done) = match &gathered {
            Some((o, r, d)) => (&o[..], &r[..], &d[..]),
            None => (&envs.obs[..], &envs.rewards[..], &done[..]),
        };
        if let Some(obs_norm) = &mut norms.obs {
            // SB3 VecNormalize: the statistics see every observation returned by `step`.
            obs_norm.update(all_obs);
        }
        let mut rewards = envs.rewards.clone();
        if let Some(scaler) = &mut norms.reward {
            let mut scaled = all_rewards.to_vec();
            scaler.scale(&mut scaled, all_done);
            let first = match (&gathered, world) {
                (Some(_), Some(w)) => w.shard.envs.start,
                _ => 0,
            };
            rewards.copy_from_slice(&scaled[first..first + n]);
        }
        for i in 0..n {
            if envs.truncated[i] {
                buf.truncated_at.push(t * n + i);
                norms.normalized(&envs.final_obs[i * od..(i + 1) * od], &mut row);
                buf.truncated_obs.extend_from_slice(&row);
            }
        }
        buf.rewards.extend_from_slice(&rewards);
        buf.terminated.extend_from_slice(&envs.terminated);
        buf.truncated.extend_from_slice(&envs.truncated);
        norms.normalized(&envs.obs, &mut current);
    }
    buf.last_obs = current;
    Ok(buf)
}

/// The critic's view of a rollout: `V(s_t)` and the bootstrap `V` of what each step produced.
pub struct CriticValues {
    pub values: Vec<f64>,
    pub next_values: Vec<f64>,
}

impl CriticValues {
    pub fn trajectories<'a>(&'a self, buf: &'a RolloutBuffer) -> Trajectories<'a> {
        Trajectories {
            values: &self.values,
            next_values: &self.next_values,
            terminated: &buf.terminated,
            truncated: &buf.truncated,
            num_envs: buf.num_envs,
        }
    }
}

pub fn rows_tensor(flat: &[f32], dim: usize) -> Tensor {
    Tensor::from_slice(flat).view([(flat.len() / dim.max(1)) as i64, dim as i64])
}

/// Values of every stored observation, of the truncated steps' final observations and of the
/// last observations, arranged as GAE's `values` / `next_values`; `value_fn` maps rows of
/// observations (`[B * obs_dim]`) to `V(s)`.
pub fn critic_values(
    mut value_fn: impl FnMut(&[f32]) -> Vec<f64>,
    buf: &RolloutBuffer,
) -> CriticValues {
    let n = buf.num_envs;
    let values = value_fn(&buf.obs);
    let last = value_fn(&buf.last_obs);
    let truncated = value_fn(&buf.truncated_obs);
    let len = values.len();
    let mut next_values: Vec<f64> = (0..len)
        .map(|k| {
            if k + n < len {
                values[k + n]
            } else {
                last.get(k + n - len).copied().unwrap_or(0.0)
            }
        })
        .collect();
    // Where an episode ended the next row is a new episode: terminal steps bootstrap with 0
    // (GAE ignores the value), truncated ones with V(final_obs).
    for (k, slot) in next_values.iter_mut().enumerate() {
        if buf.terminated[k] {
            *slot = 0.0;
        }
    }
    for (j, &k) in buf.truncated_at.iter().enumerate() {
        if !buf.terminated[k] {
            next_values[k] = truncated[j];
        }
    }
    CriticValues {
        values,
        next_values,
    }
}
