//! The language-model policy as the training loops use it: weights, sampling, log-probs and
//! checkpoint I/O, in one place so that the loops never reach into the models layer's details.
use std::path::{Path, PathBuf};

use polopt_models::{
    checkpoint, generate, generate_adaptive, generate_until, generate_until_any, hf,
    response_logprobs, AdaptiveTemperature, Lora, LoraConfig, Rollout, SamplingConfig, Transformer,
    TransformerConfig,
};
use tch::{nn::VarStore, Device, Tensor};

use crate::agent_rollout::TurnCache;
use crate::config::AgentContext;
use crate::error::TrainError;
use crate::packing::Packed;

pub struct Policy {
    pub vs: VarStore,
    pub model: Transformer,
    pub config: TransformerConfig,
    /// The Hugging Face directory the weights came from (`model.path`): checkpoints copy its
    /// tokenizer and generation files, so that each one is a complete model directory.
    pub source_dir: Option<PathBuf>,
    /// LoRA adapters (`model.lora`): then only they train, checkpoints are PEFT adapter
    /// directories, and the reference policy is this model with the adapters off.
    pub lora: Option<Lora>,
    /// How multi-turn rollouts feed each round to the sampler (`rl.turn_cache`).
    pub turn_cache: TurnCache,
    /// What a multi-turn rollout samples each action from (`rl.agent_context`).
    pub agent_context: AgentContext,
}

impl Policy {
    pub fn new(config: TransformerConfig, device: Device) -> Result<Self, TrainError> {
        let vs = VarStore::new(device);
        let model =
            Transformer::new(&vs.root(), &config).map_err(|e| TrainError::Model(e.to_string()))?;
        Ok(Self {
            vs,
            model,
            config,
            source_dir: None,
            lora: None,
            turn_cache: TurnCache::default(),
            agent_context: AgentContext::default(),
        })
    }

    /// A Hugging Face model directory, in the device's default dtype (f32 on CPU, bf16 on CUDA).
    pub fn from_hf_dir(dir: &Path, device: Device) -> Result<Self, TrainError> {
        let loaded = hf::load(dir, device, None)
            .map_err(|e| TrainError::Model(format!("model.path: {e}")))?;
        Ok(Self {
            vs: loaded.vs,
            model: loaded.model,
            config: loaded.config,
            source_dir: Some(dir.to_path_buf()),
            lora: None,
            turn_cache: TurnCache::default(),
            agent_context: AgentContext::default(),
        })
    }

    /// Attaches fresh adapters (draws from libtorch's generator: call under a seeded draw)
    /// and freezes the base weights.
    pub fn attach_lora(&mut self, config: &LoraConfig) -> Result<(), TrainError> {
        let lora = Lora::attach(&mut self.model, &mut self.vs, config)
            .map_err(|e| TrainError::Config(format!("config key `model.lora`: {e}")))?;
        self.lora = Some(lora);
        Ok(())
    }

    /// The variables an optimizer trains: the adapters' under LoRA, else all weights.
    pub fn trainable_vs(&self) -> &VarStore {
        match &self.lora {
            Some(lora) => lora.vs(),
            None => &self.vs,
        }
    }

    /// `[B, R]` log-probs of the base model, adapters off (the LoRA run's reference policy).
    pub fn base_logprobs(&self, packed: &Packed, temperature: f64) -> Tensor {
        self.model
            .without_adapters(|_| tch::no_grad(|| self.logprobs(packed, temperature, false).0))
    }

    /// A frozen copy of the checkpoint in `dir`, with this policy's architecture and dtype
    /// (the reference policy).
    pub fn frozen_from(&self, dir: &Path) -> Result<Self, TrainError> {
        let mut copy = Policy::new(self.config.clone(), self.device())?;
        let kind = self.vs.variables().values().next().map(|t| t.kind());
        if let Some(kind) = kind.filter(|k| *k != tch::Kind::Float) {
            copy.vs.set_kind(kind);
            // New storage for every variable: rebuild the fused buffers, freeing the f32 ones.
            copy.model.ensure_fused();
        }
        copy.load_weights(dir)?;
        copy.vs.freeze();
        copy.source_dir = self.source_dir.clone();
        Ok(copy)
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

    /// [`Policy::sample`], and a row also ends right after emitting any of `stops`.
    pub fn sample_until_any(
        &self,
        prompts: &[Vec<i64>],
        sampling: &SamplingConfig,
        stops: &[&[i64]],
    ) -> Result<Rollout, TrainError> {
        generate_until_any(&self.model, prompts, sampling, stops)
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
        if let Some(lora) = &self.lora {
            return self.save_adapter(lora, dir);
        }
        let options = hf::SaveOptions {
            copy_files_from: self.source_dir.as_deref(),
            ..Default::default()
        };
        hf::save(&self.vs, &self.config, dir, &options).map_err(|e| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })
    }

    /// A PEFT adapter directory with the base model's tokenizer files, which PEFT, vLLM's
    /// LoRA loader and `polopt merge` read.
    fn save_adapter(&self, lora: &Lora, dir: &Path) -> Result<(), TrainError> {
        let error = |detail: String| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail,
        };
        let base = self
            .source_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        lora.save_peft(dir, &base)
            .map_err(|e| error(e.to_string()))?;
        for name in hf::COMPANION_FILES {
            let from = self.source_dir.as_ref().map(|d| d.join(name));
            if let Some(from) = from.filter(|f| f.is_file()) {
                std::fs::copy(&from, dir.join(name)).map_err(|e| TrainError::io(&from, e))?;
            }
        }
        Ok(())
    }

    /// Loads weights saved by [`Policy::save`]; the checkpoint's architecture must match.
    /// Under LoRA, the checkpoint is an adapter directory and only the adapters load.
    pub fn load_weights(&mut self, dir: &Path) -> Result<(), TrainError> {
        if let Some(lora) = self.lora.as_mut() {
            return lora
                .load_peft_weights(dir)
                .map_err(|e| TrainError::Checkpoint {
                    path: dir.to_path_buf(),
                    detail: e.to_string(),
                });
        }
        checkpoint::load_into(&mut self.vs, &self.config, dir).map_err(|e| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })
    }
}
