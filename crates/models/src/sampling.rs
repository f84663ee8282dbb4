//! Batched autoregressive sampling with a KV cache, entirely on the model's device.
//!
//! Randomness comes from libtorch (`multinomial`), so it works the same on CPU and GPU: seed it
//! with `tch::manual_seed` before calling [`generate`]. The same seed, weights, prompts and
//! config give the same samples on the same machine and device (not necessarily across devices
//! or libtorch versions, whose kernels round differently), provided nothing else draws from
//! libtorch's process-global generator meanwhile (threads that sample or init concurrently do).
use tch::{Kind, Tensor};

use crate::decode_step::Engine;
use crate::error::ModelError;
use crate::kv_cache::KvCache;
use crate::logprobs::scaled_log_softmax;
use crate::prefix::SharedPrompts;
use crate::rollout::Rollout;
use crate::transformer::{attention_mask_4d, positions_from_mask, Transformer};

#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// Softmax temperature; 0 means greedy (argmax) decoding.
    pub temperature: f64,
    /// Nucleus sampling: sample from the smallest set of most likely tokens whose probability
    /// reaches `top_p` (1 = the full distribution). Ignored when greedy.
    pub top_p: f64,
    /// Response columns at most (`R <= max_new_tokens`).
    pub max_new_tokens: i64,
    pub eos_token_id: i64,
    /// Fills prompt padding, and response columns after a row's `<eos>`.
    pub pad_token_id: i64,
    /// Stop a row at its first `<eos>` (it then emits `pad`) and stop the batch when every row
    /// has. When false every row runs to `max_new_tokens`; masks still end at the first `<eos>`.
    pub stop_at_eos: bool,
}

impl SamplingConfig {
    /// Greedy decoding until `<eos>`.
    pub fn greedy(max_new_tokens: i64, eos_token_id: i64, pad_token_id: i64) -> Self {
        SamplingConfig {
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens,
            eos_token_id,
            pad_token_id,
            stop_at_eos: true,
        }
    }

    /// Plain sampling at `temperature` until `<eos>`.
    pub fn sample(
        temperature: f64,
        max_new_tokens: i64,
        eos_token_id: i64,
        pad_token_id: i64,
    ) -> Self {
        SamplingConfig {
            temperature,
            ..Self::greedy(max_new_tokens, eos_token_id, pad_token_id)
        }
    }

    pub fn validate(&self, vocab_size: i64) -> Result<(), ModelError> {
        let bad = |field, reason: String| Err(ModelError::InvalidSampling { field, reason });
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad(
                "temperature",
                format!(
                    "must be finite and >= 0 (0 = greedy), got {}",
                    self.temperature
                ),
            );
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", format!("must be in (0, 1], got {}", self.top_p));
        }
        if self.max_new_tokens < 1 {
            return bad(
                "max_new_tokens",
                format!("must be at least 1, got {}", self.max_new_tokens),
            );
        }
        for (field, id) in [
            ("eos_token_id", self.eos_token_id),
            ("pad_token_id", self.pad_token_id),
        ] {
            if !(0..vocab_size).contains(&id) {
                return bad(
                    field,
                    format!("{id} is outside the vocabulary [0, {vocab_size})"),
                );
            }
        }
        Ok(())
    }
}

/// HAPO's adaptive temperature (spec hapo.md, part 1): per decoding step and row,
/// `T_t = T_0 (1 + tau clip(h^_t, -1, 1))`, where `h^_t` normalizes the next-token entropy of
/// the raw logits with statistics of the previous training step: `z = (log max(H, 1e-8) -
/// pivot) / spread`, `h^ = z / scale_pos` for `z > 0`, else `z / scale_neg`. The same mapping
/// as `polopt_methods::objective::EntropyStats` (this crate sits below it and takes the
/// numbers, not the type).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveTemperature {
    pub tau: f64,
    pub pivot: f64,
    pub spread: f64,
    pub scale_pos: f64,
    pub scale_neg: f64,
}

/// Samples a response for every prompt (token ids, no padding; each non-empty) and returns them
/// in the [`Rollout`] layout. Runs under `tch::no_grad`. The prompts are encoded once (one
/// forward over `[B, P]` that fills the cache); each new token is then one forward of length 1.
pub fn generate(
    model: &Transformer,
    prompts: &[Vec<i64>],
    cfg: &SamplingConfig,
) -> Result<Rollout, ModelError> {
    generate_until(model, prompts, cfg, &[])
}

