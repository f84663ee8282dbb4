//! `polopt compare`: a grid of (preset x seed) runs, several at a time, resumable.
//!
//! Layout of a comparison directory `DIR`:
//! ```text
//! DIR/compare.json            what was asked (presets in baseline-first order, task, seeds, sets)
//! DIR/runs/<preset>-seed<k>/  one ordinary run directory per cell, plus its log.txt
//! DIR/runs/.warmstart/        the warm starts the cells share (warm_cache)
//! DIR/report/                 written by the CLI after the grid (polopt-report)
//! ```
//! Each cell runs as a child process of the same binary (`polopt train --set ...`): libtorch
//! keeps per-process thread pools, so processes are the simple way to run several at once, and
//! a crash in one cell cannot take the others down.
//!
//! Resumability is decided per cell from what is on disk ([`plan`]): `run.json` with status
//! `finished` is skipped; a checkpoint is continued with `--resume`; anything else starts
//! fresh. A cell whose saved `config.toml` differs from what this command would run is an
//! error rather than a silent mix of two settings in one table.
mod grid;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use polopt_methods::presets::{preset, Family, PRESETS};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::load_config;
use crate::control::load_control_config;
use crate::run_dir::latest_checkpoint;
use crate::theory::load_theory_config;
use crate::warm_cache;

pub use grid::{exit_with_compare_parent, run_grid, FailedCell, GridOutcome};

pub const COMPARE_JSON: &str = "compare.json";
pub const RUNS_DIR: &str = "runs";
pub const LOG_FILE: &str = "log.txt";
/// Set on each child: the compare process id. The child exits when its parent changes (the
/// compare was killed), so an interrupted comparison leaves no orphan writing to a run
/// directory that the next invocation will resume.
pub const PARENT_ENV: &str = "POLOPT_COMPARE_PARENT";

/// Keys the grid sets itself; a `--set` of one of them would silently be overridden.
const MANAGED_KEYS: &[(&str, &str)] = &[
    ("run.name", "cells are named <preset>-seed<k>"),
    ("run.out_dir", "use --out"),
    ("run.seed", "use --seeds"),
    ("method.preset", "use --presets"),
    (
        "run.threads",
        "use --threads (or --jobs, which splits the cores)",
    ),
];

#[derive(Debug, Error)]
pub enum CompareError {
    #[error("--presets is empty; name at least one preset (see `polopt list`)")]
    NoPresets,
    #[error("--presets: unknown preset `{name}`; known presets: {known}")]
    UnknownPreset { name: String, known: String },
    #[error("--presets: `{name}` is given twice")]
    DuplicatePreset { name: String },
    #[error(
        "--presets mixes families: `{first}` is {first_family} but `{other}` is {other_family}; \
         compare text-task presets and control presets separately"
    )]
    MixedFamilies {
        first: String,
        first_family: &'static str,
        other: String,
        other_family: &'static str,
    },
    #[error("--seeds must be at least 1")]
    NoSeeds,
    #[error("--set {key}=...: the comparison sets this key itself ({hint})")]
    ManagedKey { key: String, hint: &'static str },
    #[error("{preset}: {message}")]
    Config { preset: String, message: String },
    #[error(
        "{}: this run was made with other settings ({}); delete the directory or choose \
         another --out", dir.display(), keys.join(", ")
    )]
    ConfigMismatch { dir: PathBuf, keys: Vec<String> },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CompareError + '_ {
    move |source| CompareError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::GroupRl => "a text-task (group RL) preset",
        Family::Control => "a control preset",
        Family::Theory => "a theory-solver preset",
        Family::MultiObjective => "a multi-objective preset",
        Family::Inventory => "an inventory preset",
        Family::OffPolicy => "an off-policy control preset",
    }
}

/// What a comparison asks for; written to `DIR/compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareSpec {
    /// In order; the first is the baseline of the report.
    pub presets: Vec<String>,
    /// `task.name` for text presets, `env.id` for control; `None` keeps the preset's default.
    pub task: Option<String>,
    /// Seeds `0..seeds`.
    pub seeds: u64,
    /// `rl.steps` for text presets, `algo.total_steps` (environment steps) for control.
    pub steps: Option<u64>,
    /// Further `--set key=value` overrides, applied to every cell.
    pub sets: Vec<String>,
    /// The comparison directory.
    pub dir: PathBuf,
    /// libtorch threads per cell.
    pub threads: usize,
}

