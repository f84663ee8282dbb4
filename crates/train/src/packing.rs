//! Packs variable-length (prompt, response) pairs into the models layer's batch layout:
//! prompts LEFT-padded to a common length `P`, responses right-padded in columns `[P, P+R)`.
use tch::{Device, Kind, Tensor};

/// One scored sequence, kept as plain ids so that generation rounds (DAPO refills) can be
/// concatenated before any tensor is built.
#[derive(Debug, Clone)]
pub struct Sequence {
    pub group: usize,
    /// `<bos>` + prompt ids.
    pub prompt: Vec<i64>,
    /// Generated ids, including the `<eos>` when one was produced.
    pub response: Vec<i64>,
    pub reward: f64,
    pub correct: bool,
    pub truncated: bool,
    /// Replayed from a buffer of earlier steps (R³'s CCR), not sampled this step.
    pub replayed: bool,
    /// Per response token: written by the environment (tool output), kept out of the loss.
    /// Empty when the response holds none.
    pub env: Vec<bool>,
    /// Token position of the first tool call in the response, for shaping parts (ASPO).
    pub first_tool_call: Option<usize>,
    /// The turns of a multi-turn episode (agent tasks), for turn-level credit.
    pub episode: Option<polopt_methods::credit::turns::Episode>,
    /// Per response token: the engine's behaviour log-prob (`[rollout]` with a vLLM or SGLang
    /// source); `None` when the trainer's own sampler made it (the old log-probs are then
    /// recomputed by the trainer).
    pub behaviour_logp: Option<Vec<f32>>,
    /// Per turn of [`Self::episode`], the workspace prompt its action was sampled from
    /// (`rl.agent_context = "workspace"`; [`crate::round_rows`]); empty otherwise.
    pub round_prompts: Vec<Vec<i64>>,
}

pub struct Packed {
    pub tokens: Tensor,
    pub attention_mask: Tensor,
    pub prompt_len: i64,
    /// `[B, R]` f32, 1 on response tokens.
    pub response_mask: Tensor,
    pub width: usize,
}

pub fn pack(prompts: &[&[i64]], responses: &[&[i64]], pad: i64, device: Device) -> Packed {
    let b = prompts.len();
    let p = prompts.iter().map(|x| x.len()).max().unwrap_or(0);
    let r = responses.iter().map(|x| x.len()).max().unwrap_or(0).max(1);
    let mut tokens = vec![pad; b * (p + r)];
    let mut attention = vec![0i64; b * (p + r)];
    let mut response_mask = vec![0f32; b * r];
    for i in 0..b {
        let row = i * (p + r);
        let offset = p - prompts[i].len();
        for (j, &t) in prompts[i].iter().enumerate() {
            tokens[row + offset + j] = t;
            attention[row + offset + j] = 1;
        }
        for (j, &t) in responses[i].iter().enumerate() {
            tokens[row + p + j] = t;
            attention[row + p + j] = 1;
            response_mask[i * r + j] = 1.0;
        }
    }
    let shape = [b as i64, (p + r) as i64];
    Packed {
        tokens: Tensor::from_slice(&tokens).view(shape).to_device(device),
        attention_mask: Tensor::from_slice(&attention).view(shape).to_device(device),
        prompt_len: p as i64,
        response_mask: Tensor::from_slice(&response_mask)
            .view([b as i64, r as i64])
            .to_device(device),
        width: r,
    }
}

/// Zeroes the loss mask on tokens the environment wrote (`env[i][t]`): the policy did not
/// sample them, so they get no gradient and no weight in token means.
pub fn mask_env_tokens(packed: &mut Packed, env: &[&[bool]]) {
    if env.iter().all(|e| !e.contains(&true)) {
        return;
    }
    let width = packed.width;
    let mut keep = vec![1f32; env.len() * width];
    for (i, row) in env.iter().enumerate() {
        for (t, &e) in row.iter().enumerate().take(width) {
            if e {
                keep[i * width + t] = 0.0;
            }
        }
    }
    let keep = Tensor::from_slice(&keep)
        .view([env.len() as i64, width as i64])
        .to_device(packed.response_mask.device());
    packed.response_mask = &packed.response_mask * keep;
}

/// `(loss weight on env tokens, env tokens)` after masking: the first is 0 unless env tokens
/// leak into the loss. Logged by the loop as an invariant check of tool tasks.
pub fn env_tokens_in_loss(packed: &Packed, env: &[&[bool]]) -> (f64, usize) {
    let total: usize = env.iter().map(|e| e.iter().filter(|&&x| x).count()).sum();
    if total == 0 {
        return (0.0, 0);
    }
    let mask: Vec<f32> =
        Vec::try_from(packed.response_mask.to_device(Device::Cpu).view([-1])).unwrap_or_default();
    let width = packed.width;
    let leaked = env
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            row.iter()
                .enumerate()
                .filter(|&(t, &e)| e && t < width)
                .map(move |(t, _)| i * width + t)
        })
        .map(|k| f64::from(mask.get(k).copied().unwrap_or(0.0)))
        .sum();
    (leaked, total)
}

impl Packed {
    /// Rows `index` of every tensor (a minibatch), keeping the layout.
    pub fn select(&self, index: &Tensor) -> Packed {
        Packed {
            tokens: self.tokens.index_select(0, index),
            attention_mask: self.attention_mask.index_select(0, index),
            prompt_len: self.prompt_len,
            response_mask: self.response_mask.index_select(0, index),
            width: self.width,
        }
    }
    pub fn response_token_count(&self) -> f64 {
        self.response_mask.sum(Kind::Float).double_value(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_left_padded_and_responses_right_padded() {
        let packed = pack(&[&[1, 5, 6], &[1, 7]], &[&[8], &[9, 2]], 0, Device::Cpu);
        let tokens: Vec<i64> = Vec::try_from(packed.tokens.view([-1])).unwrap();
        assert_eq!(tokens, vec![1, 5, 6, 8, 0, 0, 1, 7, 9, 2]);
        let mask: Vec<i64> = Vec::try_from(packed.attention_mask.view([-1])).unwrap();
        assert_eq!(mask, vec![1, 1, 1, 1, 0, 0, 1, 1, 1, 1]);
        let resp: Vec<f32> = Vec::try_from(packed.response_mask.view([-1])).unwrap();
        assert_eq!(resp, vec![1.0, 0.0, 1.0, 1.0]);
        assert_eq!(packed.prompt_len, 3);
    }

    #[test]
    fn env_tokens_leave_the_loss_mask() {
        let mut packed = pack(&[&[1], &[1]], &[&[5, 6, 7], &[8]], 0, Device::Cpu);
        mask_env_tokens(&mut packed, &[&[false, true, false], &[]]);
        let resp: Vec<f32> = Vec::try_from(packed.response_mask.view([-1])).unwrap();
        assert_eq!(resp, vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let env: [&[bool]; 2] = [&[false, true, false], &[]];
        assert_eq!(env_tokens_in_loss(&packed, &env), (0.0, 1));
        let unmasked = pack(&[&[1], &[1]], &[&[5, 6, 7], &[8]], 0, Device::Cpu);
        assert_eq!(env_tokens_in_loss(&unmasked, &env), (1.0, 1));
    }
}
