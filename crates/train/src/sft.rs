//! Supervised warm start on generated solutions (text-tasks.md section 2, "RL recipe"): a
//! deliberately partial skill, from a small pool of problems of a restricted distribution, so
//! that pass@k after the warm start is well above pass@1 and RL has something to sharpen.
use std::collections::BTreeMap;

use crate::codec::Codec;
use indicatif::ProgressBar;
use polopt_envs::agent::workspace_rounds;
use polopt_envs::text::{sample_batch, tool_output_mask, Problem, Split, Task};
use rand::RngExt;
use tch::Kind;

use crate::config::{AgentContext, OnNan, SftSection};
use crate::error::TrainError;
use crate::eval::greedy_pass1;
use crate::optim::{AdamW, StepOutcome};
use crate::packing::{mask_env_tokens, pack};
use crate::policy::Policy;
use crate::reward::RewardFn;
use crate::seeds::stream;

/// What a warm start runs on besides its settings: the task it samples solutions from, the
/// run's seed and NaN policy, and the verifier and length of its stopping check
/// (`sft.target_pass1`).
pub struct WarmStartContext<'a> {
    pub task: &'a dyn Task,
    pub seed: u64,
    pub on_nan: OnNan,
    pub reward: &'a dyn RewardFn,
    pub max_new_tokens: i64,
    pub max_turn_tokens: usize,
}

/// Trains `policy` with teacher forcing on `<bos> prompt | solution <eos>`, the loss on the
/// completion tokens only, less any tool output in the solution (the environment writes it
/// during rollouts, so the policy is never trained to produce it). Stops early once greedy
/// pass@1 on validation problems of the task reaches `cfg.target_pass1` (when set). Returns the
/// mean loss of the last 10% of the steps run, the steps run, the last check and the NaN count.
pub fn warm_start(
    policy: &Policy,
    tok: &Codec,
    cfg: &SftSection,
    ctx: &WarmStartContext,
    progress: &ProgressBar,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let (task, seed, on_nan) = (ctx.task, ctx.seed, ctx.on_nan);
    let mut opt = AdamW::new(&policy.vs, cfg.lr, cfg.weight_decay);
    // Fixed problem sets, each from its own stream: `n = 0` draws none.
    let fixed = |split, n, name| sample_batch(task, split, n, &mut stream(seed, name, 0));
    let pool: Vec<Problem> = fixed(Split::Train, cfg.pool_size, "sft-pool");
    let check_problems: Vec<Problem> = match cfg.target_pass1 > 0.0 {
        true => fixed(Split::Validation, cfg.check_problems, "sft-check"),
        false => Vec::new(),
    };
    let mut losses: Vec<f64> = Vec::with_capacity(cfg.steps);
    let mut last_check = f64::NAN;
    let mut nan_events = 0usize;
    for step in 0..cfg.steps {
        let mut rng = stream(seed, "sft-batch", step as u64);
        let batch: Vec<Problem> = if pool.is_empty() {
            sample_batch(task, Split::Train, cfg.batch_size, &mut rng)
        } else {
            (0..cfg.batch_size)
                .map(|_| pool[rng.random_range(0..pool.len())].clone())
                .collect()
        };
        let rows = teacher_rows(task, tok, &batch, policy.agent_context)?;
        let prompt_refs: Vec<&[i64]> = rows.iter().map(|r| r.prompt.as_slice()).collect();
        let answer_refs: Vec<&[i64]> = rows.iter().map(|r| r.answer.as_slice()).collect();
        let mut packed = pack(&prompt_refs, &answer_refs, tok.pad_id(), policy.device());
        let env_refs: Vec<&[bool]> = rows.iter().map(|r| r.env.as_slice()).collect();
        mask_env_tokens(&mut packed, &env_refs);
        let (logp, _) = policy.logprobs(&packed, 1.0, false);
        let loss = -(logp * &packed.response_mask).sum(Kind::Float)
            / packed.response_token_count().max(1.0);
        opt.lr = cfg.lr * lr_scale(step, cfg.steps, cfg.warmup_steps);
        let value = match opt.guarded_step(&loss, 1.0) {
            StepOutcome::Applied { loss, .. } => loss,
            StepOutcome::NonFinite { what } => {
                nan_events += 1;
                if on_nan == OnNan::Stop {
                    return Err(TrainError::NonFinite {
                        what: format!("warm-start {what}"),
                        step,
                        hint: "lower sft.lr",
                    });
                }
                progress.inc(1);
                continue;
            }
        };
        losses.push(value);
        progress.inc(1);
        if !check_problems.is_empty() && (step + 1) % cfg.check_every == 0 {
            last_check = greedy_pass1(
                policy,
                tok,
                ctx.reward,
                task,
                &check_problems,
                ctx.max_new_tokens,
                ctx.max_turn_tokens,
            )?;
            tracing::debug!(
                step = step + 1,
                slice_pass1 = last_check,
                "warm-start check"
            );
            progress.set_message(format!("loss {value:.3}, slice pass@1 {last_check:.3}"));
            if last_check >= cfg.target_pass1 {
                break;
            }
        } else {
            progress.set_message(format!("loss {value:.3}"));
        }
    }
    let reached = last_check >= cfg.target_pass1; // false when no check ran (NaN)
    if !check_problems.is_empty() && !reached {
        let last = match last_check.is_finite() {
            true => format!("last check {last_check:.3}"),
            false => format!("no check ran: sft.check_every = {}", cfg.check_every),
        };
        tracing::warn!(
            "the warm start did not reach sft.target_pass1 = {} in {} steps ({last}); \
             RL starts from it anyway",
            cfg.target_pass1,
            losses.len(),
        );
    }
    let tail = &losses[losses.len() - losses.len() / 10..];
    let tail = if tail.is_empty() { &losses[..] } else { tail };
    let mut out = BTreeMap::new();
    if !tail.is_empty() {
        out.insert(
            "sft/final_loss".to_string(),
            tail.iter().sum::<f64>() / tail.len() as f64,
        );
    }
    out.insert("sft/steps_run".to_string(), losses.len() as f64);
    // Only when a check ran: metrics go to JSON, which has no NaN.
    if last_check.is_finite() {
        out.insert("sft/slice_pass@1".to_string(), last_check);
    }
    out.insert("sft/nan_events".to_string(), nan_events as f64);
    Ok(out)
}

