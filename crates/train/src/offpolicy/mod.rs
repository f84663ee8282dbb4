//! Continuous-action off-policy control (issue 16 items 1 and 3): TD3 and SAC, and offline
//! TD3+BC and A2PR, on the classic-control
//! environments with continuous actions, on the control stack's environments, evaluation,
//! config layering and run directories.
//!
//! Map of the module, in the order one step runs:
//! - [`config`]: the run's TOML (embedded defaults, preset, file, `--set`), range-checked.
//! - [`replay`]: the replay buffer (uniform sampling from a derived stream, saved whole).
//! - [`nets`]: ReLU MLPs, the deterministic tanh actor, the squashed-Gaussian actor with its
//!   tanh log-density correction, twin Q critics, Polyak averaging.
//! - [`agent`]: what the loop asks of a method, and the checkpoint plumbing they share.
//! - [`td3`], [`sac`], [`expo`]: the online methods, one file each (EXPO's networks in
//!   `crate::expo`); [`td3_bc`], [`a2pr`]: the offline ones (the trainer's offline mode samples a
//!   dataset instead of stepping the environment).
//! - [`trainer`]: the loop, metrics, evaluation, checkpoints and exact resume.
//! - [`eval`]: evaluation episodes, in the loop and from a checkpoint (`polopt eval`).
pub mod a2pr;
pub mod agent;
pub mod config;
pub mod eval;
pub mod expo;
pub mod nets;
pub mod replay;
pub mod sac;
pub mod td3;
pub mod td3_bc;
pub mod trainer;

pub use config::{load_offpolicy_config, resolve_offpolicy, AlgoKind, OffPolicyConfig};
pub use eval::evaluate_checkpoint;
pub use trainer::{train_offpolicy, OffPolicyOptions, OffPolicySummary};
