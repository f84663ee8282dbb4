//! Log-probabilities of given response tokens, with gradients: the quantity every policy loss
//! consumes (`logp: [B, R]`), and the full-vocabulary entropy of the same distribution.
//!
//! Temperature enters in one place, [`scaled_log_softmax`], which the sampler uses too, so that
//! the behaviour log-probs recorded at sampling time and the ones recomputed here for the loss
//! are the same function of the logits. The one exception is HAPO's per-token sampling
//! temperature ([`crate::generate_adaptive`]): the sampler divides by each token's temperature
//! and records it with the behaviour log-probs; training recomputes at the scalar `T_0`.
use tch::{Kind, Tensor};

use crate::prefix::{shared_prompt_response_logits, SharedPrompts};
use crate::transformer::Transformer;

/// The temperature actually applied: greedy decoding (`temperature == 0`) has no sampling
/// distribution to report, so it reports the model's own distribution (temperature 1).
pub fn effective_temperature(temperature: f64) -> f64 {
    if temperature > 0.0 {
        temperature
    } else {
        1.0
    }
}

/// `log_softmax(logits / T)` over the last dimension, in f32 whatever the logits' dtype
/// (transformers and verl upcast logits before the softmax too).
pub fn scaled_log_softmax(logits: &Tensor, temperature: f64) -> Tensor {
    let logits = logits.to_kind(Kind::Float);
    let t = effective_temperature(temperature);
    let scaled = if t == 1.0 { logits } else { logits / t };
    scaled.log_softmax(-1, Kind::Float)
}

/// Log-probs `[B, R]` of `targets: [B, R]` under `logits: [B, R, V]` at `temperature`, and
/// optionally the entropy `[B, R]` of that same tempered distribution (verl's convention).
/// Callers that need two temperatures (DCPO) can reuse one [`response_logits`] for both.
pub fn token_logprobs(
    logits: &Tensor,
    targets: &Tensor,
    temperature: f64,
    with_entropy: bool,
) -> (Tensor, Option<Tensor>) {
    if !with_entropy && logits.kind() != Kind::Float {
        // bf16/f16 logits (GPU): no `[B, R, V]` log-softmax tensor, forward or backward. f32
        // logits keep the log-softmax path, whose rounding the CPU runs were recorded with.
        return (gathered_logprobs(logits, targets, temperature), None);
    }
    let logp_all = scaled_log_softmax(logits, temperature);
    let logp = logp_all
        .gather(-1, &targets.unsqueeze(-1), false)
        .squeeze_dim(-1);
    let entropy =
        with_entropy.then(|| -(logp_all.exp() * &logp_all).sum_dim_intlist(-1, false, Kind::Float));
    (logp, entropy)
}

/// [`token_logprobs`] without entropy, fused: `logits[target] / T - logsumexp(logits / T)`
/// in f32 (bf16/f16 logits are upcast, so the sum over the vocabulary accumulates in f32).
/// Equal to `log_softmax(logits / T).gather(target)` to float rounding (~1e-7 relative), but
/// it never materialises the `[B, R, V]` log-softmax, nor keeps it for the backward pass.
pub fn gathered_logprobs(logits: &Tensor, targets: &Tensor, temperature: f64) -> Tensor {
    let t = effective_temperature(temperature);
    let logits = logits.to_kind(Kind::Float);
    let scaled = if t == 1.0 { logits } else { logits / t };
    let picked = scaled
        .gather(-1, &targets.unsqueeze(-1), false)
        .squeeze_dim(-1);
    picked - scaled.logsumexp([-1], false)
}

/// Logits `[B, R, V]` that predict the response columns `[P, P + R)` of `tokens: [B, P + R]`
/// (prompts left-padded to `prompt_len = P`, as in [`crate::Rollout`]). Only those `R`
/// positions go through the output projection, and rows with the same prompt compute it once
/// ([`crate::prefix`]).
///
/// Panics unless `1 <= prompt_len < T`.
pub fn response_logits(
    model: &Transformer,
    tokens: &Tensor,
    attention_mask: &Tensor,
    prompt_len: i64,
) -> Tensor {
    let total = tokens.size()[1];
    assert!(
        prompt_len >= 1 && prompt_len < total,
        "prompt_len {prompt_len} must be in [1, {total}) for tokens of width {total}"
    );
    let shared = SharedPrompts::of_tensor(&tokens.narrow(1, 0, prompt_len));
    if shared.saves_work() {
        return shared_prompt_response_logits(model, tokens, attention_mask, prompt_len, &shared);
    }
    let hidden = model.hidden_states(tokens, attention_mask);
    model.logits(&hidden.narrow(1, prompt_len - 1, total - prompt_len))
}

/// Log-probs `[B, R]` (f32, with gradients) of the response tokens `tokens[:, P..]` at
/// `temperature`, and their full-vocabulary entropy `[B, R]` when `with_entropy`. Positions
/// past a row's end are computed too; mask them with the rollout's `response_mask`.
///
/// At the same weights and temperature this equals [`crate::Rollout::logp`] from
/// [`crate::generate`] (up to float rounding, ~1e-6 on CPU f32).
pub fn response_logprobs(
    model: &Transformer,
    tokens: &Tensor,
    attention_mask: &Tensor,
    prompt_len: i64,
    temperature: f64,
    with_entropy: bool,
) -> (Tensor, Option<Tensor>) {
    let logits = response_logits(model, tokens, attention_mask, prompt_len);
    let targets = tokens.narrow(1, prompt_len, tokens.size()[1] - prompt_len);
    token_logprobs(&logits, &targets, temperature, with_entropy)
}
