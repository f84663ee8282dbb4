//! Rows with the same prompt compute it once (`polopt_models::prefix`): the log-probs, their
//! gradients and the sampler's behaviour log-probs must equal those of the plain forward, in
//! which every row runs its own prompt.
mod common;

use common::*;
use polopt_models::{generate, response_logits, token_logprobs, Transformer};
use tch::{nn::VarStore, Kind, Tensor};

/// Each prompt three times with different responses (right-padded, some ending early), and
/// one prompt alone: left padding, sharing and a row without partners in one batch.
fn batch() -> (Tensor, Tensor, i64, Tensor) {
    let prompts = prompts();
    let mut rows = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let copies = if i == 3 { 1 } else { 3 };
        for c in 0..copies {
            let len = 2 + (i + 2 * c) % 5;
            let response: Vec<i64> = (0..len)
                .map(|t| 3 + ((i * 7 + c * 5 + t * 3) % 15) as i64)
                .collect();
            rows.push((prompt.clone(), response));
        }
    }
    let p = rows.iter().map(|(x, _)| x.len()).max().unwrap_or(0);
    let r = rows.iter().map(|(_, y)| y.len()).max().unwrap_or(0);
    let (mut tokens, mut mask, mut response_mask) = (Vec::new(), Vec::new(), Vec::new());
    for (prompt, response) in &rows {
        let pad = p - prompt.len();
        tokens.extend(std::iter::repeat_n(PAD, pad).chain(prompt.iter().copied()));
        mask.extend(std::iter::repeat_n(0i64, pad).chain(std::iter::repeat_n(1, prompt.len())));
        let tail = r - response.len();
        tokens.extend(
            response
                .iter()
                .copied()
                .chain(std::iter::repeat_n(PAD, tail)),
        );
        mask.extend(std::iter::repeat_n(1i64, response.len()).chain(std::iter::repeat_n(0, tail)));
        response_mask.extend(
            std::iter::repeat_n(1f32, response.len()).chain(std::iter::repeat_n(0.0, tail)),
        );
    }
    let b = rows.len() as i64;
    let shape = [b, (p + r) as i64];
    (
        Tensor::from_slice(&tokens).view(shape),
        Tensor::from_slice(&mask).view(shape),
        p as i64,
        Tensor::from_slice(&response_mask).view([b, r as i64]),
    )
}

/// The plain forward: every row runs its whole sequence.
fn unshared_logits(model: &Transformer, tokens: &Tensor, mask: &Tensor, p: i64) -> Tensor {
    let t = tokens.size()[1];
    model.forward(tokens, mask).narrow(1, p - 1, t - p)
}

fn weighted_logp_sum(logits: &Tensor, tokens: &Tensor, p: i64, response_mask: &Tensor) -> Tensor {
    let targets = tokens.narrow(1, p, tokens.size()[1] - p);
    let (logp, entropy) = token_logprobs(logits, &targets, 1.0, true);
    let weights = Tensor::arange(logp.numel() as i64, (Kind::Float, tch::Device::Cpu))
        .view(logp.size().as_slice())
        .sin();
    ((logp * weights + entropy.expect("asked for") * 0.3) * response_mask).sum(Kind::Float)
}

fn zero_grads(vs: &VarStore) {
    for mut var in vs.trainable_variables() {
        var.zero_grad();
    }
}

fn gradients(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut grads: Vec<_> = vs
        .variables()
        .into_iter()
        .map(|(name, var)| (name, var.grad().copy()))
        .collect();
    grads.sort_by(|a, b| a.0.cmp(&b.0));
    grads
}

#[test]
fn shared_prompt_logits_and_gradients_equal_the_plain_forward() {
    let _rng = rng_lock();
    for config in [tiny_config(2, true), qwen2_config()] {
        let (vs, model) = model(&config, 21);
        let (tokens, mask, p, response_mask) = batch();
        let real = response_mask.unsqueeze(-1);

        let shared = response_logits(&model, &tokens, &mask, p);
        let plain = unshared_logits(&model, &tokens, &mask, p);
        let diff = max_abs_diff(&(&shared * &real), &(&plain * &real));
        assert!(diff < 1e-5, "shared-prompt logits differ by {diff}");

        zero_grads(&vs);
        weighted_logp_sum(&shared, &tokens, p, &response_mask).backward();
        let shared_grads = gradients(&vs);
        zero_grads(&vs);
        weighted_logp_sum(&plain, &tokens, p, &response_mask).backward();
        let plain_grads = gradients(&vs);
        for ((name, a), (_, b)) in shared_grads.iter().zip(&plain_grads) {
            let scale = b.abs().max().double_value(&[]).max(1e-3);
            let diff = max_abs_diff(a, b) / scale;
            assert!(diff < 1e-4, "{name}: gradient differs by {diff} (relative)");
        }
    }
}

#[test]
fn sampler_prefills_each_distinct_prompt_once_with_the_same_behaviour_logp() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 22);
    let repeated: Vec<Vec<i64>> = prompts()
        .into_iter()
        .flat_map(|p| std::iter::repeat_n(p, 4))
        .collect();
    let cfg = cfg(1.0, 1.0, 10, true);
    tch::manual_seed(7);
    let rollout = generate(&model, &repeated, &cfg).unwrap();
    let plain = tch::no_grad(|| {
        unshared_logits(
            &model,
            &rollout.tokens,
            &rollout.attention_mask,
            rollout.prompt_len,
        )
    });
    let targets = rollout
        .tokens
        .narrow(1, rollout.prompt_len, rollout.response_width());
    let (logp, _) = token_logprobs(&plain, &targets, 1.0, false);
    let diff = max_abs_diff(&(logp * &rollout.response_mask), &rollout.logp);
    assert!(
        diff < 1e-5,
        "behaviour log-probs differ from the plain forward by {diff}"
    );
    // The copies of a prompt are sampled independently: not all of them agree.
    let responses: Vec<Vec<i64>> = (0..repeated.len() as i64)
        .map(|i| to_vec_i64(&targets.get(i)))
        .collect();
    assert!(
        responses
            .chunks(4)
            .any(|group| group.iter().any(|r| r != &group[0])),
        "every copy of every prompt sampled the same response"
    );
}
