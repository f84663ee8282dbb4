//! Classic-control environments, bit-exact with Gymnasium 1.4.0 under NumPy 2 (spec:
//! `envs/classic-control.md`), and a vectorised wrapper for on-policy training.
//!
//! Map of the module:
//! - this file: the contract — [`Env`], [`Space`], [`ActionRef`], [`Transition`] / [`Step`],
//!   the registry ([`SPECS`], [`ENV_IDS`], [`make`], [`make_with_limit`]).
//! - [`cartpole`], [`acrobot`], [`mountain_car`], [`mountain_car_continuous`], [`pendulum`]: one
//!   environment each, with the dynamics written in Gymnasium's expression shapes.
//! - [`bandit`]: two one-step continuous bandits of the offline-RL specs (not Gymnasium), in
//!   [`EXTRA_SPECS`] / [`EXTRA_ENV_IDS`] so that [`make`] and [`make_vec`] know them.
//! - [`vec_env`]: [`VecEnv`], N copies stepped together into flat buffers, with same-step
//!   autoreset and episode statistics.
//! - [`error`]: [`EnvError`], the one error type.
//! - `numpy_trig`: NumPy's float32 `sin`/`cos` kernel, for Acrobot's first observation.
//! - `shared`: episode bookkeeping (`TimeLimit`), the reset RNG and action checks.
//!
//! # Contract (Gymnasium semantics, spec §0)
//! - `reset(Some(seed))` reseeds the environment's `ChaCha8Rng` and draws the initial state from
//!   Gymnasium's distribution (not NumPy's stream); `reset(None)` continues the stream; a never
//!   seeded environment takes its seed from the OS, as Gymnasium does.
//! - `step` returns `terminated` (the task's own end) and `truncated` (the time limit, counted
//!   as Gymnasium's `TimeLimit` does); both may be true. Stepping an ended episode (Gymnasium
//!   only warns) or before the first reset (Gymnasium raises) is [`EnvError::ResetNeeded`].
//! - `set_state` writes the internal state directly and starts a fresh episode, exactly like
//!   `reset` followed by `env.unwrapped.state = ...` in Python; the golden tests replay this way.
//!   Acrobot treats an all-f32-exact state as Gymnasium's float32 reset state (see its docs).
//! - Observations are f32, rewards f64 (Python floats), as in Gymnasium.
//! - The `*_into` methods write into caller buffers and never allocate; [`Env::reset`] and
//!   [`Env::step`] are allocating conveniences over them.
//!
//! Typed environments (`CartPole`, ...) give the compiler a monomorphic hot loop in
//! `VecEnv<CartPole>`; [`make`] gives a `Box<dyn Env>` chosen by id at run time.
pub mod acrobot;
pub mod bandit;
pub mod cartpole;
pub mod error;
pub mod mountain_car;
pub mod mountain_car_continuous;
mod numpy_trig;
pub mod pendulum;
mod shared;
pub mod vec_env;

pub use acrobot::Acrobot;
pub use bandit::{Bandit1D, BimodalBandit};
pub use cartpole::CartPole;
pub use error::{ActionKind, EnvError, ResetReason};
pub use mountain_car::MountainCar;
pub use mountain_car_continuous::MountainCarContinuous;
pub use pendulum::Pendulum;
pub use vec_env::{make_vec, make_vec_with_limit, EpisodeStats, VecActions, VecEnv, VecStep};

/// An observation or action space, as Gymnasium's `Discrete(n)` or `Box(low, high)` (f32).
#[derive(Debug, Clone, PartialEq)]
pub enum Space {
    /// Actions `0..n`.
    Discrete { n: usize },
    /// A vector of f32 with per-component bounds; infinite bounds mean unbounded.
    Box { low: Vec<f32>, high: Vec<f32> },
}

impl Space {
    /// How many numbers one element of the space takes in a flat buffer: 1 for `Discrete`.
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Box { low, .. } => low.len(),
        }
    }
}

