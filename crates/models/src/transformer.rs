//! A decoder-only transformer in the Llama/Qwen2 layout (pre-norm RMSNorm, rotary position
//! embeddings in transformers' `rotate_half` convention, grouped-query attention, SwiGLU MLP),
//! with parameters named exactly as in Hugging Face checkpoints so that they load unchanged.
use std::sync::{Arc, Mutex};

use tch::{nn, Device, Kind, Tensor};

use crate::config::TransformerConfig;
use crate::decode_step::{DecodeOptions, GraphCache};
use crate::error::ModelError;
use crate::fused::Fused;
use crate::kv_cache::KvCache;
use crate::lora::{LoraAdapter, LoraSwitch};

/// A dense layer with transformers' `nn.Linear` weight layout `[out, in]`, and the LoRA adapter
/// that [`crate::lora::Lora::attach`] puts on it (`None` for a plain model).
pub(crate) struct Linear {
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) lora: Option<LoraAdapter>,
}

impl Linear {
    fn new(
        p: &nn::Path,
        in_dim: i64,
        out_dim: i64,
        bias: bool,
        std: f64,
    ) -> Result<Self, ModelError> {
        let weight = p.f_var(
            "weight",
            &[out_dim, in_dim],
            nn::Init::Randn {
                mean: 0.0,
                stdev: std,
            },
        )?;
        let bias = if bias {
            Some(p.f_zeros("bias", &[out_dim])?)
        } else {
            None
        };
        Ok(Linear {
            weight,
            bias,
            lora: None,
        })
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        self.with_adapter(xs.linear(&self.weight, self.bias.as_ref()), xs)
    }

    /// `ys = W xs + b` (computed elsewhere, e.g. as a slice of a fused matmul) plus this
    /// projection's LoRA update, if any.
    pub(crate) fn with_adapter(&self, ys: Tensor, xs: &Tensor) -> Tensor {
        match &self.lora {
            None => ys,
            Some(adapter) => adapter.add_delta(ys, xs),
        }
    }
}

/// transformers' `Qwen2RMSNorm`/`LlamaRMSNorm`: normalise in f32, cast back, then scale.
fn rms_norm(xs: &Tensor, weight: &Tensor, eps: f64) -> Tensor {
    let kind = xs.kind();
    if kind == Kind::Float && weight.kind() == Kind::Float {
        // In f32 there is no cast, and libtorch's fused kernel does the same arithmetic in one
        // dispatch instead of six (forward and backward); on tiny CPU models dispatches are
        // the cost. `tests/transformer.rs` checks it against the formula below.
        let hidden = *xs.size().last().unwrap_or(&1);
        return xs.rms_norm([hidden], Some(weight), eps);
    }
    let xf = xs.to_kind(Kind::Float);
    let variance = xf.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
    weight * (xf * (variance + eps).rsqrt()).to_kind(kind)
}

/// transformers' `x * cos + rotate_half(x) * sin` with `rotate_half(x) = cat(-x2, x1)`, written
/// as `x * cos + roll(x) * sin_signed` where `sin_signed = cat(-sin1, sin2)`: negation is exact,
/// so the result is bit-identical, in four dispatches instead of seven (not `addcmul`: its
/// fused multiply-add rounds differently).
fn apply_rotary(xs: &Tensor, cos: &Tensor, sin_signed: &Tensor) -> Tensor {
    let half = xs.size()[3] / 2;
    xs * cos + xs.roll([half], [3]) * sin_signed
}

struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    /// q, k and v in one buffer; the three projections' weights are views of it.
    qkv: Fused,
    o_proj: Linear,
    heads: i64,
    kv_heads: i64,
    head_dim: i64,
}

