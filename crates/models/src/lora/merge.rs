//! Folding adapters into the base weights, `W' = W + (alpha / r) B A`, which gives a plain
//! Hugging Face model directory that computes what base + adapter computed: any tool that
//! loads Qwen2/Llama checkpoints serves it, with no LoRA support and no per-token overhead.
use std::path::{Path, PathBuf};

use tch::{Device, Kind};

use super::{delta_weight, Lora};
use crate::checkpoint::{self, kind_from_name};
use crate::error::ModelError;
use crate::hf::{self, SaveOptions};
use crate::transformer::Transformer;

impl Lora {
    /// Adds each adapter's update into its projection's weight (in f32, rounded once to the
    /// weight's dtype) and removes the adapters from `model`, which is then a plain model
    /// whose `VarStore` holds the merged weights. Adapters that are switched off are merged
    /// all the same. Fails, changing nothing, when the adapters belong to another model.
    pub fn merge_into(self, model: &mut Transformer) -> Result<(), ModelError> {
        if !self.belongs_to(model) {
            return Err(ModelError::InvalidInput(
                "these LoRA adapters are attached to a different model".into(),
            ));
        }
        for (_, _, _, linear) in model.projections_mut() {
            if let Some(adapter) = linear.lora.take() {
                let w = linear.weight.shallow_clone();
                tch::no_grad(|| {
                    let merged =
                        (w.to_kind(Kind::Float) + delta_weight(&adapter)).to_kind(w.kind());
                    w.shallow_clone().f_copy_(&merged)
                })?;
            }
        }
        model.lora = None;
        Ok(())
    }
}

/// What [`merge_peft`] did, for the command line to report.
#[derive(Debug, Clone)]
pub struct MergeSummary {
    /// Number of projections whose weights changed.
    pub merged_projections: usize,
    pub rank: i64,
    pub alpha: f64,
    pub target_modules: Vec<String>,
    /// The dtype the merged weights were written in (the base's `torch_dtype`).
    pub dtype: String,
}

/// Merges the PEFT adapter in `adapter_dir` into the Hugging Face model in `base_dir` and
/// writes the result to `out_dir` as a full model directory: weights in the base's dtype,
/// `config.json`, and the base's tokenizer and generation files copied along (as
/// [`hf::save`] does). `out_dir` must differ from both inputs, so that neither is overwritten.
pub fn merge_peft(
    base_dir: &Path,
    adapter_dir: &Path,
    out_dir: &Path,
) -> Result<MergeSummary, ModelError> {
    for (input, what) in [(base_dir, "base model"), (adapter_dir, "adapter")] {
        if same_dir(input, out_dir) {
            return Err(ModelError::InvalidInput(format!(
                "the output directory {} is the {what} directory; choose another --out",
                out_dir.display()
            )));
        }
    }
    // f32 on the CPU: the merge is one addition per weight, and f32 keeps `B A` exact to
    // rounding before the single cast back to the stored dtype.
    let mut loaded = hf::load(base_dir, Device::Cpu, Some(Kind::Float))?;
    let lora = Lora::load_peft(adapter_dir, &mut loaded.model, &mut loaded.vs)?;
    let config = lora.config().clone();
    let merged_projections = lora.num_adapters();
    lora.merge_into(&mut loaded.model)?;
    let kind = loaded
        .config
        .torch_dtype
        .as_deref()
        .and_then(kind_from_name)
        .unwrap_or(Kind::Float);
    let options = SaveOptions {
        kind: Some(kind),
        copy_files_from: Some(base_dir),
        ..SaveOptions::default()
    };
    hf::save(&loaded.vs, &loaded.config, out_dir, &options)?;
    Ok(MergeSummary {
        merged_projections,
        rank: config.rank,
        alpha: config.alpha,
        target_modules: config.target_modules,
        dtype: checkpoint::kind_name(kind).to_string(),
    })
}

/// Whether two paths name the same directory (an output that does not exist yet is new).
fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| -> Option<PathBuf> { p.canonicalize().ok() };
    match (canonical(a), canonical(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}