/// One action, borrowed: an index for discrete spaces, a slice for continuous ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActionRef<'a> {
    /// Signed so that a negative action reaches the range check instead of wrapping.
    Discrete(i64),
    Continuous(&'a [f32]),
}

/// What a step returns besides the observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    pub reward: f64,
    /// The episode reached a terminal state of the task (bootstrap with 0).
    pub terminated: bool,
    /// The time limit ended the episode (bootstrap with the value of the final observation).
    pub truncated: bool,
}

/// A step with its observation, from the allocating [`Env::step`].
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub obs: Vec<f32>,
    pub reward: f64,
    pub terminated: bool,
    pub truncated: bool,
}

/// A classic-control environment with Gymnasium's `TimeLimit` built in.
pub trait Env: Send {
    /// The Gymnasium id, e.g. `"CartPole-v1"`.
    fn id(&self) -> &'static str;
    fn observation_space(&self) -> Space;
    fn action_space(&self) -> Space;
    /// Length of an observation, i.e. of the buffers the `*_into` methods write.
    fn obs_dim(&self) -> usize;
    /// The time limit in force (the registered one unless overridden).
    fn max_episode_steps(&self) -> u32;
    /// Steps taken in the current episode.
    fn elapsed_steps(&self) -> u32;

    /// Starts an episode and writes its first observation into `obs`.
    ///
    /// # Panics
    /// If `obs.len() != self.obs_dim()`.
    fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]);

    /// Applies `action` and writes the next observation into `obs`. On error nothing changes.
    ///
    /// # Panics
    /// If `obs.len() != self.obs_dim()`.
    fn step_into(&mut self, action: ActionRef<'_>, obs: &mut [f32])
        -> Result<Transition, EnvError>;

    /// Writes the observation of the current state into `obs`, e.g. after [`Env::set_state`].
    ///
    /// # Panics
    /// If `obs.len() != self.obs_dim()`.
    fn observe_into(&self, obs: &mut [f32]);

    /// The internal state (Gymnasium's `env.unwrapped.state`) as f64.
    fn state(&self) -> Vec<f64>;

    /// Sets the internal state and starts a fresh episode (elapsed steps 0), as `reset` would.
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError>;

    /// Allocating [`Env::reset_into`].
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        let mut obs = vec![0.0; self.obs_dim()];
        self.reset_into(seed, &mut obs);
        obs
    }

    /// Allocating [`Env::step_into`].
    fn step(&mut self, action: ActionRef<'_>) -> Result<Step, EnvError> {
        let mut obs = vec![0.0; self.obs_dim()];
        let Transition {
            reward,
            terminated,
            truncated,
        } = self.step_into(action, &mut obs)?;
        Ok(Step {
            obs,
            reward,
            terminated,
            truncated,
        })
    }

    /// Allocating [`Env::observe_into`].
    fn observation(&self) -> Vec<f32> {
        let mut obs = vec![0.0; self.obs_dim()];
        self.observe_into(&mut obs);
        obs
    }
}

impl<E: Env + ?Sized> Env for Box<E> {
    fn id(&self) -> &'static str {
        (**self).id()
    }
    fn observation_space(&self) -> Space {
        (**self).observation_space()
    }
    fn action_space(&self) -> Space {
        (**self).action_space()
    }
    fn obs_dim(&self) -> usize {
        (**self).obs_dim()
    }
    fn max_episode_steps(&self) -> u32 {
        (**self).max_episode_steps()
    }
    fn elapsed_steps(&self) -> u32 {
        (**self).elapsed_steps()
    }
    fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        (**self).reset_into(seed, obs)
    }
    fn step_into(
        &mut self,
        action: ActionRef<'_>,
        obs: &mut [f32],
    ) -> Result<Transition, EnvError> {
        (**self).step_into(action, obs)
    }
    fn observe_into(&self, obs: &mut [f32]) {
        (**self).observe_into(obs)
    }
    fn state(&self) -> Vec<f64> {
        (**self).state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        (**self).set_state(state)
    }
}

