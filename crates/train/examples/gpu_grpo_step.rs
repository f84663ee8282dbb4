//! The polopt side of the GRPO step benchmark against TRL (bench/gpu/run.sh, issue 6).
//!
//! One step = sample `prompts x group` completions of exactly `new_tokens` tokens (EOS stopping
//! off, temperature 1) with the KV-cache sampler, score them, group-relative advantages, the
//! clipped objective with a k3 KL to a frozen reference (beta 0.04, token-mean, as TRL's
//! default `dapo` loss) over micro-batches, and one AdamW step. The model is a Hugging Face
//! directory loaded through `polopt_models::hf` (bf16 on CUDA, f32 on CPU).
//!
//! ```text
//! gpu_grpo_step init --dims qwen2.5-0.5b --out DIR   # random weights + a WordLevel tokenizer
//! gpu_grpo_step run --model DIR [--steps 4 --warmup 1 --bandwidth-gbps 3350]
//! gpu_grpo_step --tiny                                # CPU smoke test: init + run, tiny sizes
//! ```
//! Decode settings (issue 19; `model.cuda_graphs` and `model.stop_check_every` in a run
//! config): `--cuda-graphs auto|on|off` (default auto: graphs on CUDA), `--stop-check-every N`
//! (0 = auto), `--static-step` (the graph-shaped step without a graph), `--label NAME` (the
//! `impl` field of the result line).
//! `run` prints one JSON line (prefixed `RESULT `) with the median seconds per step after
//! warm-up, completion tokens/s, decode tokens/s and the memory-bandwidth bound on decoding.
use std::path::{Path, PathBuf};
use std::time::Instant;

use polopt_methods::objective::{Aggregation, LossScale, PolicyObjective, PolicyTerms};
use polopt_methods::ObjectiveConfig;
use polopt_models::hf::{self, SaveOptions};
use polopt_models::{
    generate, response_logprobs, CudaGraphs, DecodeOptions, HfTokenizer, SamplingConfig,
    Transformer,
};
use polopt_models::{TokenIds, TransformerConfig};
use polopt_train::optim::AdamW;
use tch::{nn::VarStore, Device, Kind, Tensor};

type BoxError = Box<dyn std::error::Error>;

