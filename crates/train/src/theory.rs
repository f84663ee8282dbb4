//! The theory-solver runner: loads a `[theory]` run config, runs the preset's solver from
//! `polopt_theory`, and writes an ordinary run directory (`config.toml`, `metrics.jsonl`,
//! `run.json`) so that `compare` and the report read it like any other run.
//!
//! Solvers finish in seconds and are deterministic from the seed, so they write no
//! checkpoints: a run that was killed is run again from the start and ends identically.
use std::collections::BTreeMap;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use polopt_methods::presets::Family;
use polopt_theory::{RunSpec, Settings, Solver};
use serde::{Deserialize, Serialize};
use toml::Table;

use crate::config::{
    check, deserialize_named, lookup, merge, preset_for_loop, read_user_file, user_and_defaults,
};
use crate::error::TrainError;
use crate::run_dir::{write_atomic, MetricsSink, RunInfo};

pub const THEORY_DEFAULTS: &str = include_str!("../configs/theory/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TheoryConfig {
    pub run: RunSection,
    pub method: MethodSection,
    pub theory: TheorySection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub name: String,
    pub seed: u64,
    pub out_dir: String,
    pub threads: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSection {
    pub preset: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TheorySection {
    pub env: String,
    pub steps: u64,
    pub settings: Table,
}

impl TheoryConfig {
    pub fn solver(&self) -> Result<&'static Solver, TrainError> {
        find_solver(&self.method.preset)
            .map_err(|e| TrainError::Config(format!("config key `method.preset`: {e}")))
    }

    pub fn to_toml(&self) -> Result<String, TrainError> {
        toml::to_string(self)
            .map_err(|e| TrainError::Config(format!("config does not serialize: {e}")))
    }
}

/// The solver behind a preset of a solver family: the theory papers' (`polopt_theory`) or the
/// multi-objective ones (`crate::multi_objective`), which need the method parts and so live here.
pub fn find_solver(name: &str) -> Result<&'static Solver, polopt_theory::TheoryError> {
    match crate::multi_objective::SOLVERS
        .iter()
        .find(|s| s.name == name)
    {
        Some(s) => Ok(s),
        None => polopt_theory::solver(name).map_err(|e| match e {
            polopt_theory::TheoryError::UnknownPreset { name, known } => {
                polopt_theory::TheoryError::UnknownPreset {
                    name,
                    known: crate::multi_objective::SOLVERS
                        .iter()
                        .map(|s| s.name.to_string())
                        .chain(std::iter::once(known))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            }
            other => other,
        }),
    }
}

/// Defaults <- the solver's default env and budget <- the user's file <- each `--set`.
pub fn load_theory_config(
    file: Option<&std::path::Path>,
    sets: &[String],
) -> Result<TheoryConfig, TrainError> {
    let (overlay, mut base) = user_and_defaults(
        read_user_file(file)?,
        sets,
        THEORY_DEFAULTS,
        "embedded theory defaults",
    )?;
    // Both solver families run here; the family check below still rejects any other preset.
    let family = lookup(&overlay, "method.preset")
        .and_then(|v| v.as_str())
        .and_then(|name| polopt_methods::presets::preset(name).ok())
        .map(|p| p.family)
        .filter(|f| f.is_solver())
        .unwrap_or(Family::Theory);
    let (name, _) = preset_for_loop(&overlay, &base, family)?;
    merge(&mut base, &overlay);
    let mut cfg: TheoryConfig = deserialize_named(base)?;
    cfg.method.preset = name;
    let solver = cfg.solver()?;
    if cfg.theory.env.is_empty() {
        cfg.theory.env = solver.envs[0].to_string();
    }
    if cfg.theory.steps == 0 {
        cfg.theory.steps = solver.default_steps;
    }
    if cfg.run.name.is_empty() {
        cfg.run.name = format!("{}-s{}", cfg.method.preset, cfg.run.seed);
    }
    check(
        "theory.env",
        solver.envs.contains(&cfg.theory.env.as_str()),
        &format!("one of {}", solver.envs.join(", ")),
        &cfg.theory.env,
    )?;
    check("run.threads", cfg.run.threads >= 1, ">= 1", cfg.run.threads)?;
    Ok(cfg)
}

#[derive(Debug, Clone)]
pub struct TheorySummary {
    pub run_dir: PathBuf,
    pub final_metrics: BTreeMap<String, f64>,
    pub headline: &'static str,
}

/// Runs the solver and writes the run directory.
pub fn train_theory(cfg: &TheoryConfig, progress: bool) -> Result<TheorySummary, TrainError> {
    let solver = cfg.solver()?;
    let run_dir = PathBuf::from(&cfg.run.out_dir).join(&cfg.run.name);
    std::fs::create_dir_all(&run_dir).map_err(|e| TrainError::io(&run_dir, e))?;
    write_atomic(&run_dir.join("config.toml"), cfg.to_toml()?.as_bytes())?;
    let mut info = RunInfo {
        preset: cfg.method.preset.clone(),
        task: cfg.theory.env.clone(),
        seed: cfg.run.seed,
        status: "running".into(),
        final_metrics: BTreeMap::new(),
        warmstart_metrics: BTreeMap::new(),
    };
    info.write(&run_dir)?;
    let bar = progress_bar(
        progress,
        cfg.theory.steps,
        &cfg.method.preset,
        solver.step_unit,
    );
    let spec = RunSpec {
        seed: cfg.run.seed,
        steps: cfg.theory.steps,
        env: cfg.theory.env.clone(),
    };
    let mut settings = Settings::new(cfg.theory.settings.clone());
    let mut report = |done: u64, _total: u64| bar.set_position(done);
    let run = (solver.run)(&spec, &mut settings, &mut report)
        .map_err(|e| TrainError::Config(format!("{}: {e}", cfg.method.preset)))?;
    bar.finish_and_clear();
    let mut sink = MetricsSink::open(&run_dir.join("metrics.jsonl"), None)?;
    for point in &run.curve {
        // The step again under the solver's unit ("env steps", "episodes"), so that plots
        // label their x axis with what a step is.
        let mut values = point.values.clone();
        values.insert(solver.step_unit.to_string(), point.step as f64);
        sink.write(point.step as usize, &values)?;
    }
    if let Some((k, v)) = run.final_metrics.iter().find(|(_, v)| !v.is_finite()) {
        return Err(TrainError::NonFinite {
            what: format!("final metric `{k}` ({v})"),
            step: cfg.theory.steps as usize,
            hint: "the solver diverged; check its settings",
        });
    }
    for (name, content) in &run.files {
        // A solver names its files; keep them inside the run directory whatever the name says.
        let file = std::path::Path::new(name)
            .file_name()
            .map(|f| run_dir.join(f))
            .ok_or_else(|| {
                TrainError::Config(format!("solver file name `{name}` is not a file"))
            })?;
        write_atomic(&file, content.as_bytes())?;
    }
    info.status = "finished".into();
    info.final_metrics = run.final_metrics.clone();
    info.write(&run_dir)?;
    Ok(TheorySummary {
        run_dir,
        final_metrics: run.final_metrics,
        headline: solver.headline,
    })
}

fn progress_bar(enabled: bool, len: u64, label: &str, unit: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template =
        format!("{{prefix:>14}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed_precise}}");
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}
