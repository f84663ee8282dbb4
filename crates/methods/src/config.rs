//! A method as data: the choices over credit, selection and objective that a preset fixes.
//! Every knob has a default and a range check; the field path in each error is the config key.
use serde::{Deserialize, Serialize};

use crate::credit::{
    AdoraConfig, AspoConfig, BnpoConfig, CopoConfig, DcpoConfig, EgaeBootstrap, GbpoConfig,
    RiskpoConfig, SpoConfig,
};
use crate::error::{check_range, MethodError};
use crate::loops::{CriticConfig, DapoStepConfig, RolloutConfig, RolloutKind};
use crate::objective::{
    Aggregation, Divergence, ElasticConfig, HapoConfig, KlEstimator, PolicyKernel, RatioLevel,
};
use crate::plan::{
    Downsample, EntropyControl, GlobalAdvantage, Replay, Reweight, Shaping, TrustRegion,
};
use crate::select::{D3sConfig, R3Config};

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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
    /// Per-group reweighting after the estimator: none | adora.
    pub reweight: Reweight,
    /// Second, batch-level advantage blended into the loss: none | copo.
    pub global_advantage: GlobalAdvantage,
    /// Cross-step entropy controller that reshapes the advantage: none | dcpo.
    pub entropy_control: EntropyControl,
    /// Bias added to the estimator's advantages from per-response rollout data: none | aspo.
    pub shaping: Shaping,
    pub bnpo: BnpoConfig,
    pub adora: AdoraConfig,
    pub copo: CopoConfig,
    pub gbpo: GbpoConfig,
    pub riskpo: RiskpoConfig,
    pub dcpo: DcpoConfig,
    pub spo: SpoConfig,
    pub aspo: AspoConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
    /// Sample and token down-sampling between credit and loss: none | d3s.
    pub downsample: Downsample,
    pub d3s: D3sConfig,
    /// Cross-step replay of past responses: none | r3.
    pub replay: Replay,
    pub r3: R3Config,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
    /// constant (clip_low/clip_high) | elastic (ETR per-sample bounds) | entropy_adaptive (HAPO).
    pub trust_region: TrustRegion,
    pub elastic: ElasticConfig,
    pub hapo: HapoConfig,
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
            reweight: Reweight::None,
            global_advantage: GlobalAdvantage::None,
            entropy_control: EntropyControl::None,
            shaping: Shaping::None,
            bnpo: BnpoConfig::default(),
            adora: AdoraConfig::default(),
            copo: CopoConfig::default(),
            gbpo: GbpoConfig::default(),
            riskpo: RiskpoConfig::default(),
            dcpo: DcpoConfig::default(),
            spo: SpoConfig::default(),
            aspo: AspoConfig::default(),
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
            downsample: Downsample::None,
            d3s: D3sConfig::default(),
            replay: Replay::None,
            r3: R3Config::default(),
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
            trust_region: TrustRegion::Constant,
            elastic: ElasticConfig::default(),
            hapo: HapoConfig::default(),
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
        c.bnpo.validate()?;
        c.adora.validate()?;
        c.copo.validate()?;
        c.riskpo.validate()?;
        c.dcpo.validate()?;
        c.spo.validate()?;
        self.validate_rollout()?;
        c.aspo.validate()?;
        let s = &self.select;
        s.d3s.validate()?;
        s.r3.validate()?;
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
        o.elastic.validate()?;
        o.hapo.validate()?;
        self.rollout.validate()?;
        self.critic.validate()?;
        self.dapo_step.validate()?;
        Ok(())
    }
}

impl MethodConfig {
    /// The segment rollouts make their own samples and advantages: they pair with the `spo`
    /// estimator, and the parts that reshape a group's samples or rewards do not apply.
    fn validate_rollout(&self) -> Result<(), MethodError> {
        let segment = matches!(
            self.rollout.kind,
            RolloutKind::SpoChain | RolloutKind::SpoTree
        );
        if segment != (self.credit.estimator == "spo") {
            return Err(MethodError::OutOfRange {
                field: "method.credit.estimator",
                value: self.credit.estimator.clone(),
                expected: "spo exactly when method.rollout.kind is spo_chain or spo_tree",
            });
        }
        if !segment {
            return Ok(());
        }
        let s = &self.select;
        let conflicts = [
            ("method.select.dynamic_sampling", s.dynamic_sampling),
            ("method.select.overlong_shaping", s.overlong_shaping),
            ("method.select.overlong_filter", s.overlong_filter),
            ("method.select.downsample", s.downsample != Downsample::None),
            (
                "method.credit.reweight",
                self.credit.reweight != Reweight::None,
            ),
            (
                "method.credit.global_advantage",
                self.credit.global_advantage != GlobalAdvantage::None,
            ),
            (
                "method.objective.trust_region",
                self.objective.trust_region != TrustRegion::Constant,
            ),
        ];
        if let Some((field, _)) = conflicts.into_iter().find(|(_, on)| *on) {
            return Err(MethodError::OutOfRange {
                field,
                value: "on".into(),
                expected: "off (its default) with the SPO segment rollouts (method.rollout.kind)",
            });
        }
        Ok(())
    }
}
