mod common;

use common::*;
use polopt_models::{generate, response_logprobs, KvCache, ModelError, SamplingConfig};
use tch::{Kind, Tensor};

/// Greedy decoding by re-running the whole sequence for every new token (no cache).
fn naive_greedy(model: &polopt_models::Transformer, prompt: &[i64], steps: usize) -> Vec<i64> {
    let mut seq = prompt.to_vec();
    for _ in 0..steps {
        let (tokens, mask) = left_padded(&[seq.clone()]);
        let logits = tch::no_grad(|| model.forward(&tokens, &mask));
        seq.push(logits.get(0).get(-1).argmax(-1, false).int64_value(&[]));
    }
    seq[prompt.len()..].to_vec()
}

#[test]
fn cached_greedy_decoding_equals_full_reforward() {
    let _rng = rng_lock();
    for config in [tiny_config(4, false), qwen2_config(), tiny_config(1, true)] {
        let (_vs, model) = model(&config, 10);
        let rollout = generate(&model, &prompts(), &cfg(0.0, 1.0, 12, false)).unwrap();
        assert_eq!(rollout.response_width(), 12);
        let responses = rollout.tokens.narrow(1, rollout.prompt_len, 12);
        for (i, prompt) in prompts().iter().enumerate() {
            assert_eq!(
                to_vec_i64(&responses.get(i as i64)),
                naive_greedy(&model, prompt, 12),
                "row {i}"
            );
        }
    }
}

/// Feeding a left-padded batch through the cache one token at a time gives the logits of one
/// full forward over the same tokens.
#[test]
fn cached_logits_match_uncached() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 11);
    let rows: Vec<Vec<i64>> = prompts()
        .into_iter()
        .map(|p| p.into_iter().chain([4, 9, 11, 3, 7, 2]).collect())
        .collect();
    let (tokens, mask) = left_padded(&rows);
    let full = tch::no_grad(|| model.forward(&tokens, &mask));
    let (b, t) = (rows.len() as i64, tokens.size()[1]);
    let prompt_len = t - 6;
    let key_real = Tensor::cat(
        &[
            mask.narrow(1, 0, prompt_len).to_kind(Kind::Bool),
            Tensor::ones([b, 6], (Kind::Bool, tch::Device::Cpu)),
        ],
        1,
    );
    let mut cache = KvCache::new(model.config(), b, t, model.kind(), tch::Device::Cpu);
    let positions = polopt_models::transformer::positions_from_mask(&mask);
    tch::no_grad(|| {
        let prefill_mask = polopt_models::transformer::attention_mask_4d(
            &key_real.narrow(1, 0, prompt_len),
            0,
            prompt_len,
        );
        let hidden = model.forward_cached(
            &tokens.narrow(1, 0, prompt_len),
            &positions.narrow(1, 0, prompt_len),
            &prefill_mask,
            &mut cache,
        );
        let prefill = model.logits(&hidden);
        let real = mask
            .narrow(1, 0, prompt_len)
            .unsqueeze(-1)
            .to_kind(Kind::Float);
        assert!(max_abs_diff(&(prefill * &real), &(full.narrow(1, 0, prompt_len) * &real)) < 1e-4);
        for slot in prompt_len..t {
            let step_mask = key_real.narrow(1, 0, slot + 1).view([b, 1, 1, slot + 1]);
            let hidden = model.forward_cached(
                &tokens.narrow(1, slot, 1),
                &positions.narrow(1, slot, 1),
                &step_mask,
                &mut cache,
            );
            let diff = max_abs_diff(&model.logits(&hidden), &full.narrow(1, slot, 1));
            assert!(diff < 1e-4, "slot {slot}: cached logits differ by {diff}");
        }
    });
    assert_eq!(cache.len(), t);
}

#[test]
fn behaviour_logp_equals_response_logprobs() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 12);
    for (temperature, top_p) in [(1.0, 1.0), (0.7, 0.9), (1.3, 1.0), (0.0, 1.0)] {
        tch::manual_seed(5);
        let rollout = generate(&model, &prompts(), &cfg(temperature, top_p, 16, true)).unwrap();
        let (logp, _) = response_logprobs(
            &model,
            &rollout.tokens,
            &rollout.attention_mask,
            rollout.prompt_len,
            temperature,
            false,
        );
        let diff = max_abs_diff(&(logp * &rollout.response_mask), &rollout.logp);
        assert!(
            diff < 1e-5,
            "T={temperature} top_p={top_p}: sampler and recomputed log-probs differ by {diff}"
        );
    }
}

