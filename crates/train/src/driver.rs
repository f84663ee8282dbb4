//! The hook through which loops other than group RL's rollout drive an RL step of
//! `group_rl`: the warm start, evaluation, metrics and checkpoints stay in `group_rl`; a
//! driver replaces "collect and update" and keeps its own cross-step state in the checkpoint.
//! Chosen by `method.rollout.kind`, never by a preset's name.
use std::collections::BTreeMap;
use std::path::Path;

use crate::codec::Codec;
use polopt_envs::text::Task;
use polopt_methods::objective::PolicyObjective;
use polopt_methods::RolloutKind;

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::minibatch::NonFiniteGuard;
use crate::optim::AdamW;
use crate::policy::Policy;
use crate::preference::logps::ReferenceSource;
use crate::preference::pairs::PreferenceSet;
use crate::preference::PreferenceDriver;
use crate::prompts::Prompts;
use crate::reward::RewardFn;

/// What a driver may use of the loop for one step.
pub struct DriverCtx<'a> {
    pub config: &'a RunConfig,
    pub policy: &'a Policy,
    pub opt: &'a mut AdamW,
    pub tok: &'a Codec,
    pub task: &'a dyn Task,
    pub reward: &'a dyn RewardFn,
    pub objective: &'a PolicyObjective,
    /// The frozen warm start, when [`StepDriver::needs_reference`] or the config asks for it
    /// (`None` in a LoRA run, whose reference is the policy with its adapters off).
    pub reference: Option<&'a Policy>,
    /// The run's training prompts (task generator or dataset order).
    pub prompts: &'a Prompts,
    pub nan_events: &'a mut usize,
}

impl<'a> DriverCtx<'a> {
    /// Where reference log-probs come from: the frozen warm start, or in a LoRA run the
    /// policy with its adapters off; `None` when the run has no reference.
    pub fn reference_source(&self) -> Option<ReferenceSource<'a>> {
        ReferenceSource::of(self.reference, self.policy)
    }

    /// The optimizer and the run's NaN policy together, for one update's guarded steps.
    pub fn optimizer_and_guard(&mut self) -> (&mut AdamW, NonFiniteGuard<'_>) {
        let guard = NonFiniteGuard {
            events: &mut *self.nan_events,
            on_nan: self.config.run.on_nan,
            hint: "lower rl.lr / method.critic.lr or check the reward",
        };
        (&mut *self.opt, guard)
    }

    /// Counts a non-finite loss or gradient; an error under `run.on_nan = "stop"`.
    pub fn non_finite(&mut self, what: &str, step: usize) -> Result<(), TrainError> {
        self.optimizer_and_guard().1.report(what, step)
    }
}

pub trait StepDriver {
    /// One RL step: its metrics row (the loop adds step time and NaN counts).
    fn step(
        &mut self,
        ctx: &mut DriverCtx,
        step: usize,
    ) -> Result<BTreeMap<String, f64>, TrainError>;
    /// Writes the driver's cross-step state into checkpoint directory `dir`.
    fn save(&self, dir: &Path) -> Result<(), TrainError>;
    fn load(&mut self, dir: &Path) -> Result<(), TrainError>;
    fn needs_reference(&self) -> bool {
        false
    }
    /// The driver reads only the reference's log-probs (never samples from it), so a LoRA
    /// run's base model with the adapters off can serve as the reference.
    fn reference_logprobs_only(&self) -> bool {
        false
    }
    /// Held-out metrics of the driver's own (e.g. preference accuracy), merged into every
    /// evaluation row. `reference` is the frozen warm start once there is one.
    fn evaluate(
        &self,
        policy: &Policy,
        tok: &Codec,
        reference: Option<&Policy>,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let _ = (policy, tok, reference);
        Ok(BTreeMap::new())
    }
}

/// What building a driver may read of the run besides its config.
pub struct DriverInputs<'a> {
    pub tok: &'a Codec,
    pub device: tch::Device,
    pub task: &'a dyn Task,
    pub policy: &'a Policy,
    pub run_dir: &'a std::path::Path,
    /// A `[data]` pairs run's preference files (train, eval), loaded by setup.
    pub preference_files: Option<(PreferenceSet, Option<PreferenceSet>)>,
}

/// The driver `method.rollout.kind` asks for; `None` is group RL's own rollout.
pub fn driver_for(
    config: &RunConfig,
    inputs: DriverInputs,
) -> Result<Option<Box<dyn StepDriver>>, TrainError> {
    let (tok, device) = (inputs.tok, inputs.device);
    Ok(match config.method.rollout.kind {
        RolloutKind::Group | RolloutKind::SpoChain | RolloutKind::SpoTree => None,
        RolloutKind::Pairs | RolloutKind::OnlinePairs | RolloutKind::ReferencePairs => {
            Some(Box::new(PreferenceDriver::new(
                config,
                tok,
                inputs.task,
                inputs.policy,
                inputs.run_dir,
                inputs.preference_files,
            )?))
        }
        RolloutKind::Truncated => Some(Box::new(crate::tppo::Tppo::new(config, tok, device)?)),
        RolloutKind::OfflineStep => Some(Box::new(crate::dapo_step::DapoStep::new(
            config, tok, device,
        )?)),
    })
}
