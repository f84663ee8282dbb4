//! Supervised warm start on generated solutions (text-tasks.md section 2, "RL recipe"): a
//! deliberately partial skill, from a small pool of problems of a restricted distribution, so
//! that pass@k after the warm start is well above pass@1 and RL has something to sharpen.
use std::collections::BTreeMap;

use crate::codec::Codec;
use indicatif::ProgressBar;
use polopt_envs::text::{sample_batch, tool_output_mask, Problem, Split, Task};
use rand::RngExt;
use tch::Kind;

use crate::config::{OnNan, SftSection};
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
        let prompts: Vec<Vec<i64>> = batch
            .iter()
            .map(|p| tok.encode_prompt(p))
            .collect::<Result<_, _>>()?;
        let answers: Vec<Vec<i64>> = batch
            .iter()
            .map(|p| {
                let mut ids = tok
                    .encode(&p.solution)
                    .map_err(|e| TrainError::Task(format!("solution {:?}: {e}", p.solution)))?;
                ids.push(tok.eos_id());
                Ok(ids)
            })
            .collect::<Result<_, TrainError>>()?;
        let prompt_refs: Vec<&[i64]> = prompts.iter().map(Vec::as_slice).collect();
        let answer_refs: Vec<&[i64]> = answers.iter().map(Vec::as_slice).collect();
        let mut packed = pack(&prompt_refs, &answer_refs, tok.pad_id(), policy.device());
        // The char tokenizer maps one character to one id, so the text mask is the token mask.
        let env: Vec<Vec<bool>> = batch
            .iter()
            .map(|p| tool_output_mask(task, &p.solution))
            .collect();
        let env_refs: Vec<&[bool]> = env.iter().map(Vec::as_slice).collect();
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

/// Linear warm-up, then linear decay to 10% of the peak.
fn lr_scale(step: usize, total: usize, warmup: usize) -> f64 {
    if step < warmup {
        return (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    1.0 - 0.9 * progress
}
