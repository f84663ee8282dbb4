//! Our forward pass against transformers' on checkpoints that transformers wrote
//! (tests/fixtures, made by scripts/make_hf_fixtures.py): loading HF checkpoints unchanged is
//! the point of the Llama/Qwen2 layout.
mod common;

use std::path::PathBuf;

use common::max_abs_diff;
use polopt_models::checkpoint;
use tch::Device;

fn check(name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let loaded = checkpoint::load(&dir, Device::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
    let reference =
        checkpoint::load_tensors(&dir.join("reference.safetensors"), Device::Cpu).unwrap();
    let logits = tch::no_grad(|| {
        loaded
            .model
            .forward(&reference["tokens"], &reference["attention_mask"])
    });
    // transformers computes garbage-but-finite logits at padding positions; compare real ones.
    let real = reference["attention_mask"]
        .unsqueeze(-1)
        .to_kind(tch::Kind::Float);
    let spread = reference["logits"].std(true).double_value(&[]);
    assert!(
        spread > 0.5,
        "{name}: reference logits are too flat ({spread}) to test anything"
    );
    let diff = max_abs_diff(&(logits * &real), &(&reference["logits"] * &real));
    assert!(
        diff < 1e-5,
        "{name}: logits differ from transformers' by {diff}"
    );
}

#[test]
fn qwen2_with_gqa_and_bias_matches_transformers() {
    check("qwen2_gqa_bias");
}

#[test]
fn tied_llama_matches_transformers() {
    check("llama_tied");
}
