//! polopt-models: the tensor layer's language-model parts (design/architecture.md, layer 2).
//!
//! - [`config`]: [`TransformerConfig`], a Hugging Face `config.json` (Qwen2 / Llama).
//! - [`transformer`]: [`Transformer`], the decoder, with HF parameter names.
//! - [`kv_cache`]: [`KvCache`], preallocated per-layer key/value buffers for decoding.
//! - [`sampling`]: [`generate`] with [`SamplingConfig`] (temperature, top-p, eos stopping).
//! - [`decode_step`]: how each decode step runs ([`DecodeOptions`]: stop checks every N
//!   tokens, the graph-shaped static step, CUDA graphs through [`cuda_graph`]'s C++ shim).
//! - [`continuation`]: [`Continuation`], sampling in rounds over one kept KV cache (multi-turn
//!   rollouts append each row's new tokens instead of re-prefilling its history).
//! - [`rollout`]: [`Rollout`], the batch layout contract between sampling and training:
//!   prompts left-padded to `P`, responses in columns `[P, P + R)`.
//! - [`logprobs`]: [`response_logprobs`], log-probs (and entropy) of responses with gradients,
//!   equal to the sampler's behaviour log-probs at the same weights and temperature.
//! - [`prefix`]: rows that share a prompt compute it once, in sampling and in training.
//! - [`lora`]: [`Lora`] adapters on the projections (frozen base, adapters in their own
//!   `VarStore`, switchable off for the reference policy), PEFT's adapter files, merging.
//! - [`tokenizer`]: [`CharTokenizer`], the text tasks' character vocabulary.
//! - [`char_export`]: the character vocabulary as `tokenizer.json` (a built-in model as an HF directory).
//! - [`checkpoint`]: `model.safetensors` + `config.json` directories, atomic writes, typed errors.
//! - [`hf`]: whole Hugging Face model directories: sharded weights with an index, any float
//!   dtype on disk, tokenizer files carried along on save.
//! - [`hf_tokenizer`]: [`HfTokenizer`], a `tokenizer.json` (via the `tokenizers` crate) with
//!   the chat template of `tokenizer_config.json` / `chat_template.jinja`.
//!
//! Tensors stay on the model's device; f32 on CPU, bf16 on CUDA when loaded through [`hf::load`]
//! (log-softmax and losses in f32 either way). Sampling randomness is libtorch's: seed it
//! with `tch::manual_seed`.
pub mod char_export;
pub mod checkpoint;
pub mod config;
pub mod continuation;
pub mod cuda_graph;
pub mod decode_step;
pub mod error;
mod fused;
pub mod hf;
pub mod hf_tokenizer;
pub mod kv_cache;
pub mod logprobs;
pub mod lora;
pub mod prefix;
pub mod rollout;
pub mod sampling;
pub mod tokenizer;
pub mod transformer;

pub use config::{TokenIds, TransformerConfig};
pub use continuation::Continuation;
pub use decode_step::{CudaGraphs, DecodeOptions, DecodeReport};
pub use error::ModelError;
pub use hf_tokenizer::{ChatMessage, HfTokenizer};
pub use kv_cache::KvCache;
pub use logprobs::{
    gathered_logprobs, response_logits, response_logprobs, scaled_log_softmax, token_logprobs,
};
pub use lora::{Lora, LoraConfig};
pub use rollout::Rollout;
pub use sampling::{
    generate, generate_adaptive, generate_until, generate_until_any, AdaptiveTemperature,
    SamplingConfig,
};
pub use tokenizer::CharTokenizer;
pub use transformer::Transformer;
