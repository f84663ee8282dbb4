//! A method as data: the choices over credit, selection and objective that a preset fixes.
//! Every knob has a default and a range check; the field path in each error is the config key.
use serde::{Deserialize, Serialize};

use crate::credit::EgaeBootstrap;
use crate::error::{check_range, MethodError};
use crate::loops::{CriticConfig, DapoStepConfig, RolloutConfig, RolloutKind};
use crate::objective::{Aggregation, Divergence, KlEstimator, PolicyKernel, RatioLevel};
use crate::parts::{PartKind, PartTables};
use crate::preference_config::{LearnedRewardConfig, PreferenceConfig};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MethodConfig {
    pub credit: CreditConfig,
    pub select: SelectConfig,
    pub objective: ObjectiveConfig,
    /// Which loop gathers the data (group | truncated | offline_step) and its knobs.
    pub rollout: RolloutConfig,
    /// The value model of the loops that have one (truncated, offline_step).
    pub critic: CriticConfig,
    pub dapo_step: DapoStepConfig,
    /// The preference loss and pair source of the preference rollout kinds.
    pub preference: PreferenceConfig,
    /// A reward model fit during the run on preference queries (PARL, RLHF).
    pub learned_reward: LearnedRewardConfig,
}

/// Shared credit knobs, the slots of the credit parts, and (flattened, by table name) the
/// settings tables of estimators and parts: `method.credit.adora.weight_tds`. Keys that are
/// neither are rejected by [`MethodConfig::validate`] (serde's `deny_unknown_fields` does not
/// combine with a flattened map).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreditConfig {
    /// Registered name of the advantage estimator (see `polopt list`).
    pub estimator: String,
    /// Delta degrees of freedom of the group std: 1 = unbiased (verl, TRL), 0 = population.
    pub std_ddof: u32,
    pub eps: f64,
    /// Discount over response tokens (REINFORCE++).
    pub gamma: f64,
    /// Coefficient of KL(old || ref) folded into the per-token reward (REINFORCE++).
    pub kl_in_reward_coef: f64,
    /// GAE's lambda: the bias-variance knob of the critic estimator (control; ppo-baseline.md).
    pub gae_lambda: f64,
    /// EGAE's value of a truncated window's continuation: last_value | prefix_value.
    pub egae_bootstrap: EgaeBootstrap,
    /// Rewards rewritten from comparisons within each group, before credit (a part, or none).
    pub judge: String,
    /// Per-group reweighting after the estimator (a registered part, or none).
    pub reweight: String,
    /// Second, batch-level advantage blended into the loss (a registered part, or none).
    pub global_advantage: String,
    /// Cross-step entropy controller that reshapes the advantage (a registered part, or none).
    pub entropy_control: String,
    /// Bias on the estimator's advantages from per-response rollout data (a part, or none).
    pub shaping: String,
    #[serde(flatten)]
    pub parts: PartTables,
}

/// Selection knobs, the slots of the selection parts and their settings tables (flattened).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectConfig {
    /// DAPO dynamic sampling: drop groups whose rewards are all equal and refill the batch.
    pub dynamic_sampling: bool,
    /// Cap on generation batches per step while refilling (verl `max_num_gen_batches`).
    pub max_gen_batches: usize,
    /// DAPO overlong reward shaping, added to the correctness reward.
    pub overlong_shaping: bool,
    /// Length (tokens) above which a response gets the full -1 penalty.
    pub overlong_max_len: usize,
    /// Width (tokens) of the linear penalty ramp below `overlong_max_len`.
    pub overlong_cache_len: usize,
    /// Mask responses that hit the generation limit out of the loss (DAPO's alternative).
    pub overlong_filter: bool,
    /// Sample and token down-sampling between credit and loss (a registered part, or none).
    pub downsample: String,
    /// Cross-step replay of past responses (a registered part, or none).
    pub replay: String,
    #[serde(flatten)]
    pub parts: PartTables,
}

