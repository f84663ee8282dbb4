//! R³'s loop side (spec r3.md; the plain-data parts are `polopt_methods::select::r3`, the
//! credit side is the `r3` part in `select/r3`). Partly reconstructed, see docs/methods/r3.md.
//!
//! After each rollout, [`R3Hook::extend`]:
//! 1. In-Context Self-Reflection, after the first `epoch_steps` steps (our tasks are generated
//!    afresh, so an "epoch" is a number of steps): each query of the batch whose historical mean
//!    reward is below τ gets one extra group sampled from the augmented prompt
//!    `q ⊕ o_h ⊕ p_r ⊕ q` (a stored wrong response o_h, the fixed reflection text p_r, and the
//!    query again so that a completion-style model answers in the task's format).
//! 2. Cross-Context Replay: every group whose rewards are all equal gets up to `k` stored
//!    responses of the opposite outcome, under the group's own prompt, marked `replayed`.
//!    Their old log-probs are the loop's recompute under the current policy (none are stored).
//! 3. The buffer update: S <- S ∪ this step's sampled responses (replays are not re-added).
//!
//! The buffer is saved as `r3_buffer.json` in every checkpoint, so resume is exact.
use std::collections::BTreeMap;
use std::path::Path;

use crate::codec::Codec;
use polopt_envs::text::Problem;
use polopt_methods::select::{collapsed, is_hard, Attempt, Collapsed, R3Config, ReplayBuffer};
use polopt_methods::MethodConfig;
use rand::RngExt;

use crate::error::TrainError;
use crate::packing::Sequence;
use crate::rollout::{RolloutContext, StepExperience};
use crate::run_dir::write_atomic;
use crate::scoring::Scorer;
use crate::seeds::{stream, with_torch_seed};

const BUFFER_FILE: &str = "r3_buffer.json";

pub struct R3Hook {
    config: R3Config,
    buffer: ReplayBuffer,
    reflect_ids: Vec<i64>,
    /// Longest prompt (ids, `<bos>` included) that leaves room for a full response within the
    /// positions the model was sized for.
    max_prompt_len: usize,
}

impl R3Hook {
    /// `None` unless the method's parts ask for a replay extension (`wanted`) and R³'s part
    /// is the one on (`method.select.replay = "r3"`).
    pub fn new(
        method: &MethodConfig,
        wanted: bool,
        tok: &Codec,
        max_positions: i64,
        max_new_tokens: i64,
    ) -> Result<Option<Self>, TrainError> {
        let config: Option<R3Config> = method.part_settings("r3")?;
        let Some(config) = config.filter(|_| wanted) else {
            return Ok(None);
        };
        let reflect_ids = tok.encode(&config.reflect_text).map_err(|e| {
            TrainError::Config(format!(
                "config key `method.select.r3.reflect_text`: {e}; the character tokenizer \
                 knows only 0-9 a-z A-Z + - * / % = ( ) < > [ ] , . : ? space and newline"
            ))
        })?;
        Ok(Some(Self {
            config,
            buffer: ReplayBuffer::default(),
            reflect_ids,
            max_prompt_len: (max_positions - max_new_tokens).max(0) as usize,
        }))
    }

    /// Reflection groups, replays and the buffer update for one step; returns its metrics.
    pub fn extend(
        &mut self,
        ctx: &RolloutContext,
        step: usize,
        exp: &mut StepExperience,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let c = self.config.clone();
        let mut row = BTreeMap::new();
        let plain_groups = exp.problems.len();
        let seen = exp
            .problems
            .iter()
            .filter(|p| self.buffer.mean_reward(&p.key).is_some())
            .count();
        row.insert(
            "r3/seen_query_frac".into(),
            seen as f64 / plain_groups.max(1) as f64,
        );

        let reflect = self.reflection_prompts(ctx, step, &exp.problems)?;
        row.insert("r3/reflect_prompts".into(), reflect.len() as f64);
        if !reflect.is_empty() {
            let (rewards, n) = self.sample_reflections(ctx, step, exp, reflect)?;
            if n > 0 {
                row.insert("r3/reflect_reward_mean".into(), rewards / n as f64);
            }
        }

        let mut rng = stream(ctx.seed, "r3-replay", step as u64);
        let mut below = |n: usize| rng.random_range(0..n);
        let groups = group_ranges(&exp.sequences);
        if groups.len() != exp.problems.len() {
            return Err(TrainError::Task(format!(
                "R³: {} groups but {} problems in the rollout",
                groups.len(),
                exp.problems.len()
            )));
        }
        let mut collapsed_groups = 0usize;
        let mut replays = Vec::new();
        for (g, range) in groups.iter().enumerate() {
            let members = &exp.sequences[range.clone()];
            let rewards: Vec<f64> = members.iter().map(|s| s.reward).collect();
            let Some(outcome) = collapsed(&rewards, c.success_reward) else {
                continue;
            };
            collapsed_groups += 1;
            let want_successes = outcome == Collapsed::AllNegative;
            let key = &exp.problems[g].key;
            for a in self.buffer.pick(&c, key, want_successes, c.k, &mut below) {
                replays.push(Sequence {
                    group: g,
                    prompt: members[0].prompt.clone(),
                    correct: a.reward >= c.success_reward,
                    response: a.response,
                    reward: a.reward,
                    truncated: a.truncated,
                    replayed: true,
                    env: Vec::new(),
                    first_tool_call: None,
                    episode: None,
                    round_prompts: Vec::new(),
                    behaviour_logp: None,
                });
            }
        }
        row.insert("r3/collapsed_groups".into(), collapsed_groups as f64);

        for (g, range) in groups.iter().enumerate() {
            let attempts = exp.sequences[range.clone()].iter().map(|s| Attempt {
                response: s.response.clone(),
                reward: s.reward,
                truncated: s.truncated,
            });
            self.buffer.insert(&c, step, &exp.problems[g].key, attempts);
        }
        exp.sequences.extend(replays);
        row.insert("r3/buffer_queries".into(), self.buffer.queries.len() as f64);
        Ok(row)
    }

