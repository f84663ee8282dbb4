//! LoRA against Hugging Face PEFT: tests/fixtures/lora_qwen2 is an adapter that PEFT wrote for
//! the qwen2_gqa_bias checkpoint, with PEFT's logits with and without it (made by
//! bench/peft/make_fixture.py). Config and file errors are in tests/lora_errors.rs.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{max_abs_diff, rng_lock};
use polopt_models::checkpoint::{self, LoadedModel};
use polopt_models::lora::{self, peft};
use polopt_models::{Lora, LoraConfig};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn base() -> LoadedModel {
    checkpoint::load(&fixture("qwen2_gqa_bias"), Device::Cpu).expect("base fixture loads")
}

fn reference() -> BTreeMap<String, Tensor> {
    checkpoint::load_tensors(
        &fixture("lora_qwen2").join("reference.safetensors"),
        Device::Cpu,
    )
    .expect("reference logits load")
}

fn logits(model: &LoadedModel, reference: &BTreeMap<String, Tensor>) -> Tensor {
    tch::no_grad(|| {
        model
            .model
            .forward(&reference["tokens"], &reference["attention_mask"])
    })
}

/// Largest difference at real (non-padding) positions: transformers' logits at padding
/// positions are garbage-but-finite.
fn masked_diff(a: &Tensor, b: &Tensor, reference: &BTreeMap<String, Tensor>) -> f64 {
    let real = reference["attention_mask"]
        .unsqueeze(-1)
        .to_kind(Kind::Float);
    max_abs_diff(&(a * &real), &(b * &real))
}

fn header(path: &Path) -> BTreeMap<String, Vec<i64>> {
    checkpoint::load_tensors(path, Device::Cpu)
        .expect("adapter file loads")
        .into_iter()
        .map(|(name, t)| (name, t.size()))
        .collect()
}

#[test]
fn peft_adapter_reproduces_peft_logits() {
    let reference = reference();
    let mut m = base();
    let lora = Lora::load_peft(&fixture("lora_qwen2"), &mut m.model, &mut m.vs).unwrap();
    assert_eq!((lora.config().rank, lora.config().alpha), (4, 8.0));
    let change = masked_diff(
        &reference["logits_adapter"],
        &reference["logits_base"],
        &reference,
    );
    assert!(
        change > 1.0,
        "the adapter barely changes PEFT's logits ({change})"
    );
    let diff = masked_diff(
        &logits(&m, &reference),
        &reference["logits_adapter"],
        &reference,
    );
    assert!(diff < 1e-5, "logits differ from PEFT's by {diff}");
}

#[test]
fn adapters_off_give_the_base_models_logits() {
    let reference = reference();
    let plain = logits(&base(), &reference);
    let mut m = base();
    let _lora = Lora::load_peft(&fixture("lora_qwen2"), &mut m.model, &mut m.vs).unwrap();
    let off = m.model.without_adapters(|_| logits(&m, &reference));
    assert!(off.equal(&plain), "adapters off is not the plain model");
    let diff = masked_diff(&off, &reference["logits_base"], &reference);
    assert!(
        diff < 1e-5,
        "adapters-off logits differ from PEFT's base by {diff}"
    );
    assert!(
        m.model.adapters_enabled(),
        "without_adapters did not restore them"
    );
    let on = logits(&m, &reference);
    assert!(masked_diff(&on, &plain, &reference) > 1.0);
}

#[test]
fn fresh_adapter_leaves_the_logits_bit_identical() {
    let _rng = rng_lock();
    let reference = reference();
    let mut m = base();
    let before = logits(&m, &reference);
    let lora = Lora::attach(&mut m.model, &mut m.vs, &LoraConfig::default()).unwrap();
    assert_eq!(lora.num_adapters(), 7 * 2);
    let after = logits(&m, &reference);
    assert!(after.equal(&before), "B = 0 must not change a single bit");
    // PEFT's kaiming_uniform(a = sqrt(5)) for A: U(-1/sqrt(in), 1/sqrt(in)); B = 0.
    for (name, var) in lora.vs().variables() {
        let max = var.abs().max().double_value(&[]);
        if name.contains("lora_B") {
            assert_eq!(max, 0.0, "`{name}` does not start at zero");
        } else {
            let bound = 1.0 / (var.size()[1] as f64).sqrt();
            assert!(
                max <= bound && max > 0.8 * bound,
                "`{name}`: max |A| {max}, bound {bound}"
            );
        }
    }
}

