//! Knobs of the preference rollout kinds (`method.preference`): which loss of
//! [`crate::preference::PREFERENCE_LOSSES`] the objective is, how many pairs a step trains on,
//! where the pairs come from and which policy is the reference. The loss's own settings are
//! its table, flattened next to the slot: `method.preference.sigmoid.beta = 0.1`.
use serde::{Deserialize, Serialize};

use crate::error::{check_range, MethodError};
use crate::parts::PartTables;
use crate::preference::build_preference_loss;

/// Which policy the preference loss compares against (`method.preference.reference`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceSchedule {
    /// The frozen warm start (offline DPO; pi_ref = pi_0 in online DPO).
    #[default]
    WarmStart,
    /// A frozen copy of the policy refreshed every `refresh_every` steps: online/iterative
    /// DPO's pi_ref = pi_t, and INPO's previous iterate pi_t (next to the fixed warm start).
    Iterate,
    /// A copy of the policy put into a pool every `refresh_every` steps; each step samples one
    /// member uniformly (SePPO's random previous checkpoint; the warm start is member 0).
    Pool,
}

/// Where the offline pairs come from when no preference file is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyntheticRejected {
    /// The task's solution with one digit changed until the verifier calls it wrong.
    #[default]
    Wrong,
    /// The correct solution followed by a repeat of itself: correct but long (the ground
    /// truth prefers the short one).
    Long,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreferenceConfig {
    /// Registered preference loss (`polopt list`): sigmoid, ipo, simpo, kto, rpo, bt, ...
    pub loss: String,
    /// Pairs (or unpaired examples, for KTO) per optimizer step.
    pub pairs_per_step: usize,
    pub reference: ReferenceSchedule,
    /// Steps between refreshes of the iterate reference / additions to the pool.
    pub refresh_every: usize,
    /// Offline synthetic pairs: how a rejected response is made from the task's solution.
    pub synthetic_rejected: SyntheticRejected,
    /// Offline synthetic pairs: the size of the training set drawn from the task.
    pub synthetic_pairs: usize,
    /// Held-out pairs for preference accuracy (from the task's eval split, or `data.eval`).
    pub eval_pairs: usize,
    /// Settings tables of the losses, by loss name (flattened).
    #[serde(flatten)]
    pub losses: PartTables,
}

impl Default for PreferenceConfig {
    fn default() -> Self {
        Self {
            loss: "sigmoid".into(),
            pairs_per_step: 16,
            reference: ReferenceSchedule::WarmStart,
            refresh_every: 50,
            synthetic_rejected: SyntheticRejected::Wrong,
            synthetic_pairs: 2048,
            eval_pairs: 256,
            losses: PartTables::default(),
        }
    }
}

impl PreferenceConfig {
    pub fn validate(&self) -> Result<(), MethodError> {
        build_preference_loss(&self.loss, self.losses.get(&self.loss)).map_err(|e| match e {
            MethodError::Unknown { .. } => MethodError::Unsupported {
                key: "method.preference.loss".into(),
                value: self.loss.clone(),
                detail: e.to_string(),
            },
            other => other,
        })?;
        if let Some(stray) = self.losses.0.keys().find(|k| **k != self.loss) {
            return Err(MethodError::Unsupported {
                key: format!("method.preference.{stray}"),
                value: "(table)".into(),
                detail: format!(
                    "settings of a loss the run does not use (method.preference.loss = \"{}\")",
                    self.loss
                ),
            });
        }
        check_range(
            "method.preference.pairs_per_step",
            self.pairs_per_step as f64,
            (1..=4096).contains(&self.pairs_per_step),
            "1..=4096",
        )?;
        check_range(
            "method.preference.refresh_every",
            self.refresh_every as f64,
            self.refresh_every >= 1,
            ">= 1 step",
        )?;
        check_range(
            "method.preference.synthetic_pairs",
            self.synthetic_pairs as f64,
            self.synthetic_pairs >= 1,
            ">= 1",
        )?;
        check_range(
            "method.preference.eval_pairs",
            self.eval_pairs as f64,
            self.eval_pairs <= 100_000,
            "0..=100000",
        )
    }
}

/// A reward model learned during the run from preference queries on the policy's own samples
/// (PARL's bilevel loop, and the standard-RLHF alternation it is compared with). When on, the
/// group rollout's responses are scored by the model, not the run's reward; the run's reward
/// becomes the preference oracle that labels pairs of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearnedRewardConfig {
    pub enabled: bool,
    /// PARL's implicit-differentiation term (the dependence of the policy's samples on the
    /// reward); off, the model is fit to the labels only, as standard RLHF does.
    pub hypergradient: bool,
    /// Learning rate of the reward head's own AdamW (a linear probe on frozen features, so
    /// larger than a policy's).
    pub lr: f64,
    /// Stand-in for `−[∇²_θθ V]⁻¹` (a scaled identity, the one-term Neumann series): the step
    /// the lower level takes per unit of `∇_θ V`. At 1 the implicit term was ~100x the label
    /// term on the default model and drowned it (docs/methods/parl.md).
    pub hyper_scale: f64,
    /// Relative step of the finite difference that gives each sample's directional derivative
    /// `∇_θ log π(τ) · g2`.
    pub fd_eps: f64,
    /// Reward-model updates per RL step.
    pub updates: usize,
}

impl Default for LearnedRewardConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            hypergradient: false,
            lr: 1e-2,
            hyper_scale: 0.01,
            fd_eps: 1e-3,
            updates: 1,
        }
    }
}

impl LearnedRewardConfig {
    pub fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.learned_reward.lr",
            self.lr,
            self.lr > 0.0 && self.lr.is_finite(),
            "> 0",
        )?;
        check_range(
            "method.learned_reward.hyper_scale",
            self.hyper_scale,
            self.hyper_scale >= 0.0 && self.hyper_scale.is_finite(),
            ">= 0",
        )?;
        check_range(
            "method.learned_reward.fd_eps",
            self.fd_eps,
            self.fd_eps > 0.0 && self.fd_eps < 1.0,
            "in (0, 1)",
        )?;
        check_range(
            "method.learned_reward.updates",
            self.updates as f64,
            self.updates >= 1,
            ">= 1",
        )
    }
}
