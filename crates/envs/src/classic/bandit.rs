//! One-step continuous bandits from the algorithm specs' small CPU checks, as ordinary
//! environments so that a policy trained on their offline data is evaluated by the same code
//! as Pendulum (`VecEnv`, evaluation loops). Every episode is one step: `terminated` is true and,
//! with the registered limit of 1, so is `truncated` (Gymnasium allows both; a dataset's
//! `timeouts = truncated && !terminated` stays 0).
//!
//! - [`Bandit1D`] (`algorithms/a2pr.md`, "Small CPU check"): s ~ U[-1, 1], a in [-1, 1],
//!   r = 1 - (a - 0.5 s)^2; the best action is 0.5 s, with reward 1.
//! - [`BimodalBandit`] (`algorithms/expo.md`, "Small CPU check"): constant observation 0,
//!   r(a) = exp(-(a - 0.6)^2 / 0.02) + 0.5 exp(-(a + 0.6)^2 / 0.02); the best action is 0.6.
//!
//! Actions are clipped to [-1, 1], as Pendulum clips its torque. The observation after the step
//! is the same state (nothing moves), which is also what the datasets store as
//! `next_observations`.
use super::error::EnvError;
use super::shared::{checked_state, obs_row, scalar_action, Episode, ResetRng};
use super::{ActionRef, Env, Space, Transition};

/// The reward of [`Bandit1D`] for state `s` and action `a` (unclipped input is clipped).
pub fn bandit_1d_reward(s: f64, a: f64) -> f64 {
    let a = a.clamp(-1.0, 1.0);
    1.0 - (a - 0.5 * s).powi(2)
}

/// The reward of [`BimodalBandit`] for action `a` (clipped to [-1, 1]).
pub fn bimodal_reward(a: f64) -> f64 {
    let a = a.clamp(-1.0, 1.0);
    (-(a - 0.6).powi(2) / 0.02).exp() + 0.5 * (-(a + 0.6).powi(2) / 0.02).exp()
}

fn unit_box() -> Space {
    Space::Box {
        low: vec![-1.0],
        high: vec![1.0],
    }
}

/// The A2PR check's contextual bandit: one state s ~ U[-1, 1] per episode.
#[derive(Debug, Clone)]
pub struct Bandit1D {
    s: f64,
    episode: Episode,
    rng: ResetRng,
}

impl Bandit1D {
    pub const ID: &'static str = "Bandit1D-v0";
    pub const MAX_EPISODE_STEPS: u32 = 1;

    pub fn new() -> Self {
        Bandit1D {
            s: 0.0,
            episode: Episode::registered(Self::MAX_EPISODE_STEPS),
            rng: ResetRng::default(),
        }
    }

    pub fn with_max_episode_steps(max_episode_steps: u32) -> Result<Self, EnvError> {
        Ok(Bandit1D {
            episode: Episode::new(Self::ID, max_episode_steps)?,
            ..Self::new()
        })
    }
}

impl Default for Bandit1D {
    fn default() -> Self {
        Self::new()
    }
}

impl Env for Bandit1D {
    fn id(&self) -> &'static str {
        Self::ID
    }
    fn observation_space(&self) -> Space {
        unit_box()
    }
    fn action_space(&self) -> Space {
        unit_box()
    }
    fn obs_dim(&self) -> usize {
        1
    }
    fn max_episode_steps(&self) -> u32 {
        self.episode.max_steps
    }
    fn elapsed_steps(&self) -> u32 {
        self.episode.elapsed()
    }
    fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.rng.reseed(seed);
        self.s = self.rng.uniform(-1.0, 1.0);
        self.episode.begin();
        self.observe_into(obs);
    }
    fn step_into(
        &mut self,
        action: ActionRef<'_>,
        obs: &mut [f32],
    ) -> Result<Transition, EnvError> {
        self.episode.check_running(Self::ID)?;
        let a = scalar_action(Self::ID, action)?;
        let reward = bandit_1d_reward(self.s, a as f64);
        let truncated = self.episode.advance(true);
        self.observe_into(obs);
        Ok(Transition {
            reward,
            terminated: true,
            truncated,
        })
    }
    fn observe_into(&self, obs: &mut [f32]) {
        *obs_row::<1>(Self::ID, obs) = [self.s as f32];
    }
    fn state(&self) -> Vec<f64> {
        vec![self.s]
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        [self.s] = checked_state::<1>(Self::ID, state)?;
        self.episode.begin();
        Ok(())
    }
}

