//! Built-in runs as ordinary inputs of the generic path: a checkpoint as a Hugging Face model
//! directory (with the character vocabulary as `tokenizer.json`), and a task's problems as a
//! JSON lines dataset. Training the exported model on the exported data through `model.path`
//! and `[data]` must then match training it through the built-in path (docs/own-model.md).
use std::io::Write;
use std::path::Path;

use polopt_envs::text::{eval_set, sample_batch, Split};
use polopt_models::char_export::write_tokenizer_files;
use polopt_models::{checkpoint, hf, CharTokenizer};
use tch::{Device, Kind};

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::group_rl::task_from;
use crate::run_dir::write_atomic;
use crate::seeds::stream;

/// Writes the weights of `checkpoint` to `out` as a complete Hugging Face model directory. A
/// checkpoint of a built-in run gets the character vocabulary's tokenizer files; one of a
/// `model.path` run already carries its tokenizer, which is copied along.
pub fn export_model(checkpoint: &Path, out: &Path) -> Result<(), TrainError> {
    let model_error = |e: polopt_models::ModelError| TrainError::Checkpoint {
        path: checkpoint.to_path_buf(),
        detail: e.to_string(),
    };
    let loaded = hf::load(checkpoint, Device::Cpu, Some(Kind::Float)).map_err(model_error)?;
    let has_tokenizer = checkpoint.join("tokenizer.json").is_file();
    let options = hf::SaveOptions {
        copy_files_from: has_tokenizer.then_some(checkpoint),
        ..Default::default()
    };
    hf::save(&loaded.vs, &loaded.config, out, &options).map_err(|e| TrainError::Checkpoint {
        path: out.to_path_buf(),
        detail: e.to_string(),
    })?;
    if !has_tokenizer {
        // The character vocabulary the run trained with: the text tasks', or theirs extended
        // by the agent environments' characters; the model's vocabulary size tells which.
        let vocab = loaded.config.vocab_size;
        let candidates = [
            Ok(CharTokenizer::new()),
            CharTokenizer::with_extra(polopt_envs::agent::AGENT_EXTRA_CHARS),
        ];
        let tokenizer = candidates
            .into_iter()
            .filter_map(Result::ok)
            .find(|t| t.vocab_size() as i64 == vocab)
            .ok_or_else(|| TrainError::Checkpoint {
                path: checkpoint.to_path_buf(),
                detail: format!(
                    "vocab_size {vocab} matches no built-in character vocabulary and the \
                     checkpoint has no tokenizer.json"
                ),
            })?;
        write_tokenizer_files(&tokenizer, out).map_err(|e| TrainError::Checkpoint {
            path: out.to_path_buf(),
            detail: e.to_string(),
        })?;
    }
    // Read back: what was written must load as a model directory.
    checkpoint::read_config(out).map_err(model_error)?;
    Ok(())
}

/// Writes `n` problems of the run's RL task (`task.rl`) to `out` as JSON lines with `prompt`,
/// `answer` (the reference completion, which states the answer the way the task's completions
/// must: reversed digits under `reverse_output`, after `#### ` with a scratchpad), `value` (the
/// task's own answer field) and `key`. The test split gives exactly the held-out set a
/// built-in run with this config evaluates on (same seed); the train split draws fresh
/// training problems.
pub fn export_problems(
    config: &RunConfig,
    split: Split,
    n: usize,
    out: &Path,
) -> Result<usize, TrainError> {
    let task = task_from(config, "rl", &config.task.rl)?;
    let problems = match split {
        Split::Train => sample_batch(
            task.as_ref(),
            Split::Train,
            n,
            &mut stream(config.run.seed, "export-train", 0),
        ),
        other => eval_set(task.as_ref(), other, n, config.run.seed),
    };
    let mut bytes = Vec::new();
    for p in &problems {
        let row = serde_json::json!({
            "prompt": p.prompt, "answer": p.solution, "value": p.answer, "key": p.key,
        });
        serde_json::to_writer(&mut bytes, &row)
            .map_err(|e| TrainError::Config(format!("{}: {e}", out.display())))?;
        bytes.write_all(b"\n").map_err(|e| TrainError::io(out, e))?;
    }
    write_atomic(out, &bytes)?;
    Ok(problems.len())
}

/// Writes `n` synthetic preference pairs of the run's task (`method.preference.
/// synthetic_rejected`) as JSON lines with TRL's field names, plus the answer: the data a
/// `pairs` run without a file trains on (train split) or evaluates on (test split).
pub fn export_pairs(
    config: &RunConfig,
    split: Split,
    n: usize,
    out: &Path,
) -> Result<usize, TrainError> {
    let task = task_from(config, "rl", &config.task.rl)?;
    let how = config.method.preference.synthetic_rejected;
    let pairs =
        crate::preference::pairs::synthetic_pairs(task.as_ref(), split, n, config.run.seed, how);
    let mut bytes = Vec::new();
    for p in &pairs {
        let row = serde_json::json!({
            "prompt": p.problem.prompt, "chosen": p.chosen, "rejected": p.rejected,
            "answer": p.problem.answer,
        });
        serde_json::to_writer(&mut bytes, &row)
            .map_err(|e| TrainError::Config(format!("{}: {e}", out.display())))?;
        bytes.write_all(b"\n").map_err(|e| TrainError::io(out, e))?;
    }
    write_atomic(out, &bytes)?;
    Ok(pairs.len())
}
