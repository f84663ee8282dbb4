//! PEFT's adapter directory: `adapter_config.json` and `adapter_model.safetensors`, the layout
//! that `PeftModel.from_pretrained`, vLLM's `LoRARequest` and SGLang load. Tensors are named
//! `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` (`[r, in]`) and
//! `...lora_B.weight` (`[out, r]`). Only plain LoRA is read: settings that change the math
//! (rsLoRA, DoRA, trained biases, per-layer ranks, ...) are refused with the field's name.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::{peft_module, Lora};
use crate::checkpoint;
use crate::error::ModelError;
use crate::transformer::Transformer;

pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";

pub use super::peft_config::{read_peft_config, PeftAdapterConfig};

impl Lora {
    /// Writes the adapters as a PEFT adapter directory (creating `dir`), each file atomically.
    /// `base_model_name_or_path` is recorded for loaders that fetch the base themselves
    /// (`PeftModel.from_pretrained` with `AutoPeftModelForCausalLM`).
    pub fn save_peft(&self, dir: &Path, base_model_name_or_path: &str) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        let tensors: BTreeMap<String, Tensor> = self.vs.variables().into_iter().collect();
        checkpoint::save_tensors(&dir.join(ADAPTER_WEIGHTS_FILE), &tensors)?;
        let c = &self.config;
        // PEFT writes an integral alpha as an integer (`"lora_alpha": 8`); so do we.
        let alpha = if c.alpha.fract() == 0.0 && c.alpha.abs() < 1e15 {
            json!(c.alpha as i64)
        } else {
            json!(c.alpha)
        };
        // The fields PEFT's LoraConfig writes that matter to loaders, at the values that
        // describe plain LoRA.
        let config = json!({
            "alpha_pattern": {},
            "auto_mapping": null,
            "base_model_name_or_path": base_model_name_or_path,
            "bias": "none",
            "exclude_modules": null,
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "layer_replication": null,
            "layers_pattern": null,
            "layers_to_transform": null,
            "lora_alpha": alpha,
            "lora_bias": false,
            "lora_dropout": c.dropout,
            "modules_to_save": null,
            "peft_type": "LORA",
            "r": c.rank,
            "rank_pattern": {},
            "revision": null,
            "target_modules": c.target_modules,
            "task_type": "CAUSAL_LM",
            "use_dora": false,
            "use_rslora": false,
        });
        let text = serde_json::to_string_pretty(&config).unwrap_or_default();
        checkpoint::write_atomic(&dir.join(ADAPTER_CONFIG_FILE), text.as_bytes())
    }

    /// Reads a PEFT adapter directory and attaches it to `model` (freezing `base`, as
    /// [`Lora::attach`] does). Every tensor is checked before the model is touched: a missing
    /// tensor, a wrong shape or one the model has no place for fails and leaves it as it was.
    pub fn load_peft(
        dir: &Path,
        model: &mut Transformer,
        base: &mut VarStore,
    ) -> Result<Lora, ModelError> {
        let config = read_peft_config(dir)?.lora;
        let mut expected = BTreeMap::new();
        for (layer, group, name, linear) in model.projections_mut() {
            if config.targets(name) {
                let (out_dim, in_dim) = linear.weight.size2()?;
                let module = peft_module(layer, group, name);
                expected.insert(format!("{module}.lora_A.weight"), vec![config.rank, in_dim]);
                expected.insert(
                    format!("{module}.lora_B.weight"),
                    vec![out_dim, config.rank],
                );
            }
        }
        let tensors = read_adapter_tensors(dir, &expected)?;
        let mut lora = Lora::attach(model, base, &config)?;
        lora.copy_in(&tensors)?;
        Ok(lora)
    }

    /// Loads the weights of a PEFT adapter directory into these adapters in place (resuming a
    /// run: an optimizer built on [`Lora::vs`] keeps training the same variables). The
    /// directory's rank, alpha and targets must be this adapter's.
    pub fn load_peft_weights(&mut self, dir: &Path) -> Result<(), ModelError> {
        let found = read_peft_config(dir)?.lora;
        let mismatch = |field: &'static str, expected: String, found: String| {
            Err(ModelError::ConfigMismatch {
                field,
                expected,
                found,
            })
        };
        let c = &self.config;
        if found.rank != c.rank {
            return mismatch("r", c.rank.to_string(), found.rank.to_string());
        }
        if found.alpha != c.alpha {
            return mismatch("lora_alpha", c.alpha.to_string(), found.alpha.to_string());
        }
        let (mut a, mut b) = (found.target_modules.clone(), c.target_modules.clone());
        a.sort();
        b.sort();
        if a != b {
            return mismatch("target_modules", format!("{b:?}"), format!("{a:?}"));
        }
        let expected = self
            .vs
            .variables()
            .into_iter()
            .map(|(name, t)| (name, t.size()))
            .collect();
        let tensors = read_adapter_tensors(dir, &expected)?;
        self.copy_in(&tensors)
    }

    fn copy_in(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<(), ModelError> {
        for (name, var) in self.vs.variables() {
            if let Some(value) = tensors.get(&name) {
                tch::no_grad(|| var.shallow_clone().f_copy_(value))?;
            }
        }
        Ok(())
    }
}

/// Reads `dir/adapter_model.safetensors` on the CPU and checks it holds exactly the
/// `expected` tensors (name -> shape) in a float dtype.
fn read_adapter_tensors(
    dir: &Path,
    expected: &BTreeMap<String, Vec<i64>>,
) -> Result<BTreeMap<String, Tensor>, ModelError> {
    let path: PathBuf = dir.join(ADAPTER_WEIGHTS_FILE);
    if !path.is_file() {
        return Err(ModelError::MissingFile {
            path,
            hint: format!("a PEFT adapter directory needs {ADAPTER_WEIGHTS_FILE}"),
        });
    }
    let tensors = checkpoint::load_tensors(&path, Device::Cpu)?;
    for (name, shape) in expected {
        let Some(t) = tensors.get(name) else {
            return Err(ModelError::MissingTensor {
                name: name.clone(),
                path,
            });
        };
        if &t.size() != shape {
            return Err(ModelError::ShapeMismatch {
                name: name.clone(),
                path,
                expected: shape.clone(),
                found: t.size(),
            });
        }
        if !matches!(
            t.kind(),
            Kind::Float | Kind::BFloat16 | Kind::Half | Kind::Double
        ) {
            return Err(ModelError::UnsupportedDtype {
                name: name.clone(),
                dtype: format!("{:?}", t.kind()),
            });
        }
    }
    if let Some(name) = tensors.keys().find(|n| !expected.contains_key(*n)) {
        return Err(ModelError::UnexpectedTensor {
            name: name.clone(),
            path,
        });
    }
    Ok(tensors)
}
