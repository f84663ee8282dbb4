//! Issue 19's decode paths against the unfused model they replace: fused q/k/v and gate/up
//! projections, the graph-shaped static step, stop checks every N tokens, and the CUDA-graph
//! fallback on CPU. References are computed in the test with the training path (separate
//! projections, no cache, full re-forward), which the changes leave untouched.
mod common;

use common::*;
use polopt_models::{
    generate, scaled_log_softmax, CudaGraphs, DecodeOptions, Lora, LoraConfig, Rollout,
    SamplingConfig, Transformer,
};
use tch::{Kind, Tensor};

/// Samples like `generate` (one multinomial over the batch per step, on the tempered
/// log-softmax) but with each step's logits from a full unfused forward over everything so far.
fn reference_sampling(
    model: &Transformer,
    prompts: &[Vec<i64>],
    cfg: &SamplingConfig,
) -> Vec<Vec<i64>> {
    let mut rows: Vec<Vec<i64>> = prompts.to_vec();
    tch::no_grad(|| {
        for _ in 0..cfg.max_new_tokens {
            let (tokens, mask) = left_padded(&rows);
            let logits = model.forward(&tokens, &mask);
            let last = logits.select(1, tokens.size()[1] - 1);
            let next = scaled_log_softmax(&last, cfg.temperature)
                .exp()
                .multinomial(1, false);
            for (row, id) in rows.iter_mut().zip(to_vec_i64(&next)) {
                row.push(id);
            }
        }
    });
    rows.iter()
        .zip(prompts)
        .map(|(row, prompt)| row[prompt.len()..].to_vec())
        .collect()
}

fn response_rows(rollout: &Rollout) -> Vec<Vec<i64>> {
    let r = rollout.response_mask.size()[1];
    let tokens = rollout.tokens.narrow(1, rollout.prompt_len, r);
    (0..tokens.size()[0])
        .map(|b| to_vec_i64(&tokens.get(b)))
        .collect()
}

fn with_options(model: &mut Transformer, options: DecodeOptions) {
    options.validate().expect("valid decode options");
    model.set_decode_options(options);
}

fn sample(model: &Transformer, cfg: &SamplingConfig, seed: i64) -> Rollout {
    tch::manual_seed(seed);
    generate(model, &prompts(), cfg).expect("generate")
}

fn assert_same_rollout(a: &Rollout, b: &Rollout, what: &str) {
    assert_eq!(response_rows(a), response_rows(b), "{what}: tokens differ");
    assert!(
        a.response_mask.equal(&b.response_mask),
        "{what}: masks differ"
    );
    assert_eq!(a.response_lens, b.response_lens, "{what}: lengths differ");
    assert_eq!(a.truncated, b.truncated, "{what}: truncation differs");
    let diff = max_abs_diff(&a.logp, &b.logp);
    assert!(diff < 1e-5, "{what}: behaviour log-probs differ by {diff}");
}

#[test]
fn fused_sampling_draws_what_the_unfused_model_draws() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 11);
    let cfg = cfg(1.0, 1.0, 12, false);
    for seed in [1, 2, 3] {
        let rollout = sample(&model, &cfg, seed);
        tch::manual_seed(seed);
        let reference = reference_sampling(&model, &prompts(), &cfg);
        assert_eq!(response_rows(&rollout), reference, "seed {seed}");
    }
}

#[test]
fn fused_cached_logits_match_the_unfused_forward() {
    let _rng = rng_lock();
    for config in [qwen2_config(), tiny_config(4, true)] {
        let (_vs, model) = model(&config, 12);
        let (tokens, mask) = left_padded(&prompts());
        let t = tokens.size()[1];
        let reference = tch::no_grad(|| model.forward(&tokens, &mask));
        let mut cache =
            polopt_models::KvCache::new(model.config(), 4, t, Kind::Float, tch::Device::Cpu);
        let fused = tch::no_grad(|| {
            let key_real = mask.to_kind(Kind::Bool);
            let hidden = model.forward_cached(
                &tokens,
                &polopt_models::transformer::positions_from_mask(&mask),
                &polopt_models::transformer::attention_mask_4d(&key_real, 0, t),
                &mut cache,
            );
            model.logits(&hidden)
        });
        let real = mask.to_kind(Kind::Bool).unsqueeze(-1);
        let diff = max_abs_diff(&fused.masked_select(&real), &reference.masked_select(&real));
        assert!(diff < 1e-5, "fused logits differ from unfused by {diff}");
    }
}

#[test]
fn static_step_decodes_like_the_cached_step() {
    let _rng = rng_lock();
    let (_vs, mut model) = model(&qwen2_config(), 13);
    for cfg in [
        cfg(1.0, 1.0, 10, true),
        cfg(0.7, 0.9, 10, false),
        cfg(0.0, 1.0, 6, true),
    ] {
        let dynamic = sample(&model, &cfg, 5);
        with_options(
            &mut model,
            DecodeOptions {
                static_step: true,
                ..Default::default()
            },
        );
        let static_ = sample(&model, &cfg, 5);
        let report = model.last_decode_report();
        assert!(report.static_step && !report.cuda_graphs, "{report:?}");
        with_options(&mut model, DecodeOptions::default());
        assert_same_rollout(&dynamic, &static_, "static step");
    }
}

