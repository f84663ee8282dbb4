//! The training (and evaluation) environments: N classic-control environments stepped
//! together with same-step autoreset, like `polopt_envs::classic::VecEnv`, but with every
//! episode reset from its own derived seed so that the whole vector's state is small and
//! exactly restorable.
//!
//! Why not `VecEnv` itself: its autoresets continue each environment's private RNG stream,
//! which a checkpoint cannot capture through the `Env` trait. Here episode `k` of environment
//! `i` starts from `derive_seed(seed, tag, i << 32 | k)`, and the checkpoint stores only `k`
//! and the actions taken so far in the running episode; restoring replays them. The dynamics
//! are deterministic, so the replayed state is bit-identical, including the time-limit counter
//! and MountainCarContinuous's f32/f64 state type.
use polopt_envs::classic::{make_with_limit, spec, ActionRef, Env, EnvError, Space};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::seeds::derive_seed;

/// An episode that ended during the last step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finished {
    pub episode_return: f64,
    pub length: u32,
}

/// What a checkpoint needs to rebuild the environments mid-episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvsState {
    /// Episodes started so far, per environment (the running one included).
    pub episodes_started: Vec<u64>,
    /// Actions sent in the running episode, per environment, flat (`action_dim` per step;
    /// a discrete action as its index).
    pub actions: Vec<Vec<f32>>,
}

pub struct ControlEnvs {
    envs: Vec<Box<dyn Env>>,
    /// Global index of the first environment (a data-parallel rank holds a contiguous share);
    /// seeds use global indices, so the union of the shares is the one-process vector.
    first: usize,
    seed: u64,
    tag: &'static str,
    pub obs_dim: usize,
    pub action_dim: usize,
    discrete: bool,
    episodes_started: Vec<u64>,
    history: Vec<Vec<f32>>,
    episode_return: Vec<f64>,
    episode_len: Vec<u32>,
    /// `[N * obs_dim]`: observations to act on (after autoreset).
    pub obs: Vec<f32>,
    /// `[N * obs_dim]`: observations the last step produced, before autoreset.
    pub final_obs: Vec<f32>,
    pub rewards: Vec<f64>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    pub finished: Vec<Finished>,
}

impl ControlEnvs {
    /// `num_envs` copies of `id` (time limit `max_episode_steps`, 0 = registered), each reset
    /// from seeds derived from `(seed, tag)`.
    pub fn new(
        id: &str,
        num_envs: usize,
        max_episode_steps: u32,
        seed: u64,
        tag: &'static str,
    ) -> Result<Self, TrainError> {
        Self::share(id, 0..num_envs, max_episode_steps, seed, tag)
    }

    /// Environments `range` of the global vector (global indices pick their seeds).
    pub fn share(
        id: &str,
        range: std::ops::Range<usize>,
        max_episode_steps: u32,
        seed: u64,
        tag: &'static str,
    ) -> Result<Self, TrainError> {
        let (first, num_envs) = (range.start, range.len());
        let env_err = |e: EnvError| TrainError::Config(format!("config key `env.id`: {e}"));
        let limit = if max_episode_steps == 0 {
            spec(id).map_err(env_err)?.max_episode_steps
        } else {
            max_episode_steps
        };
        let envs = (0..num_envs)
            .map(|_| make_with_limit(id, limit))
            .collect::<Result<Vec<_>, _>>()
            .map_err(env_err)?;
        let env0 = envs
            .first()
            .ok_or_else(|| TrainError::Config("config key `env.num_envs` must be >= 1".into()))?;
        let obs_dim = env0.obs_dim();
        let (discrete, action_dim) = match env0.action_space() {
            Space::Discrete { .. } => (true, 1),
            Space::Box { low, .. } => (false, low.len()),
        };
        let mut out = Self {
            envs,
            first,
            seed,
            tag,
            obs_dim,
            action_dim,
            discrete,
            episodes_started: vec![0; num_envs],
            history: vec![Vec::new(); num_envs],
            episode_return: vec![0.0; num_envs],
            episode_len: vec![0; num_envs],
            obs: vec![0.0; num_envs * obs_dim],
            final_obs: vec![0.0; num_envs * obs_dim],
            rewards: vec![0.0; num_envs],
            terminated: vec![false; num_envs],
            truncated: vec![false; num_envs],
            finished: Vec::new(),
        };
        for i in 0..num_envs {
            out.reset_env(i);
        }
        Ok(out)
    }

    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    pub fn action_space(&self) -> Space {
        self.envs[0].action_space()
    }

