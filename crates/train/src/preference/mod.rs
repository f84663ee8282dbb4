//! The preference rollout kinds as one [`StepDriver`] over the group-RL run (warm start,
//! evaluation, metrics, checkpoints and resume stay there): each step gathers pairs, scores
//! them under the policy and the reference, and takes one guarded optimizer step on the loss
//! that `method.preference.loss` names.
//!
//! - `pairs`: offline pairs ([`pairs`]: a `[data]` file, or synthetic pairs from the task)
//!   in a resumable epoch order; KTO's loss gets them as unpaired examples.
//! - `online_pairs`: the group rollout of `rollout.rs` (G responses per prompt, scored by the
//!   run's reward); each group's best and worst responses, when they differ, are a pair.
//! - `reference_pairs`: the task's solution against a response sampled from the reference.
//!
//! The reference is the warm start, or a snapshot of the policy ([`references`]).
pub mod logps;
pub mod pairs;
pub mod references;
pub mod reward_head;
mod step;

use std::collections::BTreeMap;
use std::path::Path;

use polopt_envs::data::DataOrder;
use polopt_envs::text::{Split, Task};
use polopt_methods::preference::{
    build_preference_loss, InputKind, PreferenceObjective, PREFERENCE_LOSSES,
};
use polopt_methods::{PreferenceConfig, RolloutKind};
use serde::{Deserialize, Serialize};

use crate::codec::Codec;
use crate::config::RunConfig;
use crate::driver::{DriverCtx, StepDriver};
use crate::error::TrainError;
use crate::policy::Policy;
use crate::run_dir::write_atomic;
use pairs::{encode_set, synthetic_pairs, PreferenceSet, TokenSet};
use references::{SnapshotState, Snapshots};
use reward_head::RewardHead;

const STATE: &str = "preference_state.json";

/// The driver's part of a checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct DriverState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order: Option<DataOrder>,
    snapshots: SnapshotState,
    #[serde(default)]
    head_optimizer_step: i64,
}

pub struct PreferenceDriver {
    kind: RolloutKind,
    settings: PreferenceConfig,
    loss: Box<dyn PreferenceObjective>,
    /// The offline training set (`pairs` only).
    train: Option<TokenSet>,
    order: Option<DataOrder>,
    /// Held-out pairs for preference accuracy.
    eval: TokenSet,
    snapshots: Snapshots,
    /// The reward model's head (loss `bt`).
    head: Option<RewardHead>,
    /// The loss reads the previous iterate's log-probs (INPO).
    tracks_iterate: bool,
    /// The loss reads the reference's log-probs (all but SimPO, ORPO and the reward model).
    uses_reference: bool,
    seed: u64,
}