#[test]
fn stop_checks_every_n_steps_give_the_same_rollout() {
    let _rng = rng_lock();
    let (_vs, mut model) = model(&tiny_config(2, false), 14);
    // High temperature with a short budget: rows end at different steps, some run out.
    for (seed, max_new) in [(1, 30), (2, 9), (3, 3)] {
        let cfg = cfg(1.5, 1.0, max_new, true);
        let every_step = sample(&model, &cfg, seed);
        for n in [2, 5, 8] {
            with_options(
                &mut model,
                DecodeOptions {
                    stop_check_every: n,
                    ..Default::default()
                },
            );
            let every_n = sample(&model, &cfg, seed);
            with_options(&mut model, DecodeOptions::default());
            assert_same_rollout(&every_step, &every_n, &format!("every {n}, seed {seed}"));
        }
    }
}

#[test]
fn cuda_graphs_fall_back_on_cpu_and_say_why() {
    let _rng = rng_lock();
    let (_vs, mut model) = model(&qwen2_config(), 15);
    let cfg = cfg(1.0, 1.0, 8, true);
    let plain = sample(&model, &cfg, 6);
    assert_eq!(
        model.last_decode_report().fallback,
        None,
        "auto on CPU asks for no graph"
    );
    with_options(
        &mut model,
        DecodeOptions {
            cuda_graphs: CudaGraphs::On,
            ..Default::default()
        },
    );
    let asked = sample(&model, &cfg, 6);
    let report = model.last_decode_report();
    assert!(!report.cuda_graphs && report.replays == 0, "{report:?}");
    let why = report.fallback.expect("the fallback is reported");
    let expected = if polopt_models::cuda_graph::shim_built() {
        "need a CUDA device"
    } else {
        "no CUDA-graph shim"
    };
    assert!(why.contains(expected), "fallback reason: {why}");
    assert_same_rollout(&plain, &asked, "fallback");
    assert_eq!(CudaGraphs::parse("auto").unwrap(), CudaGraphs::Auto);
    let err = CudaGraphs::parse("yes").unwrap_err().to_string();
    assert!(err.contains("model.cuda_graphs"), "{err}");
    let err = DecodeOptions {
        stop_check_every: -1,
        ..Default::default()
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("model.stop_check_every"), "{err}");
}

#[test]
fn fused_buffers_follow_dtype_changes_and_in_place_writes() {
    let _rng = rng_lock();
    let (mut vs, model) = model(&qwen2_config(), 16);
    let generation = model.ensure_fused();
    // In-place writes (what loading and optimizer steps do) keep the views.
    randomize(&vs, 17);
    assert_eq!(
        model.ensure_fused(),
        generation,
        "in-place writes broke the fused views"
    );
    let cfg = cfg(1.0, 1.0, 8, false);
    let before = sample(&model, &cfg, 7);
    tch::manual_seed(7);
    let reference = reference_sampling(&model, &prompts(), &cfg);
    assert_eq!(response_rows(&before), reference);
    // set_kind replaces every variable's storage: the sampler must rebuild, not read stale
    // weights.
    vs.set_kind(Kind::Double);
    vs.set_kind(Kind::Float);
    randomize(&vs, 18);
    let after = sample(&model, &cfg, 7);
    assert!(model.ensure_fused() > generation, "set_kind went unnoticed");
    tch::manual_seed(7);
    let reference = reference_sampling(&model, &prompts(), &cfg);
    assert_eq!(
        response_rows(&after),
        reference,
        "sampled from stale fused weights"
    );
    // The VarStore still holds one variable per Hugging Face tensor name.
    let names: Vec<String> = vs.variables().into_keys().collect();
    assert!(names
        .iter()
        .any(|n| n == "model.layers.1.self_attn.k_proj.bias"));
    assert!(!names
        .iter()
        .any(|n| n.contains("qkv") || n.contains("gate_up")));
}

#[test]
fn lora_adapters_apply_to_their_slice_of_the_fused_output() {
    let _rng = rng_lock();
    let (mut vs, mut model) = model(&qwen2_config(), 19);
    let config = LoraConfig {
        rank: 2,
        alpha: 4.0,
        dropout: 0.0,
        target_modules: vec!["k_proj".into(), "v_proj".into(), "up_proj".into()],
    };
    let lora = Lora::attach(&mut model, &mut vs, &config).expect("attach");
    tch::manual_seed(20);
    tch::no_grad(|| {
        for (_, mut var) in lora.vs().variables() {
            let noise = Tensor::randn(var.size(), (Kind::Float, tch::Device::Cpu)) * 0.3;
            var.copy_(&noise);
        }
    });
    let cfg = cfg(1.0, 1.0, 10, false);
    let rollout = sample(&model, &cfg, 8);
    tch::manual_seed(8);
    let reference = reference_sampling(&model, &prompts(), &cfg);
    assert_eq!(
        response_rows(&rollout),
        reference,
        "adapters lost in the fused path"
    );
    let (logp, _) = polopt_models::response_logprobs(
        &model,
        &rollout.tokens,
        &rollout.attention_mask,
        rollout.prompt_len,
        1.0,
        false,
    );
    let diff = max_abs_diff(&(logp.detach() * &rollout.response_mask), &rollout.logp);
    assert!(
        diff < 1e-5,
        "sampler and training log-probs differ by {diff} under LoRA"
    );
}