struct Args {
    command: String,
    dims: String,
    dir: Option<PathBuf>,
    prompts: usize,
    group: usize,
    prompt_len: usize,
    new_tokens: i64,
    micro_batch: usize,
    steps: usize,
    warmup: usize,
    bandwidth_gbps: Option<f64>,
    device: Device,
    decode: DecodeOptions,
    label: String,
    parity: bool,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        command: String::new(),
        dims: "qwen2.5-0.5b".into(),
        dir: None,
        prompts: 8,
        group: 8,
        prompt_len: 32,
        new_tokens: 256,
        micro_batch: 8,
        steps: 4,
        warmup: 1,
        bandwidth_gbps: None,
        device: Device::cuda_if_available(),
        decode: DecodeOptions::default(),
        label: "polopt".into(),
        parity: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "init" | "run" => args.command = arg.clone(),
            "--tiny" => {
                // Small enough for a 2-core CPU in a few seconds; same code path as the real run.
                args.command = "tiny".into();
                args.dims = "tiny".into();
                (args.prompts, args.group, args.prompt_len) = (2, 4, 6);
                (args.new_tokens, args.micro_batch, args.steps) = (12, 4, 3);
            }
            "--dims" => args.dims = value()?,
            "--out" | "--model" => args.dir = Some(PathBuf::from(value()?)),
            "--prompts" => args.prompts = value()?.parse()?,
            "--group" => args.group = value()?.parse()?,
            "--prompt-len" => args.prompt_len = value()?.parse()?,
            "--new-tokens" => args.new_tokens = value()?.parse()?,
            "--micro-batch" => args.micro_batch = value()?.parse()?,
            "--steps" => args.steps = value()?.parse()?,
            "--warmup" => args.warmup = value()?.parse()?,
            "--bandwidth-gbps" => args.bandwidth_gbps = Some(value()?.parse()?),
            "--cuda-graphs" => args.decode.cuda_graphs = CudaGraphs::parse(&value()?)?,
            "--stop-check-every" => args.decode.stop_check_every = value()?.parse()?,
            "--static-step" => args.decode.static_step = true,
            "--label" => args.label = value()?,
            // Before timing: one batch with these decode settings and one with the plain
            // cached step (no graph, no static step), same seed; prints `PARITY {json}`.
            "--parity" => args.parity = true,
            "--device" => {
                args.device = match value()?.as_str() {
                    "cpu" => Device::Cpu,
                    "cuda" => Device::Cuda(0),
                    other => return Err(format!("--device: cpu or cuda, got {other}").into()),
                }
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if args.steps < 1 || args.micro_batch < 1 {
        return Err("--steps and --micro-batch must be at least 1".into());
    }
    Ok(args)
}

/// Qwen2.5-0.5B's dimensions (its config.json), or a tiny model with the same structure.
fn config_for(dims: &str) -> Result<TransformerConfig, BoxError> {
    let (vocab, hidden, inter, layers, heads, kv, eos) = match dims {
        "qwen2.5-0.5b" => (151_936, 896, 4864, 24, 14, 2, 151_643),
        "tiny" => (512, 64, 128, 2, 4, 2, 1),
        other => return Err(format!("--dims: qwen2.5-0.5b or tiny, got {other}").into()),
    };
    let mut c = TransformerConfig::small(
        vocab,
        hidden,
        inter,
        layers,
        heads,
        kv,
        32_768,
        true,
        1_000_000.0,
        eos,
        eos,
        eos,
    );
    c.model_type = "qwen2".into();
    c.architectures = vec!["Qwen2ForCausalLM".into()];
    c.attention_bias = None;
    c.eos_token_id = Some(TokenIds::One(eos));
    Ok(c)
}

/// Writes a random-weight model directory in bf16 with a WordLevel tokenizer (`t0` .. `tN`),
/// which both polopt and TRL load: same weights, same token ids, no network.
fn init(dims: &str, dir: &Path, device: Device) -> Result<(), BoxError> {
    let config = config_for(dims)?;
    tch::manual_seed(0);
    let mut vs = VarStore::new(device);
    let _model = Transformer::new(&vs.root(), &config)?;
    vs.set_kind(Kind::BFloat16);
    hf::save(&vs, &config, dir, &SaveOptions::default())?;
    let vocab: serde_json::Map<String, serde_json::Value> = (0..config.vocab_size)
        .map(|i| (format!("t{i}"), i.into()))
        .collect();
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "t0"},
    });
    let eos = format!(
        "t{}",
        config.eos_token_id.as_ref().map_or(0, |e| e.ids()[0])
    );
    let tokenizer_config = serde_json::json!({"eos_token": eos, "pad_token": eos});
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string())?;
    std::fs::write(
        dir.join("tokenizer_config.json"),
        tokenizer_config.to_string(),
    )?;
    Ok(())
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Python's `statistics.median` (mean of the middle two for an even count), as the TRL side.
fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn run(args: &Args, dir: &Path) -> Result<(), BoxError> {
    let device = args.device;
    let mut policy = hf::load(dir, device, None)?;
    args.decode.validate()?;
    policy.model.set_decode_options(args.decode.clone());
    let mut reference = hf::load(dir, device, None)?;
    reference.vs.freeze();
    let tokenizer = HfTokenizer::from_dir(dir)?;
    let config = policy.config.clone();
    let eos = config.eos_token_id.as_ref().map_or(0, |e| e.ids()[0]);
    // Deterministic prompt texts over ordinary token ids; each prompt repeated `group` times.
    let mut prompts = Vec::new();
    for p in 0..args.prompts {
        let text: Vec<String> = (0..args.prompt_len)
            .map(|j| {
                format!(
                    "t{}",
                    3 + (p * 7919 + j * 104_729) % (config.vocab_size as usize / 2)
                )
            })
            .collect();
        let ids = tokenizer.encode(&text.join(" "), false)?;
        prompts.extend(std::iter::repeat_n(ids, args.group));
    }
    let batch = prompts.len();
    let sampling = SamplingConfig {
        temperature: 1.0,
        top_p: 1.0,
        max_new_tokens: args.new_tokens,
        eos_token_id: eos,
        pad_token_id: eos,
        stop_at_eos: false,
    };
    let objective = PolicyObjective::new(ObjectiveConfig {
        kl_coef: 0.04,
        aggregation: Aggregation::TokenMean,
        ..ObjectiveConfig::default()
    })?;
    if args.parity {
        let parity = decode_parity(&mut policy.model, &prompts, &sampling, &args.decode)?;
        println!("PARITY {parity}");
    }
    let mut optimizer = AdamW::new(&policy.vs, 1e-6, 0.0);
    let (mut step_times, mut gen_times) = (Vec::new(), Vec::new());
    let mut decode_reports = Vec::new();
    for step in 0..args.warmup + args.steps {
        sync(device);
        let start = Instant::now();
        let rollout = generate(&policy.model, &prompts, &sampling)?;
        sync(device);
        let generated = start.elapsed().as_secs_f64();
        let report = policy.model.last_decode_report();
        if let Some(why) = &report.fallback {
            eprintln!("step {step}: CUDA graphs not used: {why}");
        }
        decode_reports.push(report);
        let r = rollout.response_mask.size()[1];
        let advantages = advantages(&rollout.response_ids(), args.group);
        let advantages = Tensor::from_slice(&advantages)
            .to_device(device)
            .unsqueeze(1)
            .expand([batch as i64, r], false);
        let scale = LossScale::of_mask(&rollout.response_mask, r as f64);
        optimizer.zero_grad();
        for s in (0..batch).step_by(args.micro_batch) {
            let m = args.micro_batch.min(batch - s) as i64;
            let rows = |t: &Tensor| t.narrow(0, s as i64, m);
            let (tokens, mask) = (rows(&rollout.tokens), rows(&rollout.attention_mask));
            let logprobs = |model: &Transformer| {
                response_logprobs(model, &tokens, &mask, rollout.prompt_len, 1.0, false).0
            };
            let ref_logp = tch::no_grad(|| logprobs(&reference.model));
            let logp = logprobs(&policy.model);
            let terms = PolicyTerms {
                logp: &logp,
                old_logp: &rows(&rollout.logp),
                ref_logp: Some(&ref_logp),
                advantages: &rows(&advantages),
                mask: &rows(&rollout.response_mask),
                entropy: None,
            };
            objective.loss(&terms, &scale, None).loss.backward();
        }
        optimizer.step();
        sync(device);
        let total = start.elapsed().as_secs_f64();
        eprintln!("step {step}: {total:.3} s (generate {generated:.3} s)");
        if step >= args.warmup {
            step_times.push(total);
            gen_times.push(generated);
        }
    }
    // Decoding reads every weight once per token step (the tied embedding doubles as lm_head),
    // plus the KV cache, on average half-filled with responses.
    let weight_bytes: f64 = policy
        .vs
        .variables()
        .values()
        .map(|t| (t.numel() * t.kind().elt_size_in_bytes()) as f64)
        .sum();
    let kv_slots = args.prompt_len as f64 + args.new_tokens as f64 / 2.0;
    let kv_bytes = (2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim())
        as f64
        * batch as f64
        * kv_slots
        * policy.model.kind().elt_size_in_bytes() as f64;
    let completion_tokens = (batch as i64 * args.new_tokens) as f64;
    let (step_s, gen_s) = (median(&step_times), median(&gen_times));
    let bound = args
        .bandwidth_gbps
        .map(|bw| batch as f64 * bw * 1e9 / (weight_bytes + kv_bytes));
    let decode_tps = completion_tokens / gen_s;
    let last = decode_reports.last().cloned().unwrap_or_default();
    let result = serde_json::json!({
        "impl": args.label,
        "cuda_graphs": u8::from(last.cuda_graphs), "static_step": last.static_step,
        "graph_fallback": last.fallback,
        "graph_captures": decode_reports.iter().map(|r| r.captures).sum::<u64>(), "device": format!("{device:?}"), "kind": format!("{:?}", policy.model.kind()),
        "completions": batch, "new_tokens": args.new_tokens, "steps_timed": step_times.len(),
        "step_s": step_times, "median_step_s": step_s,
        "completion_tokens_per_s": completion_tokens / step_s,
        "median_generate_s": gen_s, "decode_tokens_per_s": decode_tps,
        "weight_bytes": weight_bytes, "kv_bytes_per_decode_step": kv_bytes,
        "decode_bound_tokens_per_s": bound,
        "decode_fraction_of_bound": bound.map(|b| decode_tps / b),
    });
    println!("RESULT {result}");
    Ok(())
}