/// The loss's knobs, the trust-region slot and its parts' settings tables (flattened).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectiveConfig {
    /// Importance-ratio level: per token (PPO/GRPO) or per sequence (GSPO).
    pub ratio: RatioLevel,
    pub clip_low: f64,
    pub clip_high: f64,
    /// Dual-clip constant c for negative advantages (verl `clip_ratio_c`); none disables it.
    pub dual_clip: Option<f64>,
    pub aggregation: Aggregation,
    /// Constant L_max of `seq-mean-token-sum-norm` (Dr. GRPO); defaults to max new tokens.
    pub max_len_normalizer: Option<f64>,
    pub kl_coef: f64,
    pub kl_estimator: KlEstimator,
    pub entropy_coef: f64,
    /// Per-token loss kernel: clip (PPO surrogate) | bounded_ratio (BPO/GBPO).
    pub kernel: PolicyKernel,
    /// Divergence D of the bounded_ratio kernel: hinge | squared | kl.
    pub divergence: Divergence,
    /// constant (clip_low/clip_high), or a registered trust-region part.
    pub trust_region: String,
    #[serde(flatten)]
    pub parts: PartTables,
}

impl Default for CreditConfig {
    fn default() -> Self {
        Self {
            estimator: "grpo".into(),
            std_ddof: 1,
            eps: 1e-6,
            gamma: 1.0,
            kl_in_reward_coef: 0.0,
            gae_lambda: 0.95,
            egae_bootstrap: EgaeBootstrap::LastValue,
            judge: PartKind::Judge.off().into(),
            reweight: PartKind::Reweight.off().into(),
            global_advantage: PartKind::GlobalAdvantage.off().into(),
            entropy_control: PartKind::Controller.off().into(),
            shaping: PartKind::Shaping.off().into(),
            parts: PartTables::default(),
        }
    }
}

impl Default for SelectConfig {
    fn default() -> Self {
        Self {
            dynamic_sampling: false,
            max_gen_batches: 4,
            overlong_shaping: false,
            overlong_max_len: 64,
            overlong_cache_len: 16,
            overlong_filter: false,
            downsample: PartKind::Selector.off().into(),
            replay: PartKind::Replay.off().into(),
            parts: PartTables::default(),
        }
    }
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        Self {
            ratio: RatioLevel::Token,
            clip_low: 0.2,
            clip_high: 0.2,
            dual_clip: None,
            aggregation: Aggregation::SeqMeanTokenMean,
            max_len_normalizer: None,
            kl_coef: 0.0,
            kl_estimator: KlEstimator::K3,
            entropy_coef: 0.0,
            kernel: PolicyKernel::Clip,
            divergence: Divergence::Squared,
            trust_region: PartKind::TrustRegion.off().into(),
            parts: PartTables::default(),
        }
    }
}

impl MethodConfig {
    /// Range checks for every knob; the first violation is returned with its config key.
    pub fn validate(&self) -> Result<(), MethodError> {
        let c = &self.credit;
        crate::credit::estimator(c)?;
        check_range(
            "method.credit.std_ddof",
            c.std_ddof as f64,
            c.std_ddof <= 1,
            "0 or 1",
        )?;
        check_range(
            "method.credit.eps",
            c.eps,
            c.eps >= 0.0 && c.eps < 1.0,
            "in [0, 1)",
        )?;
        check_range(
            "method.credit.gamma",
            c.gamma,
            (0.0..=1.0).contains(&c.gamma),
            "in [0, 1]",
        )?;
        check_range(
            "method.credit.kl_in_reward_coef",
            c.kl_in_reward_coef,
            c.kl_in_reward_coef >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.credit.gae_lambda",
            c.gae_lambda,
            (0.0..=1.0).contains(&c.gae_lambda),
            "in [0, 1]",
        )?;
        self.build_parts()?;
        self.validate_part_tables()?;
        self.validate_rollout()?;
        self.learned_reward.validate()?;
        if self.learned_reward.enabled && self.rollout.kind != RolloutKind::Group {
            return Err(MethodError::Unsupported {
                key: "method.learned_reward.enabled".into(),
                value: "true".into(),
                detail: format!(
                    "a learned reward scores the group rollout; method.rollout.kind is {}",
                    self.rollout.kind.name()
                ),
            });
        }
        let s = &self.select;
        check_range(
            "method.select.max_gen_batches",
            s.max_gen_batches as f64,
            s.max_gen_batches >= 1,
            ">= 1",
        )?;
        check_range(
            "method.select.overlong_cache_len",
            s.overlong_cache_len as f64,
            s.overlong_cache_len >= 1 && s.overlong_cache_len <= s.overlong_max_len,
            "in 1..=overlong_max_len",
        )?;
        let o = &self.objective;
        check_range(
            "method.objective.clip_low",
            o.clip_low,
            o.clip_low > 0.0 && o.clip_low < 1.0,
            "in (0, 1)",
        )?;
        check_range(
            "method.objective.clip_high",
            o.clip_high,
            o.clip_high > 0.0 && o.clip_high <= 10.0,
            "in (0, 10]",
        )?;
        if let Some(c) = o.dual_clip {
            check_range(
                "method.objective.dual_clip",
                c,
                c > 1.0,
                "> 1 (or absent to disable)",
            )?;
        }
        if let Some(l) = o.max_len_normalizer {
            check_range(
                "method.objective.max_len_normalizer",
                l,
                l >= 1.0,
                ">= 1 token",
            )?;
        }
        check_range(
            "method.objective.kl_coef",
            o.kl_coef,
            o.kl_coef >= 0.0,
            ">= 0",
        )?;
        check_range(
            "method.objective.entropy_coef",
            o.entropy_coef,
            o.entropy_coef.abs() <= 1.0,
            "in [-1, 1]",
        )?;
        self.rollout.validate()?;
        self.critic.validate()?;
        self.dapo_step.validate()?;
        if self.rollout.kind.is_preference() {
            self.preference.validate()?;
        }
        Ok(())
    }
}

