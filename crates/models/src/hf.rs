//! Hugging Face model directories in and out: `config.json`, the weights as one
//! `model.safetensors` or as shards listed in `model.safetensors.index.json`, and the tokenizer
//! files (`tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`, ...), which are
//! copied through unchanged on save. What this writes loads in transformers, vLLM and SGLang,
//! and what they publish for Qwen2/Llama loads here; nothing is fetched from the network.
//!
//! Loading checks every shard's header before it overwrites any weight, so a checkpoint with a
//! missing tensor, a wrong shape or an unsupported dtype fails with the tensor's name and leaves
//! the model as it was.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::checkpoint::{self, LoadedModel, CONFIG_FILE, MODEL_FILE};
use crate::config::TransformerConfig;
use crate::error::ModelError;
use crate::transformer::Transformer;

pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Files that travel with a model directory but are not weights or the model config: copied by
/// [`save`] from [`SaveOptions::copy_files_from`] when present there.
pub const COMPANION_FILES: [&str; 8] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "vocab.json",
    "merges.txt",
    "generation_config.json",
];

/// transformers' default `max_shard_size` before v5 (5 GB): a Qwen2.5-0.5B or 1.5B checkpoint
/// stays one file, a 7B one is split, as on the Hub.
pub const DEFAULT_MAX_SHARD_BYTES: u64 = 5_000_000_000;

/// The dtype a model computes in by default on `device` (design/backend.md: bf16 on GPU, f32 on
/// CPU). Losses and log-softmax stay f32 either way (`logprobs::scaled_log_softmax`).
pub fn default_kind(device: Device) -> Kind {
    if device.is_cuda() {
        Kind::BFloat16
    } else {
        Kind::Float
    }
}

/// Reads a Hugging Face model directory onto `device` in `kind` (whatever the dtype on disk:
/// f32, f16 and bf16 weights are converted). `kind: None` means [`default_kind`].
pub fn load(dir: &Path, device: Device, kind: Option<Kind>) -> Result<LoadedModel, ModelError> {
    let config = checkpoint::read_config(dir)?;
    let mut vs = VarStore::new(device);
    let model = Transformer::new(&vs.root(), &config)?;
    let kind = kind.unwrap_or_else(|| default_kind(device));
    if kind != Kind::Float {
        vs.set_kind(kind);
        // set_kind gave every variable new storage: rebuild the fused q/k/v and gate/up
        // buffers now, so the old-dtype copies are freed before the weights are read.
        model.ensure_fused();
    }
    load_weights(&mut vs, &config, dir)?;
    Ok(LoadedModel { vs, model, config })
}

/// A tensor as a safetensors header describes it, before any data is read.
struct HeaderEntry {
    dtype: String,
    shape: Vec<i64>,
}

/// Loads the weights of the model directory `dir` (single file or sharded) into `vs`, whose
/// variables were made by a `Transformer` for `config`. Two tensors that HF checkpoints may
/// carry and this model does not keep are skipped: `lm_head.weight` when the embeddings are
/// tied (transformers ignores it too) and the old `rotary_emb.inv_freq` buffers (derived here).
pub fn load_weights(
    vs: &mut VarStore,
    config: &TransformerConfig,
    dir: &Path,
) -> Result<(), ModelError> {
    let shards = weight_files(dir)?;
    let variables: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    // Pass 1: headers only; every check happens before any weight is overwritten.
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (shard, expected_names) in &shards {
        let header = read_header(shard)?;
        if let Some(name) = expected_names.iter().find(|n| !header.contains_key(*n)) {
            return Err(ModelError::MissingTensor {
                name: name.clone(),
                path: shard.clone(),
            });
        }
        for (name, entry) in header {
            if skipped(config, &name) {
                continue;
            }
            let Some(var) = variables.get(&name) else {
                return Err(ModelError::UnexpectedTensor {
                    name,
                    path: shard.clone(),
                });
            };
            if entry.shape != var.size() {
                return Err(ModelError::ShapeMismatch {
                    name,
                    path: shard.clone(),
                    expected: var.size(),
                    found: entry.shape,
                });
            }
            if !matches!(entry.dtype.as_str(), "F32" | "F16" | "BF16" | "F64") {
                return Err(ModelError::UnsupportedDtype {
                    name,
                    dtype: entry.dtype,
                });
            }
            if let Some(first) = found.insert(name.clone(), shard.clone()) {
                return Err(ModelError::InvalidIndex {
                    path: dir.join(INDEX_FILE),
                    reason: format!(
                        "tensor `{name}` is stored twice, in {} and {}",
                        first.display(),
                        shard.display()
                    ),
                });
            }
        }
    }
    let where_ = || match shards.as_slice() {
        [(single, _)] => single.clone(),
        _ => dir.join(INDEX_FILE),
    };
    if let Some(name) = variables.keys().find(|n| !found.contains_key(*n)) {
        return Err(ModelError::MissingTensor {
            name: name.clone(),
            path: where_(),
        });
    }
    // Pass 2: one shard in memory at a time, converted to each variable's dtype and device.
    for (shard, _) in &shards {
        let tensors = checkpoint::load_tensors(shard, Device::Cpu)?;
        for (name, tensor) in tensors {
            if let Some(var) = variables.get(&name).filter(|_| !skipped(config, &name)) {
                tch::no_grad(|| var.shallow_clone().f_copy_(&tensor))?;
            }
        }
    }
    Ok(())
}

