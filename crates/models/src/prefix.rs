//! Prompts shared by several rows are computed once.
//!
//! A GRPO batch holds `G` completions of every prompt, so `G` rows begin with the same (equally
//! left-padded) prompt. Attention is causal, so the hidden states, keys and values of those
//! prompt columns are the same in every such row: the sampler prefills each distinct prompt
//! once and fans its cache out, and the training forward runs each distinct prompt once and
//! lets the responses attend over its keys and values (`index_select`, whose backward sums the
//! rows' gradients, so gradients are those of the unshared forward). With `G = 8` and prompts
//! about as long as responses this removes nearly half of the forward and backward work.
use std::collections::HashMap;

use tch::{Kind, Tensor};

use crate::transformer::{attention_mask_4d, positions_from_mask, Transformer};

/// Which rows share a prompt: `unique[u]` is the first row with the `u`-th distinct prompt and
/// `inverse[b]` the distinct prompt of row `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedPrompts {
    pub unique: Vec<i64>,
    pub inverse: Vec<i64>,
}

impl SharedPrompts {
    /// Groups rows by exact equality of their (padded) prompt ids.
    pub fn of_rows<'a>(rows: impl IntoIterator<Item = &'a [i64]>) -> Self {
        let mut first: HashMap<&'a [i64], i64> = HashMap::new();
        let (mut unique, mut inverse) = (Vec::new(), Vec::new());
        for (b, row) in rows.into_iter().enumerate() {
            let u = *first.entry(row).or_insert_with(|| {
                unique.push(b as i64);
                unique.len() as i64 - 1
            });
            inverse.push(u);
        }
        SharedPrompts { unique, inverse }
    }

    /// Groups the rows of `prompt_tokens: [B, P]` (any device; copied to the host).
    pub fn of_tensor(prompt_tokens: &Tensor) -> Self {
        let p = prompt_tokens.size()[1].max(1) as usize;
        let host = Vec::<i64>::try_from(
            prompt_tokens
                .to_device(tch::Device::Cpu)
                .contiguous()
                .view([-1]),
        )
        .expect("prompt token ids are i64");
        Self::of_rows(host.chunks(p))
    }

    /// Whether any two rows share a prompt (otherwise sharing only adds dispatches).
    pub fn saves_work(&self) -> bool {
        self.unique.len() < self.inverse.len()
    }
}

/// [`crate::response_logits`] computed with each distinct prompt once: the same logits
/// `[B, R, V]` (to float rounding) for `tokens: [B, P + R]` with `shared` from its prompt
/// columns, and the same gradients.
pub fn shared_prompt_response_logits(
    model: &Transformer,
    tokens: &Tensor,
    attention_mask: &Tensor,
    prompt_len: i64,
    shared: &SharedPrompts,
) -> Tensor {
    let device = tokens.device();
    let total = tokens.size()[1];
    let r = total - prompt_len;
    let unique = Tensor::from_slice(&shared.unique).to_device(device);
    let inverse = Tensor::from_slice(&shared.inverse).to_device(device);

    let prompt_tokens = tokens.narrow(1, 0, prompt_len).index_select(0, &unique);
    let prompt_mask = attention_mask
        .narrow(1, 0, prompt_len)
        .index_select(0, &unique);
    let (prompt_hidden, prompt_kv) = model.hidden_states_recording(&prompt_tokens, &prompt_mask);
    let prefix: Vec<(Tensor, Tensor)> = prompt_kv
        .iter()
        .map(|(k, v)| (k.index_select(0, &inverse), v.index_select(0, &inverse)))
        .collect();

    let positions = positions_from_mask(attention_mask).narrow(1, prompt_len, r);
    let mask = attention_mask_4d(&attention_mask.to_kind(Kind::Bool), prompt_len, r);
    let response_hidden =
        model.hidden_states_after(&tokens.narrow(1, prompt_len, r), &positions, &mask, &prefix);
    // The last prompt column predicts the first response token; response columns but the last
    // predict the rest.
    let last_prompt = prompt_hidden
        .select(1, prompt_len - 1)
        .index_select(0, &inverse)
        .unsqueeze(1);
    let hidden = Tensor::cat(&[&last_prompt, &response_hidden.narrow(1, 0, r - 1)], 1);
    model.logits(&hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_grouped_by_exact_prompt() {
        let rows: Vec<Vec<i64>> = vec![vec![0, 1, 5], vec![1, 5, 6], vec![0, 1, 5], vec![1, 5, 7]];
        let shared = SharedPrompts::of_rows(rows.iter().map(Vec::as_slice));
        assert_eq!(shared.unique, vec![0, 1, 3]);
        assert_eq!(shared.inverse, vec![0, 1, 0, 2]);
        assert!(shared.saves_work());
        let distinct = SharedPrompts::of_rows(rows[1..].iter().map(Vec::as_slice));
        assert!(!distinct.saves_work());
    }
}
