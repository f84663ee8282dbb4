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
    /// The frozen warm start, when [`StepDriver::needs_reference`] or the config asks for it.
    pub reference: Option<&'a Policy>,
    pub nan_events: &'a mut usize,
}

impl DriverCtx<'_> {
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
}

/// The driver `method.rollout.kind` asks for; `None` is group RL's own rollout.
pub fn driver_for(
    config: &RunConfig,
    tok: &Codec,
    device: tch::Device,
) -> Result<Option<Box<dyn StepDriver>>, TrainError> {
    Ok(match config.method.rollout.kind {
        RolloutKind::Group | RolloutKind::SpoChain | RolloutKind::SpoTree => None,
        RolloutKind::Truncated => Some(Box::new(crate::tppo::Tppo::new(config, tok, device)?)),
        RolloutKind::OfflineStep => Some(Box::new(crate::dapo_step::DapoStep::new(
            config, tok, device,
        )?)),
    })
}
