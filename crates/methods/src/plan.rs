//! One step's credit and selection as the loop consumes it: the hook between the parts
//! registered by name and the training loop, so that a loop never branches on a method.
//!
//! [`MethodRuntime`] is built once per run (estimators and parts may carry cross-step state,
//! e.g. RiskPO's quantile tracker, DCPO's entropy estimate) and turns a scored batch into an
//! [`UpdatePlan`] on plain data: rewards (a part may rewrite them before credit), the
//! estimator's advantages, then each enabled part in [`PartKind`] order editing the plan
//! (advantages, per-sample clip bounds, token keep-masks, a blended second advantage). The
//! tensor side is [`crate::objective::PlannedLoss`].
//!
//! What the parts need from the loop is the union of their [`Needs`], plus two dynamic hooks:
//! a second old-policy temperature ([`MethodRuntime::extra_old_temperature`]) and per-token
//! sampling temperatures ([`MethodRuntime::sampling_entropy_stats`]). What they remember
//! between steps is [`MethodState`], saved in checkpoints.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::MethodConfig;
use crate::credit::{
    estimator, AdvantageEstimator, Advantages, CopoBlend, CreditBatch, ResponseInfo,
};
use crate::error::MethodError;
use crate::objective::{EntropyStats, PolicyObjective, SampleBounds};
use crate::parts::{needs_of, BuiltPart, Needs, Part, PartKind, PlanStep};
use crate::select::nonzero_group_frac;

/// What one update needs beyond the log-probs, on plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    pub advantages: Advantages,
    pub clip_bounds: Option<SampleBounds>,
    /// `[B][len_i]`, 1.0 on tokens that reach the loss.
    pub token_keep: Option<Vec<Vec<f64>>>,
    pub blend: Option<CopoBlend>,
    pub metrics: BTreeMap<&'static str, f64>,
}

impl UpdatePlan {
    /// The plain plan of `advantages`: no bounds, masks or blend.
    pub fn of(advantages: Advantages) -> Self {
        Self {
            advantages,
            clip_bounds: None,
            token_keep: None,
            blend: None,
            metrics: BTreeMap::new(),
        }
    }
}

/// Per-step inputs besides the scored batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepContext<'a> {
    /// Training progress in `[0, 1]` (step / total steps), for schedules.
    pub progress: f64,
    /// Old-policy full-vocabulary entropy `[B][len_i]`, when [`Needs::old_entropy`].
    pub old_entropy: Option<&'a [Vec<f64>]>,
    /// `[B]`, responses that hit the generation limit (R³'s SERR).
    pub truncated: Option<&'a [bool]>,
    /// `[B]`, off-policy samples replayed from a buffer (R³'s CCR).
    pub replayed: Option<&'a [bool]>,
    /// Old-policy log-probs at the temperature [`MethodRuntime::extra_old_temperature`] asked
    /// for, with those at the rollout temperature.
    pub tempered_old_logp: Option<TemperedOldLogp<'a>>,
    /// Per-response rollout data `[B]` (correctness, first tool call), for shaping parts.
    pub responses: Option<&'a [ResponseInfo]>,
}

/// The sampled tokens' old-policy log-probs at two temperatures, `[B][len_i]` each, from one
/// forward pass (detached).
#[derive(Debug, Clone, Copy)]
pub struct TemperedOldLogp<'a> {
    pub temperature: f64,
    /// At `temperature`.
    pub tempered: &'a [Vec<f64>],
    /// At the rollout temperature (the behaviour policy).
    pub base: &'a [Vec<f64>],
}

/// What the loop reports after a step's update, for controllers that look back one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFeedback {
    /// Mean `-log pi(o_t)` of the sampled tokens over the step's minibatch forwards.
    pub token_nll_mean: f64,
    /// Mean full-vocabulary entropy of the same positions.
    pub entropy_mean: f64,
    /// Every valid token's entropy, once each (first epoch), when
    /// [`MethodRuntime::needs_token_entropies`]; empty otherwise.
    pub token_entropies: Vec<f64>,
}

/// Cross-step state of a run's method parts, saved in each checkpoint so that resume is exact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodState {
    /// The advantage estimator's own state (RiskPO's quantile tracker); `null` when stateless.
    pub estimator: serde_json::Value,
    /// Each stateful part's state, by part name (`dcpo`, `entropy_adaptive`, ...).
    #[serde(flatten)]
    pub parts: BTreeMap<String, serde_json::Value>,
}

pub struct MethodRuntime {
    estimator: Box<dyn AdvantageEstimator>,
    /// The enabled parts in [`PartKind`] order.
    parts: Vec<BuiltPart>,
    config: MethodConfig,
}

