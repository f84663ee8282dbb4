//! Sampling in rounds that keeps the KV cache between them: a multi-turn rollout samples every
//! live row until its turn ends, appends the environment's reply, and samples again. Instead of
//! prefilling each row's whole history every round (what [`crate::generate_until_any`] on the
//! concatenated prefixes does), a [`Continuation`] keeps the batch's cache and prefills only
//! what each row gained since its last round, the rows' new tokens (of different lengths)
//! left-padded into one chunk, at their own positions.
//!
//! The caller hands each round the rows' whole token sequences; the continuation finds how much
//! of each is already cached (the longest common prefix with the tokens fed so far) and feeds
//! the rest. So the caller may keep fewer sampled tokens than were sampled (a turn limit cuts
//! them), and tokens the cache holds beyond what the caller kept (a finished row's padding, a
//! cut turn's tail) are masked out, never attended again. Keys are cached after the rotary
//! embedding at each token's own position, so gaps in a row's slots change nothing.
//!
//! Sampling draws from libtorch's generator exactly as [`crate::generate_until_any`] does on
//! the same rows in the same order (one `[B, V]` draw per step), so a rollout that switches
//! between the two gives the same tokens where the logits agree; they agree up to float
//! rounding (the attended slots differ in layout, not in content). Rows only ever leave the
//! batch: a round over fewer rows compacts the cache to them. When the cache has no room for
//! a round, it is rebuilt by one prefill of the rows' sequences (what every round costs without
//! a continuation).
use tch::Tensor;

use crate::error::ModelError;
use crate::kv_cache::KvCache;
use crate::rollout::Rollout;
use crate::sampling::{decode_steps, left_pad, prefill_shared, validate_inputs, SamplingConfig};
use crate::transformer::{attention_mask_4d, Transformer};

/// A batch of token sequences sampled in rounds over one kept KV cache.
pub struct Continuation<'m> {
    model: &'m Transformer,
    /// Slots a (re)built cache keeps beyond the round that builds it, for later rounds.
    reserve: i64,
    cache: Option<KvCache>,
    /// Per cache row, in cache order.
    rows: Vec<CachedRow>,
    /// Caches built by a full prefill (the first round, and each rebuild for room).
    rebuilds: usize,
}

/// What one cache row holds: its caller's id, and the tokens whose keys and values are cached,
/// in sequence order, with the slot of each (token `j` of the row's sequence is at `slots[j]`).
#[derive(Clone)]
struct CachedRow {
    id: usize,
    tokens: Vec<i64>,
    slots: Vec<i64>,
}

impl<'m> Continuation<'m> {
    /// An empty continuation over `model`; each cache it builds has room for `reserve` slots
    /// beyond its first round (a multi-turn rollout: about its token budget).
    pub fn new(model: &'m Transformer, reserve: i64) -> Self {
        Continuation {
            model,
            reserve: reserve.max(0),
            cache: None,
            rows: Vec::new(),
            rebuilds: 0,
        }
    }

    /// How many times a cache was built by a full prefill (the first round included).
    pub fn rebuilds(&self) -> usize {
        self.rebuilds
    }