/// The resolved off-policy config as TOML.
fn resolve_offpolicy(preset: &str, sets: &[String]) -> Result<String, CompareError> {
    let err = |e: crate::TrainError| CompareError::Config {
        preset: preset.to_string(),
        message: e.to_string(),
    };
    crate::offpolicy::load_offpolicy_config(None, sets)
        .and_then(|cfg| cfg.to_toml())
        .map_err(err)
}

/// What happens to one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `run.json` says finished.
    Skip,
    /// Interrupted after a checkpoint: continue with `--resume`.
    Resume,
    /// Nothing usable on disk: start from scratch. `clear` when an earlier attempt died before
    /// its first checkpoint and left metrics behind, which a fresh run refuses to overwrite.
    Fresh { clear: bool },
}

/// One (preset, seed) cell of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub preset: String,
    pub seed: u64,
    pub name: String,
    pub dir: PathBuf,
    pub action: Action,
    /// `--set`s of the child's `polopt train`.
    pub sets: Vec<String>,
    /// The warm-start cache entry a fresh text run computes or reuses: cells sharing one wait
    /// for the first to store it instead of all training it at once.
    pub warm_key: Option<PathBuf>,
}

impl Cell {
    pub fn label(&self) -> String {
        self.name.clone()
    }

    /// What running the grid would do with this cell, in one line (`compare --dry-run`): a
    /// long grid can be checked, and its warm-start cache entries seen, before it starts.
    pub fn describe(&self) -> String {
        let action = match self.action {
            Action::Skip => "skip (finished)",
            Action::Resume => "resume from its newest checkpoint",
            Action::Fresh { clear: false } => "fresh",
            Action::Fresh { clear: true } => "fresh (clears an attempt that left no checkpoint)",
        };
        match &self.warm_key {
            Some(key) => {
                let state = match crate::warm_cache::is_stored(key) {
                    true => "cached",
                    false => "trained by the first run that needs it",
                };
                format!(
                    "{}: {action}; warm start {} ({state})",
                    self.name,
                    key.display()
                )
            }
            None => format!("{}: {action}", self.name),
        }
    }

    /// Arguments of the child process: `train --quiet --set ... [--resume]`.
    pub fn train_args(&self) -> Vec<String> {
        let mut args = vec!["train".to_string(), "--quiet".to_string()];
        for s in &self.sets {
            args.push("--set".into());
            args.push(s.clone());
        }
        if self.action == Action::Resume {
            args.push("--resume".into());
        }
        args
    }
}

