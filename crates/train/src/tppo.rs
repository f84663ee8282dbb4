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

use crate::codec::Codec;
use polopt_envs::text::{Problem, Split};
use polopt_methods::credit::{
    estimator, AdvantageEstimator, Advantages, CreditBatch, Trajectories,
};
use polopt_methods::objective::{column, tensor_rows, PlannedLoss};
use polopt_methods::plan::UpdatePlan;
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::config::RunConfig;
use crate::critic::Critic;
use crate::driver::{DriverCtx, StepDriver};
use crate::error::TrainError;
use crate::minibatch::MinibatchUpdate;
use crate::optim::StepOutcome;
use crate::packing::{pack, Packed};
use crate::run_dir::write_atomic;
use crate::scoring::Scorer;
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
    /// `method.credit.estimator` from the registry (EGAE), built once.
    estimator: Box<dyn AdvantageEstimator>,
}

const STATE_FILE: &str = "tppo_state.json";

impl Tppo {
    pub fn new(config: &RunConfig, tok: &Codec, device: Device) -> Result<Self, TrainError> {
        // `MethodConfig::validate` holds this loop to the estimator its rollout kind names
        // (`RolloutKind::estimator`: egae, the one that knows a window may be cut).
        let credit = &config.method.credit;
        let critic = Critic::for_run(config, tok, device)?;
        Ok(Self {
            critic,
            state: InFlight::default(),
            estimator: estimator(credit)?,
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
                prompt: ctx.tok.encode_prompt(&problem)?,
                problem,
                response: Vec::new(),
            });
        }
        Ok(())
    }
}

