//! `polopt train` and `polopt eval`.
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use polopt_train::{load_config, TrainOptions};

pub fn run_train(
    config: Option<&Path>,
    sets: &[String],
    resume: bool,
    progress: bool,
) -> Result<()> {
    // Control presets run the control trainer; everything else (and unknown names, which the
    // group-RL config then reports by key) goes to the text-task loop.
    let requested = polopt_train::control::requested_preset(config, sets)?;
    let family = requested
        .as_deref()
        .and_then(|name| polopt_methods::presets::preset(name).ok())
        .map(|p| p.family);
    if family == Some(polopt_methods::presets::Family::Control) {
        return run_control(config, sets, resume, progress);
    }
    let cfg = load_config(config, sets)?;
    let warm_start = match cfg.sft.target_pass1 > 0.0 {
        true => format!(
            "warm start to pass@1 {} on its slice (at most {} steps)",
            cfg.sft.target_pass1, cfg.sft.steps
        ),
        false => format!("{} warm-start steps", cfg.sft.steps),
    };
    eprintln!(
        "polopt: run `{}` | preset {} | task {} | seed {} | {warm_start} + {} RL steps",
        cfg.run.name, cfg.method.preset, cfg.task.name, cfg.run.seed, cfg.rl.steps
    );
    let summary = polopt_train::train(
        &cfg,
        TrainOptions {
            resume,
            progress,
            ..Default::default()
        },
    )?;
    println!(
        "{}",
        before_after_table(&summary.warmstart, &summary.final_metrics)
    );
    if summary.nan_events > 0 {
        println!(
            "non-finite events (skipped updates or dropped groups): {}",
            summary.nan_events
        );
    }
    println!("run directory: {}", summary.run_dir.display());
    Ok(())
}

fn run_control(config: Option<&Path>, sets: &[String], resume: bool, progress: bool) -> Result<()> {
    use polopt_train::control::{load_control_config, train_control, ControlOptions};
    let cfg = load_control_config(config, sets)?;
    eprintln!(
        "polopt: run `{}` | preset {} ({:?}) | env {} | seed {} | {} env steps",
        cfg.run.name,
        cfg.method.preset,
        cfg.algo.kind,
        cfg.env.id,
        cfg.run.seed,
        cfg.algo.total_steps
    );
    let summary = train_control(
        &cfg,
        ControlOptions {
            resume,
            progress,
            ..Default::default()
        },
    )?;
    let get = |k: &str| summary.final_metrics.get(k).copied().unwrap_or(f64::NAN);
    println!(
        "| final evaluation ({} episodes) | value |\n|---|---|",
        get("eval/episodes")
    );
    println!("| env steps | {} |", summary.env_steps);
    println!("| eval/return_mean | {:.2} |", get("eval/return_mean"));
    println!("| eval/return_std | {:.2} |", get("eval/return_std"));
    println!("| eval/length_mean | {:.1} |", get("eval/length_mean"));
    println!("run directory: {}", summary.run_dir.display());
    Ok(())
}

/// A control checkpoint over `episodes` evaluation episodes (the run's `eval.*` settings
/// otherwise, so with no overrides the numbers are those the run logged at that update).
fn eval_control(
    config: &Path,
    checkpoint: &Path,
    episodes: Option<usize>,
    sets: &[String],
) -> Result<()> {
    let mut sets = sets.to_vec();
    if let Some(n) = episodes {
        sets.push(format!("eval.episodes={n}"));
    }
    let cfg = polopt_train::control::load_control_config(Some(config), &sets)?;
    let metrics = polopt_train::control::eval::evaluate_checkpoint(&cfg, checkpoint)?;
    let get = |k: &str| metrics.get(k).copied().unwrap_or(f64::NAN);
    println!("checkpoint: {}", checkpoint.display());
    println!(
        "{} | {} episodes | {}",
        cfg.env.id,
        get("eval/episodes"),
        if cfg.eval.deterministic {
            "deterministic"
        } else {
            "sampled"
        }
    );
    for (k, v) in &metrics {
        println!("{k:<24} {v:.4}");
    }
    Ok(())
}

/// Held-out metrics before and after RL, one row per metric.
pub fn before_after_table(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> String {
    let mut out = String::from(
        "| held-out (test split) | warm start | after RL | change |\n|---|---|---|---|\n",
    );
    for (key, value) in after.iter().filter(|(k, _)| k.starts_with("eval/")) {
        let b = before.get(key).copied().unwrap_or(f64::NAN);
        out.push_str(&format!(
            "| {} | {:.3} | {:.3} | {:+.3} |\n",
            key.trim_start_matches("eval/"),
            b,
            value,
            value - b
        ));
    }
    out
}

pub fn eval(
    path: &Path,
    problems: Option<usize>,
    episodes: Option<usize>,
    sets: &[String],
) -> Result<()> {
    let (run_dir, checkpoint) = if path.join("state.json").exists() {
        let run_dir = path
            .parent()
            .and_then(Path::parent)
            .context("a checkpoint lives in RUN/checkpoints/NAME")?;
        (run_dir.to_path_buf(), path.to_path_buf())
    } else {
        match polopt_train::run_dir::latest_checkpoint(path) {
            Some((_, dir)) => (path.to_path_buf(), dir),
            None => bail!(
                "{} is neither a checkpoint nor a run directory with checkpoints",
                path.display()
            ),
        }
    };
    let config_path = run_dir.join("config.toml");
    let requested = polopt_train::control::requested_preset(Some(&config_path), sets)?;
    let family = requested
        .as_deref()
        .and_then(|name| polopt_methods::presets::preset(name).ok())
        .map(|p| p.family);
    if family == Some(polopt_methods::presets::Family::Control) {
        if problems.is_some() {
            bail!(
                "--problems is for text runs; {} is a control run (use --episodes)",
                run_dir.display()
            );
        }
        return eval_control(&config_path, &checkpoint, episodes, sets);
    }
    if episodes.is_some() {
        bail!(
            "--episodes is for control runs; {} is a text run (use --problems)",
            run_dir.display()
        );
    }
    let mut sets = sets.to_vec();
    if let Some(n) = problems {
        sets.push(format!("eval.problems={n}"));
    }
    let cfg = load_config(Some(&run_dir.join("config.toml")), &sets)?;
    let metrics = polopt_train::group_rl::evaluate_checkpoint(&cfg, &checkpoint)?;
    println!("checkpoint: {}", checkpoint.display());
    for (k, v) in metrics {
        println!("{k:<24} {v:.4}");
    }
    Ok(())
}
