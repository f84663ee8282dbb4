//! One preference step (gather -> log-probs -> loss -> guarded step) and held-out metrics.
use std::collections::BTreeMap;

use polopt_methods::preference::{
    PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective, RewardPairs,
    UnpairedBatch,
};
use polopt_methods::{ReferenceSchedule, RolloutKind};
use tch::{Kind, Tensor};

use super::logps::{frozen_sequence_logps, sequence_logps, ReferenceSource, Rows};
use super::pairs::{encode_response, TokenExample, TokenPair, TokenSet};
use super::reward_head::RewardHead;
use super::PreferenceDriver;
use crate::codec::Codec;
use crate::driver::DriverCtx;
use crate::error::TrainError;
use crate::minibatch::UpdateStats;
use crate::optim::StepOutcome;
use crate::policy::Policy;
use crate::rollout::{collect, RolloutContext};
use crate::seeds::with_torch_seed;
use crate::tool_rollout::samples_of;

type Row = BTreeMap<String, f64>;

pub(super) fn run(
    d: &mut PreferenceDriver,
    ctx: &mut DriverCtx,
    step: usize,
) -> Result<Row, TrainError> {
    let schedule = d.settings.reference;
    let uses_snapshots = schedule != ReferenceSchedule::WarmStart || d.tracks_iterate;
    if uses_snapshots {
        d.snapshots.before_step(ctx.policy, step)?;
    }
    let snapshot = match uses_snapshots {
        true => d.snapshots.prepare(ctx.policy, schedule, step)?,
        false => None,
    };
    let warm = ctx.reference_source();
    let reference = match schedule {
        ReferenceSchedule::WarmStart => warm,
        _ => snapshot.map(ReferenceSource::Frozen),
    };
    let iterate = if d.tracks_iterate { snapshot } else { None };
    let mut row = Row::new();
    let batch = match d.kind {
        RolloutKind::Pairs => {
            let (Some(train), Some(order)) = (&d.train, d.order.as_mut()) else {
                return Err(TrainError::Config(
                    "the pairs rollout has no training set".into(),
                ));
            };
            let picked = order.next_batch(d.settings.pairs_per_step);
            match train {
                TokenSet::Paired(all) => {
                    TokenSet::Paired(picked.iter().map(|&i| all[i].clone()).collect())
                }
                TokenSet::Unpaired(all) => {
                    TokenSet::Unpaired(picked.iter().map(|&i| all[i].clone()).collect())
                }
            }
        }
        RolloutKind::OnlinePairs => TokenSet::Paired(online_pairs(ctx, step, &mut row)?),
        RolloutKind::ReferencePairs => {
            let Some(ReferenceSource::Frozen(sampler)) = reference else {
                return Err(TrainError::Config(
                    "the reference_pairs rollout samples from a frozen reference; it has none \
                     (a LoRA run's reference is the base model: train without model.lora)"
                        .into(),
                ));
            };
            TokenSet::Paired(reference_pairs(
                ctx,
                sampler,
                d.settings.pairs_per_step,
                step,
            )?)
        }
        other => {
            return Err(TrainError::Config(format!(
                "the preference driver does not run the {} rollout",
                other.name()
            )))
        }
    };
    row.insert("pairs".into(), batch.len() as f64);
    if batch.is_empty() {
        row.insert("updates".into(), 0.0);
        return Ok(row);
    }
    let refs = Refs {
        reference: reference.filter(|_| d.uses_reference),
        iterate,
    };
    row.extend(update(
        ctx,
        d.loss.as_ref(),
        d.head.as_mut(),
        &batch,
        &refs,
        step,
    )?);
    Ok(row)
}

struct Refs<'a> {
    reference: Option<ReferenceSource<'a>>,
    iterate: Option<&'a Policy>,
}