fn skipped(config: &TransformerConfig, name: &str) -> bool {
    (config.tie_word_embeddings && name == "lm_head.weight")
        || name.ends_with("rotary_emb.inv_freq")
}

/// The weight files of `dir` with the tensor names the index assigns to each (empty for a
/// single `model.safetensors`). The index wins when both exist, as in transformers.
fn weight_files(dir: &Path) -> Result<Vec<(PathBuf, Vec<String>)>, ModelError> {
    let index_path = dir.join(INDEX_FILE);
    if !index_path.is_file() {
        let single = dir.join(MODEL_FILE);
        if !single.is_file() {
            return Err(ModelError::MissingFile {
                path: single,
                hint: format!("a model directory needs {MODEL_FILE} or {INDEX_FILE}"),
            });
        }
        return Ok(vec![(single, Vec::new())]);
    }
    let text = std::fs::read_to_string(&index_path).map_err(|e| ModelError::io(&index_path, e))?;
    let index: Value = serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: index_path.clone(),
        source,
    })?;
    let invalid = |reason: String| ModelError::InvalidIndex {
        path: index_path.clone(),
        reason,
    };
    let map = index
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("field `weight_map` is missing or not an object".into()))?;
    let mut by_file: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, file) in map {
        let file = file.as_str().ok_or_else(|| {
            invalid(format!(
                "field `weight_map.{name}` must be a file name, got {file}"
            ))
        })?;
        // Shard names are plain file names; refuse paths that would leave the directory.
        if file.contains('/') || file.contains('\\') || file == ".." {
            return Err(invalid(format!(
                "field `weight_map.{name}`: {file:?} is not a file name"
            )));
        }
        by_file
            .entry(file.to_string())
            .or_default()
            .push(name.clone());
    }
    if by_file.is_empty() {
        return Err(invalid("field `weight_map` lists no tensor".into()));
    }
    Ok(by_file
        .into_iter()
        .map(|(file, names)| (dir.join(file), names))
        .collect())
}

/// Reads only the JSON header of a safetensors file: tensor names, dtypes and shapes.
fn read_header(path: &Path) -> Result<BTreeMap<String, HeaderEntry>, ModelError> {
    let bad = |detail: String| ModelError::Safetensors {
        path: path.to_path_buf(),
        detail,
    };
    let mut file = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|e| bad(format!("cannot read the header length: {e}")))?;
    let len = u64::from_le_bytes(len);
    // safetensors' own limit on header size (100 MB): anything larger is not a header.
    if len > 100_000_000 {
        return Err(bad(format!("header length {len} is implausible")));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header)
        .map_err(|e| bad(format!("truncated header: {e}")))?;
    let header: BTreeMap<String, Value> =
        serde_json::from_slice(&header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, info) in header {
        if name == "__metadata__" {
            continue;
        }
        let dtype = info.get("dtype").and_then(Value::as_str);
        let shape: Option<Vec<i64>> = info
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|dims| dims.iter().map(Value::as_i64).collect());
        match (dtype, shape) {
            (Some(dtype), Some(shape)) => {
                out.insert(
                    name,
                    HeaderEntry {
                        dtype: dtype.to_string(),
                        shape,
                    },
                );
            }
            _ => return Err(bad(format!("tensor `{name}` has no valid dtype/shape"))),
        }
    }
    Ok(out)
}

/// How [`save`] lays out a model directory.
#[derive(Debug, Clone)]
pub struct SaveOptions<'a> {
    /// Above this many weight bytes, weights are split into `model-0000i-of-0000n.safetensors`
    /// shards with an index (whole tensors; a tensor larger than the limit gets its own shard).
    pub max_shard_bytes: u64,
    /// Store the weights in this dtype (`None`: as they are in memory, e.g. bf16 on GPU).
    pub kind: Option<Kind>,
    /// A model directory whose [`COMPANION_FILES`] (tokenizer, chat template, generation
    /// config) are copied along, so that the saved directory is complete for HF tools.
    pub copy_files_from: Option<&'a Path>,
}