/// [`generate`], and a row also ends right after it emits the token sequence `stop` (a tool
/// call's closing tag), exactly as at `<eos>`: the stop tokens are the row's last response
/// tokens, it is not truncated, and it is padded after (with `stop_at_eos`). Only tokens sampled
/// in this call count towards a match. An empty `stop` never matches.
pub fn generate_until(
    model: &Transformer,
    prompts: &[Vec<i64>],
    cfg: &SamplingConfig,
    stop: &[i64],
) -> Result<Rollout, ModelError> {
    generate_until_any(model, prompts, cfg, &[stop])
}

/// [`generate_until`] with several stop sequences: a row ends right after it emits any of them
/// (an agent's turn ends at a newline or at one of its closing tags).
pub fn generate_until_any(
    model: &Transformer,
    prompts: &[Vec<i64>],
    cfg: &SamplingConfig,
    stops: &[&[i64]],
) -> Result<Rollout, ModelError> {
    let p = validate_inputs(model, prompts, cfg)?;
    tch::no_grad(|| Ok(decode(model, prompts, p, cfg, None, stops)))
}

/// Fills a fresh cache of `capacity` slots with left-padded prompts `[B, P]`; returns it and
/// the logits `[B, V]` that predict each row's first response token.
pub(crate) fn prefill(
    model: &Transformer,
    prompt_tokens: &Tensor,
    prompt_mask: &Tensor,
    capacity: i64,
) -> (KvCache, Tensor) {
    let p = prompt_tokens.size()[1];
    let b = prompt_tokens.size()[0];
    let mut cache = KvCache::new(model.config(), b, capacity, model.kind(), model.device());
    let mask = attention_mask_4d(&prompt_mask.to_kind(Kind::Bool), 0, p);
    let hidden = model.forward_cached(
        prompt_tokens,
        &positions_from_mask(prompt_mask),
        &mask,
        &mut cache,
    );
    // Left padding puts every row's last prompt token in column P - 1.
    (cache, model.logits(&hidden.select(1, p - 1)))
}

/// Checks the config and prompts; returns the longest prompt's length `P`.
pub(crate) fn validate_inputs(
    model: &Transformer,
    prompts: &[Vec<i64>],
    cfg: &SamplingConfig,
) -> Result<i64, ModelError> {
    let config = model.config();
    cfg.validate(config.vocab_size)?;
    if prompts.is_empty() {
        return Err(ModelError::InvalidInput(
            "generate needs at least one prompt".into(),
        ));
    }
    for (i, prompt) in prompts.iter().enumerate() {
        if prompt.is_empty() {
            return Err(ModelError::InvalidInput(format!(
                "prompt {i} is empty (start it with <bos>)"
            )));
        }
        if let Some(&id) = prompt
            .iter()
            .find(|&&id| !(0..config.vocab_size).contains(&id))
        {
            return Err(ModelError::InvalidInput(format!(
                "prompt {i} has token id {id}, outside the vocabulary [0, {})",
                config.vocab_size
            )));
        }
    }
    let p = prompts.iter().map(Vec::len).max().unwrap_or(0) as i64;
    if p + cfg.max_new_tokens > config.max_position_embeddings {
        return Err(ModelError::InvalidInput(format!(
            "longest prompt ({p} tokens) + max_new_tokens ({}) exceeds max_position_embeddings ({})",
            cfg.max_new_tokens, config.max_position_embeddings
        )));
    }
    Ok(p)
}

