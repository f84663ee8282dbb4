//! Acrobot-v1: swing the tip of a two-link pendulum above a line by torquing the middle joint
//! (spec §2; Gymnasium `acrobot.py`, "book" dynamics, one RK4 step of 0.2 s, no torque noise).
use std::f64::consts::PI;

use super::error::EnvError;
use super::numpy_trig::{cos_f32, sin_f32};
use super::shared::{checked_state, discrete_action, obs_row, pow2, Episode, ResetRng};
use super::{ActionRef, Env, Space, Transition};

const DT: f64 = 0.2;
const LINK_LENGTH_1: f64 = 1.0;
const LINK_MASS_1: f64 = 1.0;
const LINK_MASS_2: f64 = 1.0;
/// Positions of the links' centres of mass.
const LINK_COM_POS_1: f64 = 0.5;
const LINK_COM_POS_2: f64 = 0.5;
/// Moments of inertia of both links.
const LINK_MOI: f64 = 1.0;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;
const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];

/// Acrobot-v1. State `[theta1, theta2, dtheta1, dtheta2]` in f64; observation
/// `[cos t1, sin t1, cos t2, sin t2, dt1, dt2]` as f32. Reward -1 per step, 0 on the step that
/// reaches the goal.
#[derive(Debug, Clone)]
pub struct Acrobot {
    state: [f64; 4],
    /// Whether Gymnasium would hold the state as a float32 array: from `reset` until the first
    /// step, whose `np.append` promotes it to float64 for good.
    state_is_f32: bool,
    episode: Episode,
    rng: ResetRng,
}

impl Acrobot {
    pub const ID: &'static str = "Acrobot-v1";
    pub const MAX_EPISODE_STEPS: u32 = 500;
    pub const OBS_DIM: usize = 6;
    pub const NUM_ACTIONS: usize = 3;

    /// With the registered time limit of 500 steps.
    pub fn new() -> Self {
        Acrobot {
            state: [0.0; 4],
            state_is_f32: false,
            episode: Episode::registered(Self::MAX_EPISODE_STEPS),
            rng: ResetRng::default(),
        }
    }

    pub fn with_max_episode_steps(max_episode_steps: u32) -> Result<Self, EnvError> {
        Ok(Acrobot {
            episode: Episode::new(Self::ID, max_episode_steps)?,
            ..Self::new()
        })
    }

    fn write_obs(&self, obs: &mut [f32]) {
        let [t1, t2, dt1, dt2] = self.state;
        *obs_row::<6>(Self::ID, obs) = if self.state_is_f32 {
            // NumPy's own float32 kernels, not libm (see `numpy_trig`).
            let (t1, t2) = (t1 as f32, t2 as f32);
            [
                cos_f32(t1),
                sin_f32(t1),
                cos_f32(t2),
                sin_f32(t2),
                dt1 as f32,
                dt2 as f32,
            ]
        } else {
            [
                t1.cos() as f32,
                t1.sin() as f32,
                t2.cos() as f32,
                t2.sin() as f32,
                dt1 as f32,
                dt2 as f32,
            ]
        };
    }
}

impl Default for Acrobot {
    fn default() -> Self {
        Self::new()
    }
}

