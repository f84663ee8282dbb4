//! `polopt merge` on the PEFT fixture (crates/models/tests/fixtures/lora_qwen2): writes a
//! complete model directory whose logits are PEFT's base + adapter, and refuses to overwrite
//! its inputs.
use std::path::PathBuf;
use std::process::Command;

use polopt_models::checkpoint;
use tch::{Device, Kind};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures")
        .join(name)
}

fn merge(model: &PathBuf, out: &PathBuf) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_polopt"))
        .arg("merge")
        .arg("--model")
        .arg(model)
        .arg("--adapter")
        .arg(fixture("lora_qwen2"))
        .arg("--out")
        .arg(out)
        .output()
        .expect("polopt runs")
}

#[test]
fn merge_writes_a_model_that_computes_base_plus_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged");
    let run = merge(&fixture("qwen2_gqa_bias"), &out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("merged 10 LoRA projections (rank 4, alpha 8"),
        "{stdout}"
    );
    for file in ["config.json", "model.safetensors", "generation_config.json"] {
        assert!(out.join(file).is_file(), "{file} is missing");
    }
    let merged = checkpoint::load(&out, Device::Cpu).unwrap();
    let reference = checkpoint::load_tensors(
        &fixture("lora_qwen2").join("reference.safetensors"),
        Device::Cpu,
    )
    .unwrap();
    let logits = tch::no_grad(|| {
        merged
            .model
            .forward(&reference["tokens"], &reference["attention_mask"])
    });
    let real = reference["attention_mask"]
        .unsqueeze(-1)
        .to_kind(Kind::Float);
    let diff = ((logits - &reference["logits_adapter"]) * real)
        .abs()
        .max()
        .double_value(&[]);
    assert!(diff < 1e-5, "merged logits differ from PEFT's by {diff}");
}

#[test]
fn merge_refuses_to_write_over_the_base_model() {
    let base = fixture("qwen2_gqa_bias");
    let run = merge(&base, &base);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("is the base model directory; choose another --out"),
        "{stderr}"
    );
}