/// Registration data of an environment (Gymnasium's `EnvSpec`, the parts we use).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvSpec {
    pub id: &'static str,
    pub max_episode_steps: u32,
    /// The return at which the task counts as solved; Pendulum has none (spec §0.6).
    pub reward_threshold: Option<f64>,
}

/// Every registered environment, in Gymnasium's order.
pub const SPECS: [EnvSpec; 5] = [
    EnvSpec {
        id: CartPole::ID,
        max_episode_steps: CartPole::MAX_EPISODE_STEPS,
        reward_threshold: Some(475.0),
    },
    EnvSpec {
        id: Acrobot::ID,
        max_episode_steps: Acrobot::MAX_EPISODE_STEPS,
        reward_threshold: Some(-100.0),
    },
    EnvSpec {
        id: MountainCar::ID,
        max_episode_steps: MountainCar::MAX_EPISODE_STEPS,
        reward_threshold: Some(-110.0),
    },
    EnvSpec {
        id: MountainCarContinuous::ID,
        max_episode_steps: MountainCarContinuous::MAX_EPISODE_STEPS,
        reward_threshold: Some(90.0),
    },
    EnvSpec {
        id: Pendulum::ID,
        max_episode_steps: Pendulum::MAX_EPISODE_STEPS,
        reward_threshold: None,
    },
];

/// The ids [`make`] accepts.
pub const ENV_IDS: &[&str] = &[
    CartPole::ID,
    Acrobot::ID,
    MountainCar::ID,
    MountainCarContinuous::ID,
    Pendulum::ID,
];

/// One-step bandits of the offline-RL checks (`algorithms/a2pr.md`, `algorithms/expo.md`).
/// Kept out of [`SPECS`] / [`ENV_IDS`], which are the Gymnasium environments the golden and
/// reset-distribution tests cover.
pub const EXTRA_SPECS: [EnvSpec; 2] = [
    EnvSpec {
        id: Bandit1D::ID,
        max_episode_steps: Bandit1D::MAX_EPISODE_STEPS,
        reward_threshold: Some(0.95),
    },
    EnvSpec {
        id: BimodalBandit::ID,
        max_episode_steps: BimodalBandit::MAX_EPISODE_STEPS,
        reward_threshold: Some(0.95),
    },
];

/// The ids of [`EXTRA_SPECS`], which [`make`] also accepts.
pub const EXTRA_ENV_IDS: &[&str] = &[Bandit1D::ID, BimodalBandit::ID];

/// The registration data of `id`.
pub fn spec(id: &str) -> Result<&'static EnvSpec, EnvError> {
    SPECS
        .iter()
        .chain(EXTRA_SPECS.iter())
        .find(|s| s.id == id)
        .ok_or_else(|| EnvError::UnknownEnv { id: id.to_string() })
}

/// The environment registered as `id`, with its registered time limit.
pub fn make(id: &str) -> Result<Box<dyn Env>, EnvError> {
    make_with_limit(id, spec(id)?.max_episode_steps)
}

/// The environment registered as `id`, truncating after `max_episode_steps` (at least 1).
pub fn make_with_limit(id: &str, max_episode_steps: u32) -> Result<Box<dyn Env>, EnvError> {
    Ok(match spec(id)?.id {
        CartPole::ID => Box::new(CartPole::with_max_episode_steps(max_episode_steps)?),
        Acrobot::ID => Box::new(Acrobot::with_max_episode_steps(max_episode_steps)?),
        MountainCar::ID => Box::new(MountainCar::with_max_episode_steps(max_episode_steps)?),
        MountainCarContinuous::ID => Box::new(MountainCarContinuous::with_max_episode_steps(
            max_episode_steps,
        )?),
        Pendulum::ID => Box::new(Pendulum::with_max_episode_steps(max_episode_steps)?),
        Bandit1D::ID => Box::new(Bandit1D::with_max_episode_steps(max_episode_steps)?),
        BimodalBandit::ID => Box::new(BimodalBandit::with_max_episode_steps(max_episode_steps)?),
        _ => return Err(EnvError::UnknownEnv { id: id.to_string() }),
    })
}
