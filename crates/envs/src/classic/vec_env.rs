//! [`VecEnv`]: N copies of one environment stepped together, for on-policy rollouts
//! (`algorithms/ppo-baseline.md`: N envs x T steps, bootstrap on truncation with V(s_final)).
//!
//! Autoreset is same-step, as in SB3 and CleanRL: when an episode ends, the environment is reset
//! inside the same `step`, the returned observation is the reset one, and the observation that
//! ended the episode is kept in `final_obs` for bootstrapping. Buffers are flat and allocated
//! once: stepping never allocates (the list of completed episodes reuses its capacity).
//!
//! `VecEnv<CartPole>` (any concrete `E`) compiles to a monomorphic loop with the environment's
//! step inlined; `VecEnv<Box<dyn Env>>` (from [`make_vec`]) picks the environment at run time.
use super::error::EnvError;
use super::{make_with_limit, spec, ActionRef, Env, Space};

/// A batch of actions, one per environment, flat: `[num_envs]` for discrete spaces,
/// `[num_envs * action_dim]` for continuous ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VecActions<'a> {
    Discrete(&'a [i64]),
    Continuous(&'a [f32]),
}

/// An episode that ended during the last step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodeStats {
    /// Which environment of the vector it ran in.
    pub env_index: usize,
    /// Undiscounted sum of rewards.
    pub episode_return: f64,
    /// Number of steps.
    pub length: u32,
    pub terminated: bool,
    pub truncated: bool,
}

/// The buffers filled by [`VecEnv::step`], borrowed until the next call.
#[derive(Debug, Clone, Copy)]
pub struct VecStep<'a> {
    /// `[num_envs * obs_dim]`: the observation to act on next; for an environment whose episode
    /// just ended, the first observation of the new episode.
    pub obs: &'a [f32],
    /// `[num_envs * obs_dim]`: the observation this step produced, before any autoreset. It
    /// differs from `obs` only where `terminated || truncated`; bootstrap truncated episodes
    /// with its value.
    pub final_obs: &'a [f32],
    /// `[num_envs]`
    pub rewards: &'a [f64],
    /// `[num_envs]`
    pub terminated: &'a [bool],
    /// `[num_envs]`
    pub truncated: &'a [bool],
    /// The episodes that ended in this step, in environment order.
    pub completed_episodes: &'a [EpisodeStats],
}

/// N copies of one environment with flat buffers and same-step autoreset.
pub struct VecEnv<E: Env = Box<dyn Env>> {
    envs: Vec<E>,
    id: &'static str,
    obs_dim: usize,
    action_space: Space,
    obs: Vec<f32>,
    final_obs: Vec<f32>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    episode_returns: Vec<f64>,
    episode_lengths: Vec<u32>,
    completed: Vec<EpisodeStats>,
    needs_reset: bool,
}

/// `num_envs` copies of the environment registered as `id`, with its registered time limit.
pub fn make_vec(id: &str, num_envs: usize) -> Result<VecEnv, EnvError> {
    make_vec_with_limit(id, num_envs, spec(id)?.max_episode_steps)
}

/// `num_envs` copies of the environment registered as `id`, truncating after
/// `max_episode_steps`.
pub fn make_vec_with_limit(
    id: &str,
    num_envs: usize,
    max_episode_steps: u32,
) -> Result<VecEnv, EnvError> {
    let envs = (0..num_envs)
        .map(|_| make_with_limit(id, max_episode_steps))
        .collect::<Result<Vec<_>, _>>()?;
    VecEnv::new(envs)
}

impl<E: Env> VecEnv<E> {
    /// Wraps `envs`, which must be non-empty copies of one environment (same id and spaces).
    /// Call [`VecEnv::reset`] before the first step.
    pub fn new(envs: Vec<E>) -> Result<Self, EnvError> {
        let first = envs.first().ok_or_else(|| EnvError::InvalidVecEnv {
            reason: "no environments".into(),
        })?;
        let (id, obs_dim, action_space) = (first.id(), first.obs_dim(), first.action_space());
        if let Some((i, other)) = envs
            .iter()
            .enumerate()
            .find(|(_, e)| e.id() != id || e.action_space() != action_space)
        {
            return Err(EnvError::InvalidVecEnv {
                reason: format!(
                    "environment 0 is {id} but environment {i} is {}",
                    other.id()
                ),
            });
        }
        let n = envs.len();
        Ok(VecEnv {
            envs,
            id,
            obs_dim,
            action_space,
            obs: vec![0.0; n * obs_dim],
            final_obs: vec![0.0; n * obs_dim],
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            episode_returns: vec![0.0; n],
            episode_lengths: vec![0; n],
            completed: Vec::with_capacity(n),
            needs_reset: true,
        })
    }

