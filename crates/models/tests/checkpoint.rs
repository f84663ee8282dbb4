mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use polopt_models::checkpoint::{self, CONFIG_FILE, MODEL_FILE};
use polopt_models::{ModelError, Transformer};
use tch::{nn::VarStore, Device, Kind, Tensor};

fn logits(model: &Transformer) -> Tensor {
    let (tokens, mask) = left_padded(&prompts());
    tch::no_grad(|| model.forward(&tokens, &mask))
}

fn saved(dir: &Path, seed: i64) -> (VarStore, Transformer) {
    let (vs, model) = model(&qwen2_config(), seed);
    checkpoint::save(&vs, model.config(), dir).unwrap();
    (vs, model)
}

/// Rewrites `dir/model.safetensors` through `edit` on its tensors.
fn edit_weights(dir: &Path, edit: impl FnOnce(&mut BTreeMap<String, Tensor>)) {
    let path = dir.join(MODEL_FILE);
    let mut tensors = checkpoint::load_tensors(&path, Device::Cpu).unwrap();
    edit(&mut tensors);
    checkpoint::save_tensors(&path, &tensors).unwrap();
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(CONFIG_FILE);
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(&path, value.to_string()).unwrap();
}

#[test]
fn save_then_load_reproduces_logits_bitwise() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (_vs, original) = saved(dir.path(), 1);
    let expected = logits(&original);

    let loaded = checkpoint::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(&loaded.config, original.config());
    assert!(
        logits(&loaded.model).equal(&expected),
        "load: logits must be bitwise equal"
    );

    let (mut vs, other) = model(&qwen2_config(), 2);
    assert!(!logits(&other).equal(&expected));
    checkpoint::load_into(&mut vs, &qwen2_config(), dir.path()).unwrap();
    assert!(
        logits(&other).equal(&expected),
        "load_into: logits must be bitwise equal"
    );
}

#[test]
fn save_leaves_no_temporary_files_and_overwrites() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), 3);
    let (_vs, second) = saved(dir.path(), 4);
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, [CONFIG_FILE, MODEL_FILE]);
    let loaded = checkpoint::load(dir.path(), Device::Cpu).unwrap();
    assert!(logits(&loaded.model).equal(&logits(&second)));
}

#[test]
fn missing_tensor_is_named() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), 5);
    edit_weights(dir.path(), |t| {
        t.remove("model.layers.1.mlp.up_proj.weight");
    });
    match checkpoint::load(dir.path(), Device::Cpu) {
        Err(ModelError::MissingTensor { name, .. }) => {
            assert_eq!(name, "model.layers.1.mlp.up_proj.weight")
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
}

#[test]
fn wrong_shape_names_tensor_and_both_shapes() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), 6);
    edit_weights(dir.path(), |t| {
        t.insert(
            "model.norm.weight".into(),
            Tensor::ones([31], (Kind::Float, Device::Cpu)),
        );
    });
    let err = checkpoint::load(dir.path(), Device::Cpu).err().unwrap();
    match &err {
        ModelError::ShapeMismatch {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(
                (name.as_str(), expected.as_slice(), found.as_slice()),
                ("model.norm.weight", &[32][..], &[31][..])
            )
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("model.norm.weight"), "{err}");
}

#[test]
fn unexpected_tensor_is_named() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), 7);
    edit_weights(dir.path(), |t| {
        t.insert(
            "value_head.weight".into(),
            Tensor::ones([1, 32], (Kind::Float, Device::Cpu)),
        );
    });
    match checkpoint::load(dir.path(), Device::Cpu) {
        Err(ModelError::UnexpectedTensor { name, .. }) => assert_eq!(name, "value_head.weight"),
        other => panic!("expected UnexpectedTensor, got {:?}", other.err()),
    }
}

