//! MountainCarContinuous-v0: MountainCar with a continuous force (spec §4; Gymnasium
//! `continuous_mountain_car.py`).
//!
//! The subtle part is NumPy's type promotion (spec §0.4, §4): `reset` stores the state as a
//! float64 array, but every step stores it as float32. So the first step after a reset computes
//! in f64 and the later ones mostly in f32, with Python floats (clipped forces, clamped positions)
//! mixed in. A private `State` enum keeps which of the two the state currently is.
use super::error::EnvError;
use super::mountain_car::{MAX_POSITION, MAX_SPEED, MIN_POSITION};
use super::shared::{checked_state, obs_row, pow2, scalar_action, Episode, ResetRng};
use super::{ActionRef, Env, Space, Transition};

const POWER: f64 = 0.0015;
const GOAL_POSITION: f64 = 0.45;
const MIN_ACTION: f32 = -1.0;
const MAX_ACTION: f32 = 1.0;

/// Gymnasium's `self.state`, in the dtype it has at that point.
#[derive(Debug, Clone, Copy)]
enum State {
    /// As set by `reset` (or `set_state`): a float64 array.
    Float64([f64; 2]),
    /// As left by `step`: a float32 array.
    Float32([f32; 2]),
}

/// MountainCarContinuous-v0. State `[position, velocity]`; observation the state as f32. The
/// action is one f32; values outside [-1, 1] are accepted, clipped for the force but not for the
/// cost. Reward `100` on reaching the goal, minus `0.1 * action^2` every step.
#[derive(Debug, Clone)]
pub struct MountainCarContinuous {
    state: State,
    episode: Episode,
    rng: ResetRng,
}

impl MountainCarContinuous {
    pub const ID: &'static str = "MountainCarContinuous-v0";
    pub const MAX_EPISODE_STEPS: u32 = 999;
    pub const OBS_DIM: usize = 2;
    pub const ACTION_DIM: usize = 1;

    /// With the registered time limit of 999 steps.
    pub fn new() -> Self {
        MountainCarContinuous {
            state: State::Float64([0.0; 2]),
            episode: Episode::registered(Self::MAX_EPISODE_STEPS),
            rng: ResetRng::default(),
        }
    }

    pub fn with_max_episode_steps(max_episode_steps: u32) -> Result<Self, EnvError> {
        Ok(MountainCarContinuous {
            episode: Episode::new(Self::ID, max_episode_steps)?,
            ..Self::new()
        })
    }

    fn write_obs(&self, obs: &mut [f32]) {
        *obs_row::<2>(Self::ID, obs) = match self.state {
            State::Float64([p, v]) => [p as f32, v as f32],
            State::Float32(s) => s,
        };
    }
}

impl Default for MountainCarContinuous {
    fn default() -> Self {
        Self::new()
    }
}

/// The first step after a reset: `position` and `velocity` are NumPy float64 scalars. Returns the
/// new `[position, velocity]` (before the cast to f32) and `terminated`.
fn step_from_float64(
    [mut p, mut v]: [f64; 2],
    a: f32,
    clipped_force: Option<f64>,
) -> ([f64; 2], bool) {
    let term2 = 0.0025 * (3.0 * p).cos();
    // An unclipped force is the np.float32 action, so `force * power - term2` runs in f32 and
    // only the sum with the float64 velocity is f64.
    let dv = match clipped_force {
        None => (a * POWER as f32 - term2 as f32) as f64,
        Some(f) => f * POWER - term2,
    };
    // Gymnasium's two `if`s per bound equal a clamp on the finite values we allow.
    v = (v + dv).clamp(-MAX_SPEED, MAX_SPEED);
    p = (p + v).clamp(MIN_POSITION, MAX_POSITION);
    if p == MIN_POSITION && v < 0.0 {
        v = 0.0;
    }
    ([p, v], p >= GOAL_POSITION && v >= 0.0)
}