/// The group rollout's best and worst response of each group, when their rewards differ.
fn online_pairs(ctx: &DriverCtx, step: usize, row: &mut Row) -> Result<Vec<TokenPair>, TrainError> {
    let config = ctx.config;
    let rollout = RolloutContext {
        policy: ctx.policy,
        tok: ctx.tok,
        task: ctx.task,
        prompts: ctx.prompts,
        reward: ctx.reward,
        rl: &config.rl,
        select: &config.method.select,
        seed: config.run.seed,
        on_nan: config.run.on_nan,
        adaptive: None,
        gold_probe: false,
        engine: None,
        world: None,
    };
    let exp = collect(&rollout, step)?;
    let n = exp.generated.max(1) as f64;
    row.insert("reward_mean".into(), exp.reward_sum / n);
    row.insert("accuracy".into(), exp.correct as f64 / n);
    row.insert("response_len_mean".into(), exp.generated_tokens as f64 / n);
    row.insert("nan_reward_groups".into(), exp.nan_reward_groups as f64);
    let mut pairs = Vec::new();
    let mut tied = 0usize;
    let groups = exp.sequences.last().map_or(0, |s| s.group + 1);
    for g in 0..groups {
        let members: Vec<_> = exp.sequences.iter().filter(|s| s.group == g).collect();
        let best = members
            .iter()
            .copied()
            .reduce(|a, b| if b.reward > a.reward { b } else { a });
        let worst = members
            .iter()
            .copied()
            .reduce(|a, b| if b.reward < a.reward { b } else { a });
        match (best, worst) {
            (Some(b), Some(w)) if b.reward > w.reward => pairs.push(TokenPair {
                prompt: b.prompt.clone(),
                chosen: b.response.clone(),
                rejected: w.response.clone(),
            }),
            _ => tied += 1,
        }
    }
    row.insert("tied_groups".into(), tied as f64);
    Ok(pairs)
}

/// The task's solution (chosen) against one response sampled from `sampler` (rejected), for
/// `n` prompts of the run's prompt order.
fn reference_pairs(
    ctx: &DriverCtx,
    sampler: &Policy,
    n: usize,
    step: usize,
) -> Result<Vec<TokenPair>, TrainError> {
    let config = ctx.config;
    let problems = ctx
        .prompts
        .draw(ctx.task, config.run.seed, "pref-prompts", step as u64, n);
    let prompts: Vec<Vec<i64>> = problems
        .iter()
        .map(|p| ctx.tok.encode_prompt(p))
        .collect::<Result<_, _>>()?;
    let sampling = config.rl.sampling(ctx.tok, config.rl.max_new_tokens);
    let sampled = with_torch_seed(config.run.seed, "pref-sampling", step as u64, || {
        sampler.sample(&prompts, &sampling)
    })?;
    let responses = samples_of(&sampled);
    let mut pairs = Vec::with_capacity(n);
    for ((problem, prompt), sample) in problems.iter().zip(prompts).zip(responses) {
        if problem.solution.is_empty() {
            return Err(TrainError::Config(format!(
                "the reference_pairs rollout needs each prompt's solution; {:?} has none",
                problem.key
            )));
        }
        pairs.push(TokenPair {
            prompt,
            chosen: encode_response(ctx.tok, &problem.solution)?,
            rejected: sample.response,
        });
    }
    Ok(pairs)
}

/// The loss of one chunk and its size.
fn chunk_loss(
    policy: &Policy,
    pad: i64,
    loss: &dyn PreferenceObjective,
    head: Option<&RewardHead>,
    refs: &Refs,
    chunk: Chunk,
) -> Result<PreferenceLoss, TrainError> {
    match chunk {
        Chunk::Paired(pairs) => {
            let n = pairs.len() as i64;
            let mut rows = Rows::new();
            for p in pairs {
                rows.push(&p.prompt, &p.chosen);
            }
            for p in pairs {
                rows.push(&p.prompt, &p.rejected);
            }
            let packed = rows.pack(policy, pad);
            let lens = rows.lengths(policy);
            let (chosen_len, rejected_len) = (lens.narrow(0, 0, n), lens.narrow(0, n, n));
            if let Some(head) = head {
                let lens: Vec<usize> = rows.responses.iter().map(|r| r.len()).collect();
                let rewards = head.rewards(policy, &packed, &lens);
                let data = PreferenceData::Rewards(RewardPairs {
                    chosen_reward: &rewards.narrow(0, 0, n),
                    rejected_reward: &rewards.narrow(0, n, n),
                    margin: None,
                });
                return Ok(loss.loss(&data)?);
            }
            let logp = sequence_logps(policy, &packed);
            let reference = refs.reference.map(|r| r.logps(&packed));
            let iterate = refs.iterate.map(|p| frozen_sequence_logps(p, &packed));
            let split =
                |t: &Option<Tensor>| t.as_ref().map(|t| (t.narrow(0, 0, n), t.narrow(0, n, n)));
            let (rc, rr) = split(&reference).unzip();
            let (ic, ir) = split(&iterate).unzip();
            let data = PreferenceData::Paired(PreferenceBatch {
                policy_chosen_logp: &logp.narrow(0, 0, n),
                policy_rejected_logp: &logp.narrow(0, n, n),
                reference_chosen_logp: rc.as_ref(),
                reference_rejected_logp: rr.as_ref(),
                iterate_chosen_logp: ic.as_ref(),
                iterate_rejected_logp: ir.as_ref(),
                chosen_len: &chosen_len,
                rejected_len: &rejected_len,
            });
            Ok(loss.loss(&data)?)
        }
        Chunk::Unpaired(examples) => {
            let n = examples.len();
            let mut rows = Rows::new();
            for e in examples {
                rows.push(&e.prompt, &e.response);
            }
            // KTO's reference point: each response under the next example's prompt (TRL
            // cycles the completions by one within the batch).
            let mismatched = n > 1;
            if mismatched {
                for (i, e) in examples.iter().enumerate() {
                    rows.push(&examples[(i + 1) % n].prompt, &e.response);
                }
            }
            let packed = rows.pack(policy, pad);
            let Some(reference) = refs.reference else {
                return Err(TrainError::Config(format!(
                    "loss `{}` needs a reference",
                    loss.name()
                )));
            };
            let logp = sequence_logps(policy, &packed);
            let ref_logp = reference.logps(&packed);
            let flags: Vec<f32> = examples.iter().map(|e| e.desirable as u8 as f32).collect();
            let desirable = Tensor::from_slice(&flags).to_device(policy.device());
            let n = n as i64;
            let (kl_p, kl_r) = match mismatched {
                true => (
                    Some(logp.narrow(0, n, n).detach()),
                    Some(ref_logp.narrow(0, n, n)),
                ),
                false => (None, None),
            };
            let data = PreferenceData::Unpaired(UnpairedBatch {
                policy_logp: &logp.narrow(0, 0, n),
                reference_logp: &ref_logp.narrow(0, 0, n),
                desirable: &desirable,
                kl_policy_logp: kl_p.as_ref(),
                kl_reference_logp: kl_r.as_ref(),
            });
            Ok(loss.loss(&data)?)
        }
    }
}