/// Gymnasium's `_dsdt` for `y = [t1, t2, dt1, dt2]` and torque `a`, returning the derivative of
/// the four state components (the torque's derivative is 0). Expression shapes are Gymnasium's,
/// left to right, with libm `pow` for `**2` on NumPy scalars (spec §0.2, §0.3, §2).
#[inline(always)]
fn derivative(y: [f64; 4], a: f64) -> [f64; 4] {
    let (m1, m2, l1, lc1, lc2, i1, i2, g) = (
        LINK_MASS_1,
        LINK_MASS_2,
        LINK_LENGTH_1,
        LINK_COM_POS_1,
        LINK_COM_POS_2,
        LINK_MOI,
        LINK_MOI,
        9.8,
    );
    let [t1, t2, dt1, dt2] = y;
    // `lc1**2` and friends are Python floats squared, which is exact here, so a product is fine.
    let d1 =
        m1 * (lc1 * lc1) + m2 * ((l1 * l1) + (lc2 * lc2) + 2.0 * l1 * lc2 * t2.cos()) + i1 + i2;
    let d2 = m2 * ((lc2 * lc2) + l1 * lc2 * t2.cos()) + i2;
    let phi2 = m2 * lc2 * g * (t1 + t2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * pow2(dt2) * t2.sin() - 2.0 * m2 * l1 * lc2 * dt2 * dt1 * t2.sin()
        + (m1 * lc1 + m2 * l1) * g * (t1 - PI / 2.0).cos()
        + phi2;
    let ddt2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * pow2(dt1) * t2.sin() - phi2)
        / (m2 * (lc2 * lc2) + i2 - pow2(d2) / d1);
    let ddt1 = -(d2 * ddt2 + phi1) / d1;
    [dt1, dt2, ddt1, ddt2]
}

/// `y + h * k`, element-wise.
#[inline(always)]
fn axpy(y: [f64; 4], h: f64, k: [f64; 4]) -> [f64; 4] {
    std::array::from_fn(|j| y[j] + h * k[j])
}

/// Gymnasium's `wrap(x, m, M)`: shift by whole turns into `[m, M]`.
fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// Gymnasium's `bound(x, m, M) = min(max(x, m), M)` with Python's builtins, which keep the
/// first argument on ties.
fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    let y = if m > x { m } else { x };
    if big_m < y {
        big_m
    } else {
        y
    }
}

impl Env for Acrobot {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        let high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1 as f32, MAX_VEL_2 as f32];
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

    /// Draws each component from U(-0.1, 0.1) and rounds it through f32, as Gymnasium's
    /// `.astype(np.float32)` does; the step then works in f64 (spec §2).
    fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.rng.reseed(seed);
        for s in &mut self.state {
            *s = self.rng.uniform(-0.1, 0.1) as f32 as f64;
        }
        self.state_is_f32 = true;
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
        let torque = AVAIL_TORQUE[discrete_action(Self::ID, action, Self::NUM_ACTIONS)?];
        // Gymnasium's `rk4` over t = [0, DT]: the differences below are what it computes.
        let (y0, dt) = (self.state, DT - 0.0);
        let dt2 = dt / 2.0;
        let k1 = derivative(y0, torque);
        let k2 = derivative(axpy(y0, dt2, k1), torque);
        let k3 = derivative(axpy(y0, dt2, k2), torque);
        let k4 = derivative(axpy(y0, dt, k3), torque);
        let y1: [f64; 4] =
            std::array::from_fn(|j| y0[j] + dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]));
        self.state = [
            wrap(y1[0], -PI, PI),
            wrap(y1[1], -PI, PI),
            bound(y1[2], -MAX_VEL_1, MAX_VEL_1),
            bound(y1[3], -MAX_VEL_2, MAX_VEL_2),
        ];
        self.state_is_f32 = false;
        let [t1, t2, _, _] = self.state;
        let terminated = -t1.cos() - (t2 + t1).cos() > 1.0;
        let truncated = self.episode.advance(terminated);
        self.write_obs(obs);
        Ok(Transition {
            reward: if terminated { 0.0 } else { -1.0 },
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

    /// Stores the values as given, in f64. If every value is exactly an f32, as every state
    /// `reset` makes, the state counts as Gymnasium's float32 reset state: the only difference
    /// is that the observation before the first step then uses NumPy's float32 `cos`/`sin`.
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.state = checked_state::<4>(Self::ID, state)?;
        self.state_is_f32 = self.state.iter().all(|&s| s as f32 as f64 == s);
        self.episode.begin();
        Ok(())
    }
}
