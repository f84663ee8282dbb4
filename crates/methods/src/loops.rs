//! Knobs of the training loops that need a value model: which rollout drives a text run
//! (`method.rollout`), the critic (`method.critic`) and step-level DAPO (`method.dapo_step`).
//! A preset picks the loop through `method.rollout.kind`; the loops never read preset names.
use serde::{Deserialize, Serialize};

use crate::error::{check_range, MethodError};

/// How a text run gathers its training data (`method.rollout.kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutKind {
    /// G complete responses per prompt each step (GRPO and its variants).
    #[default]
    Group,
    /// T-PPO: in-flight responses extended by a window each step, with a critic.
    Truncated,
    /// Step-level DAPO: an offline step dataset from the warm start and a frozen critic.
    OfflineStep,
    /// SPO-chain: completions plus Monte-Carlo values at probability-guided cutpoints.
    SpoChain,
    /// SPO-tree: a sampling tree per prompt; each non-zero edge is a sample.
    SpoTree,
    /// Offline preference pairs (a `[data]` file of pairs, or synthetic pairs from the task)
    /// under a preference loss (`method.preference`): DPO and its family, KTO, the reward model.
    Pairs,
    /// Online pairs: G responses per prompt from the policy, ranked by the run's reward; the
    /// best and the worst of a group (no tie) make a pair (online DPO, INPO).
    OnlinePairs,
    /// Reference pairs: the task's solution (or the data's chosen response) against a response
    /// sampled from the reference policy (SePPO).
    ReferencePairs,
}

impl RolloutKind {
    pub const ALL: [RolloutKind; 8] = [
        RolloutKind::Group,
        RolloutKind::Truncated,
        RolloutKind::OfflineStep,
        RolloutKind::SpoChain,
        RolloutKind::SpoTree,
        RolloutKind::Pairs,
        RolloutKind::OnlinePairs,
        RolloutKind::ReferencePairs,
    ];

    /// The config value.
    pub fn name(self) -> &'static str {
        match self {
            RolloutKind::Group => "group",
            RolloutKind::Truncated => "truncated",
            RolloutKind::OfflineStep => "offline_step",
            RolloutKind::SpoChain => "spo_chain",
            RolloutKind::SpoTree => "spo_tree",
            RolloutKind::Pairs => "pairs",
            RolloutKind::OnlinePairs => "online_pairs",
            RolloutKind::ReferencePairs => "reference_pairs",
        }
    }

    /// The estimator this rollout makes its credit with, when it has one fixed: the segment
    /// rollouts hand the `spo` estimator their values, T-PPO's windows need `egae`. `None`:
    /// the group rollout (any group estimator) or the offline step dataset (no estimator).
    pub fn estimator(self) -> Option<&'static str> {
        match self {
            RolloutKind::Truncated => Some("egae"),
            RolloutKind::SpoChain | RolloutKind::SpoTree => Some("spo"),
            RolloutKind::Group
            | RolloutKind::OfflineStep
            | RolloutKind::Pairs
            | RolloutKind::OnlinePairs
            | RolloutKind::ReferencePairs => None,
        }
    }

    /// The kinds whose objective is a preference loss (`method.preference`), not the policy
    /// gradient objective.
    pub fn is_preference(self) -> bool {
        matches!(
            self,
            RolloutKind::Pairs | RolloutKind::OnlinePairs | RolloutKind::ReferencePairs
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutConfig {
    pub kind: RolloutKind,
    /// T-PPO's truncation window l: new tokens per in-flight response per step.
    pub window: usize,
    /// Critic optimizer steps per T-PPO step on the responses that finished in it.
    pub critic_updates: usize,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self {
            kind: RolloutKind::Group,
            window: 4,
            critic_updates: 1,
        }
    }
}

/// The value model: a small decoder trunk of its own and a linear head (`method.critic`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CriticConfig {
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub num_key_value_heads: i64,
    pub lr: f64,
    pub weight_decay: f64,
    pub grad_clip: f64,
}

impl Default for CriticConfig {
    fn default() -> Self {
        Self {
            hidden_size: 64,
            intermediate_size: 192,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            lr: 1e-3,
            weight_decay: 0.0,
            grad_clip: 1.0,
        }
    }
}

