//! polopt-methods: the parts that algorithms are made of, each registered by name.
//!
//! - [`credit`]: advantage estimators over plain slices (no tensors), registered in
//!   [`credit::ESTIMATORS`]: GRPO, Dr. GRPO, RLOO, REINFORCE++, BNPO, RiskPO, GAE, EGAE, ...
//! - [`parts`]: every other method part (R³, ASPO, ADORA, DCPO, ETR, HAPO, COPO, D3S, ...),
//!   one file each in `credit/`, `select/` or `objective/`, registered in [`parts::PARTS`].
//! - [`plan`]: [`plan::MethodRuntime`] turns a scored batch into an update plan with the
//!   estimator and the enabled parts, naming none of them.
//! - [`select`]: group filters and reward shaping that decide what data reaches the loss
//!   (DAPO dynamic sampling, overlong shaping, D3S, R³'s per-query replay buffer and SERR).
//! - [`objective`]: the one tensor contract ([`objective::PolicyTerms`] -> [`objective::LossOutput`]):
//!   ratio level, trust region (clip), aggregation, KL estimators, entropy bonus.
//! - [`preference`]: preference losses over summed sequence log-probs ([`preference::PreferenceBatch`]
//!   -> [`preference::PreferenceLoss`]): DPO (sigmoid, IPO, hinge, robust), SimPO, KTO, RPO and the
//!   Bradley–Terry reward-model loss, registered in [`preference::PREFERENCE_LOSSES`].
//!   ORPO, INPO and SePPO join them; `preference_config` holds the preference loops' knobs.
//! - `games`: exact small-scale cores of the seed preference methods in plain f64: preference
//!   oracles, SPO's win rates and exploitability, INPO's game iteration, demonstration-regularised
//!   soft value iteration, A-PARL's bandit hypergradient.
//! - [`presets`]: named methods (`grpo`, `dapo`, ...) as choices over the parts above.
//! - [`loops`]: the rollout kinds and the knobs of the loops with a value model.
//! - [`multi_objective`]: C-MORL's Pareto archive, crowding-distance selection, preference grid,
//!   log barrier and the HV / EU / sparsity metrics, in plain f64.
//!
//! A method is data ([`MethodConfig`]); the training loop never branches on a method's name.
pub mod credit;
pub mod games;
pub mod loops;
pub mod multi_objective;
pub mod objective;
pub mod parts;
pub mod plan;
pub mod preference;
pub mod preference_config;
pub mod presets;
pub mod select;

mod config;
mod error;

pub use config::{CreditConfig, MethodConfig, ObjectiveConfig, SelectConfig};
pub use error::MethodError;
pub use loops::{CriticConfig, DapoStepConfig, RolloutConfig, RolloutKind, StepSplit, StepValues};
pub use preference_config::{
    LearnedRewardConfig, PreferenceConfig, ReferenceSchedule, SyntheticRejected,
};
