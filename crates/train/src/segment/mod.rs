//! Segment rollouts for SPO (spo-segment.md): the step's samples and their token advantages
//! come from extra sampling (Monte-Carlo values at cutpoints, or a sampling tree), so these
//! rollouts hand the loop a ready [`UpdatePlan`] next to the experience.
//!
//! [`collect_step`] is the loop's one hook: it reads `method.rollout.kind` and runs the group
//! rollout ([`crate::rollout::collect`]), [`chain`] or [`tree`].
mod chain;
mod tree;

use std::collections::BTreeMap;

use polopt_methods::credit::{whiten_masked, Advantages, SpoConfig};
use polopt_methods::loops::RolloutKind;
use polopt_methods::objective::token_rows;
use polopt_methods::plan::UpdatePlan;
use polopt_methods::select::FillReport;
use polopt_methods::MethodConfig;
use polopt_models::SamplingConfig;

use crate::error::TrainError;
use crate::rollout::{collect, RolloutContext, StepExperience};
use crate::scoring::Scorer;
use crate::seeds::with_torch_seed;

/// One step's experience and, for the segment rollouts, its plan and sampling metrics.
pub struct CollectedStep {
    pub experience: StepExperience,
    /// Token advantages and keep-masks of `experience.sequences`; `None`: the method's
    /// estimator computes them from the scored batch.
    pub plan: Option<UpdatePlan>,
    pub metrics: BTreeMap<String, f64>,
}

pub fn collect_step(
    ctx: &RolloutContext,
    method: &MethodConfig,
    step: usize,
) -> Result<CollectedStep, TrainError> {
    match method.rollout.kind {
        // The drivers (T-PPO, step-level DAPO) replace the whole step before this hook.
        RolloutKind::Group
        | RolloutKind::Truncated
        | RolloutKind::OfflineStep
        | RolloutKind::Pairs
        | RolloutKind::OnlinePairs
        | RolloutKind::ReferencePairs => Ok(CollectedStep {
            experience: collect(ctx, step)?,
            plan: None,
            metrics: BTreeMap::new(),
        }),
        RolloutKind::SpoChain => chain::collect(ctx, &method.credit.settings("spo")?, step),
        RolloutKind::SpoTree => tree::collect(ctx, &method.credit.settings("spo")?, step),
    }
}

fn prompts_per_step(ctx: &RolloutContext, spo: &SpoConfig) -> usize {
    match spo.prompts_per_step {
        0 => ctx.rl.prompts_per_step,
        n => n,
    }
}

fn sampling(ctx: &RolloutContext, max_new_tokens: i64) -> SamplingConfig {
    // Segments end at `<eos>` whatever `rl.stop_at_eos` says: a cut point must know it.
    SamplingConfig {
        stop_at_eos: true,
        ..ctx.rl.sampling(ctx.tok, max_new_tokens)
    }
}

/// An empty experience for `prompts` prompts, counters at zero.
fn experience(prompts: usize) -> StepExperience {
    let fill = FillReport {
        kept_groups: 0,
        dropped_groups: 0,
        gen_batches: 1,
        target_groups: prompts,
        filled: true,
    };
    StepExperience::empty(fill, Default::default())
}

/// A continuation of `prefix` (`<bos>` + prompt + response so far) of at most `budget` tokens.
struct Request {
    prefix: Vec<i64>,
    budget: usize,
}

/// What the policy generated after a prefix: ids with the `<eos>` when one came within the
/// budget, and the behaviour log-prob of each.
struct Completion {
    ids: Vec<i64>,
    logp: Vec<f64>,
    finished: bool,
}

/// Samples every request with the batched KV-cache sampler, as few calls as the position limit
/// allows (the sampler needs longest prefix + max budget <= max_position_embeddings); each
/// completion is cut to its own budget, so a batch shares one `max_new_tokens`.
fn continue_all(
    ctx: &RolloutContext,
    requests: &[Request],
    tag: &str,
    step: usize,
) -> Result<Vec<Completion>, TrainError> {
    /// Rows per sampler call: bounds the KV cache, not the results.
    const MAX_ROWS: usize = 4096;
    let max_pos = ctx.policy.config.max_position_embeddings as usize;
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| requests[i].prefix.len());
    let mut calls: Vec<Vec<usize>> = Vec::new();
    let mut budget = 0;
    for i in order {
        let r = &requests[i];
        let fits = calls.last().is_some_and(|c| {
            c.len() < MAX_ROWS && r.prefix.len() + budget.max(r.budget) <= max_pos
        });
        if fits {
            budget = budget.max(r.budget);
        } else {
            calls.push(Vec::new());
            budget = r.budget;
        }
        if let Some(call) = calls.last_mut() {
            call.push(i);
        }
    }
    let mut out: Vec<Option<Completion>> = (0..requests.len()).map(|_| None).collect();
    for (n, call) in calls.iter().enumerate() {
        let prompts: Vec<Vec<i64>> = call.iter().map(|&i| requests[i].prefix.clone()).collect();
        let max_new = call.iter().map(|&i| requests[i].budget).max().unwrap_or(1);
        let index = (step as u64) << 16 | n as u64;
        let rollout = with_torch_seed(ctx.seed, tag, index, || {
            ctx.policy.sample(&prompts, &sampling(ctx, max_new as i64))
        })?;
        let ids = rollout.response_ids_with_eos();
        let logp = logp_rows(&rollout.logp, &rollout.response_lens);
        for ((&i, mut ids), mut logp) in call.iter().zip(ids).zip(logp) {
            let budget = requests[i].budget;
            ids.truncate(budget);
            logp.truncate(budget);
            let finished = ids.last() == Some(&ctx.tok.eos_id());
            out[i] = Some(Completion {
                ids,
                logp,
                finished,
            });
        }
    }
    out.into_iter()
        .map(|c| c.ok_or_else(|| TrainError::Model("a segment request was not sampled".into())))
        .collect()
}

/// The first `lens[i]` entries of each row of a `[B, R]` log-prob tensor (the sampler's
/// lengths are i64).
fn logp_rows(logp: &tch::Tensor, lens: &[i64]) -> Vec<Vec<f64>> {
    let lens: Vec<usize> = lens.iter().map(|&l| l.max(0) as usize).collect();
    token_rows(logp, &lens)
}

/// Rewards of segment rollouts: plain (no overlong shaping: a segment's length is not the
/// response's), under `run.on_nan`; `None` for a non-finite one, which the caller drops.
fn scorer<'a>(ctx: &RolloutContext<'a>) -> Scorer<'a> {
    Scorer::new(ctx.tok, ctx.reward, ctx.on_nan)
}

/// The plan of a segment rollout: masked-out tokens get 0, then (by default) whitening over the
/// masked-in tokens of the whole batch (spec steps 5-6). The keep-mask also reaches the loss.
fn segment_plan(
    mut advantages: Vec<Vec<f64>>,
    keep: Vec<Vec<f64>>,
    spo: &SpoConfig,
) -> (UpdatePlan, f64) {
    if spo.whiten {
        whiten_masked(&mut advantages, &keep, spo.whiten_eps);
    } else {
        for (row, k) in advantages.iter_mut().zip(&keep) {
            row.iter_mut().zip(k).for_each(|(a, k)| *a *= k);
        }
    }
    let total: usize = keep.iter().map(Vec::len).sum();
    let kept: f64 = keep.iter().flatten().sum();
    let plan = UpdatePlan {
        advantages: Advantages::Token(advantages),
        clip_bounds: None,
        token_keep: Some(keep),
        blend: None,
        metrics: BTreeMap::new(),
    };
    (plan, kept / total.max(1) as f64)
}
