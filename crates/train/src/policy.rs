//! The language-model policy as the training loops use it: weights, sampling, log-probs and
//! checkpoint I/O, in one place so that the loops never reach into the models layer's details.
use std::path::Path;

use polopt_models::{
    checkpoint, generate, generate_adaptive, generate_until, response_logprobs,
    AdaptiveTemperature, Rollout, SamplingConfig, Transformer, TransformerConfig,
};
use tch::{nn::VarStore, Device, Tensor};

use crate::error::TrainError;
use crate::packing::Packed;

pub struct Policy {
    pub vs: VarStore,
    pub model: Transformer,
    pub config: TransformerConfig,
}

impl Policy {
    pub fn new(config: TransformerConfig, device: Device) -> Result<Self, TrainError> {
        let vs = VarStore::new(device);
        let model =
            Transformer::new(&vs.root(), &config).map_err(|e| TrainError::Model(e.to_string()))?;
        Ok(Self { vs, model, config })
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn sample(
        &self,
        prompts: &[Vec<i64>],
        sampling: &SamplingConfig,
    ) -> Result<Rollout, TrainError> {
        generate(&self.model, prompts, sampling).map_err(|e| TrainError::Model(e.to_string()))
    }

    /// [`Self::sample`] with HAPO's per-token temperature when `adaptive` is set.
    pub fn sample_adaptive(
        &self,
        prompts: &[Vec<i64>],
        sampling: &SamplingConfig,
        adaptive: Option<&AdaptiveTemperature>,
    ) -> Result<Rollout, TrainError> {
        generate_adaptive(&self.model, prompts, sampling, adaptive)
            .map_err(|e| TrainError::Model(e.to_string()))
    }

    /// [`Policy::sample`], and a row also ends right after emitting the ids `stop`.
    pub fn sample_until(
        &self,
        prompts: &[Vec<i64>],
        sampling: &SamplingConfig,
        stop: &[i64],
    ) -> Result<Rollout, TrainError> {
        generate_until(&self.model, prompts, sampling, stop)
            .map_err(|e| TrainError::Model(e.to_string()))
    }

    /// `[B, R]` log-probs of the packed responses at `temperature`, with gradients, and the
    /// full-vocabulary entropy when asked.
    pub fn logprobs(
        &self,
        packed: &Packed,
        temperature: f64,
        with_entropy: bool,
    ) -> (Tensor, Option<Tensor>) {
        response_logprobs(
            &self.model,
            &packed.tokens,
            &packed.attention_mask,
            packed.prompt_len,
            temperature,
            with_entropy,
        )
    }

    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        checkpoint::save(&self.vs, &self.config, dir).map_err(|e| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })
    }

    /// Loads weights saved by [`Policy::save`]; the checkpoint's architecture must match.
    pub fn load_weights(&mut self, dir: &Path) -> Result<(), TrainError> {
        checkpoint::load_into(&mut self.vs, &self.config, dir).map_err(|e| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })
    }
}