impl Attention {
    fn new(p: &nn::Path, c: &TransformerConfig, std: f64) -> Result<Self, ModelError> {
        let (h, kvh, d) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim());
        let q_proj = Linear::new(&(p / "q_proj"), c.hidden_size, h * d, c.qkv_bias(), std)?;
        let k_proj = Linear::new(&(p / "k_proj"), c.hidden_size, kvh * d, c.qkv_bias(), std)?;
        let v_proj = Linear::new(&(p / "v_proj"), c.hidden_size, kvh * d, c.qkv_bias(), std)?;
        let qkv = Fused::of(&[&q_proj, &k_proj, &v_proj])?;
        Ok(Attention {
            q_proj,
            k_proj,
            v_proj,
            qkv,
            o_proj: Linear::new(&(p / "o_proj"), h * d, c.hidden_size, c.o_bias(), std)?,
            heads: h,
            kv_heads: kvh,
            head_dim: d,
        })
    }

    /// `xs: [B, T, hidden]`, `cos`/`sin: [B, 1, T, D]`, `mask: [B, 1, T, S]` bool (true = attend).
    fn forward(
        &self,
        xs: &Tensor,
        rope: &(Tensor, Tensor),
        mask: &Tensor,
        kv: &mut KeysValues,
        layer: usize,
    ) -> Tensor {
        let (b, t, _) = xs.size3().expect("hidden states are [B, T, hidden]");
        let projected = if kv.is_inference() {
            self.qkv
                .forward(xs, &[&self.q_proj, &self.k_proj, &self.v_proj])
        } else {
            vec![
                self.q_proj.forward(xs),
                self.k_proj.forward(xs),
                self.v_proj.forward(xs),
            ]
        };
        let split = |ys: &Tensor, heads: i64| ys.view([b, t, heads, self.head_dim]).transpose(1, 2);
        let (cos, sin) = rope;
        let q = split(&projected[0], self.heads);
        let k = split(&projected[1], self.kv_heads);
        let v = split(&projected[2], self.kv_heads);
        let q = apply_rotary(&q, cos, sin);
        let k = apply_rotary(&k, cos, sin);
        let (k, v) = match kv {
            KeysValues::Own => (k, v),
            KeysValues::Cache(cache) => cache.append(layer, &k, &v),
            KeysValues::Static { cache, slot } => cache.write_at(layer, slot, &k, &v),
            KeysValues::Record(layers) => {
                layers.push((k.shallow_clone(), v.shallow_clone()));
                (k, v)
            }
            KeysValues::Prefix(prefix) => {
                let (pk, pv) = &prefix[layer];
                (Tensor::cat(&[pk, &k], 2), Tensor::cat(&[pv, &v], 2))
            }
        };
        let gqa = self.kv_heads != self.heads;
        let ys =
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(mask), 0.0, false, None, gqa);
        self.o_proj.forward(
            &ys.transpose(1, 2)
                .reshape([b, t, self.heads * self.head_dim]),
        )
    }
}

/// Where an attention layer's keys and values come from besides the tokens of this call.
enum KeysValues<'a> {
    /// Only this call's tokens.
    Own,
    /// A decoding cache, extended by this call's tokens (sampling).
    Cache(&'a mut KvCache),
    /// Only this call's tokens, and each layer's (rotated) keys and values are recorded: the
    /// forward of a prefix that several rows share (see `crate::prefix`).
    Record(&'a mut Vec<(Tensor, Tensor)>),
    /// Per-layer `[B, kv_heads, S, D]` keys and values of a prefix (gradients flow into them),
    /// attended over before this call's tokens.
    Prefix(&'a [(Tensor, Tensor)]),
    /// The decode step in CUDA-graph shape: this call's keys and values are written at the
    /// slot held by `slot: [1]` i64 (a device tensor, so the step has no host input) and
    /// attention runs over the whole buffer, the mask hiding slots not written yet.
    Static {
        cache: &'a mut KvCache,
        slot: &'a Tensor,
    },
}

impl KeysValues<'_> {
    /// Sampling: no gradients, so the projections run fused (their fused buffers carry none).
    fn is_inference(&self) -> bool {
        matches!(self, KeysValues::Cache(_) | KeysValues::Static { .. })
    }
}

struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    /// gate and up in one buffer; both projections' weights are views of it.
    gate_up: Fused,
    down_proj: Linear,
}

