//! Times `generate` for 64 sequences x 32 new tokens on a small model (vocab 83, hidden 128,
//! 4 layers, 4 heads, intermediate 512), plus one log-prob forward+backward over the result.
//!
//! `cargo run -p polopt-models --release --example bench_generate -- [threads] [device: cpu|cuda]`
use std::time::Instant;

use polopt_models::{
    generate, response_logprobs, CharTokenizer, SamplingConfig, Transformer, TransformerConfig,
};
use tch::{nn::VarStore, Device, Kind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let threads: i32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let device = match args.get(2).map(String::as_str) {
        Some("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    };
    tch::set_num_threads(threads);
    tch::manual_seed(0);
    let tok = CharTokenizer::new();
    let vocab = tok.vocab_size() as i64;
    let config = TransformerConfig::small(
        vocab,
        128,
        512,
        4,
        4,
        4,
        512,
        false,
        10_000.0,
        tok.bos_id(),
        tok.eos_id(),
        tok.pad_id(),
    );
    let vs = VarStore::new(device);
    let model = Transformer::new(&vs.root(), &config)?;
    let prompts: Vec<Vec<i64>> = (0..64)
        .map(|i| {
            let mut p = vec![tok.bos_id()];
            p.extend(tok.encode(&format!("{}+{}=", 1000 + 37 * i, 17 * i * i))?);
            Ok(p)
        })
        .collect::<Result<_, polopt_models::ModelError>>()?;
    // stop_at_eos = false: every row really generates 32 tokens.
    let sampling = SamplingConfig {
        temperature: 1.0,
        top_p: 1.0,
        max_new_tokens: 32,
        eos_token_id: tok.eos_id(),
        pad_token_id: tok.pad_id(),
        stop_at_eos: false,
    };
    let mut times = Vec::new();
    for _ in 0..12 {
        let start = Instant::now();
        let rollout = generate(&model, &prompts, &sampling)?;
        let _ = rollout.response_ids();
        if device.is_cuda() {
            tch::Cuda::synchronize(0);
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.drain(..2);
    times.sort_by(f64::total_cmp);
    println!("device {device:?}, threads {threads}: generate 64 x 32 new tokens: median {:.1} ms (min {:.1}, max {:.1})", times[times.len() / 2], times[0], times[times.len() - 1]);

    let rollout = generate(&model, &prompts, &sampling)?;
    let mut times = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let (logp, entropy) = response_logprobs(
            &model,
            &rollout.tokens,
            &rollout.attention_mask,
            rollout.prompt_len,
            1.0,
            true,
        );
        let loss = (logp * &rollout.response_mask).sum(Kind::Float)
            + entropy.map(|e| e.mean(Kind::Float)).unwrap_or_default();
        loss.backward();
        if device.is_cuda() {
            tch::Cuda::synchronize(0);
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.drain(..2);
    times.sort_by(f64::total_cmp);
    println!(
        "response_logprobs + entropy forward+backward on [64, {}]: median {:.1} ms",
        rollout.tokens.size()[1],
        times[times.len() / 2]
    );
    Ok(())
}
