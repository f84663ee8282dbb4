//! `Rollout`: a batch of sampled responses in the layout the training loop consumes.
use tch::{Kind, Tensor};

/// The output of [`crate::generate`]. Layout contract (the training loop depends on it):
/// prompts are LEFT-padded to a common length `P = prompt_len`; response token `j` of row `b`
/// is at column `P + j` of `tokens`; there are `R` response columns, `R <= max_new_tokens`.
#[derive(Debug)]
pub struct Rollout {
    /// `[B, P + R]` i64: left-padded prompts, then responses (`pad` after a row's `<eos>` when
    /// sampling stopped at eos).
    pub tokens: Tensor,
    /// `[B, P + R]` i64: 1 on real prompt tokens and on response tokens up to and including
    /// the first `<eos>`, 0 on padding.
    pub attention_mask: Tensor,
    /// `P`: the column where responses start.
    pub prompt_len: i64,
    /// `[B, R]` f32: 1 for generated tokens up to and including the first `<eos>`, 0 after.
    pub response_mask: Tensor,
    /// `[B, R]` f32: behaviour log-probs of the sampled tokens under the full-vocabulary
    /// distribution at the sampling temperature (before top-p filtering; the verl/vLLM
    /// convention, and exactly what [`crate::response_logprobs`] recomputes). Greedy decoding
    /// reports the model's distribution at temperature 1. 0 where `response_mask` is 0.
    pub logp: Tensor,
    /// Per row: the number of response tokens under `response_mask` (the `<eos>` included).
    pub response_lens: Vec<i64>,
    /// Per row: hit `max_new_tokens` without producing `<eos>`.
    pub truncated: Vec<bool>,
    /// `[B, R]` f32: the temperature each token was sampled at, when it varied per token
    /// ([`crate::sampling::generate_adaptive`]); 0 where `response_mask` is 0. `None`: every
    /// token at the configured temperature.
    pub temperatures: Option<Tensor>,
}

impl Rollout {
    pub fn batch_size(&self) -> usize {
        self.response_lens.len()
    }

    /// `R`, the number of response columns.
    pub fn response_width(&self) -> i64 {
        self.response_mask.size()[1]
    }

    /// Response token ids per row, up to but excluding the `<eos>`, for decoding.
    pub fn response_ids(&self) -> Vec<Vec<i64>> {
        let mut rows = self.response_ids_with_eos();
        for (row, &truncated) in rows.iter_mut().zip(&self.truncated) {
            if !truncated {
                row.pop();
            }
        }
        rows
    }

    /// Response token ids per row including the terminating `<eos>` (absent when truncated):
    /// exactly the tokens under `response_mask`.
    pub fn response_ids_with_eos(&self) -> Vec<Vec<i64>> {
        let r = self.response_width();
        if r == 0 {
            return vec![Vec::new(); self.batch_size()];
        }
        let responses = self
            .tokens
            .narrow(1, self.prompt_len, r)
            .to_device(tch::Device::Cpu)
            .to_kind(Kind::Int64);
        let flat = Vec::<i64>::try_from(responses.contiguous().view([-1]))
            .expect("an i64 CPU tensor converts to Vec<i64>");
        flat.chunks(r as usize)
            .zip(&self.response_lens)
            .map(|(row, &len)| row[..len as usize].to_vec())
            .collect()
    }
}
