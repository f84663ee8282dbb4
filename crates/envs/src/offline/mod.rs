//! Offline-RL datasets made from our own environments with fixed seeds, D4RL-style
//! (spec: `envs/offline-data.md`). Nothing is downloaded; every split regenerates in seconds.
//!
//! Map of the module:
//! - [`dataset`]: [`OfflineDataset`] (typed fields of §4) and its safetensors `save` / `load`.
//! - [`behaviour`]: the scripted experts of §2, the uniform policy and their ε-mixture.
//! - [`rollout`]: collecting transitions (§3 seeds, timeouts, partial last episode) and
//!   evaluating returns.
//! - [`reference`]: frozen R_random / R_expert and the normalised score.
//! - [`splits`]: random / medium / expert / medium-replay / medium-expert generation.
//! - [`bandit`]: the one-step bandit datasets of the A2PR and EXPO checks.
//! - [`error`]: the one error type, [`OfflineError`].
pub mod bandit;
pub mod behaviour;
pub mod dataset;
pub mod error;
pub mod reference;
pub mod rollout;
pub mod splits;

pub use behaviour::{Behaviour, DATASET_ENV_IDS};
pub use dataset::{Actions, OfflineDataset, ENV_VERSION};
pub use error::OfflineError;
pub use reference::{normalized_score, reference, ReferenceReturns, REFERENCE_RETURNS};
pub use splits::{calibrate_medium_eps, file_name, generate, GenerateConfig, Split};
