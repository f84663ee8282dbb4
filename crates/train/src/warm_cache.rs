//! A cache of warm starts shared by the runs of one output directory.
//!
//! The warm start depends only on the model, the warm-start settings, its task knobs, the seed
//! and the thread count (float reductions are ordered per thread count), never on the RL method.
//! A comparison of several presets over the same seeds therefore trains each warm start once;
//! a cached one is bit-identical to what the run would have computed itself.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::policy::Policy;
use crate::seeds::derive_seed;

const METRICS_FILE: &str = "sft.json";

/// `<out_dir>/.warmstart/<key>`, where the key hashes everything the warm start depends on.
pub fn entry_dir(config: &RunConfig, threads: usize) -> Result<PathBuf, TrainError> {
    let mut inputs = serde_json::json!({
        "model": config.model,
        "sft": config.sft,
        "task": config.task.name,
        "task_sft": config.task.sft,
        "seed": config.run.seed,
        "device": config.run.device,
        "threads": threads,
        "format": 2,
    });
    // Workspace rounds change the warm start's rows and checks; history runs keep their keys.
    if config.rl.agent_context == crate::config::AgentContext::Workspace {
        inputs["agent_context"] = "workspace".into();
    }
    let text = serde_json::to_string(&inputs).map_err(|e| TrainError::Config(e.to_string()))?;
    let key = format!("{:016x}", derive_seed(0, &text, 0));
    Ok(Path::new(&config.run.out_dir).join(".warmstart").join(key))
}

/// Whether the entry holds a stored warm start (its metrics file is written last, inside the
/// renamed directory, so its presence means the whole entry is there).
pub fn is_stored(dir: &Path) -> bool {
    dir.join(METRICS_FILE).is_file()
}

/// Loads a cached warm start into `policy` and returns its metrics, or `None` when absent.
pub fn load(dir: &Path, policy: &mut Policy) -> Result<Option<BTreeMap<String, f64>>, TrainError> {
    if !is_stored(dir) {
        return Ok(None);
    }
    let metrics_path = dir.join(METRICS_FILE);
    let text = fs::read_to_string(&metrics_path).map_err(|e| TrainError::io(&metrics_path, e))?;
    let metrics = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: metrics_path.clone(),
        detail: format!("{e} (delete {} to retrain the warm start)", dir.display()),
    })?;
    policy.load_weights(dir)?;
    Ok(Some(metrics))
}

/// Stores a warm start. Concurrent runs may race to store the same entry; the first rename
/// wins and the others discard their identical copy.
pub fn store(
    dir: &Path,
    policy: &Policy,
    metrics: &BTreeMap<String, f64>,
) -> Result<(), TrainError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    policy.save(&tmp)?;
    let json =
        serde_json::to_string_pretty(metrics).map_err(|e| TrainError::Config(e.to_string()))?;
    fs::write(tmp.join(METRICS_FILE), json).map_err(|e| TrainError::io(&tmp, e))?;
    if fs::rename(&tmp, dir).is_err() {
        // Another run stored it first (rename onto a non-empty directory fails).
        let _ = fs::remove_dir_all(&tmp);
    }
    Ok(())
}