/// Checks that every preset exists, none repeats, and all run with the same trainer.
pub fn validate_presets(presets: &[String]) -> Result<Family, CompareError> {
    let first = presets.first().ok_or(CompareError::NoPresets)?;
    let mut family = None;
    for (i, name) in presets.iter().enumerate() {
        let p = preset(name).map_err(|_| CompareError::UnknownPreset {
            name: name.clone(),
            known: PRESETS
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        if presets[..i].contains(name) {
            return Err(CompareError::DuplicatePreset { name: name.clone() });
        }
        match family {
            None => family = Some(p.family),
            Some(f) if f != p.family => {
                return Err(CompareError::MixedFamilies {
                    first: first.clone(),
                    first_family: family_name(f),
                    other: name.clone(),
                    other_family: family_name(p.family),
                })
            }
            Some(_) => {}
        }
    }
    family.ok_or(CompareError::NoPresets)
}

/// The directory name when `--out` names only a parent: `grpo-dr_grpo-dapo_addition`.
pub fn auto_name(presets: &[String], task: Option<&str>) -> String {
    let mut name = presets.join("-");
    if let Some(t) = task {
        name.push('_');
        name.push_str(t);
    }
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `--set`s of one cell: the user's, then the task and budget, then the keys the grid
/// manages (last, so they win).
fn cell_sets(spec: &CompareSpec, family: Family, preset: &str, seed: u64) -> Vec<String> {
    let (task_key, steps_key) = match family {
        Family::GroupRl => ("task.name", "rl.steps"),
        Family::Control => ("env.id", "algo.total_steps"),
        Family::Theory | Family::MultiObjective => ("theory.env", "theory.steps"),
        Family::Inventory => ("inventory.problem", "train.epochs"),
        Family::OffPolicy => ("env.id", "algo.total_steps"),
    };
    let mut sets = spec.sets.clone();
    if let Some(t) = &spec.task {
        sets.push(format!("{task_key}={t:?}"));
    }
    if let Some(n) = spec.steps {
        sets.push(format!("{steps_key}={n}"));
    }
    let out = spec.dir.join(RUNS_DIR);
    sets.push(format!("run.out_dir={:?}", out.display().to_string()));
    sets.push(format!("run.name={}", cell_name(preset, seed)));
    sets.push(format!("run.seed={seed}"));
    sets.push(format!("method.preset={preset}"));
    sets.push(format!("run.threads={}", spec.threads));
    sets
}

pub fn cell_name(preset: &str, seed: u64) -> String {
    format!("{preset}-seed{seed}")
}

/// Decides every cell's action from the disk, preset-major (the baseline's seeds first, which
/// also spreads the first runs over different seeds and so over different warm starts).
/// Every cell's config is resolved here, so a bad `--set` or task fails before any run.
pub fn plan(spec: &CompareSpec) -> Result<Vec<Cell>, CompareError> {
    let family = validate_presets(&spec.presets)?;
    if spec.seeds == 0 {
        return Err(CompareError::NoSeeds);
    }
    for set in &spec.sets {
        let key = set.split_once('=').map_or(set.as_str(), |(k, _)| k).trim();
        if let Some((k, hint)) = MANAGED_KEYS.iter().find(|(k, _)| *k == key) {
            return Err(CompareError::ManagedKey {
                key: k.to_string(),
                hint,
            });
        }
    }
    let mut cells = Vec::new();
    for preset in &spec.presets {
        for seed in 0..spec.seeds {
            let sets = cell_sets(spec, family, preset, seed);
            let name = cell_name(preset, seed);
            let dir = spec.dir.join(RUNS_DIR).join(&name);
            let (toml_text, key) = match family {
                Family::GroupRl => resolve_text(preset, &sets)?,
                Family::Control => (resolve_control(preset, &sets)?, None),
                Family::Theory | Family::MultiObjective => (resolve_theory(preset, &sets)?, None),
                Family::Inventory => (resolve_inventory(preset, &sets)?, None),
                Family::OffPolicy => (resolve_offpolicy(preset, &sets)?, None),
            };
            check_saved_config(&dir, &toml_text)?;
            let action = action_of(&dir)?;
            let warm_key = match action {
                Action::Fresh { .. } => key,
                _ => None,
            };
            cells.push(Cell {
                preset: preset.clone(),
                seed,
                name,
                dir,
                action,
                sets,
                warm_key,
            });
        }
    }
    Ok(cells)
}

/// The resolved config as TOML and its warm-start cache entry (when the cache is on).
fn resolve_text(preset: &str, sets: &[String]) -> Result<(String, Option<PathBuf>), CompareError> {
    let err = |message: String| CompareError::Config {
        preset: preset.to_string(),
        message,
    };
    let cfg = load_config(None, sets).map_err(|e| err(e.to_string()))?;
    let task = serde_json::to_value(&cfg.task.rl).map_err(|e| err(e.to_string()))?;
    polopt_envs::text::make_task(&cfg.task.name, &task)
        .map_err(|e| err(format!("--task / task.rl: {e}")))?;
    let key = match cfg.sft.reuse_cache {
        true => Some(warm_cache::entry_dir(&cfg, cfg.run.threads).map_err(|e| err(e.to_string()))?),
        false => None,
    };
    Ok((cfg.to_toml().map_err(|e| err(e.to_string()))?, key))
}

/// The resolved control config as TOML (control runs have no warm start to share).
fn resolve_control(preset: &str, sets: &[String]) -> Result<String, CompareError> {
    let err = |e: crate::TrainError| CompareError::Config {
        preset: preset.to_string(),
        message: e.to_string(),
    };
    load_control_config(None, sets)
        .and_then(|cfg| cfg.to_toml())
        .map_err(err)
}

/// The resolved theory config as TOML (theory runs have no warm start to share).
fn resolve_theory(preset: &str, sets: &[String]) -> Result<String, CompareError> {
    let err = |e: crate::TrainError| CompareError::Config {
        preset: preset.to_string(),
        message: e.to_string(),
    };
    load_theory_config(None, sets)
        .and_then(|cfg| cfg.to_toml())
        .map_err(err)
}

/// The resolved inventory config as TOML (no warm start to share).
fn resolve_inventory(preset: &str, sets: &[String]) -> Result<String, CompareError> {
    let err = |e: crate::TrainError| CompareError::Config {
        preset: preset.to_string(),
        message: e.to_string(),
    };
    crate::hdpo::load_inventory_config(None, sets)
        .and_then(|cfg| cfg.to_toml())
        .map_err(err)
}

/// What to do with a cell directory, from its `run.json` and checkpoints.
pub fn action_of(dir: &Path) -> Result<Action, CompareError> {
    let info = dir.join("run.json");
    if info.is_file() {
        let text = fs::read_to_string(&info).map_err(io(&info))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CompareError::Corrupt {
                path: info.clone(),
                message: format!("{e}; delete the run directory to run it again"),
            })?;
        if value.get("status").and_then(|s| s.as_str()) == Some("finished") {
            return Ok(Action::Skip);
        }
    }
    if latest_checkpoint(dir).is_some() {
        return Ok(Action::Resume);
    }
    Ok(Action::Fresh {
        clear: dir.join("metrics.jsonl").exists(),
    })
}

/// Errors when `dir/config.toml` exists and differs from `expected` in a value both set,
/// other than `run.threads` (threads change rounding, not the experiment).
fn check_saved_config(dir: &Path, expected: &str) -> Result<(), CompareError> {
    let path = dir.join("config.toml");
    if !path.is_file() {
        return Ok(());
    }
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    let parse = |t: &str, p: &Path| {
        t.parse::<toml::Table>().map_err(|e| CompareError::Corrupt {
            path: p.to_path_buf(),
            message: e.to_string(),
        })
    };
    let saved = flatten(&parse(&text, &path)?);
    let wanted = flatten(&parse(expected, &path)?);
    // A key only one side has comes from a newer or older polopt (a knob added with a
    // default), not from a different request: only values both sides set are compared.
    let keys: Vec<String> = saved
        .iter()
        .filter(|(k, v)| k.as_str() != "run.threads" && wanted.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k.clone())
        .collect();
    if keys.is_empty() {
        Ok(())
    } else {
        Err(CompareError::ConfigMismatch {
            dir: dir.to_path_buf(),
            keys,
        })
    }
}

fn flatten(table: &toml::Table) -> BTreeMap<String, String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                other => {
                    out.insert(key, other.to_string());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", table, &mut out);
    out
}

/// Writes `DIR/compare.json` so that `polopt report DIR` knows the preset order.
pub fn write_spec(spec: &CompareSpec) -> Result<(), CompareError> {
    fs::create_dir_all(&spec.dir).map_err(io(&spec.dir))?;
    let path = spec.dir.join(COMPARE_JSON);
    let text = serde_json::to_string_pretty(spec).map_err(|e| CompareError::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    fs::write(&path, text).map_err(io(&path))
}

/// Reads `DIR/compare.json`, if there is one.
pub fn read_spec(dir: &Path) -> Result<Option<CompareSpec>, CompareError> {
    let path = dir.join(COMPARE_JSON);
    if !path.is_file() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| CompareError::Corrupt {
            path,
            message: e.to_string(),
        })
}

/// The run directories of a comparison directory: the spec's cells in grid order when
/// `compare.json` exists, else every directory under `runs/` holding a `run.json`, by name.
pub fn run_dirs_of(dir: &Path) -> Result<Vec<PathBuf>, CompareError> {
    if let Some(spec) = read_spec(dir)? {
        let cells = spec
            .presets
            .iter()
            .flat_map(|p| (0..spec.seeds).map(move |s| cell_name(p, s)))
            .map(|n| dir.join(RUNS_DIR).join(n))
            .filter(|d| d.join("run.json").is_file())
            .collect();
        return Ok(cells);
    }
    let runs = dir.join(RUNS_DIR);
    let mut dirs: Vec<PathBuf> = fs::read_dir(&runs)
        .map_err(io(&runs))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("run.json").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}
