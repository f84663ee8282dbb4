//! T-PPO's truncated rollouts with successive batching (tppo-egae.md) — reconstructed: the
//! spec is CONFIDENCE LOW-MEDIUM.
//!
//! A fixed batch of in-flight responses (`rl.prompts_per_step * rl.group_size`). Each step
//! extends every one by at most `method.rollout.window` tokens, scores the ones that finished
//! (`<eos>` or `rl.max_new_tokens`), computes EGAE advantages over the new window from the
//! critic, trains the policy (PPO clip, the configured objective) on the new window's tokens
//! only, trains the critic on every token of the finished responses with the outcome reward as
//! target (lambda_critic = 1), and replaces the finished responses with new prompts. The
//! in-flight prefixes, the prompt counter and the critic go into every checkpoint.
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use polopt_envs::text::{Problem, Split};
use polopt_methods::credit::{egae, WindowEnd};
use polopt_methods::objective::{LossScale, PolicyTerms};
use polopt_models::CharTokenizer;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::config::{OnNan, RunConfig};
use crate::critic::Critic;
use crate::driver::{DriverCtx, StepDriver};
use crate::error::TrainError;
use crate::eval::encode_prompt;
use crate::optim::StepOutcome;
use crate::packing::{pack, Packed};
use crate::run_dir::write_atomic;
use crate::seeds::shuffle;
use crate::seeds::{stream, with_torch_seed};

/// One in-flight response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub problem: Problem,
    /// `<bos>` + prompt ids.
    pub prompt: Vec<i64>,
    /// Generated so far (trained on already, window by window).
    pub response: Vec<i64>,
}

/// Cross-step state besides the critic's tensors (`tppo_state.json` in a checkpoint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    pub slots: Vec<Slot>,
    /// Prompts drawn so far: the index of the next prompt's random stream.
    pub drawn: u64,
    pub critic_optimizer_step: i64,
}

pub struct Tppo {
    pub critic: Critic,
    pub state: InFlight,
}

const STATE_FILE: &str = "tppo_state.json";

impl Tppo {
    pub fn new(
        config: &RunConfig,
        tok: &CharTokenizer,
        device: Device,
    ) -> Result<Self, TrainError> {
        let critic = Critic::for_run(config, tok, device)?;
        Ok(Self {
            critic,
            state: InFlight::default(),
        })
    }

    fn fill(&mut self, ctx: &DriverCtx) -> Result<(), TrainError> {
        let rl = &ctx.config.rl;
        let capacity = rl.prompts_per_step * rl.group_size;
        while self.state.slots.len() < capacity {
            let mut rng = stream(ctx.config.run.seed, "tppo-prompts", self.state.drawn);
            let problem = ctx.task.sample(Split::Train, &mut rng);
            self.state.drawn += 1;
            self.state.slots.push(Slot {
                prompt: encode_prompt(ctx.tok, &problem.prompt)?,
                problem,
                response: Vec::new(),
            });
        }
        Ok(())
    }
}

/// EGAE advantages of each row's window from `values[i] = [V(s_t0) .. V(s_T)]` (one more
/// than the window: the last entry is the critic's prefix value for `prefix_value`).
pub fn window_advantages(
    values: &[Vec<f64>],
    ends: &[Option<f64>],
    config: &RunConfig,
) -> Vec<Vec<f64>> {
    let c = &config.method.credit;
    values
        .iter()
        .zip(ends)
        .map(|(v, end)| {
            let n = v.len().saturating_sub(1);
            let end = match end {
                Some(reward) => WindowEnd::Finished { reward: *reward },
                None => WindowEnd::Truncated {
                    prefix_value: v.get(n).copied().unwrap_or(0.0),
                },
            };
            egae(&v[..n], end, c.egae_bootstrap, c.gamma, c.gae_lambda)
        })
        .collect()
}

