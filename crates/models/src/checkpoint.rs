//! Checkpoint I/O in the Hugging Face layout: a directory with `model.safetensors` (tensors under
//! their HF names) and `config.json`; [`crate::hf`] adds shards, dtypes and tokenizer files. Each file is written atomically (a temporary file in the
//! same directory, then a rename), so a crash leaves the old file or the new one, never half.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::{Dtype, SafeTensors};
use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::config::TransformerConfig;
use crate::error::ModelError;
use crate::transformer::Transformer;

pub const MODEL_FILE: &str = "model.safetensors";
pub const CONFIG_FILE: &str = "config.json";

/// A model loaded from a checkpoint directory; `vs` owns the weights `model` computes with.
pub struct LoadedModel {
    pub vs: VarStore,
    pub model: Transformer,
    pub config: TransformerConfig,
}

/// Saves every variable of `vs` to `dir/model.safetensors` and `config` to `dir/config.json`
/// (with `torch_dtype` set to the weights' dtype), creating `dir` if needed. This is
/// [`hf::save`](crate::hf::save) with its defaults: models over 5 GB are sharded.
pub fn save(vs: &VarStore, config: &TransformerConfig, dir: &Path) -> Result<(), ModelError> {
    crate::hf::save(vs, config, dir, &crate::hf::SaveOptions::default())
}

/// Reads `dir/config.json`, builds the model on `device` in f32 and loads its weights (one
/// `model.safetensors` or shards with an index; see [`crate::hf::load`] for other dtypes).
pub fn load(dir: &Path, device: Device) -> Result<LoadedModel, ModelError> {
    crate::hf::load(dir, device, Some(Kind::Float))
}

/// Loads the checkpoint in `dir` into an existing model's `vs`, after checking that the
/// checkpoint's `config.json` describes the same architecture as `config`.
pub fn load_into(
    vs: &mut VarStore,
    config: &TransformerConfig,
    dir: &Path,
) -> Result<(), ModelError> {
    config.check_same_architecture(&read_config(dir)?)?;
    crate::hf::load_weights(vs, config, dir)
}

/// Reads and validates `dir/config.json`.
pub fn read_config(dir: &Path) -> Result<TransformerConfig, ModelError> {
    TransformerConfig::from_file(&dir.join(CONFIG_FILE))
}

/// Writes named tensors (any device, any supported dtype) to a safetensors file, atomically.
/// Used for model weights and for optimizer state.
pub fn save_tensors(path: &Path, tensors: &BTreeMap<String, Tensor>) -> Result<(), ModelError> {
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let tensor = tensor.detach().f_to_device(Device::Cpu)?.f_contiguous()?;
        let dtype = dtype_of(tensor.kind()).ok_or_else(|| ModelError::UnsupportedDtype {
            name: name.clone(),
            dtype: format!("{:?}", tensor.kind()),
        })?;
        let numel = tensor.numel();
        let mut data = vec![0u8; numel * tensor.kind().elt_size_in_bytes()];
        tensor.f_copy_data_u8(&mut data, numel)?;
        let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
        buffers.push((name.as_str(), dtype, shape, data));
    }
    let mut views = Vec::with_capacity(buffers.len());
    for (name, dtype, shape, data) in &buffers {
        let view =
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).map_err(|e| {
                ModelError::Safetensors {
                    path: path.to_path_buf(),
                    detail: format!("tensor `{name}`: {e}"),
                }
            })?;
        views.push((*name, view));
    }
    let metadata = Some(
        [("format".to_string(), "pt".to_string())]
            .into_iter()
            .collect(),
    );
    let bytes = safetensors::serialize(views, metadata).map_err(|e| ModelError::Safetensors {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}

/// Reads every tensor of a safetensors file onto `device`, keeping the stored dtypes.
pub fn load_tensors(path: &Path, device: Device) -> Result<BTreeMap<String, Tensor>, ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let file = parse(&bytes, path)?;
    let mut out = BTreeMap::new();
    for (name, view) in file.tensors() {
        let tensor = to_tensor(&name, &view)?.f_to_device(device)?;
        out.insert(name, tensor);
    }
    Ok(out)
}

/// Writes `bytes` to a temporary file next to `path`, syncs it, then renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = path.with_file_name(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(ModelError::io(path, e));
    }
    Ok(())
}

fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>, ModelError> {
    SafeTensors::deserialize(bytes).map_err(|e| ModelError::Safetensors {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

fn to_tensor(name: &str, view: &safetensors::tensor::TensorView<'_>) -> Result<Tensor, ModelError> {
    let kind = kind_of(view.dtype()).ok_or_else(|| unsupported(name, view.dtype()))?;
    let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
    Ok(Tensor::f_from_data_size(view.data(), &shape, kind)?)
}

fn unsupported(name: &str, dtype: Dtype) -> ModelError {
    ModelError::UnsupportedDtype {
        name: name.to_string(),
        dtype: format!("{dtype:?}"),
    }
}

fn dtype_of(kind: Kind) -> Option<Dtype> {
    Some(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Int16 => Dtype::I16,
        Kind::Int8 => Dtype::I8,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        _ => return None,
    })
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::I16 => Kind::Int16,
        Dtype::I8 => Kind::Int8,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        _ => return None,
    })
}

/// The `torch_dtype` name of a floating-point kind.
pub(crate) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::BFloat16 => "bfloat16",
        Kind::Half => "float16",
        Kind::Double => "float64",
        _ => "float32",
    }
}

/// The kind of a `torch_dtype` name (`"float32"`, `"bfloat16"`, ...).
pub(crate) fn kind_from_name(name: &str) -> Option<Kind> {
    match name {
        "float32" | "float" => Some(Kind::Float),
        "bfloat16" => Some(Kind::BFloat16),
        "float16" | "half" => Some(Kind::Half),
        "float64" | "double" => Some(Kind::Double),
        _ => None,
    }
}