    /// One round: row `ids[k]` continues its token sequence `sequences[k]` (the whole
    /// sequence so far, prompt included), sampled as [`crate::generate_until_any`] samples it
    /// (the same config, stops and [`Rollout`] layout, `sequences` as the prompts). `ids` must
    /// be distinct; a row that is not in the cache, or a round that does not fit, rebuilds it.
    pub fn sample_until_any(
        &mut self,
        ids: &[usize],
        sequences: &[Vec<i64>],
        cfg: &SamplingConfig,
        stops: &[&[i64]],
    ) -> Result<Rollout, ModelError> {
        let p = validate_inputs(self.model, sequences, cfg)?;
        if ids.len() != sequences.len() {
            return Err(ModelError::InvalidInput(format!(
                "{} row ids for {} sequences",
                ids.len(),
                sequences.len()
            )));
        }
        let mut seen = ids.to_vec();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(ModelError::InvalidInput(
                "a row id appears twice in one round".into(),
            ));
        }
        tch::no_grad(|| {
            let (logits, positions) = match self.plan(ids, sequences, cfg.max_new_tokens) {
                Some(plan) => self.feed(plan, sequences, cfg),
                None => self.rebuild(ids, sequences, p, cfg),
            };
            let base = self.cache.as_ref().map_or(0, KvCache::len);
            let key_real = self.key_real(base, cfg.max_new_tokens);
            let cache = self.cache.as_mut().expect("fed or rebuilt above");
            let model = self.model;
            let b = logits.size()[0];
            // Every step is checked (no columns past the batch's end): the slots this round
            // writes are exactly the sampled tokens it keeps. The dynamic step, not the graph
            // engine: the cache outlives the call.
            let steps = decode_steps(logits, &positions, cfg, None, stops, 1, |input, pos, j| {
                let slots = base + j + 1;
                let mask = key_real.narrow(1, 0, slots).view([b, 1, 1, slots]);
                let hidden = model.forward_cached(input, pos, &mask, cache);
                model.logits(&hidden.squeeze_dim(1))
            });
            // The token sampled at step `j` was fed at slot `base + j`, unless it was the last.
            let fed = steps.tokens.len().saturating_sub(1);
            if fed > 0 {
                let sampled = Tensor::stack(&steps.tokens[..fed], 1).to_device(tch::Device::Cpu);
                let sampled = Vec::<i64>::try_from(sampled.contiguous().view([-1]))
                    .map_err(|e| ModelError::InvalidInput(e.to_string()))?;
                for (row, tokens) in self.rows.iter_mut().zip(sampled.chunks(fed)) {
                    row.tokens.extend_from_slice(tokens);
                    row.slots.extend((0..fed as i64).map(|j| base + j));
                }
            }
            let (tokens, mask) = left_pad(sequences, p, cfg.pad_token_id);
            let device = self.model.device();
            Ok(steps.into_rollout(tokens.to_device(device), mask.to_device(device)))
        })
    }

    /// How each row of a round continues the cache (`None`: rebuild it): the cache rows in
    /// round order, and how many of each sequence's tokens are cached. At least one token of
    /// each sequence is fed again, for its logits.
    fn plan(&self, ids: &[usize], sequences: &[Vec<i64>], max_new: i64) -> Option<Plan> {
        let cache = self.cache.as_ref()?;
        let mut order = Vec::with_capacity(ids.len());
        let mut kept = Vec::with_capacity(ids.len());
        for (&id, sequence) in ids.iter().zip(sequences) {
            let at = self.rows.iter().position(|r| r.id == id)?;
            let cached = &self.rows[at].tokens;
            let common = cached
                .iter()
                .zip(sequence)
                .take_while(|(a, b)| a == b)
                .count();
            order.push(at as i64);
            kept.push(common.min(sequence.len() - 1));
        }
        let chunk = sequences
            .iter()
            .zip(&kept)
            .map(|(s, &k)| s.len() - k)
            .max()
            .unwrap_or(1) as i64;
        (cache.len() + chunk + max_new <= cache.capacity()).then_some(Plan { order, kept, chunk })
    }

    /// Compacts the cache to the round's rows and prefills each row's uncached tokens in one
    /// left-padded chunk; returns the logits of each row's next token and its position `[B, 1]`.
    fn feed(
        &mut self,
        plan: Plan,
        sequences: &[Vec<i64>],
        cfg: &SamplingConfig,
    ) -> (Tensor, Tensor) {
        let device = self.model.device();
        let identity = plan.order.len() == self.rows.len()
            && plan.order.iter().enumerate().all(|(k, &at)| k as i64 == at);
        let mut cache = self.cache.take().expect("plan found a cache");
        if !identity {
            cache = cache.select_rows(&Tensor::from_slice(&plan.order).to_device(device));
        }
        let rows: Vec<CachedRow> = plan
            .order
            .iter()
            .map(|&at| self.rows[at as usize].clone())
            .collect();
        let (b, t, base) = (sequences.len(), plan.chunk as usize, cache.len());
        let mut tokens = vec![cfg.pad_token_id; b * t];
        let mut positions = vec![0i64; b * t];
        self.rows = rows;
        for (k, (row, sequence)) in self.rows.iter_mut().zip(sequences).enumerate() {
            let kept = plan.kept[k];
            row.tokens.truncate(kept);
            row.slots.truncate(kept);
            let new = &sequence[kept..];
            let start = t - new.len();
            for (j, &token) in new.iter().enumerate() {
                let col = k * t + start + j;
                tokens[col] = token;
                positions[col] = (kept + j) as i64;
                row.tokens.push(token);
                row.slots.push(base + (start + j) as i64);
            }
        }
        let shape = [b as i64, t as i64];
        let chunk = Tensor::from_slice(&tokens).view(shape).to_device(device);
        let positions = Tensor::from_slice(&positions).view(shape).to_device(device);
        // The chunk's padding is no row's token: only cached and new tokens are attended.
        let key_real = self.key_real(base + plan.chunk, 0);
        let mask = attention_mask_4d(&key_real, base, plan.chunk);
        let hidden = self
            .model
            .forward_cached(&chunk, &positions, &mask, &mut cache);
        self.cache = Some(cache);
        let next: Vec<i64> = sequences.iter().map(|s| s.len() as i64).collect();
        (
            // Left padding puts every row's last new token in the chunk's last column.
            self.model.logits(&hidden.select(1, plan.chunk - 1)),
            Tensor::from_slice(&next)
                .view([b as i64, 1])
                .to_device(device),
        )
    }

    /// A fresh cache holding the left-padded `sequences` (longest `p`), each distinct one
    /// prefilled once, with room for this round and [`Continuation::new`]'s reserve.
    fn rebuild(
        &mut self,
        ids: &[usize],
        sequences: &[Vec<i64>],
        p: i64,
        cfg: &SamplingConfig,
    ) -> (Tensor, Tensor) {
        let capacity = p + cfg.max_new_tokens + self.reserve;
        let (cache, logits) = prefill_shared(self.model, sequences, p, cfg, capacity);
        self.cache = Some(cache);
        self.rebuilds += 1;
        self.rows = ids
            .iter()
            .zip(sequences)
            .map(|(&id, s)| CachedRow {
                id,
                tokens: s.clone(),
                slots: (p - s.len() as i64..p).collect(),
            })
            .collect();
        let next: Vec<i64> = sequences.iter().map(|s| s.len() as i64).collect();
        let positions = Tensor::from_slice(&next)
            .view([sequences.len() as i64, 1])
            .to_device(self.model.device());
        (logits, positions)
    }

    /// `[B, filled + extra]` bool: the slots each row attends to, its cached tokens' among the
    /// first `filled`, and all of the `extra` after (the slots this call writes: a row's own
    /// padding there is never attended by a token it keeps).
    fn key_real(&self, filled: i64, extra: i64) -> Tensor {
        let width = (filled + extra) as usize;
        let mut real = vec![false; self.rows.len() * width];
        for (k, row) in self.rows.iter().enumerate() {
            for &slot in &row.slots {
                real[k * width + slot as usize] = true;
            }
            real[k * width + filled as usize..(k + 1) * width].fill(true);
        }
        Tensor::from_slice(&real)
            .view([self.rows.len() as i64, width as i64])
            .to_device(self.model.device())
    }
}

/// How a round continues the cache: see [`Continuation::plan`].
struct Plan {
    /// Cache row of each round row.
    order: Vec<i64>,
    /// Tokens of each round row's sequence that stay cached.
    kept: Vec<usize>,
    /// The chunk's width: the most uncached tokens of any row (at least 1).
    chunk: i64,
}
