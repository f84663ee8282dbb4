//! The policy update every text loop shares: K epochs of shuffled minibatches over a packed
//! batch, each a forward, the planned loss and one guarded optimizer step, with the step's
//! loss metrics averaged over the updates that were applied. What differs between loops is
//! data (old log-probs, the plan, the random stream's tag), not code.
use std::collections::BTreeMap;

use polopt_methods::objective::{LossScale, PlannedLoss, PolicyObjective, PolicyTerms};
use tch::Tensor;

use crate::config::{OnNan, RunConfig};
use crate::error::TrainError;
use crate::group_rl::data_parallel::GroupWorld;
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
    sums: BTreeMap<String, f64>,
    updates: usize,
    skipped: usize,
    grad_norm_sum: f64,
    grad_norm_sq_sum: f64,
}

impl UpdateStats {
    /// Books one guarded step and its loss's `metrics`; `Ok(true)` when the weights moved.
    pub fn record<K: AsRef<str>>(
        &mut self,
        outcome: StepOutcome,
        metrics: &BTreeMap<K, f64>,
        guard: &mut NonFiniteGuard,
        step: usize,
    ) -> Result<bool, TrainError> {
        match outcome {
            StepOutcome::Applied { loss, grad_norm } => {
                self.updates += 1;
                self.grad_norm_sum += grad_norm;
                self.grad_norm_sq_sum += grad_norm * grad_norm;
                for (k, &v) in metrics {
                    *self.sums.entry(k.as_ref().to_string()).or_default() += v;
                }
                *self.sums.entry("loss".into()).or_default() += loss;
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
            .map(|(k, v)| (k, v / applied))
            .collect();
        let mean = self.grad_norm_sum / applied;
        row.insert("grad_norm".into(), mean);
        // Spread of the pre-clip norms over the step's optimizer steps (stability claims:
        // BNPO, GBPO); 0 with one update per step.
        let var = (self.grad_norm_sq_sum / applied - mean * mean).max(0.0);
        row.insert("grad_norm_std".into(), var.sqrt());
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
    /// Data-parallel ranks share each minibatch's rows (`run.distributed = "auto"`).
    pub world: Option<&'a GroupWorld>,
    /// Rows per optimizer step: `rl.minibatch_size`, or as many per-turn rows as that many
    /// episodes hold (workspace rounds, [`crate::round_rows`]).
    pub minibatch_rows: usize,
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
            for chunk in order.chunks(self.minibatch_rows.max(1)) {
                let micro = match rl.micro_batch_size {
                    0 => chunk.len(),
                    n => n.min(chunk.len()),
                };
                let (applied, parts) = if let Some(world) = self.world {
                    let mine = &chunk[world.share(chunk.len())];
                    let micro = match rl.micro_batch_size {
                        0 => mine.len(),
                        n => n,
                    };
                    let (outcome, parts) =
                        self.accumulate(opt, chunk, mine, micro, max_len, Some(world))?;
                    let metrics = world.sum_metrics(&metric_shares(&parts))?;
                    let applied = stats.record(outcome, &from_shares(metrics), guard, step)?;
                    (applied, parts)
                } else {
                    let (outcome, parts) = if micro == chunk.len() {
                        let mb = self.forward(chunk, max_len, None)?;
                        let outcome = opt.guarded_step(&mb.loss, rl.grad_clip);
                        (outcome, vec![mb])
                    } else {
                        self.accumulate(opt, chunk, chunk, micro, max_len, None)?
                    };
                    let applied = match parts.as_slice() {
                        [one] => stats.record(outcome, &one.metrics, guard, step)?,
                        many => stats.record(outcome, &weighted_metrics(many), guard, step)?,
                    };
                    (applied, parts)
                };
                if let (true, Some(tally)) = (applied, tally.as_deref_mut()) {
                    for mb in &parts {
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

    /// One optimizer step over minibatch `chunk`, whose rows `mine` this process computes in
    /// micro-batches of `micro` rows: each backward adds its share of the minibatch gradient
    /// (normalizers of the whole minibatch), so the step equals the unsplit one up to float
    /// summation order. Data-parallel ranks (`world`) each hold a share of the rows, and one
    /// all-reduce sums gradients and loss before the step, so every rank takes the same one.
    fn accumulate(
        &self,
        opt: &mut AdamW,
        chunk: &[i64],
        mine: &[i64],
        micro: usize,
        max_len: f64,
        world: Option<&GroupWorld>,
    ) -> Result<(StepOutcome, Vec<MicroOutput>), TrainError> {
        if self.objective.has_token_trust_region() {
            let (splits, fix) = match world {
                Some(_) => (
                    "run.distributed = \"auto\" splits each minibatch across ranks",
                    "run.distributed = \"off\"",
                ),
                None => (
                    "rl.micro_batch_size splits a minibatch",
                    "rl.micro_batch_size = 0",
                ),
            };
            return Err(TrainError::Config(format!(
                "{splits}, but the method's per-token trust region (objective.trust_region) \
                 uses statistics of the whole minibatch; set {fix}"
            )));
        }
        let index = Tensor::from_slice(chunk).to_device(self.policy.device());
        let mask = self.packed.select(&index).response_mask;
        let scale = self.loss.scale(&mask, &index, max_len);
        opt.zero_grad();
        if world.is_some() {
            opt.define_grads();
        }
        let mut total = 0.0;
        let mut outputs = Vec::new();
        for rows in mine.chunks(micro.max(1)) {
            let out = self.forward(rows, max_len, Some(&scale))?;
            let value = out.loss.double_value(&[]);
            total += value;
            if !value.is_finite() {
                break;
            }
            out.loss.backward();
            outputs.push(out);
        }
        if let Some(world) = world {
            // A non-finite loss on any rank makes the summed loss non-finite on every rank,
            // so all of them skip the step together.
            world.all_reduce_grads(opt, &mut total)?;
        }
        Ok((
            opt.guarded_accumulated_step(total, self.config.rl.grad_clip),
            outputs,
        ))
    }
}

/// A rank's part of [`weighted_metrics`]: loss terms as they are (shares of the minibatch
/// loss), the rest times their tokens, and the tokens; summed over ranks, [`from_shares`] gives
/// the whole minibatch's metrics.
fn metric_shares(parts: &[MicroOutput]) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for part in parts {
        for (&k, &v) in &part.metrics {
            let share = if is_loss_share(k) { v } else { v * part.tokens };
            *out.entry(k.to_string()).or_default() += share;
        }
        *out.entry(TOKENS.to_string()).or_default() += part.tokens;
    }
    out
}

fn from_shares(mut sums: BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let tokens = sums.remove(TOKENS).unwrap_or(0.0).max(1.0);
    sums.into_iter()
        .map(|(k, v)| {
            let value = if is_loss_share(&k) { v } else { v / tokens };
            (k, value)
        })
        .collect()
}

const TOKENS: &str = "__tokens";

/// Metrics that are already shares of the minibatch loss (they add up over micro-batches).
fn is_loss_share(key: &str) -> bool {
    matches!(key, "policy_loss" | "kl" | "copo/global_policy_loss")
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
            let share = match is_loss_share(k) {
                true => v,
                false => v * part.tokens / tokens,
            };
            *out.entry(k).or_default() += share;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_rows_hold_the_mean_and_spread_of_the_applied_grad_norms() {
        let mut events = 0;
        let mut guard = NonFiniteGuard {
            events: &mut events,
            on_nan: OnNan::Skip,
            hint: "",
        };
        let mut stats = UpdateStats::default();
        let metrics: BTreeMap<&str, f64> = [("policy_loss", 0.5)].into();
        for (loss, grad_norm) in [(1.0, 1.0), (3.0, 3.0)] {
            let outcome = StepOutcome::Applied { loss, grad_norm };
            assert!(stats.record(outcome, &metrics, &mut guard, 1).unwrap());
        }
        let skipped = StepOutcome::NonFinite { what: "loss" };
        assert!(!stats.record(skipped, &metrics, &mut guard, 1).unwrap());
        let row = stats.into_row();
        assert_eq!(row["grad_norm"], 2.0);
        assert_eq!(row["grad_norm_std"], 1.0, "population std of 1 and 3");
        assert_eq!(row["loss"], 2.0);
        assert_eq!(row["policy_loss"], 0.5);
        assert_eq!((row["updates"], row["skipped_updates"]), (2.0, 1.0));
        assert_eq!(events, 1, "the skipped step was counted");
    }
}