/// One teacher-forced row: prompt ids, answer ids, and per answer token whether the
/// environment wrote it (kept out of the loss).
struct TeacherRow {
    prompt: Vec<i64>,
    answer: Vec<i64>,
    env: Vec<bool>,
}

/// The rows of `batch`: `<bos> prompt | solution <eos>` with the environment's text masked, or,
/// for an agent task under workspace reconstruction, one row per round, `<bos> workspace |
/// action`, as the rollout samples it ([`polopt_envs::agent::Workspace`]). Only the last
/// action is followed by `<eos>`: in a rollout an `<eos>` ends the episode.
fn teacher_rows(
    task: &dyn Task,
    tok: &Codec,
    batch: &[Problem],
    context: AgentContext,
) -> Result<Vec<TeacherRow>, TrainError> {
    let encode = |text: &str| {
        tok.encode(text)
            .map_err(|e| TrainError::Task(format!("solution {text:?}: {e}")))
    };
    let env = task
        .agent_env()
        .filter(|_| context == AgentContext::Workspace);
    let mut rows = Vec::with_capacity(batch.len());
    for p in batch {
        let Some(env) = &env else {
            let mut answer = encode(&p.solution)?;
            answer.push(tok.eos_id());
            // The char tokenizer maps one character to one id, so the text mask is the token
            // mask.
            let env = tool_output_mask(task, &p.solution);
            rows.push(TeacherRow {
                prompt: tok.encode_prompt(p)?,
                answer,
                env,
            });
            continue;
        };
        let rounds = workspace_rounds(&p.prompt, &p.solution, env.action_stops());
        let last = rounds.len().saturating_sub(1);
        for (t, (context, action)) in rounds.into_iter().enumerate() {
            let mut answer = encode(&action)?;
            if t == last {
                answer.push(tok.eos_id());
            }
            let round = Problem {
                prompt: context,
                ..p.clone()
            };
            rows.push(TeacherRow {
                prompt: tok.encode_prompt(&round)?,
                env: vec![false; answer.len()],
                answer,
            });
        }
    }
    Ok(rows)
}

/// Linear warm-up, then linear decay to 10% of the peak.
fn lr_scale(step: usize, total: usize, warmup: usize) -> f64 {
    if step < warmup {
        return (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    1.0 - 0.9 * progress
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn workspace_rows_are_one_per_action_with_eos_after_the_last_only() {
        let task = polopt_envs::text::make_task("corridor", &serde_json::Value::Null).unwrap();
        let tok = Codec::builtin_with(task.extra_chars()).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let batch: Vec<Problem> = (0..3)
            .map(|_| task.sample(Split::Train, &mut rng))
            .collect();
        let history = teacher_rows(task.as_ref(), &tok, &batch, AgentContext::History).unwrap();
        assert_eq!(history.len(), 3);
        assert!(history.iter().all(|r| r.env.iter().any(|&e| e)));
        let rounds = teacher_rows(task.as_ref(), &tok, &batch, AgentContext::Workspace).unwrap();
        let stops = task.agent_env().unwrap().action_stops().to_vec();
        let mut at = 0;
        for p in &batch {
            let expected = workspace_rounds(&p.prompt, &p.solution, &stops);
            assert!(expected.len() > 2, "the expert takes several turns");
            for (t, (context, action)) in expected.iter().enumerate() {
                let row = &rounds[at + t];
                assert_eq!(&tok.decode(&row.prompt[1..]), context);
                let eos = row.answer.last() == Some(&tok.eos_id());
                assert_eq!(
                    eos,
                    t + 1 == expected.len(),
                    "eos after the last action only"
                );
                assert_eq!(
                    &tok.decode(&row.answer[..row.answer.len() - eos as usize]),
                    action
                );
                assert!(row.env.iter().all(|&e| !e));
            }
            at += expected.len();
        }
        assert_eq!(at, rounds.len());
    }
}