impl Mlp {
    fn new(p: &nn::Path, c: &TransformerConfig, std: f64) -> Result<Self, ModelError> {
        let (hidden, inter) = (c.hidden_size, c.intermediate_size);
        let gate_proj = Linear::new(&(p / "gate_proj"), hidden, inter, false, std)?;
        let up_proj = Linear::new(&(p / "up_proj"), hidden, inter, false, std)?;
        let gate_up = Fused::of(&[&gate_proj, &up_proj])?;
        Ok(Mlp {
            gate_proj,
            up_proj,
            gate_up,
            down_proj: Linear::new(
                &(p / "down_proj"),
                c.intermediate_size,
                c.hidden_size,
                false,
                std,
            )?,
        })
    }

    fn forward(&self, xs: &Tensor, fused: bool) -> Tensor {
        let inner = if fused {
            let parts = self.gate_up.forward(xs, &[&self.gate_proj, &self.up_proj]);
            parts[0].silu() * &parts[1]
        } else {
            self.gate_proj.forward(xs).silu() * self.up_proj.forward(xs)
        };
        self.down_proj.forward(&inner)
    }
}

struct DecoderLayer {
    input_layernorm: Tensor,
    self_attn: Attention,
    post_attention_layernorm: Tensor,
    mlp: Mlp,
}

/// The model. Build it at the root of a `VarStore` so that variable names are the Hugging Face
/// tensor names (`model.layers.0.self_attn.q_proj.weight`, ...); the `VarStore` owns the weights.
pub struct Transformer {
    config: TransformerConfig,
    embed_tokens: Tensor,
    layers: Vec<DecoderLayer>,
    norm: Tensor,
    /// `None` when the output projection is tied to `embed_tokens`.
    lm_head: Option<Tensor>,
    /// `[head_dim / 2]` f32 rotary frequencies (a derived buffer, not a parameter).
    inv_freq: Tensor,
    /// The on/off and train/eval state shared by the attached LoRA adapters (`None`: none).
    pub(crate) lora: Option<Arc<LoraSwitch>>,
    /// How many times the fused buffers were rebuilt (see [`Transformer::ensure_fused`]);
    /// captured CUDA graphs remember it, since a rebuild moves the weights.
    fuse_generation: Mutex<u64>,
    pub(crate) decode: DecodeOptions,
    pub(crate) graphs: Mutex<GraphCache>,
}