/// The same batch decoded with `options` and with the plain cached step from one seed: whether
/// the tokens agree and how far the behaviour log-probs are apart (bf16 on CUDA: kernels of
/// different shapes round differently, so a few tokens may legitimately differ).
fn decode_parity(
    model: &mut Transformer,
    prompts: &[Vec<i64>],
    sampling: &SamplingConfig,
    options: &DecodeOptions,
) -> Result<serde_json::Value, BoxError> {
    let mut run = |opts: DecodeOptions| -> Result<_, BoxError> {
        model.set_decode_options(opts);
        tch::manual_seed(1234);
        let rollout = generate(model, prompts, sampling)?;
        Ok((rollout, model.last_decode_report()))
    };
    let (plain, _) = run(DecodeOptions {
        cuda_graphs: CudaGraphs::Off,
        ..DecodeOptions::default()
    })?;
    let (ours, report) = run(options.clone())?;
    model.set_decode_options(options.clone());
    if plain.tokens.size() != ours.tokens.size() {
        return Ok(serde_json::json!({
            "shapes": [plain.tokens.size(), ours.tokens.size()], "fallback": report.fallback,
        }));
    }
    let same = plain.tokens.eq_tensor(&ours.tokens).to_kind(Kind::Float);
    // Log-probs are comparable up to the first differing token of a row.
    let agree = same
        .narrow(1, plain.prompt_len, plain.response_mask.size()[1])
        .cumprod(1, Kind::Float);
    let diff = ((&plain.logp - &ours.logp).abs() * &agree).max();
    Ok(serde_json::json!({
        "tokens_equal_frac": same.mean(Kind::Float).double_value(&[]),
        "max_logp_diff_on_agreeing_prefix": diff.double_value(&[]),
        "cuda_graphs": report.cuda_graphs, "static_step": report.static_step,
        "fallback": report.fallback,
    }))
}

