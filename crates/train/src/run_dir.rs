//! The run directory (architecture.md): `config.toml`, `run.json`, `metrics.jsonl`, and
//! `checkpoints/<name>/` holding `model.safetensors`, `config.json`, `optimizer.safetensors`
//! and `state.json`. Checkpoints are written to a temporary directory and renamed into place,
//! so a kill leaves either the old checkpoint or the new one, never half of one.
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use polopt_methods::plan::MethodState;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::TrainError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    pub preset: String,
    pub task: String,
    pub seed: u64,
    /// `running` or `finished`.
    pub status: String,
    /// Final held-out metrics (`eval/pass@1`, ...), filled when the run finishes. Written as
    /// `final`, the key the report layer reads.
    #[serde(rename = "final")]
    pub final_metrics: BTreeMap<String, f64>,
    /// Held-out metrics of the warm-start checkpoint, before any RL.
    pub warmstart_metrics: BTreeMap<String, f64>,
}

impl RunInfo {
    pub fn path(run_dir: &Path) -> PathBuf {
        run_dir.join("run.json")
    }
    pub fn write(&self, run_dir: &Path) -> Result<(), TrainError> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| TrainError::Config(e.to_string()))?;
        write_atomic(&Self::path(run_dir), text.as_bytes())
    }
    pub fn read(run_dir: &Path) -> Result<Self, TrainError> {
        let path = Self::path(run_dir);
        let text = fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path,
            detail: e.to_string(),
        })
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| TrainError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}

/// Appends one JSON object per step to `metrics.jsonl`, flushed line by line.
pub struct MetricsSink {
    path: PathBuf,
    file: fs::File,
}

impl MetricsSink {
    /// Opens for appending. With `keep_up_to = Some(step)`, lines of later steps (written after
    /// the checkpoint a resume starts from) are dropped first, so the file never holds a step
    /// twice; a torn last line from a kill is dropped too.
    pub fn open(path: &Path, keep_up_to: Option<usize>) -> Result<Self, TrainError> {
        if let Some(limit) = keep_up_to {
            if path.exists() {
                let file = fs::File::open(path).map_err(|e| TrainError::io(path, e))?;
                let mut kept = String::new();
                for line in std::io::BufReader::new(file).lines() {
                    let line = line.map_err(|e| TrainError::io(path, e))?;
                    let step = serde_json::from_str::<Value>(&line)
                        .ok()
                        .and_then(|v| v.get("step").and_then(Value::as_u64));
                    if matches!(step, Some(s) if s as usize <= limit) {
                        kept.push_str(&line);
                        kept.push('\n');
                    }
                }
                write_atomic(path, kept.as_bytes())?;
            }
        } else if path.exists() {
            fs::remove_file(path).map_err(|e| TrainError::io(path, e))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TrainError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn write(
        &mut self,
        step: usize,
        metrics: &BTreeMap<String, f64>,
    ) -> Result<(), TrainError> {
        let mut obj = Map::new();
        obj.insert("step".into(), Value::from(step));
        for (k, v) in metrics {
            // JSON has no NaN; a non-finite metric is written as null and counted elsewhere.
            let value = serde_json::Number::from_f64(*v)
                .map(Value::Number)
                .unwrap_or(Value::Null);
            obj.insert(k.clone(), value);
        }
        let mut line = Value::Object(obj).to_string();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| TrainError::io(&self.path, e))
    }
}

/// What a checkpoint records besides tensors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Last completed RL step (0 = right after the warm start).
    pub step: usize,
    pub optimizer_step: i64,
    pub nan_events: usize,
    pub warmstart_metrics: BTreeMap<String, f64>,
    /// Cross-step state of the method's parts (absent in older checkpoints: fresh state).
    #[serde(default)]
    pub method_state: MethodState,
    /// Where a `[data]` run is in its dataset (epoch and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_order: Option<polopt_envs::data::DataOrder>,
}

pub fn checkpoints_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

pub fn checkpoint_name(step: usize) -> String {
    format!("step-{step:06}")
}

/// The newest complete checkpoint (highest step), if any. Temporary directories of an
/// interrupted save are ignored.
pub fn latest_checkpoint(run_dir: &Path) -> Option<(usize, PathBuf)> {
    let entries = fs::read_dir(checkpoints_dir(run_dir)).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let step = name.strip_prefix("step-")?.parse::<usize>().ok()?;
            e.path()
                .join("state.json")
                .exists()
                .then(|| (step, e.path()))
        })
        .max_by_key(|(step, _)| *step)
}

/// Runs `write` into a fresh temporary directory, then renames it to `checkpoints/<name>`.
pub fn save_checkpoint_dir(
    run_dir: &Path,
    name: &str,
    write: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<PathBuf, TrainError> {
    save_dir_atomic(&checkpoints_dir(run_dir), name, write)
}

/// Writes directory `root/name` through a temporary sibling and a rename, so that a reader
/// never sees half of it (checkpoints, the preference loops' reference snapshots).
pub fn save_dir_atomic(
    root: &Path,
    name: &str,
    write: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<PathBuf, TrainError> {
    let root = root.to_path_buf();
    fs::create_dir_all(&root).map_err(|e| TrainError::io(&root, e))?;
    let tmp = root.join(format!(".{name}.tmp"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    write(&tmp)?;
    let target = root.join(name);
    if target.exists() {
        fs::remove_dir_all(&target).map_err(|e| TrainError::io(&target, e))?;
    }
    fs::rename(&tmp, &target).map_err(|e| TrainError::io(&target, e))?;
    Ok(target)
}

/// A checkpoint's `state.json` (counters, environment and normaliser state); errors name the
/// file.
pub fn read_checkpoint_state<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T, TrainError> {
    let path = dir.join("state.json");
    let text = fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path,
        detail: e.to_string(),
    })
}

/// One safetensors file of a checkpoint, on the CPU; errors name the file.
pub fn load_checkpoint_tensors(
    dir: &Path,
    name: &str,
) -> Result<std::collections::BTreeMap<String, tch::Tensor>, TrainError> {
    let path = dir.join(name);
    polopt_models::checkpoint::load_tensors(&path, tch::Device::Cpu).map_err(|e| {
        TrainError::Checkpoint {
            path,
            detail: e.to_string(),
        }
    })
}

/// The start of a checkpointed run (control, off-policy): with `resume`, the newest checkpoint
/// (an error when there is none); without, an error when the directory already holds metrics,
/// so that nothing is overwritten. The `writer` (rank 0 of a data-parallel run, or the only
/// process) creates the directory and writes `config.toml`; other ranks only read checkpoints.
pub fn open_run_dir(
    run_dir: &Path,
    resume: bool,
    writer: bool,
    config_toml: &str,
) -> Result<Option<(usize, PathBuf)>, TrainError> {
    let resume_from = if resume {
        Some(latest_checkpoint(run_dir).ok_or_else(|| {
            TrainError::Config(format!(
                "--resume: {} has no checkpoint to resume from",
                run_dir.display()
            ))
        })?)
    } else {
        None
    };
    if writer && !resume && run_dir.join("metrics.jsonl").exists() {
        return Err(TrainError::Config(format!(
            "{} already holds a run; pass --resume to continue it, or choose another run.name (nothing was overwritten)",
            run_dir.display()
        )));
    }
    if writer {
        fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
        write_atomic(&run_dir.join("config.toml"), config_toml.as_bytes())?;
    }
    Ok(resume_from)
}