impl Transformer {
    /// Creates the parameters under `p`, initialised as transformers does: normal(0, 0.02)
    /// (or the config's `initializer_range`), zero biases, unit norms, a zero `<pad>` embedding.
    pub fn new(p: &nn::Path, config: &TransformerConfig) -> Result<Self, ModelError> {
        config.validate()?;
        let c = config;
        let std = c
            .extra
            .get("initializer_range")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.02);
        let model = p / "model";
        let embed_tokens = (&model / "embed_tokens").f_var(
            "weight",
            &[c.vocab_size, c.hidden_size],
            nn::Init::Randn {
                mean: 0.0,
                stdev: std,
            },
        )?;
        if let Some(pad) = c.pad_token_id {
            let mut row = embed_tokens.f_get(pad)?;
            tch::no_grad(|| row.f_zero_().map(drop))?;
        }
        let mut layers = Vec::with_capacity(c.num_hidden_layers as usize);
        for i in 0..c.num_hidden_layers {
            let lp = &model / "layers" / i;
            layers.push(DecoderLayer {
                input_layernorm: (&lp / "input_layernorm").f_ones("weight", &[c.hidden_size])?,
                self_attn: Attention::new(&(&lp / "self_attn"), c, std)?,
                post_attention_layernorm: (&lp / "post_attention_layernorm")
                    .f_ones("weight", &[c.hidden_size])?,
                mlp: Mlp::new(&(&lp / "mlp"), c, std)?,
            });
        }
        let norm = (&model / "norm").f_ones("weight", &[c.hidden_size])?;
        let lm_head = if c.tie_word_embeddings {
            None
        } else {
            Some((p / "lm_head").f_var(
                "weight",
                &[c.vocab_size, c.hidden_size],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: std,
                },
            )?)
        };
        let d = c.head_dim();
        let device = p.device();
        // transformers: 1 / base^(arange(0, d, 2) / d), computed in f32.
        let exponents = Tensor::f_arange_start_step(0, d, 2, (Kind::Int64, device))?
            .to_kind(Kind::Float)
            / d as f64;
        let inv_freq = Tensor::f_pow_scalar(c.rope_theta, &exponents)?.reciprocal();
        Ok(Transformer {
            config: c.clone(),
            embed_tokens,
            layers,
            norm,
            lm_head,
            inv_freq,
            lora: None,
            fuse_generation: Mutex::new(0),
            decode: DecodeOptions::default(),
            graphs: Mutex::new(GraphCache::default()),
        })
    }

    /// Makes sure that every layer's q/k/v and gate/up weights are views of their fused
    /// buffers, rebuilding the buffers where they are not, and returns the fuse generation.
    /// In-place writes (loading, optimizer steps, merging) keep the views; `VarStore::set_kind`
    /// and `set_device` replace each variable's storage and break them. Cheap when nothing
    /// changed (pointer comparisons only); the sampler calls it before every batch.
    pub fn ensure_fused(&self) -> u64 {
        let mut generation = self
            .fuse_generation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut rebuilt = false;
        for layer in &self.layers {
            let a = &layer.self_attn;
            rebuilt |= a.qkv.refresh(&[&a.q_proj, &a.k_proj, &a.v_proj]);
            let m = &layer.mlp;
            rebuilt |= m.gate_up.refresh(&[&m.gate_proj, &m.up_proj]);
        }
        if rebuilt {
            *generation += 1;
        }
        *generation
    }

    /// How the sampler decodes with this model (stop checks, CUDA graphs).
    pub fn decode_options(&self) -> &DecodeOptions {
        &self.decode
    }

    pub fn set_decode_options(&mut self, options: DecodeOptions) {
        self.decode = options;
        self.graphs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// Every layer's projections as `(layer, "self_attn" | "mlp", "q_proj" | ..., linear)`, in
    /// the order of Hugging Face checkpoints: where LoRA adapters attach.
    pub(crate) fn projections_mut(
        &mut self,
    ) -> impl Iterator<Item = (usize, &'static str, &'static str, &mut Linear)> {
        self.layers.iter_mut().enumerate().flat_map(|(i, layer)| {
            let a = &mut layer.self_attn;
            let m = &mut layer.mlp;
            [
                ("self_attn", "q_proj", &mut a.q_proj),
                ("self_attn", "k_proj", &mut a.k_proj),
                ("self_attn", "v_proj", &mut a.v_proj),
                ("self_attn", "o_proj", &mut a.o_proj),
                ("mlp", "gate_proj", &mut m.gate_proj),
                ("mlp", "up_proj", &mut m.up_proj),
                ("mlp", "down_proj", &mut m.down_proj),
            ]
            .into_iter()
            .map(move |(group, name, linear)| (i, group, name, linear))
        })
    }

    pub fn config(&self) -> &TransformerConfig {
        &self.config
    }

    /// Where the weights are (follows `VarStore::set_device`).
    pub fn device(&self) -> Device {
        self.embed_tokens.device()
    }

    /// The dtype of the weights (f32 on CPU; bf16 when the `VarStore` was converted).
    pub fn kind(&self) -> Kind {
        self.embed_tokens.kind()
    }

    /// Logits `[B, T, vocab]` (in the weights' dtype) for `tokens: [B, T]` i64 and
    /// `attention_mask: [B, T]` (1 = real token, 0 = padding). Positions count real tokens only,
    /// so left-padded rows see the same positions as unpadded ones.
    pub fn forward(&self, tokens: &Tensor, attention_mask: &Tensor) -> Tensor {
        self.logits(&self.hidden_states(tokens, attention_mask))
    }

    /// Final-norm hidden states `[B, T, hidden]`; [`Transformer::logits`] maps them to logits.
    /// Split so that callers can project only the positions they need.
    pub fn hidden_states(&self, tokens: &Tensor, attention_mask: &Tensor) -> Tensor {
        let positions = positions_from_mask(attention_mask);
        let t = tokens.size()[1];
        let mask = attention_mask_4d(&attention_mask.to_kind(Kind::Bool), 0, t);
        self.run_layers(tokens, &positions, &mask, KeysValues::Own)
    }

    /// [`Transformer::hidden_states`], and every layer's rotated keys and values
    /// (`[B, kv_heads, T, head_dim]`, with gradients), so that continuations can attend over
    /// them with [`Transformer::hidden_states_after`] without recomputing the prefix.
    pub fn hidden_states_recording(
        &self,
        tokens: &Tensor,
        attention_mask: &Tensor,
    ) -> (Tensor, Vec<(Tensor, Tensor)>) {
        let positions = positions_from_mask(attention_mask);
        let t = tokens.size()[1];
        let mask = attention_mask_4d(&attention_mask.to_kind(Kind::Bool), 0, t);
        let mut recorded = Vec::with_capacity(self.layers.len());
        let hidden = self.run_layers(tokens, &positions, &mask, KeysValues::Record(&mut recorded));
        (hidden, recorded)
    }

    /// Hidden states of `tokens: [B, T]` at `positions: [B, T]` that continue a prefix whose
    /// per-layer keys and values are `prefix` (`[B, kv_heads, S, head_dim]` each, as recorded
    /// by [`Transformer::hidden_states_recording`]); `mask: [B, 1, T, S + T]` says which
    /// prefix slots and which of these tokens each query sees.
    pub fn hidden_states_after(
        &self,
        tokens: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        prefix: &[(Tensor, Tensor)],
    ) -> Tensor {
        self.run_layers(tokens, positions, mask, KeysValues::Prefix(prefix))
    }

    /// The same forward pass, reading and extending `cache`: `tokens`/`positions: [B, T]` are the
    /// next `T` slots and `mask: [B, 1, T, cache.len() + T]` says which slots each query sees.
    /// Inference only: the q/k/v and gate/up projections run as one fused matmul each, over
    /// buffers that carry no gradient (call it under `tch::no_grad`, as the sampler does).
    pub fn forward_cached(
        &self,
        tokens: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        cache: &mut KvCache,
    ) -> Tensor {
        self.ensure_fused();
        let hidden = self.run_layers(tokens, positions, mask, KeysValues::Cache(&mut *cache));
        cache.advance(tokens.size()[1]);
        hidden
    }

    /// One decode step in CUDA-graph shape (static shapes, no host input): `tokens`/`positions:
    /// [B, 1]`, keys and values written into `cache` at the slot in `slot: [1]` i64, attention
    /// over all `cache.capacity()` slots under `mask: [B, 1, 1, capacity]`. Does not move
    /// `cache.len()`. Inference only, like [`Transformer::forward_cached`]; call
    /// [`Transformer::ensure_fused`] first.
    pub fn forward_static(
        &self,
        tokens: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        cache: &mut KvCache,
        slot: &Tensor,
    ) -> Tensor {
        self.run_layers(tokens, positions, mask, KeysValues::Static { cache, slot })
    }

    /// `hidden: [..., hidden]` -> logits `[..., vocab]`.
    pub fn logits(&self, hidden: &Tensor) -> Tensor {
        hidden.linear::<Tensor>(self.lm_head.as_ref().unwrap_or(&self.embed_tokens), None)
    }

    fn run_layers(
        &self,
        tokens: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        mut kv: KeysValues,
    ) -> Tensor {
        let mut xs = Tensor::embedding(&self.embed_tokens, tokens, -1, false, false);
        let rope = self.rotary(positions, xs.kind());
        let eps = self.config.rms_norm_eps;
        let fused = kv.is_inference();
        for (i, layer) in self.layers.iter().enumerate() {
            let normed = rms_norm(&xs, &layer.input_layernorm, eps);
            let attn = layer.self_attn.forward(&normed, &rope, mask, &mut kv, i);
            xs = &xs + attn;
            let normed = rms_norm(&xs, &layer.post_attention_layernorm, eps);
            xs = &xs + layer.mlp.forward(&normed, fused);
        }
        rms_norm(&xs, &self.norm, eps)
    }

    /// `cos`, `sin_signed: [B, 1, T, head_dim]` for `positions: [B, T]`, computed in f32 and cast
    /// to `kind`, as transformers' rotary embedding does; the first half of `sin_signed` is
    /// negated for [`apply_rotary`].
    fn rotary(&self, positions: &Tensor, kind: Kind) -> (Tensor, Tensor) {
        let inv_freq = self.inv_freq.to_device(positions.device());
        let freqs = positions.to_kind(Kind::Float).unsqueeze(-1) * inv_freq;
        let emb = Tensor::cat(&[&freqs, &freqs], -1).unsqueeze(1);
        let sin = freqs.sin().unsqueeze(1);
        let sin_signed = Tensor::cat(&[-&sin, sin], -1);
        (emb.cos().to_kind(kind), sin_signed.to_kind(kind))
    }
}

