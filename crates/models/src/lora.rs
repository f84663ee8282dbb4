//! LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") on a
//! [`Transformer`]'s projections, laid out and initialised as Hugging Face PEFT does.
//!
//! Each targeted projection `y = W x + b` (`W: [out, in]`, frozen) gains two trained matrices
//! `A: [r, in]` and `B: [out, r]` and computes `y = W x + b + (alpha / r) * B A dropout(x)`.
//! `A` starts as PEFT's kaiming-uniform draw and `B` at zero, so a fresh adapter leaves the
//! model's outputs exactly as they were.
//!
//! - [`Lora::attach`] freezes the base weights and puts the adapters in a `VarStore` of their
//!   own ([`Lora::vs`]): an optimizer built on it trains the adapters and nothing else.
//! - [`Transformer::without_adapters`] runs the base model alone: the frozen reference policy
//!   of a LoRA run is the same model with its adapters off, not a second copy.
//! - [`Transformer::set_adapter_training`]: dropout on `x` is applied only in training mode.
//! - [`peft`]: `adapter_config.json` + `adapter_model.safetensors`, as PEFT writes them.
//! - [`merge`]: folds `W' = W + (alpha / r) B A` into a plain Hugging Face model directory.
//!
//! Adapters are f32 whatever the base's dtype (PEFT's `autocast_adapter_dtype` default): with
//! bf16 base weights the input is cast to f32 for `B A x` and the sum cast back, as in PEFT.
pub mod merge;
pub mod peft;
mod peft_config;
mod switch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tch::{nn, nn::VarStore, Kind, Tensor};

use crate::error::ModelError;
use crate::transformer::Transformer;

/// The projections adapters can target, with their Hugging Face module names.
pub const PROJECTIONS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// Which projections get adapters, and their rank, scale and dropout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// `r`: the inner dimension of `B A`.
    pub rank: i64,
    /// `lora_alpha`: the update is scaled by `alpha / rank`.
    pub alpha: f64,
    /// `lora_dropout`: dropout probability on the adapters' input, in training mode only.
    pub dropout: f64,
    /// Module names from [`PROJECTIONS`].
    pub target_modules: Vec<String>,
}

impl Default for LoraConfig {
    /// Rank 8, alpha 16, no dropout, every projection: LoRA on all linear layers, attention
    /// and MLP, is what matches full fine-tuning best in RL (Schulman et al. 2025, "LoRA
    /// Without Regret"); attention-only adapters learn markedly less.
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            dropout: 0.0,
            target_modules: PROJECTIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl LoraConfig {
    /// The factor on `B A x`: `alpha / rank`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// Checks every field; errors name it (`lora.rank`, ...) and say what is allowed.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.check()
            .map_err(|(field, reason)| ModelError::config(field, reason))
    }