#[test]
fn saved_adapter_loads_back_with_peft_names_and_shapes() {
    let reference = reference();
    let mut m = base();
    let lora = Lora::load_peft(&fixture("lora_qwen2"), &mut m.model, &mut m.vs).unwrap();
    let expected = logits(&m, &reference);
    let dir = tempfile::tempdir().unwrap();
    lora.save_peft(dir.path(), "crates/models/tests/fixtures/qwen2_gqa_bias")
        .unwrap();

    let file = |d: &Path| header(&d.join(peft::ADAPTER_WEIGHTS_FILE));
    assert_eq!(file(dir.path()), file(&fixture("lora_qwen2")));
    let ours = peft::read_peft_config(dir.path()).unwrap();
    let theirs = peft::read_peft_config(&fixture("lora_qwen2")).unwrap();
    let sorted = |c: &LoraConfig| {
        let mut t = c.target_modules.clone();
        t.sort();
        (c.rank, c.alpha, c.dropout, t)
    };
    assert_eq!(sorted(&ours.lora), sorted(&theirs.lora));
    assert_eq!(ours.base_model_name_or_path, theirs.base_model_name_or_path);
    let text = std::fs::read_to_string(dir.path().join(peft::ADAPTER_CONFIG_FILE)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (field, value) in [
        ("peft_type", "\"LORA\""),
        ("task_type", "\"CAUSAL_LM\""),
        ("bias", "\"none\""),
        ("lora_alpha", "8"),
        ("use_rslora", "false"),
        ("fan_in_fan_out", "false"),
    ] {
        assert_eq!(
            json[field].to_string(),
            value,
            "adapter_config.json `{field}`"
        );
    }

    let mut again = base();
    let _back = Lora::load_peft(dir.path(), &mut again.model, &mut again.vs).unwrap();
    assert!(
        logits(&again, &reference).equal(&expected),
        "round trip changed the logits"
    );
}

#[test]
fn merged_model_computes_base_plus_adapter() {
    let reference = reference();
    let out = tempfile::tempdir().unwrap();
    let merged_dir = out.path().join("merged");
    let summary = lora::merge::merge_peft(
        &fixture("qwen2_gqa_bias"),
        &fixture("lora_qwen2"),
        &merged_dir,
    )
    .unwrap();
    assert_eq!(summary.merged_projections, 5 * 2);
    assert_eq!(summary.dtype, "float32");
    assert!(
        merged_dir.join("generation_config.json").is_file(),
        "companion files are copied"
    );
    assert!(!merged_dir.join(peft::ADAPTER_CONFIG_FILE).exists());
    let merged = checkpoint::load(&merged_dir, Device::Cpu).unwrap();
    assert!(!merged.model.has_adapters());
    let diff = masked_diff(
        &logits(&merged, &reference),
        &reference["logits_adapter"],
        &reference,
    );
    assert!(
        diff < 1e-5,
        "merged logits differ from PEFT's base + adapter by {diff}"
    );
}

#[test]
fn merge_refuses_to_overwrite_its_inputs() {
    let base_dir = fixture("qwen2_gqa_bias");
    let err = lora::merge::merge_peft(&base_dir, &fixture("lora_qwen2"), &base_dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("base model directory"), "{err}");
}

#[test]
fn only_adapters_receive_gradients_and_the_optimizer_moves_only_them() {
    let _rng = rng_lock();
    let reference = reference();
    let mut m = base();
    let config = LoraConfig {
        rank: 2,
        alpha: 4.0,
        dropout: 0.0,
        target_modules: vec!["k_proj".into(), "o_proj".into(), "up_proj".into()],
    };
    let lora = Lora::attach(&mut m.model, &mut m.vs, &config).unwrap();
    let layers = m.config.num_hidden_layers as usize;
    assert_eq!(lora.vs().len(), 2 * 3 * layers);
    let names: Vec<String> = lora.vs().variables().into_keys().collect();
    assert!(
        names
            .iter()
            .all(|n| n.contains(".lora_A.") || n.contains(".lora_B.")),
        "{names:?}"
    );
    let base_before: BTreeMap<String, Tensor> =
        m.vs.variables()
            .into_iter()
            .map(|(n, t)| (n, t.detach().copy()))
            .collect();

    let mut opt = nn::Adam::default().build(lora.vs(), 1e-2).unwrap();
    let loss = || {
        let logits = m
            .model
            .forward(&reference["tokens"], &reference["attention_mask"]);
        logits
            .log_softmax(-1, Kind::Float)
            .select(-1, 3)
            .mean(Kind::Float)
    };
    let before = loss();
    opt.zero_grad();
    before.backward();
    for (name, var) in m.vs.variables() {
        assert!(!var.requires_grad(), "base weight `{name}` is trainable");
        assert!(!var.grad().defined(), "base weight `{name}` got a gradient");
    }
    for (name, var) in lora.vs().variables() {
        assert!(var.grad().defined(), "adapter `{name}` got no gradient");
        if name.contains("lora_B") {
            let norm = var.grad().abs().sum(Kind::Float).double_value(&[]);
            assert!(norm > 0.0, "adapter `{name}` has a zero gradient");
        }
    }
    opt.step();
    for (name, var) in m.vs.variables() {
        assert!(
            var.equal(&base_before[&name]),
            "the optimizer moved `{name}`"
        );
    }
    let after = tch::no_grad(loss).double_value(&[]);
    assert_ne!(after, before.double_value(&[]), "the step changed nothing");
}

#[test]
fn dropout_applies_in_training_mode_only() {
    let _rng = rng_lock();
    let reference = reference();
    let mut m = base();
    let lora = Lora::load_peft(&fixture("lora_qwen2"), &mut m.model, &mut m.vs).unwrap();
    assert!(lora.config().dropout > 0.0);
    let eval = logits(&m, &reference);
    let diff = masked_diff(&eval, &reference["logits_adapter"], &reference);
    assert!(diff < 1e-5, "eval mode is PEFT's eval output: {diff}");
    m.model.set_adapter_training(true);
    tch::manual_seed(0);
    let train = logits(&m, &reference);
    assert!(
        masked_diff(&train, &eval, &reference) > 1e-3,
        "no dropout in training mode"
    );
    lora.set_training(false);
    assert!(logits(&m, &reference).equal(&eval));
}

#[test]
fn bf16_base_keeps_f32_adapters_and_computes_in_bf16() {
    let reference = reference();
    let mut m = polopt_models::hf::load(
        &fixture("qwen2_gqa_bias"),
        Device::Cpu,
        Some(Kind::BFloat16),
    )
    .unwrap();
    let lora = Lora::load_peft(&fixture("lora_qwen2"), &mut m.model, &mut m.vs).unwrap();
    assert!(lora
        .vs()
        .variables()
        .values()
        .all(|t| t.kind() == Kind::Float));
    let out = logits(&m, &reference);
    assert_eq!(out.kind(), Kind::BFloat16);
    // bf16 rounding of weights and activations, not a wrong formula: the adapter moves the
    // logits by up to ~5, so an error of 0.25 would still tell them apart.
    let diff = masked_diff(&out, &reference["logits_adapter"], &reference);
    assert!(
        diff < 0.25,
        "bf16 logits differ from PEFT's f32 ones by {diff}"
    );
}