#[test]
fn unknown_model_type_or_architecture_is_refused() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), 8);
    edit_config(dir.path(), |c| c["model_type"] = "gpt2".into());
    let err = checkpoint::load(dir.path(), Device::Cpu).err().unwrap();
    assert!(
        matches!(err, ModelError::UnknownArchitecture { .. }) && err.to_string().contains("gpt2"),
        "{err}"
    );

    edit_config(dir.path(), |c| {
        c["model_type"] = "qwen2".into();
        c["architectures"] = serde_json::json!(["GPT2LMHeadModel"]);
    });
    let err = checkpoint::load(dir.path(), Device::Cpu).err().unwrap();
    assert!(
        matches!(err, ModelError::UnknownArchitecture { .. })
            && err.to_string().contains("GPT2LMHeadModel"),
        "{err}"
    );
}

#[test]
fn loading_another_architecture_is_a_config_mismatch() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), 9);
    let mut wider = qwen2_config();
    wider.hidden_size = 64;
    let (mut vs, _model) = model(&wider, 10);
    match checkpoint::load_into(&mut vs, &wider, dir.path()) {
        Err(ModelError::ConfigMismatch {
            field,
            expected,
            found,
        }) => {
            assert_eq!(
                (field, expected.as_str(), found.as_str()),
                ("hidden_size", "64", "32")
            )
        }
        other => panic!("expected ConfigMismatch, got {:?}", other.err()),
    }
    let llama = tiny_config(2, false);
    let (mut vs, _model) = model(&llama, 11);
    let err = checkpoint::load_into(&mut vs, &llama, dir.path())
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ModelError::ConfigMismatch {
                field: "model_type",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn missing_or_corrupt_files_are_typed_errors() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        checkpoint::load(dir.path(), Device::Cpu),
        Err(ModelError::Io { .. })
    ));
    saved(dir.path(), 12);
    std::fs::write(dir.path().join(MODEL_FILE), b"not a safetensors file").unwrap();
    assert!(matches!(
        checkpoint::load(dir.path(), Device::Cpu),
        Err(ModelError::Safetensors { .. })
    ));
    std::fs::write(dir.path().join(CONFIG_FILE), b"{").unwrap();
    assert!(matches!(
        checkpoint::load(dir.path(), Device::Cpu),
        Err(ModelError::Json { .. })
    ));
}

#[test]
fn named_tensors_round_trip_with_their_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optimizer.safetensors");
    let mut tensors = BTreeMap::new();
    tensors.insert(
        "exp_avg.w".to_string(),
        Tensor::from_slice(&[1.5f32, -2.0, 3.25]).view([3, 1]),
    );
    tensors.insert("step".to_string(), Tensor::from_slice(&[7i64]));
    tensors.insert(
        "half".to_string(),
        Tensor::from_slice(&[0.5f32, 1.0]).to_kind(Kind::BFloat16),
    );
    checkpoint::save_tensors(&path, &tensors).unwrap();
    let loaded = checkpoint::load_tensors(&path, Device::Cpu).unwrap();
    assert_eq!(
        loaded.keys().collect::<Vec<_>>(),
        tensors.keys().collect::<Vec<_>>()
    );
    for (name, t) in &tensors {
        assert_eq!(loaded[name].kind(), t.kind(), "{name}");
        assert!(loaded[name].equal(t), "{name}");
    }
}

#[test]
fn bf16_weights_load_into_an_f32_model() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (mut vs, original) = model(&qwen2_config(), 13);
    vs.bfloat16();
    checkpoint::save(&vs, original.config(), dir.path()).unwrap();
    let config = checkpoint::read_config(dir.path()).unwrap();
    assert_eq!(config.torch_dtype.as_deref(), Some("bfloat16"));
    let loaded = checkpoint::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(loaded.model.kind(), Kind::Float);
    let expected = vs.variables()["model.norm.weight"].to_kind(Kind::Float);
    assert!(loaded.vs.variables()["model.norm.weight"].equal(&expected));
}