impl Default for SaveOptions<'_> {
    fn default() -> Self {
        SaveOptions {
            max_shard_bytes: DEFAULT_MAX_SHARD_BYTES,
            kind: None,
            copy_files_from: None,
        }
    }
}

/// Writes `vs` as a Hugging Face model directory. Each file is written atomically; the index is
/// written after its shards, and files of the other layout left by an earlier save are removed
/// so that loaders cannot pick up stale weights.
pub fn save(
    vs: &VarStore,
    config: &TransformerConfig,
    dir: &Path,
    options: &SaveOptions,
) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let mut tensors: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    if let Some(kind) = options.kind {
        for t in tensors.values_mut() {
            *t = t.f_to_kind(kind)?;
        }
    }
    let mut config = config.clone();
    if let Some(t) = tensors.values().next() {
        config.torch_dtype = Some(checkpoint::kind_name(t.kind()).to_string());
    }
    let shards = plan_shards(&tensors, options.max_shard_bytes);
    let mut written = BTreeSet::new();
    if shards.len() == 1 {
        checkpoint::save_tensors(&dir.join(MODEL_FILE), &tensors)?;
        written.insert(MODEL_FILE.to_string());
    } else {
        let n = shards.len();
        let mut weight_map = serde_json::Map::new();
        for (i, names) in shards.iter().enumerate() {
            let file = format!("model-{:05}-of-{n:05}.safetensors", i + 1);
            let shard: BTreeMap<String, Tensor> = names
                .iter()
                .map(|name| (name.clone(), tensors[name].shallow_clone()))
                .collect();
            checkpoint::save_tensors(&dir.join(&file), &shard)?;
            for name in names {
                weight_map.insert(name.clone(), Value::String(file.clone()));
            }
            written.insert(file);
        }
        let total_size: u64 = tensors.values().map(tensor_bytes).sum();
        let index = serde_json::json!({
            "metadata": {"total_size": total_size},
            "weight_map": weight_map,
        });
        let text = serde_json::to_string_pretty(&index).unwrap_or_default();
        checkpoint::write_atomic(&dir.join(INDEX_FILE), text.as_bytes())?;
        written.insert(INDEX_FILE.to_string());
    }
    remove_stale_weights(dir, &written)?;
    checkpoint::write_atomic(&dir.join(CONFIG_FILE), config.to_json().as_bytes())?;
    if let Some(source) = options.copy_files_from {
        copy_companions(source, dir)?;
    }
    Ok(())
}

fn tensor_bytes(t: &Tensor) -> u64 {
    (t.numel() * t.kind().elt_size_in_bytes()) as u64
}

/// Greedy split in name order: a new shard starts when the next tensor would exceed the limit.
fn plan_shards(tensors: &BTreeMap<String, Tensor>, max_bytes: u64) -> Vec<Vec<String>> {
    let mut shards: Vec<Vec<String>> = vec![Vec::new()];
    let mut size = 0u64;
    for (name, t) in tensors {
        let bytes = tensor_bytes(t);
        let current = shards.last().map_or(0, Vec::len);
        if current > 0 && size + bytes > max_bytes {
            shards.push(Vec::new());
            size = 0;
        }
        size += bytes;
        if let Some(last) = shards.last_mut() {
            last.push(name.clone());
        }
    }
    shards
}

/// Removes weight files in `dir` that this save did not write (an old single file, old shards,
/// an old index).
fn remove_stale_weights(dir: &Path, written: &BTreeSet<String>) -> Result<(), ModelError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ModelError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ModelError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_weights = name == MODEL_FILE
            || name == INDEX_FILE
            || (name.starts_with("model-") && name.ends_with(".safetensors"));
        if is_weights && !written.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(|e| ModelError::io(&entry.path(), e))?;
        }
    }
    Ok(())
}

fn copy_companions(source: &Path, dir: &Path) -> Result<(), ModelError> {
    if source == dir {
        return Ok(());
    }
    for name in COMPANION_FILES {
        let from = source.join(name);
        if from.is_file() {
            let bytes = std::fs::read(&from).map_err(|e| ModelError::io(&from, e))?;
            checkpoint::write_atomic(&dir.join(name), &bytes)?;
        }
    }
    Ok(())
}
