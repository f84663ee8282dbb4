//! HAPO's adaptive temperature in the sampler: tau = 0 is the plain sampler bit for bit, and
//! with tau > 0 the behaviour log-probs are those of the temperature each token used.
mod common;

use common::*;
use polopt_models::{
    generate, generate_adaptive, response_logits, AdaptiveTemperature, ModelError, SamplingConfig,
};
use tch::{Kind, Tensor};

fn cfg(temperature: f64, top_p: f64) -> SamplingConfig {
    SamplingConfig {
        temperature,
        top_p,
        max_new_tokens: 12,
        eos_token_id: EOS,
        pad_token_id: PAD,
        stop_at_eos: true,
    }
}

fn stats(tau: f64) -> AdaptiveTemperature {
    AdaptiveTemperature {
        tau,
        pivot: 0.0,
        spread: 0.05,
        scale_pos: 1.5,
        scale_neg: 1.5,
    }
}

#[test]
fn tau_zero_is_the_plain_sampler_bit_for_bit() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 21);
    for (temperature, top_p) in [(1.0, 1.0), (0.7, 0.9)] {
        let run = |adaptive: Option<&AdaptiveTemperature>| {
            tch::manual_seed(9);
            let r = match adaptive {
                Some(a) => generate_adaptive(&model, &prompts(), &cfg(temperature, top_p), Some(a)),
                None => generate(&model, &prompts(), &cfg(temperature, top_p)),
            }
            .unwrap();
            assert!(r.temperatures.is_none());
            (to_vec_i64(&r.tokens), to_vec_f32(&r.logp), r.truncated)
        };
        let plain = run(None);
        assert_eq!(run(Some(&stats(0.0))), plain);
    }
}

#[test]
fn behaviour_logp_is_taken_at_each_tokens_own_temperature() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 22);
    let (t0, tau) = (1.0, 0.3);
    // Pivot at the median entropy of plain samples, so that tokens fall on both sides of it.
    tch::manual_seed(3);
    let plain = generate(&model, &prompts(), &cfg(t0, 1.0)).unwrap();
    let logits = tch::no_grad(|| {
        response_logits(
            &model,
            &plain.tokens,
            &plain.attention_mask,
            plain.prompt_len,
        )
    });
    let logp_all = logits.log_softmax(-1, Kind::Float);
    let entropy = -(logp_all.exp() * &logp_all).sum_dim_intlist(-1, false, Kind::Float);
    let mut h = Vec::<f32>::try_from(entropy.masked_select(&plain.response_mask.gt(0.0))).unwrap();
    h.sort_by(f32::total_cmp);
    let a = AdaptiveTemperature {
        pivot: (h[h.len() / 2] as f64).ln(),
        ..stats(tau)
    };
    tch::manual_seed(4);
    let r = generate_adaptive(&model, &prompts(), &cfg(t0, 1.0), Some(&a)).unwrap();
    let temps = r.temperatures.as_ref().expect("per-token temperatures");
    let on = r.response_mask.gt(0.0);
    let used = Vec::<f32>::try_from(temps.masked_select(&on)).unwrap();
    let (lo, hi) = (t0 * (1.0 - tau) - 1e-6, t0 * (1.0 + tau) + 1e-6);
    assert!(
        used.iter().all(|&t| (lo..=hi).contains(&(t as f64))),
        "{used:?}"
    );
    assert!(
        used.iter().any(|&t| t as f64 > t0 + 0.01) && used.iter().any(|&t| (t as f64) < t0 - 0.01),
        "the test needs tokens on both sides of T0: {used:?}"
    );
    // Recompute: logits of the response columns, divided by the recorded temperatures.
    let logits =
        tch::no_grad(|| response_logits(&model, &r.tokens, &r.attention_mask, r.prompt_len));
    let width = r.response_width();
    let targets = r.tokens.narrow(1, r.prompt_len, width);
    let safe = temps.where_self(&on, &Tensor::ones_like(temps));
    let logp = (logits.to_kind(Kind::Float) / safe.unsqueeze(-1))
        .log_softmax(-1, Kind::Float)
        .gather(-1, &targets.unsqueeze(-1), false)
        .squeeze_dim(-1);
    let diff = max_abs_diff(&(logp * &r.response_mask), &r.logp);
    assert!(
        diff < 1e-5,
        "sampler and recomputed log-probs differ by {diff}"
    );
}

#[test]
fn bad_statistics_are_a_typed_error() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 23);
    let mut bad = stats(0.05);
    bad.spread = 0.0;
    let err = generate_adaptive(&model, &prompts(), &cfg(1.0, 1.0), Some(&bad)).unwrap_err();
    assert!(matches!(err, ModelError::InvalidSampling { .. }), "{err}");
}