    /// [`LoraConfig::validate`] as `(field, reason)`, so that a PEFT file's errors can name the
    /// file and PEFT's field names instead.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.rank < 1 {
            return Err((
                "lora.rank",
                format!("must be at least 1, got {}", self.rank),
            ));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err((
                "lora.alpha",
                format!("must be positive, got {}", self.alpha),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err((
                "lora.dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            ));
        }
        let valid = PROJECTIONS.join(", ");
        if self.target_modules.is_empty() {
            return Err((
                "lora.target_modules",
                format!("is empty; name at least one of {valid}"),
            ));
        }
        for (i, name) in self.target_modules.iter().enumerate() {
            if !PROJECTIONS.contains(&name.as_str()) {
                return Err((
                    "lora.target_modules",
                    format!("{name:?} is not a projection of this model; valid names: {valid}"),
                ));
            }
            if self.target_modules[..i].contains(name) {
                return Err(("lora.target_modules", format!("{name:?} is listed twice")));
            }
        }
        Ok(())
    }

    fn targets(&self, projection: &str) -> bool {
        self.target_modules.iter().any(|t| t == projection)
    }
}

/// State shared by a model's adapters: whether they take part in forward passes and whether
/// dropout is on. Atomics, so that `&Transformer` can switch it and the model stays `Sync`.
pub(crate) struct LoraSwitch {
    enabled: AtomicBool,
    training: AtomicBool,
}

/// One projection's adapter. `a`/`b` are shallow handles on variables of [`Lora::vs`].
pub(crate) struct LoraAdapter {
    pub(crate) a: Tensor,
    pub(crate) b: Tensor,
    scale: f64,
    dropout: f64,
    switch: Arc<LoraSwitch>,
}

impl LoraAdapter {
    /// `ys + scale * B A dropout(xs)` for `ys = W xs + b`, in PEFT's order of operations
    /// (`result + lora_B(lora_A(dropout(x))) * scaling`); `ys` when the adapters are off.
    pub(crate) fn add_delta(&self, ys: Tensor, xs: &Tensor) -> Tensor {
        if !self.switch.enabled.load(Ordering::Relaxed) {
            return ys;
        }
        let kind = ys.kind();
        let x = if xs.kind() == self.a.kind() {
            xs.shallow_clone()
        } else {
            xs.to_kind(self.a.kind())
        };
        let x = if self.dropout > 0.0 && self.switch.training.load(Ordering::Relaxed) {
            x.dropout(self.dropout, true)
        } else {
            x
        };
        let delta = x
            .linear::<Tensor>(&self.a, None)
            .linear::<Tensor>(&self.b, None)
            * self.scale;
        // bf16 + f32 promotes to f32: the sum is rounded once, back to the base's dtype.
        let sum = ys + delta;
        if sum.kind() == kind {
            sum
        } else {
            sum.to_kind(kind)
        }
    }
}

/// The PEFT module name of a projection: `base_model.model.model.layers.{i}.{group}.{name}`.
pub(crate) fn peft_module(layer: usize, group: &str, name: &str) -> String {
    format!("base_model.model.model.layers.{layer}.{group}.{name}")
}

/// The adapters attached to one [`Transformer`]. Their variables are named as in PEFT's
/// `adapter_model.safetensors` (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`).
pub struct Lora {
    vs: VarStore,
    config: LoraConfig,
    switch: Arc<LoraSwitch>,
}

impl Lora {
    /// Attaches fresh adapters to `model` (`A` drawn from libtorch's generator as PEFT does,
    /// `B = 0`) and freezes every variable of `base`, the `VarStore` that owns the model's
    /// weights. The adapters start enabled and in eval mode (no dropout); they live on the
    /// model's device, in f32. Move both `VarStore`s together if the model moves.
    pub fn attach(
        model: &mut Transformer,
        base: &mut VarStore,
        config: &LoraConfig,
    ) -> Result<Lora, ModelError> {
        config.validate()?;
        if model.lora.is_some() {
            return Err(ModelError::InvalidInput(
                "this model already has LoRA adapters; merge them or build a new model".into(),
            ));
        }
        let vs = VarStore::new(model.device());
        let switch = Arc::new(LoraSwitch {
            enabled: AtomicBool::new(true),
            training: AtomicBool::new(false),
        });
        let root = vs.root();
        let rank = config.rank;
        for (layer, group, name, linear) in model.projections_mut() {
            if !config.targets(name) {
                continue;
            }
            let (out_dim, in_dim) = linear.weight.size2()?;
            // Segment by segment: tch refuses dots in a path element. The full name is
            // `peft_module(layer, group, name)`.
            let p = &root / "base_model" / "model" / "model" / "layers" / layer / group / name;
            // PEFT's default: `kaiming_uniform_(A, a=sqrt(5))`, whose bound
            // gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + 5)) is 1 / sqrt(in).
            let bound = 1.0 / (in_dim as f64).sqrt();
            let init = nn::Init::Uniform {
                lo: -bound,
                up: bound,
            };
            let a = (&p / "lora_A").f_var("weight", &[rank, in_dim], init)?;
            let b = (&p / "lora_B").f_zeros("weight", &[out_dim, rank])?;
            linear.lora = Some(LoraAdapter {
                a,
                b,
                scale: config.scale(),
                dropout: config.dropout,
                switch: Arc::clone(&switch),
            });
        }
        base.freeze();
        model.lora = Some(Arc::clone(&switch));
        Ok(Lora {
            vs,
            config: config.clone(),
            switch,
        })
    }

    /// The adapters' variables and nothing else: build the optimizer on this.
    pub fn vs(&self) -> &VarStore {
        &self.vs
    }

    /// For `set_device` and for loading optimizer-independent state into the adapters.
    pub fn vs_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    pub fn config(&self) -> &LoraConfig {
        &self.config
    }

    /// Number of adapted projections (each has an `A` and a `B`).
    pub fn num_adapters(&self) -> usize {
        self.vs.len() / 2
    }

    /// Number of trained scalars.
    pub fn num_parameters(&self) -> i64 {
        self.vs.variables().values().map(|t| t.numel() as i64).sum()
    }

    /// Same as [`Transformer::set_adapters_enabled`] on the model these adapters belong to.
    pub fn set_enabled(&self, enabled: bool) {
        self.switch.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Same as [`Transformer::set_adapter_training`] on the model these adapters belong to.
    pub fn set_training(&self, training: bool) {
        self.switch.training.store(training, Ordering::Relaxed);
    }

    fn belongs_to(&self, model: &Transformer) -> bool {
        model
            .lora
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &self.switch))
    }
}

/// `[out, in]` update `scale * B A` of one adapter, in f32.
pub(crate) fn delta_weight(adapter: &LoraAdapter) -> Tensor {
    adapter
        .b
        .to_kind(Kind::Float)
        .matmul(&adapter.a.to_kind(Kind::Float))
        * adapter.scale
}
