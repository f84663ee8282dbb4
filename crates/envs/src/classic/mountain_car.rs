//! MountainCar-v0: drive an under-powered car up a hill by building momentum (spec §3; Gymnasium
//! `mountain_car.py`, float64 throughout).
use super::error::EnvError;
use super::shared::{checked_state, discrete_action, obs_row, Episode, ResetRng};
use super::{ActionRef, Env, Space, Transition};

pub(crate) const MIN_POSITION: f64 = -1.2;
pub(crate) const MAX_POSITION: f64 = 0.6;
pub(crate) const MAX_SPEED: f64 = 0.07;
const GOAL_POSITION: f64 = 0.5;
const GOAL_VELOCITY: f64 = 0.0;
const FORCE: f64 = 0.001;
const GRAVITY: f64 = 0.0025;

/// MountainCar-v0. State `[position, velocity]` in f64; observation the state as f32. Actions:
/// 0 pushes left, 1 does nothing, 2 pushes right. Reward -1 per step.
#[derive(Debug, Clone)]
pub struct MountainCar {
    state: [f64; 2],
    episode: Episode,
    rng: ResetRng,
}

impl MountainCar {
    pub const ID: &'static str = "MountainCar-v0";
    pub const MAX_EPISODE_STEPS: u32 = 200;
    pub const OBS_DIM: usize = 2;
    pub const NUM_ACTIONS: usize = 3;

    /// With the registered time limit of 200 steps.
    pub fn new() -> Self {
        MountainCar {
            state: [0.0; 2],
            episode: Episode::registered(Self::MAX_EPISODE_STEPS),
            rng: ResetRng::default(),
        }
    }

    pub fn with_max_episode_steps(max_episode_steps: u32) -> Result<Self, EnvError> {
        Ok(MountainCar {
            episode: Episode::new(Self::ID, max_episode_steps)?,
            ..Self::new()
        })
    }

    fn write_obs(&self, obs: &mut [f32]) {
        let [p, v] = self.state;
        *obs_row::<2>(Self::ID, obs) = [p as f32, v as f32];
    }
}

impl Default for MountainCar {
    fn default() -> Self {
        Self::new()
    }
}

impl Env for MountainCar {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![MIN_POSITION as f32, -MAX_SPEED as f32],
            high: vec![MAX_POSITION as f32, MAX_SPEED as f32],
        }
    }

    fn action_space(&self) -> Space {
        Space::Discrete {
            n: Self::NUM_ACTIONS,
        }
    }

    fn obs_dim(&self) -> usize {
        Self::OBS_DIM
    }

    fn max_episode_steps(&self) -> u32 {
        self.episode.max_steps
    }

    fn elapsed_steps(&self) -> u32 {
        self.episode.elapsed()
    }

    /// Position from U(-0.6, -0.4), velocity 0.
    fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.rng.reseed(seed);
        self.state = [self.rng.uniform(-0.6, -0.4), 0.0];
        self.episode.begin();
        self.write_obs(obs);
    }

    #[inline]
    fn step_into(
        &mut self,
        action: ActionRef<'_>,
        obs: &mut [f32],
    ) -> Result<Transition, EnvError> {
        self.episode.check_running(Self::ID)?;
        let a = discrete_action(Self::ID, action, Self::NUM_ACTIONS)?;
        let [mut p, mut v] = self.state;
        v += (a as f64 - 1.0) * FORCE + (3.0 * p).cos() * (-GRAVITY);
        v = v.clamp(-MAX_SPEED, MAX_SPEED);
        p += v;
        p = p.clamp(MIN_POSITION, MAX_POSITION);
        // The left wall is inelastic.
        if p == MIN_POSITION && v < 0.0 {
            v = 0.0;
        }
        self.state = [p, v];
        let terminated = p >= GOAL_POSITION && v >= GOAL_VELOCITY;
        let truncated = self.episode.advance(terminated);
        self.write_obs(obs);
        Ok(Transition {
            reward: -1.0,
            terminated,
            truncated,
        })
    }

    fn observe_into(&self, obs: &mut [f32]) {
        self.write_obs(obs);
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.state = checked_state::<2>(Self::ID, state)?;
        self.episode.begin();
        Ok(())
    }
}