#[derive(Clone, Copy)]
enum Chunk<'a> {
    Paired(&'a [TokenPair]),
    Unpaired(&'a [TokenExample]),
}

/// Gradients accumulated over micro-batches (`rl.micro_batch_size` pairs each, 0 = all),
/// each scaled by its share of the batch, then one guarded step of the policy (and the
/// reward head).
fn update(
    ctx: &mut DriverCtx,
    loss: &dyn PreferenceObjective,
    mut head: Option<&mut RewardHead>,
    batch: &TokenSet,
    refs: &Refs,
    step: usize,
) -> Result<Row, TrainError> {
    let total = batch.len();
    let size = match ctx.config.rl.micro_batch_size {
        0 => total,
        n => n,
    };
    let chunks: Vec<Chunk> = match batch {
        TokenSet::Paired(p) => p.chunks(size).map(Chunk::Paired).collect(),
        TokenSet::Unpaired(u) => u.chunks(size).map(Chunk::Unpaired).collect(),
    };
    ctx.opt.zero_grad();
    if let Some(h) = head.as_deref_mut() {
        h.opt.zero_grad();
    }
    let pad = ctx.tok.pad_id();
    let mut value = 0.0;
    let mut metrics: BTreeMap<&'static str, f64> = BTreeMap::new();
    for chunk in chunks {
        let share = match chunk {
            Chunk::Paired(p) => p.len(),
            Chunk::Unpaired(u) => u.len(),
        } as f64
            / total as f64;
        let out = chunk_loss(ctx.policy, pad, loss, head.as_deref(), refs, chunk)?;
        let v = out.loss.double_value(&[]);
        if v.is_finite() {
            (&out.loss * share).backward();
        }
        value += v * share;
        for (k, m) in out.metrics {
            *metrics.entry(k).or_default() += m * share;
        }
    }
    metrics.remove("loss");
    let grad_clip = ctx.config.rl.grad_clip;
    let outcome = ctx.opt.guarded_accumulated_step(value, grad_clip);
    if let Some(h) = head {
        match outcome {
            StepOutcome::Applied { .. } => {
                h.opt.guarded_accumulated_step(value, grad_clip);
            }
            StepOutcome::NonFinite { .. } => h.opt.zero_grad(),
        }
    }
    let mut stats = UpdateStats::default();
    let (_, mut guard) = ctx.optimizer_and_guard();
    stats.record(outcome, &metrics, &mut guard, step)?;
    Ok(stats.into_row())
}

/// Held-out preference metrics of `policy` against `reference` (the warm start; the policy
/// itself before there is one, where every margin is 0 and accuracy is chance):
/// `eval/logp_accuracy` (log pi(y_w) > log pi(y_l)), `eval/pref_accuracy` (implicit reward
/// margin > 0, ties count half), `eval/logratio_margin`, `eval/rm_accuracy` for a reward
/// model (ties count half), and `eval/implicit_kl`, a sampled estimate of KL(pi || reference) per response.
pub(super) fn evaluate(
    d: &PreferenceDriver,
    policy: &Policy,
    tok: &Codec,
    reference: Option<&Policy>,
) -> Result<Row, TrainError> {
    let TokenSet::Paired(pairs) = &d.eval else {
        return Ok(Row::new());
    };
    if pairs.is_empty() {
        return Ok(Row::new());
    }
    // Before there is a reference the policy is its own: every margin 0, accuracy chance.
    let reference =
        ReferenceSource::of(reference, policy).unwrap_or(ReferenceSource::Frozen(policy));
    let pad = tok.pad_id();
    let mut sums = [0.0f64; 4];
    for chunk in pairs.chunks(64) {
        let n = chunk.len() as i64;
        let mut rows = Rows::new();
        for p in chunk {
            rows.push(&p.prompt, &p.chosen);
        }
        for p in chunk {
            rows.push(&p.prompt, &p.rejected);
        }
        let packed = rows.pack(policy, pad);
        tch::no_grad(|| -> Result<(), TrainError> {
            let logp = sequence_logps(policy, &packed);
            let ratio = &logp - reference.logps(&packed);
            let (w, l) = (logp.narrow(0, 0, n), logp.narrow(0, n, n));
            let margin = ratio.narrow(0, 0, n) - ratio.narrow(0, n, n);
            sums[0] += w
                .gt_tensor(&l)
                .to_kind(Kind::Float)
                .sum(Kind::Float)
                .double_value(&[]);
            let wins =
                margin.gt(0.0).to_kind(Kind::Float) + margin.eq(0.0).to_kind(Kind::Float) * 0.5;
            sums[1] += wins.sum(Kind::Float).double_value(&[]);
            sums[2] += margin.sum(Kind::Float).double_value(&[]);
            if let Some(head) = &d.head {
                let lens: Vec<usize> = rows.responses.iter().map(|r| r.len()).collect();
                let r = head.rewards(policy, &packed, &lens);
                let (rw, rl) = (r.narrow(0, 0, n), r.narrow(0, n, n));
                let wins = rw.gt_tensor(&rl).to_kind(Kind::Float)
                    + rw.eq_tensor(&rl).to_kind(Kind::Float) * 0.5;
                sums[3] += wins.sum(Kind::Float).double_value(&[]);
            }
            Ok(())
        })?;
    }
    let count = pairs.len() as f64;
    let mut row = Row::new();
    row.insert("eval/logp_accuracy".into(), sums[0] / count);
    row.insert("eval/pref_accuracy".into(), sums[1] / count);
    row.insert("eval/logratio_margin".into(), sums[2] / count);
    if d.head.is_some() {
        row.insert("eval/rm_accuracy".into(), sums[3] / count);
    }
    row.insert(
        "eval/implicit_kl".into(),
        implicit_kl(pairs, policy, tok, reference, d.seed)?,
    );
    Ok(row)
}

/// Mean of log pi(y) - log pi_ref(y) over one sample per held-out prompt (at most 64).
fn implicit_kl(
    pairs: &[TokenPair],
    policy: &Policy,
    tok: &Codec,
    reference: ReferenceSource,
    seed: u64,
) -> Result<f64, TrainError> {
    let prompts: Vec<Vec<i64>> = pairs.iter().take(64).map(|p| p.prompt.clone()).collect();
    let longest = pairs
        .iter()
        .map(|p| p.chosen.len().max(p.rejected.len()))
        .max()
        .unwrap_or(1);
    let room = policy.config.max_position_embeddings as usize
        - prompts.iter().map(|p| p.len()).max().unwrap_or(0);
    let sampling = polopt_models::SamplingConfig {
        temperature: 1.0,
        top_p: 1.0,
        max_new_tokens: (2 * longest).min(room).max(1) as i64,
        eos_token_id: tok.eos_id(),
        pad_token_id: tok.pad_id(),
        stop_at_eos: true,
    };
    let sampled = with_torch_seed(seed, "pref-eval-kl", 0, || {
        policy.sample(&prompts, &sampling)
    })?;
    let responses: Vec<Vec<i64>> = samples_of(&sampled)
        .into_iter()
        .map(|s| s.response)
        .collect();
    let mut rows = Rows::new();
    for (p, r) in prompts.iter().zip(&responses) {
        rows.push(p, r);
    }
    let packed = rows.pack(policy, tok.pad_id());
    let kl = tch::no_grad(|| sequence_logps(policy, &packed) - reference.logps(&packed));
    Ok(kl.mean(Kind::Float).double_value(&[]))
}
