//! `polopt export-model` and `polopt export-data`: a built-in run's model and task as a
//! Hugging Face directory and a JSON lines dataset, for the generic `model.path` + `[data]` path.
use std::path::Path;

use anyhow::{bail, Context, Result};
use polopt_envs::text::Split;
use polopt_train::config::load_config;

pub fn export_model(path: &Path, out: &Path) -> Result<()> {
    let checkpoint = if path.join("state.json").exists() || path.join("config.json").is_file() {
        path.to_path_buf()
    } else {
        match polopt_train::run_dir::latest_checkpoint(path) {
            Some((_, dir)) => dir,
            None => bail!(
                "{} is neither a checkpoint nor a run directory with checkpoints",
                path.display()
            ),
        }
    };
    polopt_train::export::export_model(&checkpoint, out)
        .with_context(|| format!("exporting {}", checkpoint.display()))?;
    println!(
        "{} -> {} (Hugging Face model directory)",
        checkpoint.display(),
        out.display()
    );
    Ok(())
}

pub fn export_data(
    config: Option<&Path>,
    sets: &[String],
    split: &str,
    n: usize,
    out: &Path,
    pairs: bool,
) -> Result<()> {
    let split = match split {
        "train" => Split::Train,
        "validation" => Split::Validation,
        "test" => Split::Test,
        other => bail!("--split {other:?}: expected train, validation or test"),
    };
    let cfg = load_config(config, sets)?;
    if pairs {
        let written = polopt_train::export::export_pairs(&cfg, split, n, out)?;
        println!(
            "{written} {} preference pairs of `{}` (seed {}, rejected: {:?}) -> {}",
            split.name(),
            cfg.task.name,
            cfg.run.seed,
            cfg.method.preference.synthetic_rejected,
            out.display()
        );
        return Ok(());
    }
    let written = polopt_train::export::export_problems(&cfg, split, n, out)?;
    println!(
        "{written} {} problems of `{}` (seed {}) -> {}",
        split.name(),
        cfg.task.name,
        cfg.run.seed,
        out.display()
    );
    Ok(())
}