/// How a response is cut into steps (actions) for step-level DAPO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepSplit {
    /// One token per step: a column of addition's least-significant-first sum.
    #[default]
    Token,
    /// One line per step (countdown-style equation lines).
    Line,
}

/// Where step-level DAPO reads `V(s)` for its step advantages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepValues {
    /// The frozen critic fitted to the Monte-Carlo labels (the paper's method).
    #[default]
    Critic,
    /// The Monte-Carlo labels themselves: every state the dataset's advantages need was
    /// labelled, so this is the critic with no approximation error and no smoothing (an
    /// ablation that tells a weak critic from the rest of the method).
    Mc,
}

/// Step-level DAPO (`method.dapo_step`), reconstructed (dapo-step.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DapoStepConfig {
    /// beta of the implied KL-regularized target.
    pub beta: f64,
    /// Training problems in the offline dataset.
    pub problems: usize,
    /// N solutions sampled per problem from the warm start.
    pub solutions: usize,
    /// M Monte-Carlo completions per step prefix for its value label.
    pub mc_rollouts: usize,
    /// Critic optimizer steps on the labels before it is frozen.
    pub critic_steps: usize,
    /// Prefixes per critic minibatch.
    pub critic_batch: usize,
    pub split: StepSplit,
    pub values: StepValues,
}

impl Default for DapoStepConfig {
    fn default() -> Self {
        Self {
            beta: 0.1,
            problems: 64,
            solutions: 4,
            mc_rollouts: 8,
            critic_steps: 300,
            critic_batch: 64,
            split: StepSplit::Token,
            values: StepValues::Critic,
        }
    }
}

impl RolloutConfig {
    pub fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.rollout.window",
            self.window as f64,
            self.window >= 1,
            ">= 1 token",
        )?;
        check_range(
            "method.rollout.critic_updates",
            self.critic_updates as f64,
            self.critic_updates <= 100,
            "0..=100",
        )
    }
}

impl CriticConfig {
    pub fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.critic.hidden_size",
            self.hidden_size as f64,
            (8..=4096).contains(&self.hidden_size),
            "8..=4096",
        )?;
        check_range(
            "method.critic.num_attention_heads",
            self.num_attention_heads as f64,
            self.num_attention_heads >= 1 && self.hidden_size % self.num_attention_heads == 0,
            "a divisor of method.critic.hidden_size",
        )?;
        check_range(
            "method.critic.num_key_value_heads",
            self.num_key_value_heads as f64,
            self.num_key_value_heads >= 1
                && self.num_attention_heads % self.num_key_value_heads == 0,
            "a divisor of method.critic.num_attention_heads",
        )?;
        check_range(
            "method.critic.num_hidden_layers",
            self.num_hidden_layers as f64,
            (1..=64).contains(&self.num_hidden_layers),
            "1..=64",
        )?;
        check_range(
            "method.critic.intermediate_size",
            self.intermediate_size as f64,
            self.intermediate_size >= 1,
            ">= 1",
        )?;
        check_range(
            "method.critic.lr",
            self.lr,
            self.lr > 0.0 && self.lr < 1.0,
            "in (0, 1)",
        )?;
        check_range(
            "method.critic.weight_decay",
            self.weight_decay,
            (0.0..1.0).contains(&self.weight_decay),
            "in [0, 1)",
        )?;
        check_range(
            "method.critic.grad_clip",
            self.grad_clip,
            self.grad_clip > 0.0,
            "> 0",
        )
    }
}

impl DapoStepConfig {
    pub fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.dapo_step.beta",
            self.beta,
            self.beta > 0.0 && self.beta <= 100.0,
            "in (0, 100]",
        )?;
        for (key, v) in [
            ("method.dapo_step.problems", self.problems),
            ("method.dapo_step.solutions", self.solutions),
            ("method.dapo_step.mc_rollouts", self.mc_rollouts),
            ("method.dapo_step.critic_batch", self.critic_batch),
        ] {
            check_range(key, v as f64, (1..=100_000).contains(&v), "1..=100000")?;
        }
        check_range(
            "method.dapo_step.critic_steps",
            self.critic_steps as f64,
            self.critic_steps <= 1_000_000,
            "0..=1000000",
        )
    }
}
