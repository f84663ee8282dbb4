//! SPO-chain rollout (spo-segment.md, "SPO-chain"): `rl.group_size` responses per prompt, then
//! `mc_rollouts` fresh completions from every cutpoint of every response, all in batched
//! sampler calls, and the segment advantages `V(c_k) - V(c_{k-1})`.
//!
//! `V(-1)`, the prompt's value, is one estimate per prompt shared by its responses: they start
//! from the same state, so one set of M completions serves them all.
use std::collections::BTreeMap;

use polopt_methods::credit::SpoConfig;
use polopt_methods::credit::{chain_cutpoints, chain_token_advantages, probability_keep};

use super::{continue_all, experience, prompts_per_step, sampling, scorer, segment_plan};
use super::{CollectedStep, Request};
use crate::error::TrainError;
use crate::packing::Sequence;
use crate::rollout::RolloutContext;
use crate::seeds::with_torch_seed;

/// Which value an MC completion estimates.
#[derive(Clone, Copy)]
enum Owner {
    /// `V(-1)` of prompt `g`.
    Prompt(usize),
    /// `V(cutpoints[row][k])`.
    Cut { row: usize, k: usize },
}

pub(super) fn collect(
    ctx: &RolloutContext,
    spo: &SpoConfig,
    step: usize,
) -> Result<CollectedStep, TrainError> {
    let rl = ctx.rl;
    let (n_prompts, g_size, m) = (prompts_per_step(ctx, spo), rl.group_size, spo.mc_rollouts);
    // The same streams as the group rollout: step N starts from the same responses as GRPO.
    let index = (step as u64) << 8;
    let problems = ctx
        .prompts
        .draw(ctx.task, ctx.seed, "rl-prompts", index, n_prompts);
    let prompts: Vec<Vec<i64>> = problems
        .iter()
        .map(|p| ctx.tok.encode_prompt(p))
        .collect::<Result<_, _>>()?;
    let repeated: Vec<Vec<i64>> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), g_size))
        .collect();
    let rollout = with_torch_seed(ctx.seed, "rl-sampling", index, || {
        ctx.policy
            .sample(&repeated, &sampling(ctx, rl.max_new_tokens))
    })?;
    let responses = rollout.response_ids_with_eos();
    let probs: Vec<Vec<f64>> = super::logp_rows(&rollout.logp, &rollout.response_lens)
        .into_iter()
        .map(|row| row.into_iter().map(f64::exp).collect())
        .collect();
    let rho = spo.prob_threshold;
    let cuts: Vec<Vec<isize>> = probs
        .iter()
        .map(|p| chain_cutpoints(p, rho, spo.interval))
        .collect();

    // Every MC request, M copies each: the response part of its prefix is kept for scoring.
    let max_new = rl.max_new_tokens as usize;
    let mut requests = Vec::new();
    let mut owners = Vec::new();
    let mut heads: Vec<&[i64]> = Vec::new();
    for (g, prompt) in prompts.iter().enumerate() {
        for _ in 0..m {
            requests.push(Request {
                prefix: prompt.clone(),
                budget: max_new,
            });
            owners.push(Owner::Prompt(g));
            heads.push(&[]);
        }
    }
    for (row, row_cuts) in cuts.iter().enumerate() {
        let prompt = &prompts[row / g_size];
        for (k, &c) in row_cuts.iter().enumerate().skip(1) {
            let head = &responses[row][..=c as usize];
            for _ in 0..m {
                requests.push(Request {
                    prefix: [prompt.as_slice(), head].concat(),
                    budget: max_new - head.len(),
                });
                owners.push(Owner::Cut { row, k });
                heads.push(head);
            }
        }
    }
    let completions = continue_all(ctx, &requests, "spo-mc", step)?;
    let scorer = scorer(ctx);

    let mut prompt_value = vec![0.0; n_prompts];
    let mut cut_values: Vec<Vec<f64>> = cuts.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut group_nan = vec![false; n_prompts];
    let mut mc_tokens = 0usize;
    for ((owner, head), completion) in owners.iter().zip(&heads).zip(&completions) {
        mc_tokens += completion.ids.len();
        let g = match *owner {
            Owner::Prompt(g) => g,
            Owner::Cut { row, .. } => row / g_size,
        };
        let full = [*head, completion.ids.as_slice()].concat();
        let Some(score) = scorer.score(&problems[g], &full, step)?.finite() else {
            group_nan[g] = true;
            continue;
        };
        match *owner {
            Owner::Prompt(g) => prompt_value[g] += score.reward / m as f64,
            Owner::Cut { row, k } => cut_values[row][k] += score.reward / m as f64,
        }
    }

    let mut exp = experience(n_prompts);
    let (mut advantages, mut keep) = (Vec::new(), Vec::new());
    let mut scored = Vec::with_capacity(responses.len());
    for (row, response) in responses.iter().enumerate() {
        let g = row / g_size;
        let verdict = scorer.score(&problems[g], response, step)?.finite();
        if verdict.is_none() {
            group_nan[g] = true;
        }
        scored.push(verdict);
    }
    for g in 0..n_prompts {
        if group_nan[g] {
            // A non-finite reward anywhere leaves a value without a trustworthy estimate.
            exp.nan_reward_groups += 1;
        } else {
            exp.fill.kept_groups += 1;
        }
        for row in g * g_size..(g + 1) * g_size {
            let response = &responses[row];
            exp.generated += 1;
            exp.generated_tokens += response.len();
            exp.truncated += rollout.truncated[row] as usize;
            let (Some(score), false) = (scored[row], group_nan[g]) else {
                continue;
            };
            let (reward, correct) = (score.reward, score.correct);
            exp.reward_sum += reward;
            exp.correct += correct as usize;
            cut_values[row][0] = prompt_value[g];
            advantages.push(chain_token_advantages(
                response.len(),
                &cuts[row],
                &cut_values[row],
                reward,
            )?);
            keep.push(probability_keep(&probs[row], rho));
            exp.sequences.push(Sequence {
                group: exp.fill.kept_groups - 1,
                prompt: prompts[g].clone(),
                response: response.clone(),
                reward,
                correct,
                truncated: rollout.truncated[row],
                replayed: false,
                env: Vec::new(),
                first_tool_call: None,
                episode: None,
                round_prompts: Vec::new(),
                behaviour_logp: None,
            });
        }
    }
    exp.fill.dropped_groups = exp.nan_reward_groups;

    let mut metrics = BTreeMap::new();
    metrics.insert("spo/mc_rollouts".into(), requests.len() as f64);
    metrics.insert("spo/mc_tokens".into(), mc_tokens as f64);
    let n = responses.len().max(1) as f64;
    metrics.insert(
        "spo/cutpoints_per_response".into(),
        cuts.iter().map(Vec::len).sum::<usize>() as f64 / n,
    );
    metrics.insert(
        "spo/prompt_value_mean".into(),
        prompt_value.iter().sum::<f64>() / n_prompts.max(1) as f64,
    );
    let plan = (!exp.sequences.is_empty()).then(|| {
        let (plan, keep_frac) = segment_plan(advantages, keep, spo);
        metrics.insert("spo/token_keep_frac".into(), keep_frac);
        plan
    });
    Ok(CollectedStep {
        experience: exp,
        plan,
        metrics,
    })
}
