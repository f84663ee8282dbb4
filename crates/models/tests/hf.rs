//! Hugging Face model directories: the sharded bf16 Qwen2 fixture that transformers wrote,
//! save -> load round trips in both layouts, and the errors a broken directory gives.
mod common;

use std::path::{Path, PathBuf};

use common::{left_padded, max_abs_diff, model, qwen2_config, rng_lock};
use polopt_models::checkpoint::{self, CONFIG_FILE, MODEL_FILE};
use polopt_models::hf::{self, SaveOptions, INDEX_FILE};
use polopt_models::{ModelError, Transformer};
use tch::{Device, Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn logits(model: &Transformer) -> Tensor {
    let (tokens, mask) = left_padded(&common::prompts());
    tch::no_grad(|| model.forward(&tokens, &mask))
}

/// Copies a fixture directory so that a test can break it.
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

#[test]
fn sharded_bf16_qwen2_directory_matches_transformers() {
    let dir = fixture("qwen2_tied_chat");
    assert!(dir.join(INDEX_FILE).is_file() && !dir.join(MODEL_FILE).exists());
    let reference =
        checkpoint::load_tensors(&dir.join("reference.safetensors"), Device::Cpu).unwrap();
    let real = reference["attention_mask"]
        .unsqueeze(-1)
        .to_kind(Kind::Float);
    let expected = &reference["logits"] * &real;
    let forward = |kind| {
        let loaded = hf::load(&dir, Device::Cpu, Some(kind)).unwrap();
        assert!(loaded.config.tie_word_embeddings && loaded.config.num_key_value_heads == 2);
        assert_eq!(loaded.model.kind(), kind);
        let out = tch::no_grad(|| {
            loaded
                .model
                .forward(&reference["tokens"], &reference["attention_mask"])
        });
        out.to_kind(Kind::Float) * &real
    };
    // bf16 on disk -> f32 is exact, so f32 matches transformers' f32 forward to rounding.
    let diff = max_abs_diff(&forward(Kind::Float), &expected);
    assert!(
        diff < 1e-5,
        "f32 logits differ from transformers' by {diff}"
    );
    // Computing in bf16 costs ~2-3 significant digits: transformers' own bf16 forward is 0.14
    // off its f32 logits here (scale 5), ours 0.19; allow 6% of the scale.
    let scale = expected.abs().max().double_value(&[]);
    let diff = max_abs_diff(&forward(Kind::BFloat16), &expected);
    assert!(
        diff < 0.06 * scale,
        "bf16 logits differ by {diff} (scale {scale})"
    );
}

#[test]
fn save_then_load_reproduces_logits_exactly_in_both_layouts() {
    let _rng = rng_lock();
    let (vs, original) = model(&qwen2_config(), 21);
    let expected = logits(&original);
    let dir = tempfile::tempdir().unwrap();
    let sharded = SaveOptions {
        max_shard_bytes: 20_000,
        copy_files_from: Some(&fixture("qwen2_tied_chat")),
        ..SaveOptions::default()
    };
    hf::save(&vs, original.config(), dir.path(), &sharded).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let shards = names.iter().filter(|n| n.starts_with("model-")).count();
    assert!(shards > 2, "expected several shards, got {names:?}");
    assert!(!names.contains(&MODEL_FILE.to_string()));
    for companion in [
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
    ] {
        assert!(names.contains(&companion.to_string()), "{names:?}");
    }
    assert!(!names.iter().any(|n| n.contains(".tmp")), "{names:?}");
    let loaded = hf::load(dir.path(), Device::Cpu, None).unwrap();
    assert_eq!(max_abs_diff(&logits(&loaded.model), &expected), 0.0);

    // Saving the single-file layout over it removes the shards and the index.
    hf::save(&vs, original.config(), dir.path(), &SaveOptions::default()).unwrap();
    assert!(dir.path().join(MODEL_FILE).is_file() && !dir.path().join(INDEX_FILE).exists());
    let loaded = checkpoint::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(max_abs_diff(&logits(&loaded.model), &expected), 0.0);
}

#[test]
fn bf16_save_records_the_dtype_and_reloads_exactly() {
    let _rng = rng_lock();
    let (mut vs, _) = model(&qwen2_config(), 22);
    vs.set_kind(Kind::BFloat16);
    let dir = tempfile::tempdir().unwrap();
    let bf16 = SaveOptions {
        kind: Some(Kind::BFloat16),
        ..SaveOptions::default()
    };
    hf::save(&vs, &qwen2_config(), dir.path(), &bf16).unwrap();
    let config = checkpoint::read_config(dir.path()).unwrap();
    assert_eq!(config.torch_dtype.as_deref(), Some("bfloat16"));
    let a = hf::load(dir.path(), Device::Cpu, Some(Kind::BFloat16)).unwrap();
    let b = hf::load(dir.path(), Device::Cpu, Some(Kind::BFloat16)).unwrap();
    assert_eq!(a.model.kind(), Kind::BFloat16);
    assert_eq!(max_abs_diff(&logits(&a.model), &logits(&b.model)), 0.0);
    // The same bf16 weights loaded as f32 compute the same function to f32 rounding.
    let f = hf::load(dir.path(), Device::Cpu, Some(Kind::Float)).unwrap();
    let diff = max_abs_diff(&logits(&a.model), &logits(&f.model));
    assert!(diff < 0.5, "bf16 vs f32 compute differ by {diff}");
}

/// A writable copy of the sharded fixture.
fn broken_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("qwen2_tied_chat"), dir.path());
    dir
}