/// Checks the layout contract row by row on sampled rollouts in which rows end at different times.
#[test]
fn eos_ends_rows_and_masks() {
    let _rng = rng_lock();
    let config = tiny_config(4, false);
    let (_vs, model) = model(&config, 13);
    // An <eos> logit of 0 against logits of spread ~1.7 makes rows end at varied lengths.
    tch::no_grad(|| {
        let _ = _vs.variables()["lm_head.weight"].get(EOS).fill_(0.0);
    });
    let prompts: Vec<Vec<i64>> = (0..32).map(|i| vec![BOS, 3 + i % 7, 4 + i % 5]).collect();
    for stop_at_eos in [true, false] {
        tch::manual_seed(7);
        let max_new = 10;
        let rollout = generate(&model, &prompts, &cfg(1.5, 1.0, max_new, stop_at_eos)).unwrap();
        let (p, r) = (rollout.prompt_len, rollout.response_width());
        let tokens = to_vec_i64(&rollout.tokens.narrow(1, p, r));
        let mask = to_vec_f32(&rollout.response_mask);
        let att = to_vec_i64(&rollout.attention_mask.narrow(1, p, r));
        let logp = to_vec_f32(&rollout.logp);
        let ids = rollout.response_ids();
        let with_eos = rollout.response_ids_with_eos();
        let (mut ended, mut truncated) = (0, 0);
        for b in 0..prompts.len() {
            let row = &tokens[b * r as usize..(b + 1) * r as usize];
            let first_eos = row.iter().position(|&t| t == EOS);
            let len = first_eos.map_or(r as usize, |e| e + 1);
            assert_eq!(rollout.response_lens[b], len as i64, "row {b}");
            assert_eq!(rollout.truncated[b], first_eos.is_none(), "row {b}");
            for j in 0..r as usize {
                let inside = j < len;
                assert_eq!(
                    mask[b * r as usize + j],
                    inside as i32 as f32,
                    "row {b} col {j}"
                );
                assert_eq!(att[b * r as usize + j], inside as i64);
                if inside {
                    assert!(logp[b * r as usize + j] < 0.0);
                } else {
                    assert_eq!(logp[b * r as usize + j], 0.0);
                    if stop_at_eos {
                        assert_eq!(row[j], PAD, "finished rows emit pad");
                    }
                }
            }
            assert_eq!(with_eos[b], row[..len].to_vec());
            assert_eq!(ids[b], row[..first_eos.unwrap_or(len)].to_vec());
            ended += first_eos.is_some() as usize;
            truncated += first_eos.is_none() as usize;
        }
        assert!(
            ended > 0 && truncated > 0,
            "the test needs both kinds of rows (ended {ended}, truncated {truncated})"
        );
        if stop_at_eos {
            assert_eq!(r, *rollout.response_lens.iter().max().unwrap());
        } else {
            assert_eq!(r, max_new);
        }
    }
}

/// A model that always says `<eos>` first: the layers add nothing, every embedding is the ones
/// vector, so the final hidden state is the final norm's weight, and `<eos>`'s lm_head row points
/// along it.
#[test]
fn batch_stops_early_when_every_row_has_ended() {
    let _rng = rng_lock();
    let (vs, model) = model(&tiny_config(4, false), 14);
    let vars = vs.variables();
    tch::no_grad(|| {
        for (name, var) in &vars {
            if name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight") {
                let _ = var.shallow_clone().fill_(0.0);
            }
        }
        let _ = vars["model.embed_tokens.weight"].shallow_clone().fill_(1.0);
        let _ = vars["lm_head.weight"].get(EOS).fill_(10.0);
    });
    for temperature in [0.0, 1.0] {
        let rollout = generate(&model, &prompts(), &cfg(temperature, 1.0, 20, true)).unwrap();
        assert_eq!(
            rollout.response_width(),
            1,
            "every row ended at its first token"
        );
        assert_eq!(
            to_vec_i64(&rollout.tokens.narrow(1, rollout.prompt_len, 1)),
            vec![EOS; 4]
        );
        assert_eq!(rollout.response_lens, vec![1; 4]);
        assert_eq!(rollout.truncated, vec![false; 4]);
        assert_eq!(rollout.response_ids(), vec![Vec::<i64>::new(); 4]);
        assert_eq!(rollout.response_ids_with_eos(), vec![vec![EOS]; 4]);
    }
}

#[test]
fn tiny_top_p_picks_the_argmax() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 15);
    let greedy = generate(&model, &prompts(), &cfg(0.0, 1.0, 10, false)).unwrap();
    tch::manual_seed(3);
    let nucleus = generate(&model, &prompts(), &cfg(1.0, 1e-6, 10, false)).unwrap();
    assert_eq!(to_vec_i64(&greedy.tokens), to_vec_i64(&nucleus.tokens));
}

#[test]
fn the_same_seed_gives_the_same_samples() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 16);
    let sample = |seed| {
        tch::manual_seed(seed);
        to_vec_i64(
            &generate(&model, &prompts(), &cfg(1.0, 0.95, 12, false))
                .unwrap()
                .tokens,
        )
    };
    assert_eq!(sample(1), sample(1));
    assert_ne!(sample(1), sample(2));
}