/// [`generate`] with HAPO's per-token temperature; the behaviour log-probs in
/// [`Rollout::logp`] are those of the temperature each token was sampled at, recorded in
/// [`Rollout::temperatures`]. `None`, `tau = 0` or greedy decoding take [`generate`]'s path
/// unchanged (the same samples bit for bit, no entropy computed).
pub fn generate_adaptive(
    model: &Transformer,
    prompts: &[Vec<i64>],
    cfg: &SamplingConfig,
    adaptive: Option<&AdaptiveTemperature>,
) -> Result<Rollout, ModelError> {
    let Some(a) = adaptive.filter(|a| a.tau != 0.0 && cfg.temperature > 0.0) else {
        return generate(model, prompts, cfg);
    };
    let valid = a.tau.abs() < 1.0 && a.spread > 0.0 && a.scale_pos > 0.0 && a.scale_neg > 0.0;
    if !(valid
        && [a.pivot, a.spread, a.scale_pos, a.scale_neg]
            .iter()
            .all(|v| v.is_finite()))
    {
        return Err(ModelError::InvalidSampling {
            field: "adaptive_temperature",
            reason: format!("needs |tau| < 1 and finite, positive statistics, got {a:?}"),
        });
    }
    let p = validate_inputs(model, prompts, cfg)?;
    tch::no_grad(|| Ok(decode(model, prompts, p, cfg, Some(a), &[])))
}

/// One sampling call from scratch: prefill the prompts, then [`decode_steps`].
fn decode(
    model: &Transformer,
    prompts: &[Vec<i64>],
    p: i64,
    cfg: &SamplingConfig,
    adaptive: Option<&AdaptiveTemperature>,
    stops: &[&[i64]],
) -> Rollout {
    let device = model.device();
    let b = prompts.len() as i64;
    let (prompt_tokens, prompt_mask) = left_pad(prompts, p, cfg.pad_token_id);
    let prompt_tokens = prompt_tokens.to_device(device);
    let prompt_mask = prompt_mask.to_device(device);
    let (cache, logits) = prefill_shared(model, prompts, p, cfg, p + cfg.max_new_tokens);
    // Which cache slots hold real tokens. Generated slots are always attendable: a finished row
    // feeds `pad` whose outputs are never used, and its own slot keeps its query well-defined.
    let key_real = Tensor::cat(
        &[
            prompt_mask.to_kind(Kind::Bool),
            Tensor::ones([b, cfg.max_new_tokens], (Kind::Bool, device)),
        ],
        1,
    );
    // `[B, 1]`: the token sampled at step `s` sits at position `prompt_lengths + s`.
    let prompt_lengths = prompt_mask
        .sum_dim_intlist(1, false, Kind::Int64)
        .unsqueeze(1);
    let mut engine = Engine::start(model, cache, key_real);
    // Host checks of "has every row ended?" are syncs; on CUDA they run every N steps.
    let check_every = model.decode_options().stop_check_every_on(device);
    let steps = decode_steps(
        logits,
        &prompt_lengths,
        cfg,
        adaptive,
        stops,
        check_every,
        |input, position, step| engine.step(model, input, position, p + step),
    );
    engine.finish(model);
    steps.into_rollout(prompt_tokens, prompt_mask)
}

/// [`prefill`] of left-padded `prompts` (longest `p`) into a cache of `capacity` slots, each
/// distinct prompt once with its cache rows fanned out (crate::prefix).
pub(crate) fn prefill_shared(
    model: &Transformer,
    prompts: &[Vec<i64>],
    p: i64,
    cfg: &SamplingConfig,
    capacity: i64,
) -> (KvCache, Tensor) {
    let device = model.device();
    let shared = SharedPrompts::of_rows(prompts.iter().map(Vec::as_slice));
    let (rows, inverse) = match shared.saves_work() {
        true => {
            let distinct: Vec<Vec<i64>> = shared
                .unique
                .iter()
                .map(|&row| prompts[row as usize].clone())
                .collect();
            (
                distinct,
                Some(Tensor::from_slice(&shared.inverse).to_device(device)),
            )
        }
        false => (prompts.to_vec(), None),
    };
    let (tokens, mask) = left_pad(&rows, p, cfg.pad_token_id);
    let (cache, logits) = prefill(
        model,
        &tokens.to_device(device),
        &mask.to_device(device),
        capacity,
    );
    match inverse {
        Some(inverse) => (
            cache.select_rows(&inverse),
            logits.index_select(0, &inverse),
        ),
        None => (cache, logits),
    }
}

/// What [`decode_steps`] sampled: one `[B]` tensor per step.
pub(crate) struct Steps {
    pub tokens: Vec<Tensor>,
    logps: Vec<Tensor>,
    masks: Vec<Tensor>,
    temperatures: Vec<Tensor>,
    /// `[B]`: rows that never stopped (truncated).
    alive: Tensor,
}

