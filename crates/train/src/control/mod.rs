//! On-policy control on the classic-control environments: PPO, A2C, REINFORCE with a baseline
//! and BPO (PPO's loop with the shared bounded-ratio kernel and median-centred advantages), over the same parts as group RL (GAE from the credit registry, the shared clipped
//! objective and value loss, AdamW, run directories, derived seeds).
//!
//! Map of the module, in the order one update runs:
//! - [`config`]: the run's TOML (embedded defaults, preset, file, `--set`), range-checked.
//! - [`envs`]: N environments with per-episode derived seeds, restorable by replay.
//! - [`mlp`]: actor and critic MLPs (orthogonal init), categorical / Gaussian heads, and the
//!   plain-Rust actor snapshot that acts during rollouts.
//! - [`normalize`]: running observation normalisation and reward scaling.
//! - [`rollout`]: N x T steps into time-major buffers, then the critic's values for GAE;
//!   [`reinforce`] collects whole episodes instead.
//! - [`ppo`], [`a2c`]: the policy losses (PPO and BPO through the shared objective).
//! - [`update`]: the minibatch-epoch loop they share (value loss, grad clip, Adam).
//! - [`native`]: the same networks, losses and Adam written out for the CPU (the default
//!   `algo.backend`); [`learner`] puts both backends behind one interface.
//! - [`eval`]: deterministic evaluation episodes.
//! - [`trainer`]: the loop itself, metrics, checkpoints and exact resume.
//! - [`data_parallel`]: the same loop over several processes (`run.distributed = "auto"`):
//!   environments split across ranks, gradients summed once per optimizer step.
pub mod a2c;
pub mod config;
pub mod data_parallel;
pub mod envs;
pub mod eval;
pub mod learner;
pub mod mlp;
pub mod native;
pub mod normalize;
pub mod ppo;
pub mod reinforce;
pub mod rollout;
pub mod trainer;
pub mod update;

pub use config::{load_control_config, requested_preset, resolve_control, ControlConfig};
pub use trainer::{train_control, ControlOptions, ControlSummary};