impl MethodConfig {
    /// A setting the chosen rollout kind does not read is an error naming it: only the group
    /// rollout runs the registered parts and the group selection knobs, and the other kinds
    /// make their own credit with one estimator (or none).
    fn validate_rollout(&self) -> Result<(), MethodError> {
        let kind = self.rollout.kind;
        let which = kind.name();
        let estimator = self.credit.estimator.as_str();
        let owner = RolloutKind::ALL
            .into_iter()
            .find(|k| k.estimator() == Some(estimator));
        let problem = match (kind.estimator(), owner) {
            (Some(wanted), _) if estimator != wanted => Some(format!(
                "the {which} rollout (method.rollout.kind) makes its credit with `{wanted}`; set it to \"{wanted}\""
            )),
            (Some(_), _) => None,
            (None, Some(owner)) if kind == RolloutKind::Group => Some(format!(
                "`{estimator}` needs the values that the {} rollout makes (method.rollout.kind)",
                owner.name()
            )),
            (None, _) if (kind == RolloutKind::OfflineStep || kind.is_preference())
                && estimator != CreditConfig::default().estimator =>
            {
                Some(format!(
                    "the {which} rollout (method.rollout.kind) makes its own step credit and reads no estimator; leave it unset"
                ))
            }
            (None, _) => None,
        };
        if let Some(detail) = problem {
            return Err(MethodError::Unsupported {
                key: "method.credit.estimator".into(),
                value: estimator.to_string(),
                detail,
            });
        }
        if !kind.is_preference() && self.preference != PreferenceConfig::default() {
            return Err(MethodError::Unsupported {
                key: "method.preference".into(),
                value: "(table)".into(),
                detail: format!(
                    "the {which} rollout (method.rollout.kind) trains no preference loss; use \
                     pairs, online_pairs or reference_pairs, or drop the table"
                ),
            });
        }
        if kind == RolloutKind::Group {
            return Ok(());
        }
        if let Some(entry) = self.enabled_parts()?.first() {
            return Err(MethodError::Unsupported {
                key: entry.kind.slot().into(),
                value: entry.name.into(),
                detail: format!(
                    "the {which} rollout (method.rollout.kind) does not run the method parts; set it to \"{}\"",
                    entry.kind.off()
                ),
            });
        }
        let s = &self.select;
        let group_only = [
            ("method.select.dynamic_sampling", s.dynamic_sampling),
            ("method.select.overlong_shaping", s.overlong_shaping),
            ("method.select.overlong_filter", s.overlong_filter),
        ];
        if let Some((key, _)) = group_only.into_iter().find(|(_, on)| *on) {
            return Err(MethodError::Unsupported {
                key: key.into(),
                value: "true".into(),
                detail: format!(
                    "the {which} rollout (method.rollout.kind) does not reshape groups; set it to false"
                ),
            });
        }
        Ok(())
    }
}