/// Placeholder reward (fraction of even token ids: cheap, varies within a group) and GRPO's
/// group-normalised advantage; neither is what the benchmark measures.
fn advantages(responses: &[Vec<i64>], group: usize) -> Vec<f32> {
    let rewards: Vec<f64> = responses
        .iter()
        .map(|r| r.iter().filter(|&&t| t % 2 == 0).count() as f64 / r.len().max(1) as f64)
        .collect();
    let mut out = Vec::with_capacity(rewards.len());
    for g in rewards.chunks(group.max(1)) {
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        let var =
            g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (g.len() as f64 - 1.0).max(1.0);
        out.extend(g.iter().map(|x| ((x - mean) / (var.sqrt() + 1e-4)) as f32));
    }
    out
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    tch::manual_seed(0);
    match args.command.as_str() {
        "init" => init(
            &args.dims,
            args.dir.as_deref().ok_or("init needs --out DIR")?,
            args.device,
        ),
        "run" => run(&args, args.dir.as_deref().ok_or("run needs --model DIR")?),
        "tiny" => {
            tch::set_num_threads(2);
            let dir = tempfile::tempdir()?;
            init(&args.dims, dir.path(), args.device)?;
            run(&args, dir.path())
        }
        _ => Err("usage: gpu_grpo_step init --out DIR | run --model DIR | --tiny".into()),
    }
}
