//! Multi-objective environments: each step returns a reward *vector*, one entry per objective,
//! for multi-objective RL (C-MORL, issue 16; spec `algorithms/c-morl.md`).
//!
//! - this file: the contract, [`VectorRewardEnv`] and [`VectorStep`], the one error type
//!   [`MultiObjectiveError`] and [`one_hot`] for feeding a cell index to a network.
//! - [`deep_sea_treasure`]: Deep Sea Treasure (concave and convex values) and its exact Pareto
//!   front, computed from the map, so that the multi-objective metrics have a known target.
//!
//! Observations are discrete (a cell index in `0..n_observations`): the environments here are
//! small grids, and a learner that wants a vector input takes [`one_hot`] of the index.
pub mod deep_sea_treasure;

pub use deep_sea_treasure::{DeepSeaTreasure, Treasure, TreasureValues};

/// What one step of a vector-reward environment returns.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorStep {
    /// The next observation, a cell index in `0..n_observations`.
    pub obs: usize,
    /// One reward per objective, `n_objectives` long.
    pub reward: Vec<f64>,
    /// The task ended (a terminal state: bootstrap with 0).
    pub done: bool,
    /// The time limit ended the episode (bootstrap from `obs`). Both flags may be true when the
    /// last allowed step also reaches a terminal state, as in Gymnasium's `TimeLimit`.
    pub truncated: bool,
}

/// A discrete-action environment with a vector reward.
///
/// The reward is a `Vec` rather than `[f64; M]` so that environments with different numbers of
/// objectives share one object-safe trait (`Box<dyn VectorRewardEnv>`).
pub trait VectorRewardEnv {
    /// How many objectives the reward vector has.
    fn n_objectives(&self) -> usize;
    /// Actions are `0..n_actions`.
    fn n_actions(&self) -> usize;
    /// Observations are `0..n_observations`.
    fn n_observations(&self) -> usize;
    /// Starts a new episode and returns its first observation. Deterministic environments accept
    /// the seed for the contract's sake and ignore it.
    fn reset(&mut self, seed: u64) -> usize;
    /// Takes one action. Errors on an action outside `0..n_actions` and on a step without a
    /// running episode (before the first reset or after the episode ended).
    fn step(&mut self, action: usize) -> Result<VectorStep, MultiObjectiveError>;
}

/// What went wrong when stepping a multi-objective environment; each names the value at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MultiObjectiveError {
    #[error("{env}: action {action} is out of range; valid actions are 0..{n_actions}")]
    ActionOutOfRange {
        env: &'static str,
        action: usize,
        n_actions: usize,
    },
    /// A silent extra step would corrupt the returns, so stepping without an episode is an error.
    #[error("{env}: step() called {reason}; call reset() first")]
    ResetNeeded {
        env: &'static str,
        reason: &'static str,
    },
    #[error("{env}: {field} = {value} is invalid: {expected}")]
    InvalidSetting {
        env: &'static str,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The one-hot encoding of `index` among `n` values (f32, the networks' input type), or `None`
/// when `index >= n`, rather than an all-zero vector that a network would silently accept.
pub fn one_hot(index: usize, n: usize) -> Option<Vec<f32>> {
    if index >= n {
        return None;
    }
    let mut v = vec![0.0; n];
    v[index] = 1.0;
    Some(v)
}