impl Steps {
    /// The [`Rollout`] of these steps after left-padded prompts `[B, P]` (tokens and mask).
    pub fn into_rollout(self, prompt_tokens: Tensor, prompt_mask: Tensor) -> Rollout {
        let response_tokens = Tensor::stack(&self.tokens, 1);
        let response_mask = Tensor::stack(&self.masks, 1).to_kind(Kind::Float);
        let response_lens = host_i64(&response_mask.sum_dim_intlist(1, false, Kind::Int64));
        let truncated = host_i64(&self.alive.to_kind(Kind::Int64))
            .into_iter()
            .map(|a| a != 0)
            .collect();
        let temperatures = (!self.temperatures.is_empty())
            .then(|| Tensor::stack(&self.temperatures, 1) * &response_mask);
        Rollout {
            prompt_len: prompt_tokens.size()[1],
            tokens: Tensor::cat(&[prompt_tokens, response_tokens], 1),
            attention_mask: Tensor::cat(&[prompt_mask, response_mask.to_kind(Kind::Int64)], 1),
            logp: Tensor::stack(&self.logps, 1),
            response_mask,
            response_lens,
            truncated,
            temperatures,
        }
    }
}

/// The decoding loop after a prefill that left `logits` `[B, V]` (the next token's). Per step:
/// sample from the last logits, record token/log-prob/mask columns, then
/// `forward(tokens [B, 1], positions [B, 1], step)` gives the next logits (one cached forward;
/// the caller owns the cache). `positions: [B, 1]` is the position of each row's first sampled
/// token. "Has every row ended?" is a host sync, checked every `check_every` steps; columns run
/// after every row had ended are cut off again, so the result is the same for any interval.
/// No per-row Rust work until the end.
pub(crate) fn decode_steps(
    mut logits: Tensor,
    positions: &Tensor,
    cfg: &SamplingConfig,
    adaptive: Option<&AdaptiveTemperature>,
    stops: &[&[i64]],
    check_every: i64,
    mut forward: impl FnMut(&Tensor, &Tensor, i64) -> Tensor,
) -> Steps {
    let device = logits.device();
    let b = logits.size()[0];
    let max_new = cfg.max_new_tokens;
    let mut alive = Tensor::ones([b], (Kind::Bool, device));
    // The last `longest` sampled tokens per row (-1 before any); each stop is compared with
    // its own tail of that window, on the device.
    let patterns: Vec<(i64, Tensor)> = stops
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| (s.len() as i64, Tensor::from_slice(s).to_device(device)))
        .collect();
    let longest = patterns.iter().map(|(len, _)| *len).max().unwrap_or(0);
    let mut window = Tensor::full([b, longest], -1, (Kind::Int64, device));
    let (mut tokens, mut logps, mut masks) = (Vec::new(), Vec::new(), Vec::new());
    let mut temperatures = Vec::new();
    for step in 0..max_new {
        let (sampled, logp) = match adaptive {
            None => sample_next(&logits, cfg),
            Some(a) => {
                let t = adaptive_temperature(&logits, cfg.temperature, a);
                let logp_all = (logits.to_kind(Kind::Float) / &t).log_softmax(-1, Kind::Float);
                temperatures.push(t.squeeze_dim(1));
                sample_from(&logp_all, cfg)
            }
        };
        let token = if cfg.stop_at_eos {
            sampled.where_scalarother(&alive, cfg.pad_token_id)
        } else {
            sampled
        };
        masks.push(alive.shallow_clone());
        logps.push(logp.where_scalarother(&alive, 0.0));
        alive = alive.logical_and(&token.ne(cfg.eos_token_id));
        if !patterns.is_empty() {
            window = Tensor::cat(&[window.narrow(1, 1, longest - 1), token.unsqueeze(1)], 1);
            for (len, pattern) in &patterns {
                let tail = window.narrow(1, longest - len, *len);
                let hit = tail.eq_tensor(&pattern.unsqueeze(0)).all_dim(1, false);
                alive = alive.logical_and(&hit.logical_not());
            }
        }
        let is_last = step + 1 == max_new;
        // A host sync; it lets a batch whose rows all ended stop early.
        let check = cfg.stop_at_eos && !is_last && (step + 1) % check_every == 0;
        let all_done = check && alive.any().int64_value(&[]) == 0;
        let input = token.unsqueeze(1);
        tokens.push(token);
        if is_last || all_done {
            break;
        }
        logits = forward(&input, &(positions + step), step);
    }
    if check_every > 1 && cfg.stop_at_eos {
        // Steps run after every row had ended are cut off: a column is kept while some row
        // was still alive at its start, as when checking every step.
        let kept = Tensor::stack(&masks, 1)
            .any_dim(0, false)
            .sum(Kind::Int64)
            .int64_value(&[]) as usize;
        let kept = kept.max(1);
        for columns in [&mut tokens, &mut logps, &mut masks, &mut temperatures] {
            columns.truncate(kept);
        }
    }
    Steps {
        tokens,
        logps,
        masks,
        temperatures,
        alive,
    }
}

