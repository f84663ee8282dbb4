//! Weight publishing to a rollout engine (`[rollout]` with a vLLM or SGLang source): after
//! every update the policy is written as a Hugging Face directory at `rollout.publish_dir`
//! (atomically: a reader sees the old or the new directory, never half of one) and the
//! engine is asked to reload it, so that the next step samples from the updated weights.

use super::*;
use crate::export::export_model;
use crate::run_dir::latest_checkpoint;
use crate::run_dir::save_dir_atomic;

impl Loop<'_> {
    /// The first publication, from the checkpoint the run starts at: a complete model
    /// directory, tokenizer files included, as `polopt export` writes it.
    pub(super) fn publish_start(&self, run_dir: &Path) -> Result<(), TrainError> {
        let Some(engine) = &self.engine else {
            return Ok(());
        };
        let (_, checkpoint) = latest_checkpoint(run_dir).ok_or_else(|| {
            TrainError::Config(format!(
                "{}: no checkpoint to publish to the rollout engine",
                run_dir.display()
            ))
        })?;
        let dir = &self.publish_dir;
        let (root, name) = split_dir(dir)?;
        save_dir_atomic(&root, &name, |tmp| export_model(&checkpoint, tmp))?;
        engine.publish_weights(dir)?;
        Ok(())
    }

    /// After an update: the new weights, with the tokenizer files of the previous publication.
    pub(super) fn publish(&self) -> Result<(), TrainError> {
        let Some(engine) = &self.engine else {
            return Ok(());
        };
        let dir = &self.publish_dir;
        let (root, name) = split_dir(dir)?;
        save_dir_atomic(&root, &name, |tmp| {
            self.policy.save(tmp)?;
            copy_missing_files(dir, tmp)
        })?;
        engine.publish_weights(dir)?;
        Ok(())
    }
}

/// The engine of `[rollout]`, after checking that this run's rollout is one it can serve:
/// single-turn rows of the group rollout (no tool calls, no agent turns, no SPO segments, no
/// loop of its own, no replays) of a full model (a LoRA run would need adapter publishing).
pub(super) fn rollout_engine(
    config: &RunConfig,
    task: &dyn Task,
    own_loop_or_replay: bool,
    lora: bool,
) -> Result<Option<Box<dyn RolloutSource>>, TrainError> {
    let Some(engine) = config.rollout.remote()? else {
        return Ok(None);
    };
    let kind = config.method.parts().rollout.kind;
    let segments = matches!(
        kind,
        polopt_methods::RolloutKind::SpoChain | polopt_methods::RolloutKind::SpoTree
    );
    let interactive = task.tool().is_some() || task.agent_env().is_some();
    let why = if interactive {
        Some("the task calls tools or plays agent turns, which the engine does not run")
    } else if segments || own_loop_or_replay {
        Some("the method samples through its own rollout (segments, a driver or replays)")
    } else if lora {
        Some("model.lora: publishing adapters to the engine is not supported yet")
    } else {
        None
    };
    match why {
        Some(why) => Err(TrainError::Config(format!(
            "config key `rollout.source` = {:?} with preset `{}`: {why}; use rollout.source = \"local\"",
            config.rollout.source, config.method.preset
        ))),
        None => Ok(Some(engine)),
    }
}

/// `dir` as (parent, last component), for [`save_dir_atomic`].
fn split_dir(dir: &Path) -> Result<(PathBuf, String), TrainError> {
    let name = dir.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        TrainError::Config(format!(
            "config key `rollout.publish_dir`: {} has no directory name",
            dir.display()
        ))
    })?;
    let root = dir
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok((root, name.to_string()))
}

/// Copies the plain files of `from` that `to` lacks (tokenizer and generation configs).
fn copy_missing_files(from: &Path, to: &Path) -> Result<(), TrainError> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(from, e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if source.is_file() && !target.exists() {
            std::fs::copy(&source, &target).map_err(|e| TrainError::io(&source, e))?;
        }
    }
    Ok(())
}
