//! The Bradley–Terry reward model of preset `rm`: the policy's transformer as the trunk and
//! a scalar head on the hidden state of the response's last token (its `<eos>`), as TRL's
//! `AutoModelForSequenceClassification` with one label. The trunk trains with the run's
//! optimizer; the head has its own AdamW, saved next to it in every checkpoint.
use std::path::Path;

use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::critic::{load_with_moments, save_with_moments, ModuleNames};
use crate::error::TrainError;
use crate::optim::AdamW;
use crate::packing::Packed;
use crate::policy::Policy;

const FILES: (&str, &str) = (
    "reward_head.safetensors",
    "reward_head_optimizer.safetensors",
);

pub struct RewardHead {
    vs: VarStore,
    weight: Tensor,
    bias: Tensor,
    pub opt: AdamW,
}

impl RewardHead {
    /// A zero head: every response starts at reward 0, so step 0's accuracy is chance (ties).
    pub fn new(hidden_size: i64, device: Device, lr: f64) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root() / "reward_head";
        let weight = root.zeros("weight", &[1, hidden_size]);
        let bias = root.zeros("bias", &[1]);
        let opt = AdamW::new(&vs, lr, 0.0);
        Self {
            vs,
            weight,
            bias,
            opt,
        }
    }

    /// `[B]` rewards of the packed rows; `lens` are the response lengths (the last token of
    /// row `i` sits at column `prompt_len + lens[i] - 1`).
    pub fn rewards(&self, policy: &Policy, packed: &Packed, lens: &[usize]) -> Tensor {
        self.score(&last_hidden(policy, packed, lens))
    }

    /// `[B]` rewards of `[B, H]` last-token hidden states ([`last_hidden`]).
    pub fn score(&self, features: &Tensor) -> Tensor {
        features
            .linear(&self.weight, Some(&self.bias))
            .squeeze_dim(-1)
    }

    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        save_with_moments(dir, FILES, &self.vs, &self.opt)
    }

    pub fn load(&mut self, dir: &Path, optimizer_step: i64) -> Result<(), TrainError> {
        let names = ModuleNames {
            files: FILES,
            what: "reward-head weight",
            expected: "the model's",
            hint: "",
        };
        load_with_moments(dir, &names, &self.vs, &mut self.opt, optimizer_step)
    }
}

/// `[B, H]` hidden states of each packed row's last response token (its `<eos>`), with
/// gradients into `policy` when it has any.
pub fn last_hidden(policy: &Policy, packed: &Packed, lens: &[usize]) -> Tensor {
    let hidden = policy
        .model
        .hidden_states(&packed.tokens, &packed.attention_mask)
        .to_kind(Kind::Float);
    let last: Vec<i64> = lens
        .iter()
        .map(|&l| packed.prompt_len + l.max(1) as i64 - 1)
        .collect();
    let index = Tensor::from_slice(&last).to_device(hidden.device());
    let rows = Tensor::arange(lens.len() as i64, (Kind::Int64, hidden.device()));
    hidden.index(&[Some(rows), Some(index)])
}