/// Advantages of each row's window from `values[i] = [V(s_t0) .. V(s_T)]` (one more than
/// the window: the last entry is the critic's prefix value, `V(s_T)` of a cut window), and
/// `ends[i]`, the outcome reward of a finished response (`None`: still in flight).
///
/// The windows go to the estimator as one time-major trajectory (`num_envs = 1`), each window
/// ending in a terminal step (finished) or a truncated one (bootstrapped), so the recursion
/// never crosses from one window into the next.
pub fn window_advantages(
    estimator: &dyn AdvantageEstimator,
    values: &[Vec<f64>],
    ends: &[Option<f64>],
) -> Result<Vec<Vec<f64>>, TrainError> {
    let steps: usize = values.iter().map(|v| v.len().saturating_sub(1)).sum();
    let mut step_values = Vec::with_capacity(steps);
    let mut next_values = Vec::with_capacity(steps);
    let mut rewards = vec![0.0; steps];
    let (mut terminated, mut truncated) = (vec![false; steps], vec![false; steps]);
    let mut window_of = Vec::with_capacity(steps);
    for (row, (v, end)) in values.iter().zip(ends).enumerate() {
        let n = v.len().saturating_sub(1);
        if n == 0 {
            continue;
        }
        step_values.extend_from_slice(&v[..n]);
        next_values.extend_from_slice(&v[1..n]);
        window_of.extend(std::iter::repeat_n(row, n));
        let last = step_values.len() - 1;
        match end {
            Some(reward) => {
                rewards[last] = *reward;
                terminated[last] = true;
                next_values.push(0.0);
            }
            None => {
                truncated[last] = true;
                next_values.push(v[n]);
            }
        }
    }
    let trajectories = Trajectories {
        values: &step_values,
        next_values: &next_values,
        terminated: &terminated,
        truncated: &truncated,
        num_envs: 1,
    };
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &window_of,
        response_lens: &vec![1; steps],
        token_kl: None,
        trajectories: Some(&trajectories),
        episodes: None,
    };
    let Advantages::Sequence(flat) = estimator.estimate(&batch)? else {
        return Err(TrainError::Config(format!(
            "method.credit.estimator = {:?} gave token rows; T-PPO needs one advantage per step",
            estimator.name()
        )));
    };
    let mut flat = flat.into_iter();
    Ok(values
        .iter()
        .map(|v| flat.by_ref().take(v.len().saturating_sub(1)).collect())
        .collect())
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
        let scorer = Scorer::new(ctx.tok, ctx.reward, cfg.run.on_nan);
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
            let response = [slot.response.as_slice(), w.as_slice()].concat();
            let Some(score) = scorer.score(&slot.problem, &response, step)?.finite() else {
                *ctx.nan_events += 1;
                dropped[i] = true;
                ends.push(Some(0.0));
                continue;
            };
            finished += 1;
            correct += score.correct as usize;
            reward_sum += score.reward;
            len_sum += total;
            cut += (!ended_by_eos) as usize;
            ends.push(Some(score.reward));
        }

        // EGAE over the new windows: the contexts are the packed "prompts", so the policy's
        // log-probs and the loss mask cover the new tokens only.
        let ctx_refs: Vec<&[i64]> = contexts.iter().map(Vec::as_slice).collect();
        let win_refs: Vec<&[i64]> = windows.iter().map(Vec::as_slice).collect();
        let mut packed = pack(&ctx_refs, &win_refs, ctx.tok.pad_id(), device);
        let lens: Vec<usize> = windows.iter().map(Vec::len).collect();
        let all_values = tensor_rows(&tch::no_grad(|| self.critic.state_values(&packed)));
        let values: Vec<Vec<f64>> = all_values
            .iter()
            .zip(&lens)
            .map(|(row, &len)| row[..=len].to_vec())
            .collect();
        let advantages = window_advantages(self.estimator.as_ref(), &values, &ends)?;
        if dropped.iter().any(|&d| d) {
            let keep: Vec<f64> = dropped.iter().map(|&d| if d { 0.0 } else { 1.0 }).collect();
            packed.response_mask = &packed.response_mask * column(&keep, device);
        }
        let adv_abs_sum: f64 = advantages.iter().flatten().map(|a| a.abs()).sum();
        let plan = UpdatePlan {
            advantages: Advantages::Token(advantages),
            clip_bounds: None,
            token_keep: None,
            blend: None,
            metrics: BTreeMap::new(),
        };
        let mut row = Self::policy_update(ctx, &packed, &plan, &lens, step)?;

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
            let rewards: Vec<f64> = done.iter().map(|&i| ends[i].unwrap_or(0.0)).collect();
            let targets = column(&rewards, device) * &cpacked.response_mask;
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
        let adv_abs = adv_abs_sum / n_tokens.max(1) as f64;
        row.insert("critic/value_mean".into(), value_mean);
        row.insert("advantage_abs_mean".into(), adv_abs);
        row.insert("tppo/finished".into(), finished as f64);
        // Completed responses, as the group loop counts them (cost-to-target sums them).
        row.insert("samples".into(), finished as f64);
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
        ctx: &mut DriverCtx,
        packed: &Packed,
        plan: &UpdatePlan,
        window_lens: &[usize],
        step: usize,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let temperature = ctx.config.rl.temperature;
        let old_logp = tch::no_grad(|| ctx.policy.logprobs(packed, temperature, false).0);
        let ref_logp = ctx
            .reference
            .map(|r| tch::no_grad(|| r.logprobs(packed, temperature, false).0));
        let planned = PlannedLoss::new(plan, window_lens, packed.width, ctx.policy.device());
        let update = MinibatchUpdate {
            config: ctx.config,
            policy: ctx.policy,
            objective: ctx.objective,
            packed,
            loss: &planned,
            old_logp: Some(&old_logp),
            ref_logp: ref_logp.as_ref(),
            world: None,
            stream_tag: "tppo-minibatch",
            minibatch_rows: ctx.config.rl.minibatch_size,
        };
        let (opt, mut guard) = ctx.optimizer_and_guard();
        update.run(opt, &mut guard, None, step)
    }
}