#[test]
fn generate_rejects_bad_input_with_typed_errors() {
    let _rng = rng_lock();
    let (_vs, model) = model(&tiny_config(4, false), 17);
    let ok = cfg(1.0, 1.0, 4, true);
    let invalid_input = |r: Result<_, ModelError>| matches!(r, Err(ModelError::InvalidInput(_)));
    assert!(invalid_input(generate(&model, &[], &ok)));
    assert!(invalid_input(generate(&model, &[vec![BOS], vec![]], &ok)));
    assert!(invalid_input(generate(&model, &[vec![BOS, VOCAB]], &ok)));
    assert!(invalid_input(generate(
        &model,
        &[vec![BOS; 120]],
        &cfg(1.0, 1.0, 9, true)
    )));
    for (bad, field) in [
        (cfg(1.0, 0.0, 4, true), "top_p"),
        (cfg(-1.0, 1.0, 4, true), "temperature"),
        (cfg(f64::NAN, 1.0, 4, true), "temperature"),
        (cfg(1.0, 1.0, 0, true), "max_new_tokens"),
        (
            SamplingConfig {
                eos_token_id: VOCAB,
                ..ok.clone()
            },
            "eos_token_id",
        ),
    ] {
        match generate(&model, &[vec![BOS]], &bad) {
            Err(ModelError::InvalidSampling { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected an error on {field}, got {other:?}"),
        }
    }
}

#[test]
fn one_new_token_and_one_token_prompts_work() {
    let _rng = rng_lock();
    let (_vs, model) = model(&tiny_config(2, true), 18);
    let rollout = generate(&model, &[vec![BOS], vec![BOS, 4]], &cfg(1.0, 1.0, 1, true)).unwrap();
    assert_eq!(rollout.tokens.size(), vec![2, 3]);
    assert_eq!(rollout.prompt_len, 2);
    assert_eq!(rollout.response_lens, vec![1, 1]);
}

/// The bf16 path (GPU default): rotary tables, norms and the KV cache follow the weights' dtype,
/// log-probs stay f32, and sampling still agrees with the recomputed log-probs.
#[test]
fn bf16_weights_sample_and_score_consistently() {
    let _rng = rng_lock();
    let (mut vs, model) = model(&qwen2_config(), 19);
    let (tokens, mask) = left_padded(&prompts());
    let f32_logits = model.forward(&tokens, &mask);
    vs.bfloat16();
    assert_eq!(model.kind(), Kind::BFloat16);
    let bf16_logits = model.forward(&tokens, &mask);
    assert_eq!(bf16_logits.kind(), Kind::BFloat16);
    assert!(max_abs_diff(&f32_logits, &bf16_logits) < 0.3);
    tch::manual_seed(4);
    let rollout = generate(&model, &prompts(), &cfg(1.0, 1.0, 8, true)).unwrap();
    assert_eq!(rollout.logp.kind(), Kind::Float);
    let (logp, _) = response_logprobs(
        &model,
        &rollout.tokens,
        &rollout.attention_mask,
        rollout.prompt_len,
        1.0,
        false,
    );
    let diff = max_abs_diff(&(logp * &rollout.response_mask), &rollout.logp);
    assert!(
        diff < 0.1,
        "bf16 sampler and recomputed log-probs differ by {diff}"
    );
}

/// A stop sequence ends a row right after its last token, like `<eos>` (not truncated, masked
/// after, padded), and leaves rows that never emit it unchanged.
#[test]
fn stop_sequence_ends_rows_like_eos() {
    let _rng = rng_lock();
    let config = tiny_config(4, false);
    let (_vs, model) = model(&config, 13);
    let prompts: Vec<Vec<i64>> = (0..32).map(|i| vec![BOS, 3 + i % 7, 4 + i % 5]).collect();
    let max_new = 10;
    tch::manual_seed(11);
    let free = generate(&model, &prompts, &cfg(1.5, 1.0, max_new, true)).unwrap();
    let free_rows = free.response_ids_with_eos();
    // The most frequent bigram of the free samples, so that several rows hit it.
    let mut counts = std::collections::HashMap::new();
    for row in &free_rows {
        for w in row.windows(2) {
            *counts.entry((w[0], w[1])).or_insert(0) += 1;
        }
    }
    let (&(a, b), _) = counts.iter().max_by_key(|(k, &c)| (c, *k)).unwrap();
    tch::manual_seed(11);
    let stopped =
        polopt_models::generate_until(&model, &prompts, &cfg(1.5, 1.0, max_new, true), &[a, b])
            .unwrap();
    let rows = stopped.response_ids_with_eos();
    let mut hits = 0;
    for (i, (free_row, row)) in free_rows.iter().zip(&rows).enumerate() {
        match free_row.windows(2).position(|w| w == [a, b]) {
            Some(j) => {
                hits += 1;
                assert_eq!(row, &free_row[..j + 2].to_vec(), "row {i}");
                assert!(!stopped.truncated[i], "row {i}");
            }
            None => {
                assert_eq!(row, free_row, "row {i}");
                assert_eq!(stopped.truncated[i], free.truncated[i], "row {i}");
            }
        }
        assert_eq!(stopped.response_lens[i], row.len() as i64);
    }
    assert!(hits >= 2, "only {hits} rows emitted the stop bigram");
}
