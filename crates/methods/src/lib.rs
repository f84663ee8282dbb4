//! polopt-methods: the parts that algorithms are made of, each registered by name.
//!
//! - [`credit`]: advantage estimators over plain slices (no tensors): GRPO, Dr. GRPO, RLOO,
//!   REINFORCE++ and REINFORCE++-baseline.
//! - [`select`]: group filters and reward shaping that decide what data reaches the loss
//!   (DAPO dynamic sampling, overlong shaping, D3S, R³'s per-query replay buffer and SERR).
//! - [`objective`]: the one tensor contract ([`objective::PolicyTerms`] -> [`objective::LossOutput`]):
//!   ratio level, trust region (clip), aggregation, KL estimators, entropy bonus.
//! - [`presets`]: named methods (`grpo`, `dapo`, ...) as choices over the parts above.
//!
//! A method is data ([`MethodConfig`]); the training loop never branches on a method's name.
pub mod credit;
pub mod loops;
pub mod objective;
pub mod parts;
pub mod plan;
pub mod presets;
pub mod select;

mod config;
mod error;

pub use config::{CreditConfig, MethodConfig, ObjectiveConfig, SelectConfig};
pub use error::MethodError;
pub use loops::{CriticConfig, DapoStepConfig, RolloutConfig, RolloutKind, StepSplit};
