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

    /// Writes `k`, `v` (`[B, kv_heads, 1, D]`) of `layer` at the slot held by `slot: [1]` i64
    /// (`index_copy_`, in place, the slot read on the device) and returns handles on the whole
    /// buffers: the decode step of a CUDA graph, whose shapes and inputs cannot change between
    /// replays. Does not move `len`.
    pub(crate) fn write_at(
        &mut self,
        layer: usize,
        slot: &Tensor,
        k: &Tensor,
        v: &Tensor,
    ) -> (Tensor, Tensor) {
        let _ = self.keys[layer].index_copy_(2, slot, k);
        let _ = self.values[layer].index_copy_(2, slot, v);
        (
            self.keys[layer].shallow_clone(),
            self.values[layer].shallow_clone(),
        )
    }

    /// Copies `source`'s filled slots `[0, source.len())` into this cache, row `b` from
    /// `source`'s row `rows[b]` (`None`: the same row), and sets `len` to match: a prompt
    /// prefilled in a fresh cache moves into a long-lived one whose buffers a graph reads.
    pub(crate) fn load_prefix(&mut self, source: &KvCache, rows: Option<&Tensor>) {
        let len = source.len;
        assert!(
            len <= self.capacity,
            "KV cache overflow: {len} slots > capacity {}",
            self.capacity
        );
        let pairs = self
            .keys
            .iter()
            .zip(&source.keys)
            .chain(self.values.iter().zip(&source.values));
        for (dst, src) in pairs {
            let src = src.narrow(2, 0, len);
            let src = match rows {
                Some(index) => src.index_select(0, index),
                None => src,
            };
            dst.narrow(2, 0, len).copy_(&src);
        }
        self.len = len;
    }

    /// Rows of the buffers (`[B, ...]`'s `B`).
    pub(crate) fn batch(&self) -> i64 {
        self.keys.first().map_or(0, |k| k.size()[0])
    }
}
