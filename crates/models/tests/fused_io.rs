//! The fused q/k/v and gate/up buffers (issue 19) are invisible in files: Hugging Face
//! checkpoints load into them and save from them tensor for tensor, and a saved directory
//! saves again byte for byte. Also the fused log-softmax/gather of training log-probs.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use polopt_models::checkpoint::load_tensors;
use polopt_models::{gathered_logprobs, hf, token_logprobs};
use tch::{Device, Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Every tensor of a model directory's weight files, by name.
fn weights(dir: &Path) -> BTreeMap<String, Tensor> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("model") && name.ends_with(".safetensors") {
            all.extend(load_tensors(&path, Device::Cpu).unwrap());
        }
    }
    all
}

#[test]
fn hf_checkpoints_round_trip_through_the_fused_buffers() {
    for (name, kind) in [
        ("qwen2_gqa_bias", Kind::Float),
        ("llama_tied", Kind::Float),
        ("qwen2_tied_chat", Kind::BFloat16),
    ] {
        let dir = fixture(name);
        let loaded = hf::load(&dir, Device::Cpu, Some(kind)).unwrap();
        // Sampling reads the fused buffers: make sure they exist before saving.
        loaded.model.ensure_fused();
        let out = tempfile::tempdir().unwrap();
        hf::save(
            &loaded.vs,
            &loaded.config,
            out.path(),
            &hf::SaveOptions::default(),
        )
        .unwrap();
        let (original, saved) = (weights(&dir), weights(out.path()));
        let skipped = |n: &str| loaded.config.tie_word_embeddings && n == "lm_head.weight";
        let original: BTreeMap<_, _> = original.into_iter().filter(|(n, _)| !skipped(n)).collect();
        assert_eq!(
            original.keys().collect::<Vec<_>>(),
            saved.keys().collect::<Vec<_>>(),
            "{name}: tensor names changed"
        );
        for (tensor, value) in &original {
            let back = &saved[tensor];
            assert_eq!(back.kind(), kind, "{name}: {tensor}");
            assert!(
                back.equal(&value.to_kind(kind)),
                "{name}: {tensor} changed through load and save"
            );
        }
        // What polopt wrote loads and saves again to identical bytes.
        let again = hf::load(out.path(), Device::Cpu, Some(kind)).unwrap();
        again.model.ensure_fused();
        let out2 = tempfile::tempdir().unwrap();
        hf::save(
            &again.vs,
            &again.config,
            out2.path(),
            &hf::SaveOptions::default(),
        )
        .unwrap();
        let file = "model.safetensors";
        assert_eq!(
            std::fs::read(out.path().join(file)).unwrap(),
            std::fs::read(out2.path().join(file)).unwrap(),
            "{name}: bytes differ after a second round trip"
        );
    }
}

#[test]
fn gathered_logprobs_equal_log_softmax_then_gather() {
    let _rng = rng_lock();
    tch::manual_seed(21);
    let opts = (Kind::Float, Device::Cpu);
    let logits = (Tensor::randn([3, 5, 50], opts) * 4.0).set_requires_grad(true);
    let targets = Tensor::randint(50, [3, 5], (Kind::Int64, Device::Cpu));
    for temperature in [1.0, 0.7, 0.0] {
        let (reference, _) = token_logprobs(&logits, &targets, temperature, true);
        let fused = gathered_logprobs(&logits, &targets, temperature);
        let diff = max_abs_diff(&fused, &reference);
        assert!(diff < 1e-5, "T = {temperature}: values differ by {diff}");
        // Gradients too: the fused form is what training differentiates on the GPU.
        let weights = Tensor::randn([3, 5], opts);
        let g_ref = Tensor::run_backward(
            &[(&reference * &weights).sum(Kind::Float)],
            &[&logits],
            false,
            false,
        );
        let g_fused = Tensor::run_backward(
            &[(&fused * &weights).sum(Kind::Float)],
            &[&logits],
            false,
            false,
        );
        let diff = max_abs_diff(&g_fused[0], &g_ref[0]);
        assert!(diff < 1e-5, "T = {temperature}: gradients differ by {diff}");
    }
    // bf16 logits take the fused path in token_logprobs and accumulate in f32: the same
    // numbers as the f32 log-softmax of the same (bf16-rounded) values.
    let bf16 = logits.detach().to_kind(Kind::BFloat16);
    let (ours, entropy) = token_logprobs(&bf16, &targets, 1.0, false);
    assert!(entropy.is_none());
    assert_eq!(ours.kind(), Kind::Float);
    let (reference, _) = token_logprobs(&bf16.to_kind(Kind::Float), &targets, 1.0, false);
    let diff = max_abs_diff(&ours, &reference);
    assert!(
        diff < 1e-5,
        "bf16 logits: differ by {diff} from f32 accumulation"
    );
}
