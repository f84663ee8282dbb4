//! Helpers shared by the integration tests: tiny configs and models with weights large enough
//! that outputs are far from uniform (the 0.02 init makes nearly every comparison trivial).
#![allow(dead_code)]
use polopt_models::{SamplingConfig, Transformer, TransformerConfig};
use tch::{nn::VarStore, Device, Kind, Tensor};

pub const VOCAB: i64 = 19;
pub const PAD: i64 = 0;
pub const BOS: i64 = 1;
pub const EOS: i64 = 2;

/// libtorch's generator is process-global and tests run on parallel threads: a test that seeds
/// it or draws from it holds this lock for its whole body.
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn tiny_config(kv_heads: i64, tie: bool) -> TransformerConfig {
    TransformerConfig::small(
        VOCAB, 32, 64, 2, 4, kv_heads, 128, tie, 10_000.0, BOS, EOS, PAD,
    )
}

pub fn qwen2_config() -> TransformerConfig {
    let mut c = tiny_config(2, false);
    c.model_type = "qwen2".into();
    c.architectures = vec!["Qwen2ForCausalLM".into()];
    c.attention_bias = None;
    c
}

/// A model with every weight redrawn: matrices N(0, 0.3²), norms 1 + N(0, 0.2²), biases N(0, 0.1²).
/// Call it while holding [`rng_lock`].
pub fn model(config: &TransformerConfig, seed: i64) -> (VarStore, Transformer) {
    let vs = VarStore::new(Device::Cpu);
    let model = Transformer::new(&vs.root(), config).expect("valid test config");
    randomize(&vs, seed);
    (vs, model)
}

pub fn randomize(vs: &VarStore, seed: i64) {
    tch::manual_seed(seed);
    let mut names: Vec<_> = vs.variables().into_iter().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, mut var) in names {
            let noise = Tensor::randn(var.size(), (Kind::Float, Device::Cpu));
            let value = if name.ends_with("norm.weight") {
                noise * 0.2 + 1.0
            } else if name.ends_with(".bias") {
                noise * 0.1
            } else {
                noise * 0.3
            };
            var.copy_(&value);
        }
    });
}

/// Left-pads `rows` with `PAD` to a common width: `([B, T] tokens, [B, T] mask)`.
pub fn left_padded(rows: &[Vec<i64>]) -> (Tensor, Tensor) {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut tokens = Vec::new();
    let mut mask = Vec::new();
    for row in rows {
        let pad = width - row.len();
        tokens.extend(std::iter::repeat_n(PAD, pad).chain(row.iter().copied()));
        mask.extend(std::iter::repeat_n(0i64, pad).chain(std::iter::repeat_n(1, row.len())));
    }
    let shape = [rows.len() as i64, width as i64];
    (
        Tensor::from_slice(&tokens).view(shape),
        Tensor::from_slice(&mask).view(shape),
    )
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

pub fn to_vec_i64(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t.contiguous().view([-1])).unwrap()
}

pub fn to_vec_f32(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.contiguous().view([-1])).unwrap()
}

pub fn prompts() -> Vec<Vec<i64>> {
    vec![
        vec![BOS, 5, 6, 7],
        vec![BOS, 9],
        vec![BOS, 3, 4, 5, 6, 7, 8, 9],
        vec![BOS, 12, 13, 14, 15],
    ]
}

/// Sampling with the test vocabulary's `<eos>` and `<pad>`.
pub fn cfg(temperature: f64, top_p: f64, max_new_tokens: i64, stop_at_eos: bool) -> SamplingConfig {
    SamplingConfig {
        temperature,
        top_p,
        max_new_tokens,
        eos_token_id: EOS,
        pad_token_id: PAD,
        stop_at_eos,
    }
}