impl MethodRuntime {
    pub fn new(config: &MethodConfig) -> Result<Self, MethodError> {
        config.validate()?;
        Ok(Self {
            estimator: estimator(&config.credit)?,
            parts: config.build_parts()?,
            config: config.clone(),
        })
    }

    fn each(&self) -> impl Iterator<Item = &dyn Part> {
        self.parts.iter().map(|(_, p)| p.as_ref())
    }

    /// The estimator reads [`crate::credit::turns::Episode::gold_probs`] (IGPO): the agent
    /// rollout then probes the policy's belief in the gold answer before every turn.
    pub fn needs_gold_probe(&self) -> bool {
        self.estimator.needs_gold_probe()
    }

    /// The estimator reads plan-execute turns with critic values (HiPER).
    pub fn needs_plan(&self) -> bool {
        self.estimator.needs_plan()
    }

    /// What the enabled parts need from the loop.
    pub fn needs(&self) -> Needs {
        needs_of(self.each())
    }

    pub fn needs_old_entropy(&self) -> bool {
        self.needs().old_entropy
    }

    /// Whether [`StepFeedback::token_entropies`] is wanted.
    pub fn needs_token_entropies(&self) -> bool {
        self.needs().token_entropies
    }

    /// A second old-policy temperature whose log-probs the next [`Self::plan`] needs
    /// ([`StepContext::tempered_old_logp`]); `None` when no part needs one this step.
    pub fn extra_old_temperature(&self) -> Option<f64> {
        self.each().find_map(|p| p.extra_old_temperature())
    }

    /// `tau` and the previous step's entropy statistics for per-token sampling temperatures;
    /// `None` when no part sets them (then the rollout uses the plain temperature).
    pub fn sampling_entropy_stats(&self) -> Option<(f64, EntropyStats)> {
        self.each().find_map(|p| p.sampling_entropy_stats())
    }

    /// Takes the finished step's statistics into the parts' cross-step state.
    pub fn observe_step(&mut self, feedback: &StepFeedback) {
        for (_, part) in &mut self.parts {
            part.observe_step(feedback);
        }
    }

    /// The policy loss with the trust region the parts chose, for the loop's updates.
    pub fn objective(&self) -> Result<PolicyObjective, MethodError> {
        PolicyObjective::new(self.config.objective.clone())
    }

    /// Everything that carries over steps, for checkpoints.
    pub fn state(&self) -> MethodState {
        let parts = self
            .parts
            .iter()
            .map(|(e, p)| (e.name.to_string(), p.state()))
            .filter(|(_, s)| !s.is_null())
            .collect();
        MethodState {
            estimator: self.estimator.state(),
            parts,
        }
    }

    /// Restores the state of a checkpoint (resume).
    pub fn restore(&mut self, state: MethodState) -> Result<(), MethodError> {
        if !state.estimator.is_null() {
            self.estimator.restore(&state.estimator)?;
        }
        for (entry, part) in &mut self.parts {
            if let Some(saved) = state.parts.get(entry.name) {
                part.restore(saved)?;
            }
        }
        Ok(())
    }

    pub fn plan(&self, batch: &CreditBatch, ctx: &StepContext) -> Result<UpdatePlan, MethodError> {
        let mut metrics = BTreeMap::new();
        // Rewards rewritten before credit (R³'s SERR): every later part sees the new ones.
        let mut shaped: Option<Vec<f64>> = None;
        for part in self.each() {
            let current = CreditBatch {
                rewards: shaped.as_deref().unwrap_or(batch.rewards),
                ..*batch
            };
            if let Some(rewards) = part.shape_rewards(&current, ctx, &mut metrics)? {
                shaped = Some(rewards);
            }
        }
        let batch = CreditBatch {
            rewards: shaped.as_deref().unwrap_or(batch.rewards),
            ..*batch
        };
        let mut plan = UpdatePlan {
            metrics,
            ..UpdatePlan::of(self.estimator.estimate(&batch)?)
        };
        let mut signal_logged = false;
        for (entry, part) in &self.parts {
            // Logged for every method after the credit itself is settled (replay weights), so
            // that R³'s claim (~all groups carry signal) compares with GRPO's.
            if entry.kind > PartKind::Replay && !signal_logged {
                log_signal(&mut plan, &batch);
                signal_logged = true;
            }
            part.apply(PlanStep {
                plan: &mut plan,
                batch: &batch,
                ctx,
            })?;
        }
        if !signal_logged {
            log_signal(&mut plan, &batch);
        }
        Ok(plan)
    }
}

fn log_signal(plan: &mut UpdatePlan, batch: &CreditBatch) {
    let frac = nonzero_group_frac(batch, &plan.advantages.per_sequence());
    plan.metrics.insert("nonzero_adv_group_frac", frac);
}
