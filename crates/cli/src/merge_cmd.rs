//! `polopt merge`: folds a PEFT LoRA adapter into its base model and writes a plain Hugging
//! Face model directory (`polopt_models::lora::merge`), for tools without LoRA support.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub struct MergeArgs {
    /// The base model: a Hugging Face model directory (config.json + safetensors weights).
    #[arg(long)]
    pub model: PathBuf,
    /// The adapter: a PEFT directory (adapter_config.json + adapter_model.safetensors), as
    /// LoRA runs save it.
    #[arg(long)]
    pub adapter: PathBuf,
    /// Where to write the merged model directory (created; must not be --model or --adapter).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run_merge(args: &MergeArgs) -> Result<()> {
    let summary = polopt_models::lora::merge::merge_peft(&args.model, &args.adapter, &args.out)
        .with_context(|| {
            format!(
                "merging adapter {} into {}",
                args.adapter.display(),
                args.model.display()
            )
        })?;
    println!(
        "merged {} LoRA projections (rank {}, alpha {}, {}) into {} ({} weights)",
        summary.merged_projections,
        summary.rank,
        summary.alpha,
        summary.target_modules.join(", "),
        args.out.display(),
        summary.dtype,
    );
    Ok(())
}
