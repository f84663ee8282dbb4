//! `polopt eval`: held-out pass@1 and pass@k of saved weights, under a run's config (a
//! checkpoint of a run) or on a Hugging Face model directory and a dataset, with the same
//! reward functions a run trains with; optionally every scored completion as JSON lines.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::{select_device, setup};
use crate::config::RunConfig;
use crate::error::TrainError;
use crate::eval::{evaluate_with_samples, EvalSample, EvalSpec};
use crate::run_dir::write_atomic;

/// Held-out evaluation of a saved checkpoint under a run's config (`polopt eval RUN`).
pub fn evaluate_checkpoint(
    config: &RunConfig,
    checkpoint: &Path,
) -> Result<BTreeMap<String, f64>, TrainError> {
    evaluate_weights(config, checkpoint, None)
}

/// Evaluates the weights in `weights` (a checkpoint, or for `model.path` runs any Hugging Face
/// model directory) on the config's held-out problems: the task's test split, or `data.eval`.
/// With `samples`, writes every scored completion there (JSON lines, atomically).
pub fn evaluate_weights(
    config: &RunConfig,
    weights: &Path,
    samples: Option<&Path>,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let mut config = config.clone();
    let adapters = config.model.lora.is_some();
    if config.model.path.is_some() && !adapters {
        // A checkpoint of a `model.path` run is a complete model directory (tokenizer
        // included): load it as the model itself. A LoRA run's is an adapter directory,
        // loaded onto the base model below.
        config.model.path = Some(weights.display().to_string());
    }
    let config = setup::effective_config(&config)?;
    let device = select_device(&config.run.device)?;
    let (mut policy, tok) = setup::policy_and_codec(&config, device)?;
    if config.model.path.is_none() || adapters {
        policy.load_weights(weights)?;
    }
    let problems = setup::problems(&config, &tok)?;
    if problems.eval.is_empty() {
        return Err(TrainError::Config(
            "nothing to evaluate: set data.eval (or pass --data) to a file of held-out prompts"
                .into(),
        ));
    }
    let reward = setup::reward(&config, None)?;
    let spec = EvalSpec {
        problems: &problems.eval,
        ks: &config.eval.k,
        temperature: config.eval.temperature,
        max_new_tokens: config.rl.max_new_tokens,
        max_turn_tokens: config.rl.max_turn_tokens,
        seed: config.run.seed,
        index: u64::MAX,
        task: problems.task.as_ref(),
    };
    let (metrics, scored) =
        evaluate_with_samples(&policy, &tok, reward.as_ref(), &spec, samples.is_some())?;
    if let Some(path) = samples {
        write_samples(path, &scored)?;
    }
    Ok(metrics)
}

fn write_samples(path: &Path, samples: &[EvalSample]) -> Result<(), TrainError> {
    let mut bytes = Vec::new();
    for sample in samples {
        serde_json::to_writer(&mut bytes, sample)
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        bytes
            .write_all(b"\n")
            .map_err(|e| TrainError::io(path, e))?;
    }
    write_atomic(path, &bytes)
}
