//! polopt-models: the tensor layer's language-model parts (design/architecture.md, layer 2).
//!
//! - [`config`]: [`TransformerConfig`], a Hugging Face `config.json` (Qwen2 / Llama).
//! - [`transformer`]: [`Transformer`], the decoder, with HF parameter names.
//! - [`kv_cache`]: [`KvCache`], preallocated per-layer key/value buffers for decoding.
//! - [`sampling`]: [`generate`] with [`SamplingConfig`] (temperature, top-p, eos stopping).
//! - [`rollout`]: [`Rollout`], the batch layout contract between sampling and training:
//!   prompts left-padded to `P`, responses in columns `[P, P + R)`.
//! - [`logprobs`]: [`response_logprobs`], log-probs (and entropy) of responses with gradients,
//!   equal to the sampler's behaviour log-probs at the same weights and temperature.
//! - [`tokenizer`]: [`CharTokenizer`], the text tasks' character vocabulary.
//! - [`checkpoint`]: `model.safetensors` + `config.json` directories, atomic writes, typed errors.
//!
//! Tensors stay on the model's device; f32 on CPU. Sampling randomness is libtorch's: seed it
//! with `tch::manual_seed`.
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod kv_cache;
pub mod logprobs;
pub mod rollout;
pub mod sampling;
pub mod tokenizer;
pub mod transformer;

pub use config::{TokenIds, TransformerConfig};
pub use error::ModelError;
pub use kv_cache::KvCache;
pub use logprobs::{response_logits, response_logprobs, scaled_log_softmax, token_logprobs};
pub use rollout::Rollout;
pub use sampling::{generate, SamplingConfig};
pub use tokenizer::CharTokenizer;
pub use transformer::Transformer;