/// `[B, 1]` f32: `T_0 (1 + tau clip(h^, -1, 1))` from the raw logits' entropy.
fn adaptive_temperature(logits: &Tensor, t0: f64, a: &AdaptiveTemperature) -> Tensor {
    let logp_raw = logits.to_kind(Kind::Float).log_softmax(-1, Kind::Float);
    let entropy = -(logp_raw.exp() * &logp_raw).sum_dim_intlist(-1, true, Kind::Float);
    let z = (entropy.clamp_min(1e-8).log() - a.pivot) / a.spread;
    let hat = (&z / a.scale_pos)
        .where_self(&z.gt(0.0), &(&z / a.scale_neg))
        .clamp(-1.0, 1.0);
    (hat * a.tau + 1.0) * t0
}

/// One decoding step: `logits: [B, V]` -> (token `[B]` i64, its log-prob `[B]` f32 under the
/// tempered full distribution).
fn sample_next(logits: &Tensor, cfg: &SamplingConfig) -> (Tensor, Tensor) {
    sample_from(&scaled_log_softmax(logits, cfg.temperature), cfg)
}

/// Samples from `logp_all: [B, V]`, the tempered log-distribution.
fn sample_from(logp_all: &Tensor, cfg: &SamplingConfig) -> (Tensor, Tensor) {
    let token = if cfg.temperature == 0.0 {
        logp_all.argmax(-1, true)
    } else if cfg.top_p < 1.0 {
        nucleus_sample(&logp_all.exp(), cfg.top_p)
    } else {
        logp_all.exp().multinomial(1, false)
    };
    let logp = logp_all.gather(1, &token, false).squeeze_dim(1);
    (token.squeeze_dim(1), logp)
}

/// Top-p sampling on `probs: [B, V]`: keep, in descending order, each token whose preceding
/// cumulative probability is below `top_p` (so the most likely token always survives), and
/// sample among those in proportion to their probabilities. Returns `[B, 1]` token ids.
fn nucleus_sample(probs: &Tensor, top_p: f64) -> Tensor {
    let (sorted, order) = probs.sort(-1, true);
    let before = sorted.cumsum(-1, Kind::Float) - &sorted;
    let kept = sorted.where_scalarother(&before.lt(top_p), 0.0);
    order.gather(1, &kept.multinomial(1, false), false)
}

/// Host-side left padding: `([B, P] tokens, [B, P] mask)` i64 on the CPU.
pub(crate) fn left_pad(prompts: &[Vec<i64>], p: i64, pad: i64) -> (Tensor, Tensor) {
    let p = p as usize;
    let mut tokens = vec![pad; prompts.len() * p];
    let mut mask = vec![0i64; prompts.len() * p];
    for (i, prompt) in prompts.iter().enumerate() {
        let start = i * p + p - prompt.len();
        tokens[start..(i + 1) * p].copy_from_slice(prompt);
        mask[start..(i + 1) * p].fill(1);
    }
    let shape = [prompts.len() as i64, p as i64];
    (
        Tensor::from_slice(&tokens).view(shape),
        Tensor::from_slice(&mask).view(shape),
    )
}

pub(crate) fn host_i64(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t.to_device(tch::Device::Cpu).contiguous().view([-1]))
        .expect("an i64 tensor converts to Vec<i64>")
}
