//! CartPole-v1: balance a pole on a cart by pushing left or right (spec §1; Gymnasium
//! `cartpole.py`, Euler integrator, default reward).
use std::f64::consts::PI;

use super::error::EnvError;
use super::shared::{checked_state, discrete_action, obs_row, Episode, ResetRng};
use super::{ActionRef, Env, Space, Transition};

const GRAVITY: f64 = 9.8;
const MASSCART: f64 = 1.0;
const MASSPOLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASSPOLE + MASSCART;
/// Half the pole's length.
const LENGTH: f64 = 0.5;
const POLEMASS_LENGTH: f64 = MASSPOLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
/// 12 degrees, written as Gymnasium computes it: `12 * 2 * math.pi / 360`.
const THETA_THRESHOLD: f64 = 12.0 * 2.0 * PI / 360.0;
const X_THRESHOLD: f64 = 2.4;

/// CartPole-v1. State `[x, x_dot, theta, theta_dot]` in f64; observation is the state as f32.
/// Reward +1 on every step, including the terminating one.
#[derive(Debug, Clone)]
pub struct CartPole {
    state: [f64; 4],
    episode: Episode,
    rng: ResetRng,
}

impl CartPole {
    pub const ID: &'static str = "CartPole-v1";
    pub const MAX_EPISODE_STEPS: u32 = 500;
    pub const OBS_DIM: usize = 4;
    pub const NUM_ACTIONS: usize = 2;

    /// With the registered time limit of 500 steps.
    pub fn new() -> Self {
        CartPole {
            state: [0.0; 4],
            episode: Episode::registered(Self::MAX_EPISODE_STEPS),
            rng: ResetRng::default(),
        }
    }

    pub fn with_max_episode_steps(max_episode_steps: u32) -> Result<Self, EnvError> {
        Ok(CartPole {
            episode: Episode::new(Self::ID, max_episode_steps)?,
            ..Self::new()
        })
    }

    fn write_obs(&self, obs: &mut [f32]) {
        let row = obs_row::<4>(Self::ID, obs);
        for (o, s) in row.iter_mut().zip(self.state) {
            *o = s as f32;
        }
    }
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new()
    }
}

impl Env for CartPole {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        // Gymnasium's bounds: twice the termination thresholds, unbounded velocities.
        let high = [
            (X_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
            (THETA_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
        ];
        Space::Box {
            low: high.iter().map(|h| -h).collect(),
            high: high.to_vec(),
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

    fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.rng.reseed(seed);
        for s in &mut self.state {
            *s = self.rng.uniform(-0.05, 0.05);
        }
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
        let force = if a == 1 { FORCE_MAG } else { -FORCE_MAG };
        let [x, x_dot, th, th_dot] = self.state;
        let c = th.cos();
        let s = th.sin();
        // Expression shapes copied from Gymnasium, left to right, so the result is bit-exact
        // (spec §0.3); `np.square` is a plain product.
        let temp = (force + POLEMASS_LENGTH * (th_dot * th_dot) * s) / TOTAL_MASS;
        let thacc =
            (GRAVITY * s - c * temp) / (LENGTH * (4.0 / 3.0 - MASSPOLE * (c * c) / TOTAL_MASS));
        let xacc = temp - POLEMASS_LENGTH * thacc * c / TOTAL_MASS;
        self.state = [
            x + TAU * x_dot,
            x_dot + TAU * xacc,
            th + TAU * th_dot,
            th_dot + TAU * thacc,
        ];
        let [x, _, th, _] = self.state;
        // Gymnasium's comparisons as written; a range `contains` would differ on NaN.
        #[allow(clippy::manual_range_contains)]
        let terminated =
            x < -X_THRESHOLD || x > X_THRESHOLD || th < -THETA_THRESHOLD || th > THETA_THRESHOLD;
        let truncated = self.episode.advance(terminated);
        self.write_obs(obs);
        Ok(Transition {
            reward: 1.0,
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
        self.state = checked_state::<4>(Self::ID, state)?;
        self.episode.begin();
        Ok(())
    }
}