    fn reset_env(&mut self, i: usize) {
        let k = self.episodes_started[i];
        let global = (self.first + i) as u64;
        let seed = derive_seed(self.seed, self.tag, global << 32 | k);
        self.episodes_started[i] = k + 1;
        self.history[i].clear();
        self.episode_return[i] = 0.0;
        self.episode_len[i] = 0;
        let row = &mut self.obs[i * self.obs_dim..(i + 1) * self.obs_dim];
        self.envs[i].reset_into(Some(seed), row);
    }

    fn step_env(&mut self, i: usize, action: &[f32]) -> Result<(bool, bool, f64), EnvError> {
        let row = &mut self.final_obs[i * self.obs_dim..(i + 1) * self.obs_dim];
        let t = if self.discrete {
            self.envs[i].step_into(ActionRef::Discrete(action[0] as i64), row)?
        } else {
            self.envs[i].step_into(ActionRef::Continuous(action), row)?
        };
        self.history[i].extend_from_slice(action);
        self.episode_return[i] += t.reward;
        self.episode_len[i] += 1;
        Ok((t.terminated, t.truncated, t.reward))
    }

    /// Steps every environment with its action (`[N * action_dim]`, already clipped to the
    /// action space), resetting those whose episode ends.
    pub fn step(&mut self, actions: &[f32]) -> Result<(), TrainError> {
        self.finished.clear();
        let d = self.action_dim;
        for i in 0..self.envs.len() {
            let (term, trunc, reward) = self
                .step_env(i, &actions[i * d..(i + 1) * d])
                .map_err(|e| TrainError::Task(format!("environment {i}: {e}")))?;
            self.rewards[i] = reward;
            self.terminated[i] = term;
            self.truncated[i] = trunc;
            let o = self.obs_dim;
            if term || trunc {
                self.finished.push(Finished {
                    episode_return: self.episode_return[i],
                    length: self.episode_len[i],
                });
                self.reset_env(i);
            } else {
                let (obs, fin) = (&mut self.obs, &self.final_obs);
                obs[i * o..(i + 1) * o].copy_from_slice(&fin[i * o..(i + 1) * o]);
            }
        }
        Ok(())
    }

    pub fn state(&self) -> EnvsState {
        EnvsState {
            episodes_started: self.episodes_started.clone(),
            actions: self.history.clone(),
        }
    }

    /// Rebuilds the running episodes of `state` by resetting from their seeds and replaying
    /// their actions.
    pub fn restore(&mut self, state: &EnvsState) -> Result<(), TrainError> {
        let n = self.envs.len();
        if state.episodes_started.len() != n || state.actions.len() != n {
            return Err(TrainError::Config(format!(
                "checkpoint holds {} environments, config env.num_envs = {n}",
                state.episodes_started.len()
            )));
        }
        for i in 0..n {
            self.episodes_started[i] = state.episodes_started[i].saturating_sub(1);
            self.reset_env(i);
            for (s, action) in state.actions[i].chunks(self.action_dim).enumerate() {
                let (term, trunc, _) = self
                    .step_env(i, action)
                    .map_err(|e| TrainError::Task(format!("replaying environment {i}: {e}")))?;
                if term || trunc {
                    return Err(TrainError::Task(format!(
                        "replaying environment {i}: the episode ended at step {s}, the checkpoint does not match this environment"
                    )));
                }
            }
            let o = self.obs_dim;
            let (obs, fin) = (&mut self.obs, &self.final_obs);
            if !state.actions[i].is_empty() {
                obs[i * o..(i + 1) * o].copy_from_slice(&fin[i * o..(i + 1) * o]);
            }
        }
        Ok(())
    }
}