fn rows_tensor(rows: &[Vec<f64>], width: usize, device: Device) -> Tensor {
    let mut flat = vec![0f32; rows.len() * width];
    for (i, row) in rows.iter().enumerate() {
        for (t, &v) in row.iter().take(width).enumerate() {
            flat[i * width + t] = v as f32;
        }
    }
    Tensor::from_slice(&flat)
        .view([rows.len() as i64, width as i64])
        .to_device(device)
}

fn matrix(t: &Tensor) -> Vec<Vec<f64>> {
    let t = t.to_kind(Kind::Double).contiguous();
    let cols = t.size()[1] as usize;
    let flat: Vec<f64> = Vec::try_from(t.view([-1])).unwrap_or_default();
    flat.chunks(cols.max(1)).map(<[f64]>::to_vec).collect()
}

impl StepDriver for Tppo {
    fn step(
        &mut self,
        ctx: &mut DriverCtx,
        step: usize,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let started = Instant::now();
        let cfg = ctx.config;
        let rl = &cfg.rl;
        self.fill(ctx)?;
        let device = ctx.policy.device();
        let eos = ctx.tok.eos_id();

        // Extend every in-flight response by one window.
        let contexts: Vec<Vec<i64>> = self
            .state
            .slots
            .iter()
            .map(|s| [s.prompt.as_slice(), s.response.as_slice()].concat())
            .collect();
        let remaining: Vec<usize> = self
            .state
            .slots
            .iter()
            .map(|s| (rl.max_new_tokens as usize).saturating_sub(s.response.len()))
            .collect();
        let longest = contexts.iter().map(Vec::len).max().unwrap_or(0) as i64;
        let room = cfg.model.max_position_embeddings - longest;
        let window = (cfg.method.rollout.window as i64)
            .min(remaining.iter().copied().max().unwrap_or(0) as i64)
            .min(room);
        if window < 1 {
            return Err(TrainError::Config(format!(
                "method.rollout.window: no room for a new token (longest context {longest}, model.max_position_embeddings {})",
                cfg.model.max_position_embeddings
            )));
        }
        let sampling = rl.sampling(ctx.tok, window);
        let rollout = with_torch_seed(cfg.run.seed, "tppo-sampling", step as u64, || {
            ctx.policy.sample(&contexts, &sampling)
        })?;
        let mut windows = rollout.response_ids_with_eos();
        let generation_s = started.elapsed().as_secs_f64();

        // Which responses finished, and their outcome rewards (None: still in flight).
        let mut ends: Vec<Option<f64>> = Vec::with_capacity(windows.len());
        let mut dropped = vec![false; windows.len()];
        let (mut finished, mut correct, mut reward_sum, mut len_sum, mut cut) =
            (0usize, 0usize, 0.0, 0usize, 0usize);
        for (i, w) in windows.iter_mut().enumerate() {
            w.truncate(remaining[i].max(1));
            let slot = &self.state.slots[i];
            let total = slot.response.len() + w.len();
            let ended_by_eos = rl.stop_at_eos && w.last() == Some(&eos);
            if !ended_by_eos && total < rl.max_new_tokens as usize {
                ends.push(None);
                continue;
            }
            let text_ids: Vec<i64> = slot
                .response
                .iter()
                .chain(w.iter())
                .copied()
                .filter(|&t| t != eos)
                .collect();
            let text = ctx.tok.decode(&text_ids);
            let verdict = ctx.reward.score(&slot.problem, &text);
            if !verdict.reward.is_finite() {
                if cfg.run.on_nan == OnNan::Stop {
                    return Err(TrainError::NonFinite {
                        what: format!(
                            "reward ({}) from `{}` for prompt {:?}, completion {text:?}",
                            verdict.reward,
                            ctx.reward.name(),
                            slot.problem.prompt
                        ),
                        step,
                        hint: "fix the reward function or set run.on_nan = \"skip\"",
                    });
                }
                *ctx.nan_events += 1;
                dropped[i] = true;
                ends.push(Some(0.0));
                continue;
            }
            finished += 1;
            correct += verdict.correct as usize;
            reward_sum += verdict.reward;
            len_sum += total;
            cut += (!ended_by_eos) as usize;
            ends.push(Some(verdict.reward));
        }

        // EGAE over the new windows: the contexts are the packed "prompts", so the policy's
        // log-probs and the loss mask cover the new tokens only.
        let ctx_refs: Vec<&[i64]> = contexts.iter().map(Vec::as_slice).collect();
        let win_refs: Vec<&[i64]> = windows.iter().map(Vec::as_slice).collect();
        let mut packed = pack(&ctx_refs, &win_refs, ctx.tok.pad_id(), device);
        let lens: Vec<usize> = windows.iter().map(Vec::len).collect();
        let all_values = matrix(&tch::no_grad(|| self.critic.state_values(&packed)));
        let values: Vec<Vec<f64>> = all_values
            .iter()
            .zip(&lens)
            .map(|(row, &len)| row[..=len].to_vec())
            .collect();
        let advantages = window_advantages(&values, &ends, cfg);
        if dropped.iter().any(|&d| d) {
            let keep: Vec<f32> = dropped.iter().map(|&d| if d { 0.0 } else { 1.0 }).collect();
            packed.response_mask =
                &packed.response_mask * Tensor::from_slice(&keep).view([-1, 1]).to_device(device);
        }
        let adv = rows_tensor(&advantages, packed.width, device);
        let mut row = self.policy_update(ctx, &packed, &adv, step)?;

        // Critic: every token of the responses that finished, target = their reward.
        let done: Vec<usize> = (0..ends.len())
            .filter(|&i| ends[i].is_some() && !dropped[i])
            .collect();
        if !done.is_empty() && cfg.method.rollout.critic_updates > 0 {
            let full: Vec<Vec<i64>> = done
                .iter()
                .map(|&i| [self.state.slots[i].response.as_slice(), &windows[i]].concat())
                .collect();
            let prompts: Vec<&[i64]> = done
                .iter()
                .map(|&i| self.state.slots[i].prompt.as_slice())
                .collect();
            let responses: Vec<&[i64]> = full.iter().map(Vec::as_slice).collect();
            let cpacked = pack(&prompts, &responses, ctx.tok.pad_id(), device);
            let targets = Tensor::from_slice(
                &done
                    .iter()
                    .map(|&i| ends[i].unwrap_or(0.0) as f32)
                    .collect::<Vec<f32>>(),
            )
            .view([-1, 1])
            .to_device(device)
                * &cpacked.response_mask;
            let mut loss_sum = 0.0;
            for _ in 0..cfg.method.rollout.critic_updates {
                match self
                    .critic
                    .train_step(&cpacked, &targets, &cpacked.response_mask)
                {
                    StepOutcome::Applied { loss, .. } => loss_sum += loss,
                    StepOutcome::NonFinite { .. } => {
                        ctx.non_finite("critic loss or gradient", step)?
                    }
                }
            }
            row.insert(
                "critic/value_loss".into(),
                loss_sum / cfg.method.rollout.critic_updates as f64,
            );
        }
        self.state.critic_optimizer_step = self.critic.opt.step;

        // Metrics, then carry the unfinished responses over and free the finished slots.
        let n_tokens: usize = lens.iter().sum();
        let value_mean = values
            .iter()
            .map(|v| v[..v.len() - 1].iter().sum::<f64>())
            .sum::<f64>()
            / n_tokens.max(1) as f64;
        let adv_abs =
            advantages.iter().flatten().map(|a| a.abs()).sum::<f64>() / n_tokens.max(1) as f64;
        row.insert("critic/value_mean".into(), value_mean);
        row.insert("advantage_abs_mean".into(), adv_abs);
        row.insert("tppo/finished".into(), finished as f64);
        row.insert(
            "tppo/window_tokens_mean".into(),
            n_tokens as f64 / lens.len().max(1) as f64,
        );
        if finished > 0 {
            let n = finished as f64;
            row.insert("reward_mean".into(), reward_sum / n);
            row.insert("accuracy".into(), correct as f64 / n);
            row.insert("response_len_mean".into(), len_sum as f64 / n);
            row.insert("truncated_frac".into(), cut as f64 / n);
        }
        let slots = std::mem::take(&mut self.state.slots);
        self.state.slots = slots
            .into_iter()
            .zip(windows)
            .zip(&ends)
            .filter(|(_, end)| end.is_none())
            .map(|((mut slot, w), _)| {
                slot.response.extend(w);
                slot
            })
            .collect();
        let elapsed = started.elapsed().as_secs_f64();
        row.insert("generation_s".into(), generation_s);
        row.insert("tokens_per_s".into(), n_tokens as f64 / elapsed.max(1e-9));
        Ok(row)
    }

    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        self.critic.save(dir)?;
        let text = serde_json::to_string(&self.state)
            .map_err(|e| TrainError::Config(format!("tppo state does not serialize: {e}")))?;
        write_atomic(&dir.join(STATE_FILE), text.as_bytes())
    }

    fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        self.state = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        self.critic.load(dir, self.state.critic_optimizer_step)
    }
}

