//! The policy update every text loop shares: K epochs of shuffled minibatches over a packed
//! batch, each a forward, the planned loss and one guarded optimizer step, with the step's
//! loss metrics averaged over the updates that were applied. What differs between loops is
//! data (old log-probs, the plan, the random stream's tag), not code.
use std::collections::BTreeMap;

use polopt_methods::objective::{PlannedLoss, PolicyObjective, PolicyTerms};
use tch::Tensor;

use crate::config::{OnNan, RunConfig};
use crate::error::TrainError;
use crate::method_hooks::EntropyTally;
use crate::optim::{AdamW, StepOutcome};
use crate::packing::Packed;
use crate::policy::Policy;
use crate::seeds::{shuffle, stream};

/// Counts the non-finite losses and gradients of a run and applies `run.on_nan` to them.
pub struct NonFiniteGuard<'a> {
    pub events: &'a mut usize,
    pub on_nan: OnNan,
    /// What to try first when the run stops, for the loop at hand.
    pub hint: &'static str,
}

impl NonFiniteGuard<'_> {
    /// Counts one non-finite `what`; an error under `run.on_nan = "stop"`.
    pub fn report(&mut self, what: &str, step: usize) -> Result<(), TrainError> {
        *self.events += 1;
        match self.on_nan {
            OnNan::Skip => {
                tracing::warn!(
                    step,
                    what,
                    "non-finite value: update skipped (run.on_nan = \"skip\")"
                );
                Ok(())
            }
            OnNan::Stop => Err(TrainError::NonFinite {
                what: what.to_string(),
                step,
                hint: self.hint,
            }),
        }
    }
}

/// The loss metrics, grad norms and update counts of one step's optimizer steps.
#[derive(Default)]
pub struct UpdateStats {
    sums: BTreeMap<&'static str, f64>,
    updates: usize,
    skipped: usize,
    grad_norm_sum: f64,
}

impl UpdateStats {
    /// Books one guarded step and its loss's `metrics`; `Ok(true)` when the weights moved.
    pub fn record(
        &mut self,
        outcome: StepOutcome,
        metrics: &BTreeMap<&'static str, f64>,
        guard: &mut NonFiniteGuard,
        step: usize,
    ) -> Result<bool, TrainError> {
        match outcome {
            StepOutcome::Applied { loss, grad_norm } => {
                self.updates += 1;
                self.grad_norm_sum += grad_norm;
                for (&k, &v) in metrics {
                    *self.sums.entry(k).or_default() += v;
                }
                *self.sums.entry("loss").or_default() += loss;
                Ok(true)
            }
            StepOutcome::NonFinite { what } => {
                guard.report(what, step)?;
                self.skipped += 1;
                Ok(false)
            }
        }
    }

    /// Means over the applied updates, and how many were applied and skipped.
    pub fn into_row(self) -> BTreeMap<String, f64> {
        let applied = self.updates.max(1) as f64;
        let mut row: BTreeMap<String, f64> = self
            .sums
            .into_iter()
            .map(|(k, v)| (k.to_string(), v / applied))
            .collect();
        row.insert("grad_norm".into(), self.grad_norm_sum / applied);
        row.insert("updates".into(), self.updates as f64);
        row.insert("skipped_updates".into(), self.skipped as f64);
        row
    }
}

/// One step's policy update over `packed` (rows = sequences, `[B, R]` response tensors).
pub struct MinibatchUpdate<'a> {
    pub config: &'a RunConfig,
    pub policy: &'a Policy,
    pub objective: &'a PolicyObjective,
    pub packed: &'a Packed,
    /// Advantages and per-step parts; `loss.advantages` is `[B, R]`.
    pub loss: &'a PlannedLoss,
    /// Detached behaviour log-probs `[B, R]`; `None` when the step is one optimizer step on
    /// the whole batch, so the minibatch forward's own log-probs, detached, are exactly them.
    pub old_logp: Option<&'a Tensor>,
    pub ref_logp: Option<&'a Tensor>,
    /// Tag of the random stream that orders the minibatches; each loop keeps its own, so that
    /// its runs stay reproducible across versions.
    pub stream_tag: &'static str,
}

impl MinibatchUpdate<'_> {
    /// Runs `rl.epochs` epochs; `tally` (when given) sees every applied minibatch's forward.
    pub fn run(
        &self,
        opt: &mut AdamW,
        guard: &mut NonFiniteGuard,
        mut tally: Option<&mut EntropyTally>,
        step: usize,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let cfg = self.config;
        let rl = &cfg.rl;
        let device = self.policy.device();
        let rows = self.packed.tokens.size()[0];
        let max_len = cfg
            .method
            .objective
            .max_len_normalizer
            .unwrap_or(rl.max_new_tokens as f64);
        let mut stats = UpdateStats::default();
        for epoch in 0..rl.epochs {
            let mut order: Vec<i64> = (0..rows).collect();
            let index = (step as u64) << 8 | epoch as u64;
            shuffle(
                &mut order,
                &mut stream(cfg.run.seed, self.stream_tag, index),
            );
            for chunk in order.chunks(rl.minibatch_size) {
                let index = Tensor::from_slice(chunk).to_device(device);
                let mb = self.packed.select(&index);
                let (logp, entropy) = self.policy.logprobs(&mb, rl.temperature, true);
                let old = match self.old_logp {
                    Some(old) => old.index_select(0, &index),
                    None => logp.detach(),
                };
                let reference = self.ref_logp.map(|r| r.index_select(0, &index));
                let adv = self.loss.advantages.index_select(0, &index);
                let terms = PolicyTerms {
                    logp: &logp,
                    old_logp: &old,
                    ref_logp: reference.as_ref(),
                    advantages: &adv,
                    mask: &mb.response_mask,
                    entropy: entropy.as_ref(),
                };
                let out = self.loss.loss(self.objective, &terms, &index, max_len);
                let outcome = opt.guarded_step(&out.loss, rl.grad_clip);
                let applied = stats.record(outcome, &out.metrics, guard, step)?;
                if let (true, Some(tally)) = (applied, tally.as_deref_mut()) {
                    tally.add(&logp, entropy.as_ref(), &mb.response_mask, epoch == 0);
                }
            }
        }
        Ok(stats.into_row())
    }
}