/// Any later step: `position` and `velocity` are np.float32, so arithmetic and comparisons with
/// Python floats run in f32 (NEP 50), except where a clamp has replaced the position by a Python
/// float. Returns the new state (already f32, as Gymnasium stores it) and `terminated`.
fn step_from_float32([p, v]: [f32; 2], a: f32, clipped_force: Option<f64>) -> ([f32; 2], bool) {
    let term2: f64 = 0.0025 * ((3.0f32 * p) as f64).cos();
    let mut v = match clipped_force {
        None => v + (a * POWER as f32 - term2 as f32),
        Some(f) => v + (f * POWER - term2) as f32,
    };
    // Clamping makes the velocity the Python float ±0.07; it only ever meets f32 arithmetic and
    // sign tests afterwards, so its f32 rounding is exact.
    if v > MAX_SPEED as f32 {
        v = MAX_SPEED as f32;
    }
    if v < -MAX_SPEED as f32 {
        v = -MAX_SPEED as f32;
    }
    let p = p + v;
    // A clamped position is the Python float 0.6 or -1.2, compared as such below.
    let (p_f32, clamped) = if p > MAX_POSITION as f32 {
        (MAX_POSITION as f32, Some(MAX_POSITION))
    } else if p < MIN_POSITION as f32 {
        (MIN_POSITION as f32, Some(MIN_POSITION))
    } else {
        (p, None)
    };
    let at_left_wall = match clamped {
        Some(c) => c == MIN_POSITION,
        None => p == MIN_POSITION as f32,
    };
    if at_left_wall && v < 0.0 {
        v = 0.0;
    }
    let at_goal = match clamped {
        Some(c) => c >= GOAL_POSITION,
        // So an f32 position of 0.44999999 counts as the goal (spec §4).
        None => p >= GOAL_POSITION as f32,
    };
    ([p_f32, v], at_goal && v >= 0.0)
}

impl Env for MountainCarContinuous {
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
        Space::Box {
            low: vec![MIN_ACTION],
            high: vec![MAX_ACTION],
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

    /// Position from U(-0.6, -0.4), velocity 0, stored as float64.
    fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.rng.reseed(seed);
        self.state = State::Float64([self.rng.uniform(-0.6, -0.4), 0.0]);
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
        let a = scalar_action(Self::ID, action)?;
        // `min(max(a, -1.0), 1.0)` with Python builtins: a clipped force is a Python float, an
        // unclipped one stays np.float32.
        let clipped_force = if MIN_ACTION > a {
            Some(MIN_ACTION as f64)
        } else if MAX_ACTION < a {
            Some(MAX_ACTION as f64)
        } else {
            None
        };
        let (state, terminated) = match self.state {
            State::Float64(s) => {
                let ([p, v], terminated) = step_from_float64(s, a, clipped_force);
                ([p as f32, v as f32], terminated)
            }
            State::Float32(s) => step_from_float32(s, a, clipped_force),
        };
        self.state = State::Float32(state);
        // The cost uses the unclipped action, squared with libm `pow` in f64 (`math.pow`).
        let reward = (if terminated { 100.0 } else { 0.0 }) - pow2(a as f64) * 0.1;
        let truncated = self.episode.advance(terminated);
        self.write_obs(obs);
        Ok(Transition {
            reward,
            terminated,
            truncated,
        })
    }

    fn observe_into(&self, obs: &mut [f32]) {
        self.write_obs(obs);
    }

    fn state(&self) -> Vec<f64> {
        match self.state {
            State::Float64(s) => s.to_vec(),
            State::Float32(s) => s.iter().map(|&x| x as f64).collect(),
        }
    }

    /// Stores the values as a float64 state, as after `reset`: the next step is a "first step".
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        self.state = State::Float64(checked_state::<2>(Self::ID, state)?);
        self.episode.begin();
        Ok(())
    }
}