impl Tppo {
    /// PPO epochs of shuffled minibatches over the windows, with the configured objective.
    fn policy_update(
        &self,
        ctx: &mut DriverCtx,
        packed: &Packed,
        advantages: &Tensor,
        step: usize,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let cfg = ctx.config;
        let rl = &cfg.rl;
        let n = packed.tokens.size()[0] as usize;
        let device = ctx.policy.device();
        let old_logp = tch::no_grad(|| ctx.policy.logprobs(packed, rl.temperature, false).0);
        let ref_logp = ctx
            .reference
            .map(|r| tch::no_grad(|| r.logprobs(packed, rl.temperature, false).0));
        let max_len = cfg
            .method
            .objective
            .max_len_normalizer
            .unwrap_or(rl.max_new_tokens as f64);
        let mut sums: BTreeMap<&'static str, f64> = BTreeMap::new();
        let (mut updates, mut skipped, mut grad_norm_sum) = (0usize, 0usize, 0.0);
        for epoch in 0..rl.epochs {
            let mut order: Vec<i64> = (0..n as i64).collect();
            let index = (step as u64) << 8 | epoch as u64;
            shuffle(
                &mut order,
                &mut stream(cfg.run.seed, "tppo-minibatch", index),
            );
            for chunk in order.chunks(rl.minibatch_size) {
                let index = Tensor::from_slice(chunk).to_device(device);
                let mb = packed.select(&index);
                let (logp, entropy) = ctx.policy.logprobs(&mb, rl.temperature, true);
                let old = old_logp.index_select(0, &index);
                let reference = ref_logp.as_ref().map(|r| r.index_select(0, &index));
                let adv = advantages.index_select(0, &index);
                let terms = PolicyTerms {
                    logp: &logp,
                    old_logp: &old,
                    ref_logp: reference.as_ref(),
                    advantages: &adv,
                    mask: &mb.response_mask,
                    entropy: entropy.as_ref(),
                };
                let scale = LossScale::of_mask(&mb.response_mask, max_len);
                let out = ctx.objective.loss(&terms, &scale, None);
                let (loss_value, norm) = match ctx.opt.guarded_step(&out.loss, rl.grad_clip) {
                    StepOutcome::Applied { loss, grad_norm } => (loss, grad_norm),
                    StepOutcome::NonFinite { what } => {
                        ctx.non_finite(what, step)?;
                        skipped += 1;
                        continue;
                    }
                };
                updates += 1;
                grad_norm_sum += norm;
                for (k, v) in out.metrics {
                    *sums.entry(k).or_default() += v;
                }
                *sums.entry("loss").or_default() += loss_value;
            }
        }
        let mut row: BTreeMap<String, f64> = sums
            .into_iter()
            .map(|(k, v)| (k.to_string(), v / updates.max(1) as f64))
            .collect();
        row.insert("grad_norm".into(), grad_norm_sum / updates.max(1) as f64);
        row.insert("updates".into(), updates as f64);
        row.insert("skipped_updates".into(), skipped as f64);
        Ok(row)
    }
}
