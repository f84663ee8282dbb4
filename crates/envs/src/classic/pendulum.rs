//! Pendulum-v1: swing a pendulum up and keep it upright with a bounded torque (spec §5;
//! Gymnasium `pendulum.py`, `g = 10.0`). Never terminates; only the time limit ends an episode.
use std::f64::consts::PI;

use super::error::EnvError;
use super::shared::{checked_state, obs_row, pow2, pow2f, scalar_action, Episode, ResetRng};
use super::{ActionRef, Env, Space, Transition};

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f32 = 2.0;
const DT: f64 = 0.05;
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;

/// Pendulum-v1. State `[theta, theta_dot]` in f64 (theta is never wrapped); observation
/// `[cos theta, sin theta, theta_dot]` as f32. The action is one f32 torque, clipped to [-2, 2].
/// Reward `-(angle^2 + 0.1 * theta_dot^2 + 0.001 * torque^2)` on the state before the step.
#[derive(Debug, Clone)]
pub struct Pendulum {
    state: [f64; 2],
    episode: Episode,
    rng: ResetRng,
}

impl Pendulum {
    pub const ID: &'static str = "Pendulum-v1";
    pub const MAX_EPISODE_STEPS: u32 = 200;
    pub const OBS_DIM: usize = 3;
    pub const ACTION_DIM: usize = 1;

    /// With the registered time limit of 200 steps.
    pub fn new() -> Self {
        Pendulum {
            state: [0.0; 2],
            episode: Episode::registered(Self::MAX_EPISODE_STEPS),
            rng: ResetRng::default(),
        }
    }

    pub fn with_max_episode_steps(max_episode_steps: u32) -> Result<Self, EnvError> {
        Ok(Pendulum {
            episode: Episode::new(Self::ID, max_episode_steps)?,
            ..Self::new()
        })
    }

    fn write_obs(&self, obs: &mut [f32]) {
        let [th, thdot] = self.state;
        *obs_row::<3>(Self::ID, obs) = [th.cos() as f32, th.sin() as f32, thdot as f32];
    }
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

/// NumPy's float `%` (`npy_divmod`): C `fmod`, moved into the divisor's sign, and a zero result
/// takes the divisor's sign.
fn numpy_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m == 0.0 {
        0.0f64.copysign(b)
    } else if (b < 0.0) != (m < 0.0) {
        m + b
    } else {
        m
    }
}

/// Gymnasium's `angle_normalize(x) = ((x + pi) % (2 * pi)) - pi`.
fn angle_normalize(x: f64) -> f64 {
    numpy_mod(x + PI, 2.0 * PI) - PI
}

impl Env for Pendulum {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        let high = [1.0, 1.0, MAX_SPEED as f32];
        Space::Box {
            low: high.iter().map(|h| -h).collect(),
            high: high.to_vec(),
        }
    }

    fn action_space(&self) -> Space {
        Space::Box {
            low: vec![-MAX_TORQUE],
            high: vec![MAX_TORQUE],
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

    /// Theta from U(-pi, pi), theta_dot from U(-1, 1), in that order.
    fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.rng.reseed(seed);
        let th = self.rng.uniform(-PI, PI);
        let thdot = self.rng.uniform(-1.0, 1.0);
        self.state = [th, thdot];
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
        let u = scalar_action(Self::ID, action)?.clamp(-MAX_TORQUE, MAX_TORQUE);
        let [th, thdot] = self.state;
        // The torque is np.float32, so the terms that touch it run in f32 (NEP 50, spec §0.4):
        // `0.001 * u**2` entirely, and `3.0 / (m * l**2) * u` after rounding the Python float.
        let costs = pow2(angle_normalize(th)) + 0.1 * pow2(thdot) + (0.001f32 * pow2f(u)) as f64;
        let newthdot = thdot
            + (3.0 * G / (2.0 * L) * th.sin() + ((3.0 / (M * (L * L))) as f32 * u) as f64) * DT;
        let newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED);
        let newth = th + newthdot * DT;
        self.state = [newth, newthdot];
        let truncated = self.episode.advance(false);
        self.write_obs(obs);
        Ok(Transition {
            reward: -costs,
            terminated: false,
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
