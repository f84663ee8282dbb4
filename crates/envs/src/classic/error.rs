//! The one error type of the classic-control module.
//!
//! Every message names the environment, the offending value and what would have been valid, so a
//! user can fix the call without reading the source.
use std::fmt;

/// What went wrong when building, resetting or stepping a classic-control environment.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvError {
    /// A discrete action outside `0..n`.
    #[error("{env}: action {action} is out of range; valid actions are 0..{n} (0 to {})", n.saturating_sub(1))]
    ActionOutOfRange {
        env: &'static str,
        action: i64,
        n: usize,
    },
    /// A continuous action component that is NaN or infinite. Gymnasium would let it poison the
    /// state silently; we refuse it.
    #[error(
        "{env}: action[{index}] = {value} is not finite; continuous actions must be finite numbers"
    )]
    NonFiniteAction {
        env: &'static str,
        index: usize,
        value: f32,
    },
    /// A discrete action given to a continuous environment, or the other way round.
    #[error("{env}: expected a {expected} action, got a {got} action")]
    WrongActionKind {
        env: &'static str,
        expected: ActionKind,
        got: ActionKind,
    },
    /// A continuous action with the wrong number of components.
    #[error("{env}: the action has {got} components; the action space has {expected}")]
    WrongActionDim {
        env: &'static str,
        expected: usize,
        got: usize,
    },
    /// `step` on an episode that has ended, or before the first `reset`. Gymnasium only warns
    /// (or raises `ResetNeeded` under its order-enforcing wrapper); a silent extra step would
    /// corrupt returns, so this is an error.
    #[error("{env}: step() called {reason}; call reset() first")]
    ResetNeeded {
        env: &'static str,
        reason: ResetReason,
    },
    /// An id not in [`ENV_IDS`](super::ENV_IDS) or [`EXTRA_ENV_IDS`](super::EXTRA_ENV_IDS).
    #[error("unknown environment id {id:?}; known ids: {}, {}", super::ENV_IDS.join(", "), super::EXTRA_ENV_IDS.join(", "))]
    UnknownEnv { id: String },
    /// `max_episode_steps = 0` would truncate before the first step.
    #[error("{env}: max_episode_steps must be at least 1, got {got}")]
    InvalidTimeLimit { env: &'static str, got: u32 },
    /// `set_state` with the wrong number of values.
    #[error("{env}: the state has {got} values; expected {expected}")]
    WrongStateLength {
        env: &'static str,
        expected: usize,
        got: usize,
    },
    /// `set_state` with a NaN or infinite value.
    #[error("{env}: state[{index}] = {value} is not finite")]
    NonFiniteState {
        env: &'static str,
        index: usize,
        value: f64,
    },
    /// A vectorised call whose batch does not match the number of environments.
    #[error("{env}: got {got} actions for {num_envs} environments (expected {expected} values)")]
    WrongBatchSize {
        env: &'static str,
        num_envs: usize,
        expected: usize,
        got: usize,
    },
    /// An error of one environment in a vectorised step, with its index in the vector.
    #[error("environment {index} of the vector: {source}")]
    InVecEnv { index: usize, source: Box<EnvError> },
    /// A vectorised environment over no environments, or over different environments.
    #[error("invalid vectorised environment: {reason}")]
    InvalidVecEnv { reason: String },
}

/// The two kinds of action, named in [`EnvError::WrongActionKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Discrete,
    Continuous,
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActionKind::Discrete => "discrete (integer)",
            ActionKind::Continuous => "continuous (f32 slice)",
        })
    }
}

/// Why [`EnvError::ResetNeeded`] was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// No `reset` (or `set_state`) since the environment was made.
    NeverReset,
    /// The last step ended the episode.
    EpisodeEnded { terminated: bool, truncated: bool },
}

impl fmt::Display for ResetReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResetReason::NeverReset => f.write_str("before the first reset()"),
            ResetReason::EpisodeEnded {
                terminated: true,
                truncated: true,
            } => f.write_str("after the episode ended (terminated and truncated)"),
            ResetReason::EpisodeEnded {
                terminated: true, ..
            } => f.write_str("after the episode ended (terminated)"),
            ResetReason::EpisodeEnded { .. } => {
                f.write_str("after the episode ended (truncated by the time limit)")
            }
        }
    }
}