fn shard_of(dir: &Path, tensor: &str) -> PathBuf {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(INDEX_FILE)).unwrap()).unwrap();
    dir.join(index["weight_map"][tensor].as_str().unwrap())
}

#[test]
fn missing_tensor_in_a_shard_names_tensor_and_shard() {
    let dir = broken_fixture();
    let name = "model.layers.1.self_attn.k_proj.bias";
    let shard = shard_of(dir.path(), name);
    let mut tensors = checkpoint::load_tensors(&shard, Device::Cpu).unwrap();
    tensors.remove(name);
    checkpoint::save_tensors(&shard, &tensors).unwrap();
    let err = hf::load(dir.path(), Device::Cpu, None).err().unwrap();
    match &err {
        ModelError::MissingTensor { name: n, path } => {
            assert_eq!((n.as_str(), path), (name, &shard))
        }
        other => panic!("expected MissingTensor, got {other}"),
    }
    assert!(err.to_string().contains(name), "{err}");
}

#[test]
fn tensor_missing_from_the_index_is_named() {
    let dir = broken_fixture();
    let name = "model.norm.weight";
    let shard = shard_of(dir.path(), name);
    edit_json(&dir.path().join(INDEX_FILE), |v| {
        v["weight_map"].as_object_mut().unwrap().remove(name);
    });
    let mut tensors = checkpoint::load_tensors(&shard, Device::Cpu).unwrap();
    tensors.remove(name);
    checkpoint::save_tensors(&shard, &tensors).unwrap();
    match hf::load(dir.path(), Device::Cpu, None) {
        Err(ModelError::MissingTensor { name: n, path }) => {
            assert_eq!(n, name);
            assert_eq!(path, dir.path().join(INDEX_FILE));
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
}

#[test]
fn wrong_shape_in_a_shard_gives_expected_and_found() {
    let dir = broken_fixture();
    let name = "model.layers.0.self_attn.q_proj.weight";
    let shard = shard_of(dir.path(), name);
    let mut tensors = checkpoint::load_tensors(&shard, Device::Cpu).unwrap();
    tensors.insert(
        name.into(),
        Tensor::zeros([16, 15], (Kind::BFloat16, Device::Cpu)),
    );
    checkpoint::save_tensors(&shard, &tensors).unwrap();
    let err = hf::load(dir.path(), Device::Cpu, None).err().unwrap();
    match &err {
        ModelError::ShapeMismatch {
            name: n,
            expected,
            found,
            ..
        } => assert_eq!(
            (n.as_str(), expected.as_slice(), found.as_slice()),
            (name, &[16, 16][..], &[16, 15][..])
        ),
        other => panic!("expected ShapeMismatch, got {other}"),
    }
    assert!(err.to_string().contains("[16, 15]"), "{err}");
}

#[test]
fn unknown_architecture_is_named() {
    let dir = broken_fixture();
    edit_json(&dir.path().join(CONFIG_FILE), |v| {
        v["model_type"] = "mistral".into();
        v["architectures"] = serde_json::json!(["MistralForCausalLM"]);
    });
    let err = hf::load(dir.path(), Device::Cpu, None).err().unwrap();
    assert!(
        matches!(err, ModelError::UnknownArchitecture { .. })
            && err.to_string().contains("mistral"),
        "{err}"
    );
}

#[test]
fn bad_or_missing_config_field_is_named() {
    let dir = broken_fixture();
    let config = dir.path().join(CONFIG_FILE);
    edit_json(&config, |v| v["num_hidden_layers"] = "two".into());
    match hf::load(dir.path(), Device::Cpu, None) {
        Err(ModelError::ConfigField { field, path, .. }) => {
            assert_eq!((field.as_str(), &path), ("num_hidden_layers", &config))
        }
        other => panic!("expected ConfigField, got {:?}", other.err()),
    }
    edit_json(&config, |v| {
        v["num_hidden_layers"] = 2.into();
        v.as_object_mut().unwrap().remove("hidden_size");
    });
    match hf::load(dir.path(), Device::Cpu, None) {
        Err(ModelError::ConfigField { field, .. }) => assert_eq!(field, "hidden_size"),
        other => panic!("expected ConfigField, got {:?}", other.err()),
    }
}

#[test]
fn broken_index_or_missing_weights_are_named() {
    let dir = broken_fixture();
    let index = dir.path().join(INDEX_FILE);
    let shard = shard_of(dir.path(), "model.norm.weight");
    std::fs::remove_file(&shard).unwrap();
    match hf::load(dir.path(), Device::Cpu, None) {
        Err(ModelError::Io { path, .. }) => assert_eq!(path, shard),
        other => panic!("expected Io naming the shard, got {:?}", other.err()),
    }
    edit_json(&index, |v| {
        v.as_object_mut().unwrap().remove("weight_map");
    });
    let err = hf::load(dir.path(), Device::Cpu, None).err().unwrap();
    assert!(
        matches!(err, ModelError::InvalidIndex { .. }) && err.to_string().contains("weight_map"),
        "{err}"
    );
    std::fs::remove_file(&index).unwrap();
    let err = hf::load(dir.path(), Device::Cpu, None).err().unwrap();
    assert!(
        matches!(err, ModelError::MissingFile { .. }) && err.to_string().contains(INDEX_FILE),
        "{err}"
    );
}
