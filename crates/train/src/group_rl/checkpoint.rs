//! Atomic checkpoints of a group-RL run and exact resume from them.

use super::*;
use crate::run_dir::write_atomic;

impl Loop<'_> {
    pub(super) fn save_checkpoint(
        &self,
        run_dir: &Path,
        step: usize,
        warm: &BTreeMap<String, f64>,
    ) -> Result<(), TrainError> {
        if !self.is_root() {
            // Rank 0 writes the checkpoint; every rank reads it on resume.
            return Ok(());
        }
        let state = TrainState {
            step,
            optimizer_step: self.opt.step,
            nan_events: self.nan_events,
            warmstart_metrics: warm.clone(),
            method_state: self.method.state(),
            data_order: self.prompts.state(),
        };
        save_checkpoint_dir(run_dir, &checkpoint_name(step), |dir| {
            self.policy.save(dir)?;
            if let Some(driver) = &self.driver {
                driver.save(dir)?;
            }
            polopt_models::checkpoint::save_tensors(
                &dir.join("optimizer.safetensors"),
                &self.opt.state_tensors(),
            )
            .map_err(|e| TrainError::Checkpoint {
                path: dir.to_path_buf(),
                detail: e.to_string(),
            })?;
            let text = serde_json::to_string_pretty(&state)
                .map_err(|e| TrainError::Config(e.to_string()))?;
            if let Some(r3) = &self.r3 {
                r3.save(dir)?;
            }
            if let Some(critic) = &self.plan_critic {
                critic.save(dir)?;
            }
            if let Some(model) = &self.learned_reward {
                model.save(dir)?;
            }
            write_atomic(&dir.join("state.json"), text.as_bytes())
        })?;
        Ok(())
    }

    pub(super) fn load_checkpoint(&mut self, dir: &Path) -> Result<TrainState, TrainError> {
        let state_path = dir.join("state.json");
        let text =
            std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
        let state: TrainState =
            serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
                path: state_path.clone(),
                detail: e.to_string(),
            })?;
        self.policy.load_weights(dir)?;
        if let Some(r3) = self.r3.as_mut() {
            r3.load(dir)?;
        }
        if let Some(critic) = self.plan_critic.as_mut() {
            critic.load(dir)?;
        }
        if let Some(model) = self.learned_reward.as_mut() {
            model.load(dir)?;
        }
        if let Some(driver) = self.driver.as_mut() {
            driver.load(dir)?;
        }
        let opt_path = dir.join("optimizer.safetensors");
        let tensors = polopt_models::checkpoint::load_tensors(&opt_path, self.policy.device())
            .map_err(|e| TrainError::Checkpoint {
                path: opt_path.clone(),
                detail: e.to_string(),
            })?;
        self.opt
            .load_state_tensors(&tensors, state.optimizer_step)
            .map_err(|detail| TrainError::Checkpoint {
                path: opt_path,
                detail,
            })?;
        Ok(state)
    }
}
