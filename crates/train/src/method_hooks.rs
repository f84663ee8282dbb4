//! What the group-RL loop computes for method parts beyond the plain loss, kept out of
//! `group_rl.rs`: the old-policy pass (log-probs, optionally entropy and log-probs at a second
//! temperature from the same forward), and the step's entropy statistics that cross-step
//! controllers read after the update ([`polopt_methods::plan::StepFeedback`]).
use polopt_methods::objective::flat_values;
use polopt_methods::plan::StepFeedback;
use polopt_models::{response_logits, token_logprobs};
use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use crate::packing::Packed;
use crate::policy::Policy;
use crate::turn_entropy::TurnEntropy;

/// The old policy on the packed batch, all `[B, R]` and detached.
pub struct OldPass {
    pub logp: Tensor,
    pub entropy: Option<Tensor>,
    /// Log-probs at the extra temperature a method asked for, with that temperature.
    pub tempered: Option<(f64, Tensor)>,
}

/// One no-grad forward of the old policy; the tempered log-probs reuse its logits.
pub fn old_policy_pass(
    policy: &Policy,
    packed: &Packed,
    temperature: f64,
    with_entropy: bool,
    extra_temperature: Option<f64>,
) -> OldPass {
    tch::no_grad(|| {
        let Some(extra) = extra_temperature else {
            let (logp, entropy) = policy.logprobs(packed, temperature, with_entropy);
            return OldPass {
                logp,
                entropy,
                tempered: None,
            };
        };
        let logits = response_logits(
            &policy.model,
            &packed.tokens,
            &packed.attention_mask,
            packed.prompt_len,
        );
        let width = packed.tokens.size()[1] - packed.prompt_len;
        let targets = packed.tokens.narrow(1, packed.prompt_len, width);
        let (logp, entropy) = token_logprobs(&logits, &targets, temperature, with_entropy);
        let (tempered, _) = token_logprobs(&logits, &targets, extra, false);
        OldPass {
            logp,
            entropy,
            tempered: Some((extra, tempered)),
        }
    })
}

/// Token-weighted sums over the minibatch forwards of one step, kept on the device so that
/// the loop syncs once per step, not once per minibatch; and, when a method asks, every valid
/// token's entropy from the first epoch (each token once).
#[derive(Default)]
pub struct EntropyTally {
    nll: Option<Tensor>,
    entropy: Option<Tensor>,
    tokens: Option<Tensor>,
    keep_values: bool,
    values: Vec<Tensor>,
    /// Multi-turn steps: the first epoch's entropy by turn index.
    turns: Option<TurnEntropy>,
}

impl EntropyTally {
    pub fn new(keep_values: bool) -> Self {
        Self {
            keep_values,
            ..Self::default()
        }
    }

    /// Also tallies the entropy by turn index (a multi-turn step), see [`TurnEntropy`].
    pub fn with_turns(mut self, turns: TurnEntropy) -> Self {
        self.turns = Some(turns);
        self
    }

    /// `agent/entropy_turn{k}` of the first epoch; empty without turns or entropies.
    pub fn turn_metrics(&self) -> BTreeMap<String, f64> {
        self.turns
            .as_ref()
            .map(TurnEntropy::metrics)
            .unwrap_or_default()
    }

    /// Adds one minibatch, the step's rows `rows` (`[b]`): `logp`, `entropy` and `mask` are
    /// `[b, R]`.
    pub fn add(
        &mut self,
        rows: &Tensor,
        logp: &Tensor,
        entropy: Option<&Tensor>,
        mask: &Tensor,
        first_epoch: bool,
    ) {
        if let (true, true, Some(e)) = (self.keep_values, first_epoch, entropy) {
            self.values.push(e.detach().masked_select(&mask.gt(0.0)));
        }
        if let (Some(turns), true, Some(e)) = (self.turns.as_mut(), first_epoch, entropy) {
            turns.add(rows, e, mask);
        }
        let sum = |t: &Tensor| (t.detach() * mask).sum(Kind::Double);
        let acc = |slot: &mut Option<Tensor>, v: Tensor| {
            *slot = Some(match slot.take() {
                Some(s) => s + v,
                None => v,
            });
        };
        acc(&mut self.nll, -sum(logp));
        if let Some(e) = entropy {
            acc(&mut self.entropy, sum(e));
        }
        acc(&mut self.tokens, mask.sum(Kind::Double));
    }

    /// Replaces the sums with `sum`'s (data-parallel ranks: their sums over all ranks, each
    /// rank having tallied its own rows), the per-turn ones included. Token values are not
    /// gathered.
    pub fn reduce<E>(&mut self, sum: impl FnOnce(&mut [f64]) -> Result<(), E>) -> Result<(), E> {
        let value = |t: &Option<Tensor>| t.as_ref().map_or(0.0, |t| t.double_value(&[]));
        let has_entropy = f64::from(u8::from(self.entropy.is_some()));
        let mut sums = vec![
            value(&self.nll),
            value(&self.entropy),
            value(&self.tokens),
            has_entropy,
        ];
        if let Some(turns) = &self.turns {
            sums.extend(turns.totals());
        }
        sum(&mut sums)?;
        let scalar = |v: f64| Some(Tensor::from(v));
        self.nll = scalar(sums[0]);
        self.entropy = if sums[3] > 0.0 { scalar(sums[1]) } else { None };
        self.tokens = scalar(sums[2]);
        if let Some(turns) = self.turns.as_mut() {
            turns.set_totals(&sums[4..]);
        }
        Ok(())
    }

    /// Means over every counted token; `None` when no update ran this step.
    pub fn finish(&self) -> Option<StepFeedback> {
        let tokens = self.tokens.as_ref()?.double_value(&[]);
        if tokens <= 0.0 {
            return None;
        }
        let mean = |t: &Option<Tensor>| {
            t.as_ref()
                .map_or(f64::NAN, |t| t.double_value(&[]) / tokens)
        };
        let token_entropies = if self.values.is_empty() {
            Vec::new()
        } else {
            flat_values(&Tensor::cat(&self.values, 0))
        };
        Some(StepFeedback {
            token_nll_mean: mean(&self.nll),
            entropy_mean: mean(&self.entropy),
            token_entropies,
        })
    }
}