impl PreferenceDriver {
    /// `train_set`: the loaded preference file of a `[data]` run; `None` makes synthetic pairs
    /// from the task. `eval_set`: held-out pairs from `data.eval` (or synthetic ones).
    pub fn new(
        config: &RunConfig,
        tok: &Codec,
        task: &dyn Task,
        policy: &Policy,
        run_dir: &Path,
        files: Option<(PreferenceSet, Option<PreferenceSet>)>,
    ) -> Result<Self, TrainError> {
        let m = &config.method;
        let settings = m.preference.clone();
        let loss = build_preference_loss(&settings.loss, settings.losses.get(&settings.loss))?;
        let entry = PREFERENCE_LOSSES
            .iter()
            .find(|e| e.name == settings.loss)
            .ok_or_else(|| {
                TrainError::Config(format!("unknown preference loss {}", settings.loss))
            })?;
        let positions = config.model.max_position_embeddings as usize;
        let unpaired = loss.input() == InputKind::Unpaired;
        let (train_text, eval_text) = match files {
            Some((train, eval)) => (train, eval),
            None => {
                let seed = config.run.seed;
                let how = settings.synthetic_rejected;
                let train =
                    synthetic_pairs(task, Split::Train, settings.synthetic_pairs, seed, how);
                let eval = synthetic_pairs(task, Split::Test, settings.eval_pairs, seed, how);
                (
                    PreferenceSet::Paired(train),
                    Some(PreferenceSet::Paired(eval)),
                )
            }
        };
        let (train, order) = if m.rollout.kind == RolloutKind::Pairs {
            let text = match unpaired {
                true => PreferenceSet::Unpaired(train_text.unpaired()),
                false => match train_text {
                    PreferenceSet::Unpaired(_) => {
                        return Err(TrainError::Config(format!(
                            "config key `method.preference.loss`: `{}` needs pairs \
                             (prompt, chosen, rejected); the data holds unpaired examples \
                             (use loss \"kto\")",
                            settings.loss
                        )))
                    }
                    paired => paired,
                },
            };
            if text.is_empty() {
                return Err(TrainError::Config(
                    "method.preference: the training set holds no pairs".into(),
                ));
            }
            let set = encode_set(text, tok, positions, "preference training data")?;
            let order = DataOrder::new(set.len(), config.run.seed)
                .map_err(|e| TrainError::Config(format!("method.preference: {e}")))?;
            (Some(set), Some(order))
        } else {
            (None, None)
        };
        let eval = match eval_text {
            Some(PreferenceSet::Paired(p)) => encode_set(
                PreferenceSet::Paired(p),
                tok,
                positions,
                "held-out preference data",
            )?,
            _ => TokenSet::Paired(Vec::new()),
        };
        let head = (loss.input() == InputKind::Rewards)
            .then(|| RewardHead::new(policy.config.hidden_size, policy.device(), config.rl.lr));
        if policy.lora.is_some()
            && settings.reference != polopt_methods::ReferenceSchedule::WarmStart
        {
            return Err(TrainError::Config(
                "config key `method.preference.reference`: snapshots of a LoRA policy are not \
                 supported; use \"warm_start\" or train without model.lora"
                    .into(),
            ));
        }
        Ok(Self {
            kind: m.rollout.kind,
            tracks_iterate: entry.uses_iterate,
            uses_reference: entry.uses_reference,
            loss,
            train,
            order,
            eval,
            snapshots: Snapshots::new(run_dir, settings.refresh_every, config.run.seed),
            head,
            settings,
            seed: config.run.seed,
        })
    }
}

impl StepDriver for PreferenceDriver {
    fn step(
        &mut self,
        ctx: &mut DriverCtx,
        step: usize,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        step::run(self, ctx, step)
    }

    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        let state = DriverState {
            order: self.order.clone(),
            snapshots: self.snapshots.state.clone(),
            head_optimizer_step: self.head.as_ref().map_or(0, |h| h.opt.step),
        };
        if let Some(head) = &self.head {
            head.save(dir)?;
        }
        let text =
            serde_json::to_string_pretty(&state).map_err(|e| TrainError::Config(e.to_string()))?;
        write_atomic(&dir.join(STATE), text.as_bytes())
    }

    fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join(STATE);
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        let state: DriverState =
            serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if let (Some(order), Some(train)) = (&state.order, &self.train) {
            order
                .check_len(train.len())
                .map_err(|e| TrainError::Checkpoint {
                    path: path.clone(),
                    detail: format!("preference data: {e}"),
                })?;
        }
        if state.order.is_some() {
            self.order = state.order;
        }
        self.snapshots.restore(state.snapshots, &path)?;
        if let Some(head) = self.head.as_mut() {
            head.load(dir, state.head_optimizer_step)?;
        }
        Ok(())
    }

    /// Always: besides the losses that read it, the held-out preference accuracy and the
    /// implicit KL are measured against the warm start (reference-free losses skip it in
    /// their steps).
    fn needs_reference(&self) -> bool {
        true
    }

    /// SePPO's reference pairs sample from the reference; the other kinds read log-probs.
    fn reference_logprobs_only(&self) -> bool {
        self.kind != RolloutKind::ReferencePairs
    }

    fn evaluate(
        &self,
        policy: &Policy,
        tok: &Codec,
        reference: Option<&Policy>,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        step::evaluate(self, policy, tok, reference)
    }
}
