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
    if family.is_some_and(polopt_methods::presets::Family::is_solver) {
        return run_theory(config, sets, resume, progress);
    }
    if family == Some(polopt_methods::presets::Family::Inventory) {
        return run_inventory(config, sets, resume);
    }
    if family == Some(polopt_methods::presets::Family::OffPolicy) {
        return run_offpolicy(config, sets, resume, progress);
    }
    let cfg = load_config(config, sets)?;
    let warm_start = match (&cfg.model.path, cfg.sft.target_pass1 > 0.0) {
        (Some(path), _) => format!("model {path}{}", lora_note(&cfg)),
        (None, true) => format!(
            "warm start to pass@1 {} on its slice (at most {} steps)",
            cfg.sft.target_pass1, cfg.sft.steps
        ),
        (None, false) => format!("{} warm-start steps", cfg.sft.steps),
    };
    let prompts = match &cfg.data {
        Some(data) => format!("data {}", data.train),
        None => format!("task {}", cfg.task.name),
    };
    eprintln!(
        "polopt: run `{}` | preset {} | {prompts} | seed {} | {warm_start} + {} RL steps",
        cfg.run.name, cfg.method.preset, cfg.run.seed, cfg.rl.steps
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
    if !summary.final_metrics.contains_key("eval/episodes") {
        // A data-parallel rank other than 0: rank 0 evaluates and prints the table.
        return Ok(());
    }
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

/// TD3 / SAC: the off-policy trainer, checkpointed and resumable like the control trainer.
fn run_offpolicy(
    config: Option<&Path>,
    sets: &[String],
    resume: bool,
    progress: bool,
) -> Result<()> {
    use polopt_train::offpolicy::{load_offpolicy_config, train_offpolicy, OffPolicyOptions};
    let cfg = load_offpolicy_config(config, sets)?;
    let budget = match cfg.algo.kind.is_offline() {
        true => format!(
            "{} updates on {}",
            cfg.algo.total_steps, cfg.offline.dataset
        ),
        false => format!("{} env steps", cfg.algo.total_steps),
    };
    eprintln!(
        "polopt: run `{}` | preset {} ({:?}) | env {} | seed {} | {budget}",
        cfg.run.name, cfg.method.preset, cfg.algo.kind, cfg.env.id, cfg.run.seed
    );
    let summary = train_offpolicy(
        &cfg,
        OffPolicyOptions {
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
    println!("| gradient updates | {} |", summary.updates);
    println!("| eval/return_mean | {:.2} |", get("eval/return_mean"));
    println!("| eval/return_std | {:.2} |", get("eval/return_std"));
    if summary.nonfinite_updates > 0 {
        println!(
            "non-finite updates (skipped): {}",
            summary.nonfinite_updates
        );
    }
    println!("run directory: {}", summary.run_dir.display());
    Ok(())
}

/// A theory solver: seconds, deterministic from the seed, no checkpoints (`--resume` runs it
/// again from the start, which ends identically).
fn run_theory(config: Option<&Path>, sets: &[String], resume: bool, progress: bool) -> Result<()> {
    use polopt_train::theory::{load_theory_config, train_theory};
    let cfg = load_theory_config(config, sets)?;
    if resume {
        eprintln!(
            "polopt: theory solvers keep no checkpoints; --resume runs `{}` again from the start \
             (deterministic from the seed, so it ends as an uninterrupted run would)",
            cfg.run.name
        );
    }
    let solver = cfg.solver()?;
    eprintln!(
        "polopt: run `{}` | preset {} (theory solver) | env {} | seed {} | {} {}",
        cfg.run.name,
        cfg.method.preset,
        cfg.theory.env,
        cfg.run.seed,
        cfg.theory.steps,
        solver.step_unit
    );
    let summary = train_theory(&cfg, progress)?;
    println!("| final measurement | value |\n|---|---|");
    let mut rows: Vec<(&String, &f64)> = summary.final_metrics.iter().collect();
    // The headline first, then the rest by name.
    rows.sort_by_key(|(k, _)| (k.as_str() != summary.headline, k.as_str()));
    for (k, v) in rows {
        println!("| {k} | {v:.6} |");
    }
    println!("run directory: {}", summary.run_dir.display());
    Ok(())
}

/// An inventory run (HDPO or its REINFORCE comparator): epochs over fixed scenario sets.
fn run_inventory(config: Option<&Path>, sets: &[String], resume: bool) -> Result<()> {
    use polopt_train::hdpo::{load_inventory_config, train_inventory, InventoryOptions};
    let cfg = load_inventory_config(config, sets)?;
    let t = &cfg.train;
    eprintln!(
        "polopt: run `{}` | preset {} ({:?} gradient, {:?} policy) | {:?} | seed {} | {} epochs \
         x {} scenarios / batch {} x {} periods",
        cfg.run.name,
        cfg.method.preset,
        t.estimator,
        t.policy,
        cfg.inventory.problem,
        cfg.run.seed,
        t.epochs,
        t.scenarios,
        t.batch,
        t.periods
    );
    let summary = train_inventory(
        &cfg,
        InventoryOptions {
            resume,
            ..Default::default()
        },
    )?;
    println!("| final measurement | value |\n|---|---|");
    for (k, v) in &summary.final_metrics {
        println!("| {k} | {v:.4} |");
    }
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
    let sets = with_episodes(sets, episodes);
    let cfg = polopt_train::control::load_control_config(Some(config), &sets)?;
    let metrics = polopt_train::control::eval::evaluate_checkpoint(&cfg, checkpoint)?;
    print_episode_metrics(checkpoint, &cfg.env.id, cfg.eval.deterministic, &metrics);
    Ok(())
}

/// An off-policy checkpoint (TD3, SAC, EXPO, TD3+BC, A2PR) over the run's evaluation seeds.
fn eval_offpolicy(
    config: &Path,
    checkpoint: &Path,
    episodes: Option<usize>,
    sets: &[String],
) -> Result<()> {
    let sets = with_episodes(sets, episodes);
    let cfg = polopt_train::offpolicy::load_offpolicy_config(Some(config), &sets)?;
    let (metrics, _) = polopt_train::offpolicy::evaluate_checkpoint(&cfg, checkpoint)?;
    print_episode_metrics(checkpoint, &cfg.env.id, cfg.eval.deterministic, &metrics);
    Ok(())
}

fn with_episodes(sets: &[String], episodes: Option<usize>) -> Vec<String> {
    let mut sets = sets.to_vec();
    if let Some(n) = episodes {
        sets.push(format!("eval.episodes={n}"));
    }
    sets
}

fn print_episode_metrics(
    checkpoint: &Path,
    env_id: &str,
    deterministic: bool,
    metrics: &BTreeMap<String, f64>,
) {
    let get = |k: &str| metrics.get(k).copied().unwrap_or(f64::NAN);
    println!("checkpoint: {}", checkpoint.display());
    println!(
        "{env_id} | {} episodes | {}",
        get("eval/episodes"),
        if deterministic {
            "deterministic"
        } else {
            "sampled"
        }
    );
    for (k, v) in metrics {
        println!("{k:<24} {v:.4}");
    }
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

/// What `polopt eval` evaluates and where its extras go.
pub struct EvalTarget<'a> {
    pub path: &'a Path,
    pub data: Option<&'a Path>,
    pub config: Option<&'a Path>,
    pub samples: Option<&'a Path>,
}

fn lora_note(cfg: &polopt_train::RunConfig) -> String {
    cfg.model
        .lora
        .as_ref()
        .map(|l| format!(" + LoRA rank {}", l.rank))
        .unwrap_or_default()
}

pub fn eval(
    target: &EvalTarget,
    problems: Option<usize>,
    episodes: Option<usize>,
    sets: &[String],
) -> Result<()> {
    let path = target.path;
    let is_model_dir = path.join("tokenizer.json").is_file()
        && !path.join("state.json").exists()
        && !path.join("checkpoints").exists();
    if is_model_dir || target.data.is_some() {
        return eval_model_dir(target, problems, sets);
    }
    if target.config.is_some() {
        bail!(
            "--config is for a model directory; a run's own config.toml is used for {}",
            path.display()
        );
    }
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
    if family == Some(polopt_methods::presets::Family::Inventory) {
        bail!(
            "{} is an inventory run: its test cost on the long horizon is in run.json (`final`), \
             measured on the best dev checkpoint; `polopt eval` does not evaluate inventory runs",
            run_dir.display()
        );
    }
    use polopt_methods::presets::Family;
    if matches!(family, Some(Family::Control | Family::OffPolicy)) {
        if problems.is_some() {
            let kind = match family {
                Some(Family::OffPolicy) => "an off-policy control run",
                _ => "a control run",
            };
            bail!(
                "--problems is for text runs; {} is {kind} (use --episodes)",
                run_dir.display()
            );
        }
        if family == Some(Family::OffPolicy) {
            return eval_offpolicy(&config_path, &checkpoint, episodes, sets);
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
    let metrics = polopt_train::group_rl::evaluate_weights(&cfg, &checkpoint, target.samples)?;
    println!("checkpoint: {}", checkpoint.display());
    print_metrics(&metrics, target.samples);
    Ok(())
}

/// `polopt eval MODEL_DIR --data FILE [--config FILE]`: a Hugging Face model on a dataset.
fn eval_model_dir(target: &EvalTarget, problems: Option<usize>, sets: &[String]) -> Result<()> {
    let path = target.path;
    if !path.join("config.json").is_file() {
        bail!(
            "{} is not a Hugging Face model directory (no config.json)",
            path.display()
        );
    }
    let Some(data) = target.data else {
        bail!(
            "{} is a model directory: pass --data FILE (held-out prompts, JSONL or Parquet)",
            path.display()
        );
    };
    let quoted = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let mut all = vec![
        format!("model.path={}", quoted(path)),
        format!("data.train={}", quoted(data)),
        format!("data.eval={}", quoted(data)),
    ];
    all.extend(sets.iter().cloned());
    if let Some(n) = problems {
        all.push(format!("eval.problems={n}"));
    }
    let cfg = load_config(target.config, &all)?;
    let metrics = polopt_train::group_rl::evaluate_weights(&cfg, path, target.samples)?;
    println!("model: {}  data: {}", path.display(), data.display());
    print_metrics(&metrics, target.samples);
    Ok(())
}

fn print_metrics(metrics: &std::collections::BTreeMap<String, f64>, samples: Option<&Path>) {
    for (k, v) in metrics {
        println!("{k:<24} {v:.4}");
    }
    if let Some(p) = samples {
        println!("samples: {}", p.display());
    }
}