/// The EXPO check's bandit: a constant observation and a bimodal reward over the action.
#[derive(Debug, Clone)]
pub struct BimodalBandit {
    episode: Episode,
}

impl BimodalBandit {
    pub const ID: &'static str = "BimodalBandit-v0";
    pub const MAX_EPISODE_STEPS: u32 = 1;

    pub fn new() -> Self {
        BimodalBandit {
            episode: Episode::registered(Self::MAX_EPISODE_STEPS),
        }
    }

    pub fn with_max_episode_steps(max_episode_steps: u32) -> Result<Self, EnvError> {
        Ok(BimodalBandit {
            episode: Episode::new(Self::ID, max_episode_steps)?,
        })
    }
}

impl Default for BimodalBandit {
    fn default() -> Self {
        Self::new()
    }
}

impl Env for BimodalBandit {
    fn id(&self) -> &'static str {
        Self::ID
    }
    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![0.0],
            high: vec![0.0],
        }
    }
    fn action_space(&self) -> Space {
        unit_box()
    }
    fn obs_dim(&self) -> usize {
        1
    }
    fn max_episode_steps(&self) -> u32 {
        self.episode.max_steps
    }
    fn elapsed_steps(&self) -> u32 {
        self.episode.elapsed()
    }
    /// Nothing is random; the seed is accepted and ignored.
    fn reset_into(&mut self, _seed: Option<u64>, obs: &mut [f32]) {
        self.episode.begin();
        self.observe_into(obs);
    }
    fn step_into(
        &mut self,
        action: ActionRef<'_>,
        obs: &mut [f32],
    ) -> Result<Transition, EnvError> {
        self.episode.check_running(Self::ID)?;
        let a = scalar_action(Self::ID, action)?;
        let reward = bimodal_reward(a as f64);
        let truncated = self.episode.advance(true);
        self.observe_into(obs);
        Ok(Transition {
            reward,
            terminated: true,
            truncated,
        })
    }
    fn observe_into(&self, obs: &mut [f32]) {
        *obs_row::<1>(Self::ID, obs) = [0.0];
    }
    /// The bandit has no state.
    fn state(&self) -> Vec<f64> {
        Vec::new()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), EnvError> {
        checked_state::<0>(Self::ID, state)?;
        self.episode.begin();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewards_peak_at_the_spec_optima() {
        assert_eq!(bandit_1d_reward(0.8, 0.4), 1.0);
        assert!((bandit_1d_reward(0.0, 1.0) - 0.0).abs() < 1e-12);
        assert!((bimodal_reward(0.6) - (1.0 + 0.5 * (-72.0f64).exp())).abs() < 1e-12);
        assert!((bimodal_reward(-0.6) - (0.5 + (-72.0f64).exp())).abs() < 1e-12);
        // Clipping: an action beyond the bound is the bound.
        assert_eq!(bimodal_reward(3.0), bimodal_reward(1.0));
    }

    #[test]
    fn one_step_episodes_end_terminated() {
        let mut env = Bandit1D::new();
        let obs = env.reset(Some(3));
        let step = env.step(ActionRef::Continuous(&[0.5 * obs[0]])).unwrap();
        assert!(step.terminated);
        assert_eq!(step.obs, obs);
        assert!((step.reward - 1.0).abs() < 1e-6);
        assert!(env.step(ActionRef::Continuous(&[0.0])).is_err());
    }
}