    /// Augmented prompts for the hard queries of this batch, at most `reflect_prompts`.
    fn reflection_prompts(
        &self,
        ctx: &RolloutContext,
        step: usize,
        problems: &[Problem],
    ) -> Result<Vec<(Problem, Vec<i64>)>, TrainError> {
        let c = &self.config;
        let mut out = Vec::new();
        if step <= c.epoch_steps || c.reflect_prompts == 0 {
            return Ok(out);
        }
        let mut rng = stream(ctx.seed, "r3-reflect", step as u64);
        let mut below = |n: usize| rng.random_range(0..n);
        for problem in problems {
            if out.len() == c.reflect_prompts {
                break;
            }
            if !is_hard(&self.buffer, &problem.key, c.tau) {
                continue;
            }
            let wrong = self.buffer.pick(c, &problem.key, false, 1, &mut below);
            let Some(wrong) = wrong.first() else {
                continue;
            };
            let query = ctx.tok.encode_prompt(problem)?;
            let mut ids = query.clone();
            ids.extend(wrong.response.iter().filter(|&&t| !ctx.tok.is_special(t)));
            ids.extend(&self.reflect_ids);
            ids.extend(&query[1..]);
            if ids.len() <= self.max_prompt_len {
                out.push((problem.clone(), ids));
            }
        }
        Ok(out)
    }

    /// Samples `group_size` responses per augmented prompt (its own seeded draw, so the plain
    /// groups are sampled exactly as without reflection) and appends them as new groups.
    /// Returns the reward sum and count of the reflection responses.
    fn sample_reflections(
        &self,
        ctx: &RolloutContext,
        step: usize,
        exp: &mut StepExperience,
        reflect: Vec<(Problem, Vec<i64>)>,
    ) -> Result<(f64, usize), TrainError> {
        let rl = ctx.rl;
        let sampling = rl.sampling(ctx.tok, rl.max_new_tokens);
        let repeated: Vec<Vec<i64>> = reflect
            .iter()
            .flat_map(|(_, ids)| std::iter::repeat_n(ids.clone(), rl.group_size))
            .collect();
        let rollout = with_torch_seed(ctx.seed, "r3-reflect-sampling", step as u64, || {
            ctx.policy.sample(&repeated, &sampling)
        })?;
        let responses = rollout.response_ids_with_eos();
        let scorer = Scorer::for_rollout(ctx).from_origin(" for a reflection group");
        let (mut reward_sum, mut count) = (0.0, 0usize);
        for (g, (problem, prompt)) in reflect.into_iter().enumerate() {
            let group = exp.problems.len();
            let mut members = Vec::with_capacity(rl.group_size);
            for j in 0..rl.group_size {
                let row = g * rl.group_size + j;
                let response = responses[row].clone();
                let score = scorer.score(&problem, &response, step)?;
                members.push(Sequence {
                    group,
                    prompt: prompt.clone(),
                    response,
                    reward: score.reward,
                    correct: score.correct,
                    truncated: rollout.truncated[row],
                    replayed: false,
                    env: Vec::new(),
                    first_tool_call: None,
                    episode: None,
                    round_prompts: Vec::new(),
                    behaviour_logp: None,
                });
            }
            if members.iter().any(|s| !s.reward.is_finite()) {
                // As in the plain rollout: no trustworthy baseline, so the group goes whole.
                exp.nan_reward_groups += 1;
                continue;
            }
            reward_sum += members.iter().map(|s| s.reward).sum::<f64>();
            count += members.len();
            exp.sequences.extend(members);
            exp.problems.push(problem);
        }
        Ok((reward_sum, count))
    }

    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        let text = serde_json::to_string(&self.buffer)
            .map_err(|e| TrainError::Config(format!("R³ buffer does not serialize: {e}")))?;
        write_atomic(&dir.join(BUFFER_FILE), text.as_bytes())
    }

    pub fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join(BUFFER_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        self.buffer = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        Ok(())
    }

    pub fn buffer(&self) -> &ReplayBuffer {
        &self.buffer
    }
}

/// Index ranges of the contiguous groups `0..n` of a rollout (ids ascend from 0).
fn group_ranges(seqs: &[Sequence]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, s) in seqs.iter().enumerate() {
        if s.group == out.len() {
            out.push(i..i + 1);
        } else if let Some(r) = out.last_mut() {
            r.end = i + 1;
        }
    }
    out
}
