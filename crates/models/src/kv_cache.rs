//! A preallocated key/value cache: one `[B, kv_heads, capacity, head_dim]` buffer for keys and
//! one for values per layer, filled slot by slot during decoding so that each new token costs
//! one forward of length 1 instead of re-running the prompt.
//!
//! Slots are batch columns, not positions: with left padding, row `b`'s slot `s` holds position
//! `s - pad_b`. Rotary embeddings are applied before keys are cached, so the cache never needs
//! to know positions.
use tch::{Device, Kind, Tensor};

use crate::config::TransformerConfig;

pub struct KvCache {
    keys: Vec<Tensor>,
    values: Vec<Tensor>,
    len: i64,
    capacity: i64,
}

impl KvCache {
    /// Room for `capacity` slots of `batch` rows, for every layer of `config`, in `kind` on
    /// `device` (the model's own dtype and device).
    pub fn new(
        config: &TransformerConfig,
        batch: i64,
        capacity: i64,
        kind: Kind,
        device: Device,
    ) -> Self {
        let shape = [
            batch,
            config.num_key_value_heads,
            capacity,
            config.head_dim(),
        ];
        let layers = config.num_hidden_layers as usize;
        KvCache {
            keys: (0..layers)
                .map(|_| Tensor::zeros(shape, (kind, device)))
                .collect(),
            values: (0..layers)
                .map(|_| Tensor::zeros(shape, (kind, device)))
                .collect(),
            len: 0,
            capacity,
        }
    }

    /// Slots filled so far (the slot index of the next token).
    pub fn len(&self) -> i64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> i64 {
        self.capacity
    }

    /// Writes `k`, `v` (`[B, kv_heads, T, D]`) of `layer` at slots `[len, len + T)` and returns
    /// views of slots `[0, len + T)` to attend over. [`KvCache::advance`] moves `len` once
    /// every layer has been written.
    pub(crate) fn append(&mut self, layer: usize, k: &Tensor, v: &Tensor) -> (Tensor, Tensor) {
        let t = k.size()[2];
        let end = self.len + t;
        assert!(
            end <= self.capacity,
            "KV cache overflow: {end} slots > capacity {}",
            self.capacity
        );
        self.keys[layer].narrow(2, self.len, t).copy_(k);
        self.values[layer].narrow(2, self.len, t).copy_(v);
        (
            self.keys[layer].narrow(2, 0, end),
            self.values[layer].narrow(2, 0, end),
        )
    }

    /// A cache whose row `b` is this cache's row `index[b]` (`index: [B']` i64): prompts
    /// prefilled once are fanned out to every completion that continues them.
    pub(crate) fn select_rows(&self, index: &Tensor) -> KvCache {
        let pick = |buffers: &[Tensor]| buffers.iter().map(|t| t.index_select(0, index)).collect();
        KvCache {
            keys: pick(&self.keys),
            values: pick(&self.values),
            len: self.len,
            capacity: self.capacity,
        }
    }

    pub(crate) fn advance(&mut self, t: i64) {
        self.len += t;
    }
}