    pub fn id(&self) -> &'static str {
        self.id
    }

    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Numbers per environment in a [`VecActions`] batch: 1 for discrete spaces.
    pub fn action_dim(&self) -> usize {
        self.action_space.flat_dim()
    }

    /// The space of one environment's observation.
    pub fn observation_space(&self) -> Space {
        self.envs[0].observation_space()
    }

    /// The space of one environment's action.
    pub fn action_space(&self) -> &Space {
        &self.action_space
    }

    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// `[num_envs * obs_dim]`: the current observations.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }

    /// Resets every environment; with a seed, environment `i` is seeded with `seed + i`
    /// (wrapping), as Gymnasium's vector environments do. Later autoresets continue each
    /// environment's stream, so one seed fixes the whole run. Returns the observations.
    pub fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        for (i, (env, row)) in self
            .envs
            .iter_mut()
            .zip(self.obs.chunks_exact_mut(self.obs_dim))
            .enumerate()
        {
            env.reset_into(seed.map(|s| s.wrapping_add(i as u64)), row);
        }
        self.final_obs.copy_from_slice(&self.obs);
        self.rewards.fill(0.0);
        self.terminated.fill(false);
        self.truncated.fill(false);
        self.episode_returns.fill(0.0);
        self.episode_lengths.fill(0);
        self.completed.clear();
        self.needs_reset = false;
        &self.obs
    }

    /// Steps every environment with its action, resetting those whose episode ends. The whole
    /// batch is checked first, so on error no environment has moved.
    pub fn step(&mut self, actions: VecActions<'_>) -> Result<VecStep<'_>, EnvError> {
        if self.needs_reset {
            return Err(EnvError::ResetNeeded {
                env: self.id,
                reason: super::ResetReason::NeverReset,
            });
        }
        let n = self.envs.len();
        let dim = self.action_space.flat_dim();
        match (actions, &self.action_space) {
            (VecActions::Discrete(a), Space::Discrete { n: num_actions }) => {
                check_batch_len(self.id, n, n, a.len())?;
                if let Some((index, &action)) = a
                    .iter()
                    .enumerate()
                    .find(|(_, &x)| !(0..*num_actions as i64).contains(&x))
                {
                    let source = EnvError::ActionOutOfRange {
                        env: self.id,
                        action,
                        n: *num_actions,
                    };
                    return Err(EnvError::InVecEnv {
                        index,
                        source: Box::new(source),
                    });
                }
                self.step_all(|i| ActionRef::Discrete(a[i]))
            }
            (VecActions::Continuous(a), Space::Box { .. }) => {
                check_batch_len(self.id, n, n * dim, a.len())?;
                if let Some((flat, &value)) = a.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                    let source = EnvError::NonFiniteAction {
                        env: self.id,
                        index: flat % dim,
                        value,
                    };
                    return Err(EnvError::InVecEnv {
                        index: flat / dim,
                        source: Box::new(source),
                    });
                }
                self.step_all(|i| ActionRef::Continuous(&a[i * dim..(i + 1) * dim]))
            }
            (VecActions::Discrete(_), _) => Err(EnvError::WrongActionKind {
                env: self.id,
                expected: super::ActionKind::Continuous,
                got: super::ActionKind::Discrete,
            }),
            (VecActions::Continuous(_), _) => Err(EnvError::WrongActionKind {
                env: self.id,
                expected: super::ActionKind::Discrete,
                got: super::ActionKind::Continuous,
            }),
        }
    }

    /// The loop itself, generic over how to fetch action `i` so that each action kind gets its
    /// own monomorphic copy.
    #[inline(always)]
    fn step_all<'a>(
        &mut self,
        action: impl Fn(usize) -> ActionRef<'a>,
    ) -> Result<VecStep<'_>, EnvError> {
        self.completed.clear();
        let rows = self
            .obs
            .chunks_exact_mut(self.obs_dim)
            .zip(self.final_obs.chunks_exact_mut(self.obs_dim));
        for (i, (env, (row, final_row))) in self.envs.iter_mut().zip(rows).enumerate() {
            let t = match env.step_into(action(i), final_row) {
                Ok(t) => t,
                Err(e) => {
                    // Unreachable after the batch check, but if it happens some environments
                    // have moved and others not: force a reset rather than continue skewed.
                    self.needs_reset = true;
                    return Err(EnvError::InVecEnv {
                        index: i,
                        source: Box::new(e),
                    });
                }
            };
            self.rewards[i] = t.reward;
            self.terminated[i] = t.terminated;
            self.truncated[i] = t.truncated;
            self.episode_returns[i] += t.reward;
            self.episode_lengths[i] += 1;
            if t.terminated || t.truncated {
                self.completed.push(EpisodeStats {
                    env_index: i,
                    episode_return: self.episode_returns[i],
                    length: self.episode_lengths[i],
                    terminated: t.terminated,
                    truncated: t.truncated,
                });
                self.episode_returns[i] = 0.0;
                self.episode_lengths[i] = 0;
                env.reset_into(None, row);
            } else {
                row.copy_from_slice(final_row);
            }
        }
        Ok(VecStep {
            obs: &self.obs,
            final_obs: &self.final_obs,
            rewards: &self.rewards,
            terminated: &self.terminated,
            truncated: &self.truncated,
            completed_episodes: &self.completed,
        })
    }
}

fn check_batch_len(
    env: &'static str,
    num_envs: usize,
    expected: usize,
    got: usize,
) -> Result<(), EnvError> {
    if expected == got {
        Ok(())
    } else {
        Err(EnvError::WrongBatchSize {
            env,
            num_envs,
            expected,
            got,
        })
    }
}
