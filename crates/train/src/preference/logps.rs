//! Summed response log-probs of (prompt, response) rows under a policy: the per-sequence
//! numbers every preference loss takes (`polopt_methods::preference`, "one tensor contract").
use tch::{Kind, Tensor};

use crate::packing::{pack, Packed};
use crate::policy::Policy;

/// Rows to score: prompt ids (with `<bos>`) and response ids (with `<eos>`).
pub struct Rows<'a> {
    pub prompts: Vec<&'a [i64]>,
    pub responses: Vec<&'a [i64]>,
}

impl<'a> Rows<'a> {
    pub fn new() -> Self {
        Rows {
            prompts: Vec::new(),
            responses: Vec::new(),
        }
    }

    pub fn push(&mut self, prompt: &'a [i64], response: &'a [i64]) {
        self.prompts.push(prompt);
        self.responses.push(response);
    }

    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }

    pub fn pack(&self, policy: &Policy, pad: i64) -> Packed {
        pack(&self.prompts, &self.responses, pad, policy.device())
    }

    /// `[B]` f32 response token counts.
    pub fn lengths(&self, policy: &Policy) -> Tensor {
        let lens: Vec<f32> = self.responses.iter().map(|r| r.len() as f32).collect();
        Tensor::from_slice(&lens).to_device(policy.device())
    }
}

impl Default for Rows<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// `[B]` summed log-probs at temperature 1, with gradients.
pub fn sequence_logps(policy: &Policy, packed: &Packed) -> Tensor {
    let (logp, _) = policy.logprobs(packed, 1.0, false);
    (logp.to_kind(Kind::Float) * &packed.response_mask).sum_dim_intlist(1, false, Kind::Float)
}

/// `[B]` summed log-probs of a frozen policy (a reference), without gradients.
pub fn frozen_sequence_logps(policy: &Policy, packed: &Packed) -> Tensor {
    tch::no_grad(|| sequence_logps(policy, packed))
}

/// `[B]` summed log-probs of the base model with the adapters off (a LoRA run's reference).
pub fn base_sequence_logps(policy: &Policy, packed: &Packed) -> Tensor {
    let logp = policy.base_logprobs(packed, 1.0);
    (logp.to_kind(Kind::Float) * &packed.response_mask).sum_dim_intlist(1, false, Kind::Float)
}

/// Where a step's reference log-probs come from.
#[derive(Clone, Copy)]
pub enum ReferenceSource<'a> {
    /// A frozen policy (the warm start, an iterate or a pool member).
    Frozen(&'a Policy),
    /// The policy itself with its LoRA adapters off.
    Base(&'a Policy),
}

impl<'a> ReferenceSource<'a> {
    /// The frozen `reference` when there is one, else a LoRA policy's base model; `None` for a
    /// full policy without a reference.
    pub fn of(reference: Option<&'a Policy>, policy: &'a Policy) -> Option<Self> {
        match (reference, policy.lora.is_some()) {
            (Some(r), _) => Some(ReferenceSource::Frozen(r)),
            (None, true) => Some(ReferenceSource::Base(policy)),
            (None, false) => None,
        }
    }

    pub fn logps(&self, packed: &Packed) -> Tensor {
        match self {
            ReferenceSource::Frozen(p) => frozen_sequence_logps(p, packed),
            ReferenceSource::Base(p) => base_sequence_logps(p, packed),
        }
    }
}
