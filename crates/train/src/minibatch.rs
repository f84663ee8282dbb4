//! The policy update every text loop shares: K epochs of shuffled minibatches over a packed
//! batch, each a forward, the planned loss and one guarded optimizer step, with the step's
//! loss metrics averaged over the updates that were applied. What differs between loops is
//! data (old log-probs, the plan, the random stream's tag), not code.
use std::collections::BTreeMap;

use polopt_methods::objective::{LossScale, PlannedLoss, PolicyObjective, PolicyTerms};
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
        let rows = self.packed.tokens.size()[0];
        let max_len = cfg
            .method
            .objective
            .max_len_normalizer
            .unwrap_or(rl.max_new_tokens as f64);
        let mut stats = UpdateStats::default();
        // LoRA dropout applies to the loss forwards only; sampling and the old/reference
        // log-probs run in eval mode. Back to eval mode however this returns.
        let _training = self.policy.lora.as_ref().map(LoraTraining::on);
        for epoch in 0..rl.epochs {
            let mut order: Vec<i64> = (0..rows).collect();
            let index = (step as u64) << 8 | epoch as u64;
            shuffle(
                &mut order,
                &mut stream(cfg.run.seed, self.stream_tag, index),
            );
            for chunk in order.chunks(rl.minibatch_size) {
                let micro = match rl.micro_batch_size {
                    0 => chunk.len(),
                    n => n.min(chunk.len()),
                };
                let (outcome, metrics) = if micro == chunk.len() {
                    let mb = self.forward(chunk, max_len, None)?;
                    let outcome = opt.guarded_step(&mb.loss, rl.grad_clip);
                    (outcome, vec![mb])
                } else {
                    self.accumulate(opt, chunk, micro, max_len)?
                };
                let applied = match metrics.as_slice() {
                    [one] => stats.record(outcome, &one.metrics, guard, step)?,
                    many => stats.record(outcome, &weighted_metrics(many), guard, step)?,
                };
                if let (true, Some(tally)) = (applied, tally.as_deref_mut()) {
                    for mb in &metrics {
                        tally.add(
                            &mb.rows,
                            &mb.logp,
                            mb.entropy.as_ref(),
                            &mb.mask,
                            epoch == 0,
                        );
                    }
                }
            }
        }
        Ok(stats.into_row())
    }

    /// Forward and planned loss of minibatch rows `rows`; `scale` is the whole minibatch's
    /// when `rows` is one micro-batch of it.
    fn forward(
        &self,
        rows: &[i64],
        max_len: f64,
        scale: Option<&LossScale>,
    ) -> Result<MicroOutput, TrainError> {
        let rl = &self.config.rl;
        let index = Tensor::from_slice(rows).to_device(self.policy.device());
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
        let out = match scale {
            None => self.loss.loss(self.objective, &terms, &index, max_len),
            Some(scale) => self.loss.loss_scaled(self.objective, &terms, &index, scale),
        };
        let tokens = mb.response_mask.sum(tch::Kind::Float).double_value(&[]);
        Ok(MicroOutput {
            loss: out.loss,
            metrics: out.metrics,
            logp,
            entropy,
            mask: mb.response_mask,
            tokens,
            rows: index,
        })
    }

    /// One optimizer step over `chunk` in micro-batches of `micro` rows: each backward adds
    /// its share of the minibatch gradient (normalizers of the whole minibatch), so the step
    /// equals the unsplit one up to float summation order.
    fn accumulate(
        &self,
        opt: &mut AdamW,
        chunk: &[i64],
        micro: usize,
        max_len: f64,
    ) -> Result<(StepOutcome, Vec<MicroOutput>), TrainError> {
        if self.objective.has_token_trust_region() {
            return Err(TrainError::Config(
                "rl.micro_batch_size splits a minibatch, but the method's per-token trust \
                 region (objective.trust_region) uses statistics of the whole minibatch; \
                 set rl.micro_batch_size = 0"
                    .into(),
            ));
        }
        let index = Tensor::from_slice(chunk).to_device(self.policy.device());
        let mask = self.packed.select(&index).response_mask;
        let scale = self.loss.scale(&mask, &index, max_len);
        opt.zero_grad();
        let mut total = 0.0;
        let mut outputs = Vec::new();
        for rows in chunk.chunks(micro) {
            let out = self.forward(rows, max_len, Some(&scale))?;
            let value = out.loss.double_value(&[]);
            total += value;
            if !value.is_finite() {
                break;
            }
            out.loss.backward();
            outputs.push(out);
        }
        Ok((
            opt.guarded_accumulated_step(total, self.config.rl.grad_clip),
            outputs,
        ))
    }
}

/// Puts LoRA adapters in training mode (dropout) until dropped.
struct LoraTraining<'a>(&'a polopt_models::Lora);

impl<'a> LoraTraining<'a> {
    fn on(lora: &'a polopt_models::Lora) -> Self {
        lora.set_training(true);
        Self(lora)
    }
}

impl Drop for LoraTraining<'_> {
    fn drop(&mut self) {
        self.0.set_training(false);
    }
}

/// One micro-batch's loss and what the step's statistics need of its forward.
struct MicroOutput {
    loss: Tensor,
    metrics: BTreeMap<&'static str, f64>,
    logp: Tensor,
    entropy: Option<Tensor>,
    mask: Tensor,
    tokens: f64,
    /// `[b]` i64: the step's rows this forward covered.
    rows: Tensor,
}

/// The minibatch's metrics from its micro-batches': token-weighted means (the loss terms are
/// already shares of the minibatch loss, so those add up).
fn weighted_metrics(parts: &[MicroOutput]) -> BTreeMap<&'static str, f64> {
    let tokens: f64 = parts.iter().map(|p| p.tokens).sum::<f64>().max(1.0);
    let mut out: BTreeMap<&'static str, f64> = BTreeMap::new();
    for part in parts {
        for (&k, &v) in &part.metrics {
            let share = match k {
                "policy_loss" | "kl" | "copo/global_policy_loss" => v,
                _ => v * part.tokens / tokens,
            };
            *out.entry(k).or_default() += share;
        }
    }
    out
}