/// Position ids from a `[B, T]` padding mask: `cumsum(mask) - 1`, clamped at 0 for left padding.
pub fn positions_from_mask(attention_mask: &Tensor) -> Tensor {
    (attention_mask.cumsum(1, Kind::Int64) - 1).clamp_min(0)
}

/// `[B, 1, T, S]` bool attention mask for `T` queries at slots `[start, start + T)` over keys
/// at slots `[0, S)`: causal and restricted to real keys (`key_real: [B, S]` bool). Each query
/// also sees its own slot, so that padding queries (whose outputs are never used) do not attend
/// over nothing, which would make NaNs that leak into real rows through `0 * NaN`.
pub fn attention_mask_4d(key_real: &Tensor, start: i64, t: i64) -> Tensor {
    let s = key_real.size()[1];
    let device = key_real.device();
    let query_slots = Tensor::arange_start(start, start + t, (Kind::Int64, device)).unsqueeze(1);
    let key_slots = Tensor::arange(s, (Kind::Int64, device)).unsqueeze(0);
    let causal = key_slots.le_tensor(&query_slots);
    let own = key_slots.eq_tensor(&query_slots);
    causal
        .logical_and(&key_real.unsqueeze(1))
        .logical_or(&own)
        .unsqueeze(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// transformers' formula, op by op, as the reference for the fused paths.
    fn rms_norm_reference(xs: &Tensor, weight: &Tensor, eps: f64) -> Tensor {
        let variance = xs.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        weight * (xs * (variance + eps).rsqrt())
    }

    #[test]
    fn fused_rms_norm_matches_the_transformers_formula() {
        tch::manual_seed(3);
        let xs = Tensor::randn([4, 5, 32], (Kind::Float, Device::Cpu)) * 3.0;
        let weight = Tensor::randn([32], (Kind::Float, Device::Cpu));
        let diff = (rms_norm(&xs, &weight, 1e-6) - rms_norm_reference(&xs, &weight, 1e-6))
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-5, "fused rms_norm differs by {diff}");
    }

    #[test]
    fn rolled_rotary_is_bit_identical_to_rotate_half() {
        tch::manual_seed(4);
        let opts = (Kind::Float, Device::Cpu);
        let xs = Tensor::randn([2, 3, 5, 8], opts);
        let freqs = Tensor::randn([2, 1, 5, 4], opts);
        let emb = Tensor::cat(&[&freqs, &freqs], -1);
        let (cos, sin) = (emb.cos(), emb.sin());
        let sin1 = freqs.sin();
        let sin_signed = Tensor::cat(&[-&sin1, sin1], -1);
        let rotate_half = Tensor::cat(&[-xs.narrow(3, 4, 4), xs.narrow(3, 0, 4)], 3);
        let reference = &xs * &cos + rotate_half * &sin;
        let ours = apply_rotary(&xs, &cos, &sin_signed);
        assert!(ours.equal(&reference), "rotary embedding changed bits");
    }
}
