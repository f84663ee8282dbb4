//! Multi-turn episodes for tasks that are agent environments ([`Task::agent_env`]), played turn
//! by turn with the KV-cache sampler, as the tool rounds of `tool_rollout.rs` are.
//!
//! Each row is one episode: the prompt is the first observation, the response holds the
//! policy's actions and the environment's replies (observation + turn prompt), the replies
//! carrying `env` = true so that the loss masks them out. A round samples every live row until
//! one of the environment's action stops (a newline, a closing tag), `<eos>` or the round's
//! length; the action is played, and the reply appended for the next round. The prompt and the
//! history stay in the batch's KV cache across rounds ([`Continuation`]): a round prefills only
//! each row's new tokens (the reply, and the turn's last sampled token), in one batched chunk.
//! [`TurnCache::Refill`] instead re-feeds each row's whole history every round (the reference
//! the kept cache is tested against).
//!
//! Stop rules: an episode ends when the environment terminates or truncates (its horizon), when
//! the policy writes `<eos>` (the text before it is played as the last action), or at the
//! context budget `rl.max_new_tokens` (actions and replies together: the width the loss sees).
//! Budget rule, the same as [`polopt_envs::agent::replay`]'s: a turn cut by the budget is
//! played as the last action; a reply cut by it ends the episode. Turn spans, per-turn rewards
//! and the observation hashes go to credit as [`Episode`]s.
//!
//! Under [`AgentContext::Workspace`] (EAPO, IterResearch) each action is sampled from the
//! episode's reconstructed [`Workspace`] instead of its history, re-fed every round; the row
//! still holds the whole trajectory text (the scorer replays it) and records each turn's
//! workspace prompt in [`Sampled::round_prompts`], from which the update builds one row per
//! turn.
use std::collections::BTreeMap;

use polopt_envs::agent::plan::parse_plan_turn;
use polopt_envs::agent::{
    env_reply, normalize_action, AgentEnv, AgentTask, Workspace, PLAN_EXECUTE_KEY,
};
use polopt_envs::text::{fnv1a64, Problem, Task};
use polopt_methods::credit::turns::Episode;
use polopt_methods::credit::PlanTurns;
use polopt_models::{Continuation, SamplingConfig};

use crate::codec::Codec;
use crate::config::AgentContext;
use crate::error::TrainError;
use crate::policy::Policy;
use crate::tool_rollout::{next_round, round_of, Sampled};

/// One live episode.
struct Live {
    env: Box<dyn AgentEnv>,
    /// Token position in the response where the current turn's action began.
    turn_start: usize,
    /// Hash of the observation the current action is taken from.
    state: u64,
    /// The reconstructed context ([`AgentContext::Workspace`] only).
    workspace: Option<LiveWorkspace>,
}

/// An episode's [`Workspace`], the problem whose prompt it rebuilds, and the prompt ids the
/// current turn is sampled from.
struct LiveWorkspace {
    workspace: Workspace,
    problem: Problem,
    prompt_ids: Vec<i64>,
}

/// How a multi-turn rollout feeds each round's rows to the sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TurnCache {
    /// Keep the batch's KV cache across rounds and prefill only each row's new tokens.
    #[default]
    Keep,
    /// Re-feed each row's prompt and history as one prefix every round (prefilled in one pass).
    Refill,
}

/// Plays one episode per prompt; `problems[i]` is the instance of `prompts[i]` (rows of one
/// group share it), feeding rounds as the policy's `turn_cache` says. Call it inside
/// `with_torch_seed`: every round draws from libtorch.
pub fn sample_episodes(
    policy: &Policy,
    tok: &Codec,
    task: &dyn Task,
    prompts: &[Vec<i64>],
    problems: &[&Problem],
    sampling: &SamplingConfig,
    max_turn_tokens: usize,
) -> Result<Vec<Sampled>, TrainError> {
    let rollout = Rollout {
        policy,
        tok,
        task,
        sampling,
        max_turn_tokens,
        cache: policy.turn_cache,
        context: policy.agent_context,
    };
    Ok(rollout.play(prompts, problems)?.0)
}

/// One multi-turn rollout's fixed parts; [`sample_episodes`] with a choice of [`TurnCache`],
/// and the behaviour log-probs of the kept action tokens (what the equality of the two feeds
/// is tested on).
pub struct Rollout<'a> {
    pub policy: &'a Policy,
    pub tok: &'a Codec,
    pub task: &'a dyn Task,
    pub sampling: &'a SamplingConfig,
    pub max_turn_tokens: usize,
    pub cache: TurnCache,
    pub context: AgentContext,
}

impl Rollout<'_> {
    /// The episodes of [`sample_episodes`], and per row the sampler's log-probs of the action
    /// tokens it kept, in response order.
    pub fn play(
        &self,
        prompts: &[Vec<i64>],
        problems: &[&Problem],
    ) -> Result<(Vec<Sampled>, Vec<Vec<f32>>), TrainError> {
        let Rollout {
            policy,
            tok,
            task,
            sampling,
            max_turn_tokens,
            cache,
            context,
        } = *self;
        let workspace = context == AgentContext::Workspace;
        let budget = sampling.max_new_tokens as usize;
        let max_positions = policy.config.max_position_embeddings as usize;
        // What a row may still sample in its current turn: the budget, the turn's limit, and the
        // model's positions after what it samples from (prompt and history, or its workspace).
        let turn_cap = |prompt: &[i64], row: &Sampled, live: &Live| {
            let context = match &live.workspace {
                Some(w) => w.prompt_ids.len() + row.response.len() - live.turn_start,
                None => prompt.len() + row.response.len(),
            };
            let left = (budget - row.response.len()).min(max_positions.saturating_sub(context));
            match max_turn_tokens {
                0 => left,
                cap => left.min((live.turn_start + cap).saturating_sub(row.response.len())),
            }
        };
        let mut rows: Vec<Sampled> = vec![Sampled::default(); prompts.len()];
        let mut live = Vec::with_capacity(prompts.len());
        for (problem, prompt) in problems.iter().zip(prompts) {
            let mut env = task.agent_env().ok_or_else(|| {
                TrainError::Task(format!(
                    "task `{}` is not an agent environment",
                    task.name()
                ))
            })?;
            let seed = AgentTask::seed_of(problem).ok_or_else(|| {
                TrainError::Task(format!(
                    "problem {:?} has no instance seed (meta.seed): agent problems come from the \
                     environment's generator",
                    problem.key
                ))
            })?;
            let reset = env.reset(seed);
            live.push(Live {
                env,
                turn_start: 0,
                state: fnv1a64(&reset.observation),
                workspace: workspace.then(|| LiveWorkspace {
                    workspace: Workspace::default(),
                    problem: (*problem).clone(),
                    prompt_ids: prompt.clone(),
                }),
            });
        }
        for (row, live) in rows.iter_mut().zip(&live) {
            row.episode = Some(Episode::default());
            if let Some(w) = &live.workspace {
                row.round_prompts.push(w.prompt_ids.clone());
            }
        }
        let stop_texts: Vec<&'static str> = live
            .first()
            .map(|l| l.env.action_stops().to_vec())
            .unwrap_or_default();
        let stop_ids: Vec<Vec<i64>> = stop_texts
            .iter()
            .map(|s| tok.encode(s))
            .collect::<Result<_, _>>()
            .map_err(|e| TrainError::Task(format!("action stop: {e}")))?;
        let stops: Vec<&[i64]> = stop_ids.iter().map(Vec::as_slice).collect();
        // Plan-execute turns (HiPER): each turn's decision, subgoal and action spans are recorded.
        let plan_execute = live.first().is_some_and(|l| {
            l.env.config_json().get(PLAN_EXECUTE_KEY) == Some(&serde_json::Value::Bool(true))
        });
        if plan_execute && workspace {
            return Err(TrainError::Config(
                "config key `rl.agent_context` = \"workspace\": plan-execute turns \
                 (task.rl.plan_execute) keep their plan in the history; use \
                 rl.agent_context = \"history\""
                    .into(),
            ));
        }
        let ctx = TurnContext {
            tok,
            stops: &stops,
            stop_texts: &stop_texts,
            eos: sampling.eos_token_id,
            budget,
            plan_execute,
        };
        // A kept cache reserves room for the budget twice over: a round's slots are as wide as
        // its longest chunk and longest turn, so rows leave gaps; a round that does not fit
        // rebuilds the cache with one prefill. A workspace changes every turn: nothing to keep.
        let mut kept = (cache == TurnCache::Keep && !workspace)
            .then(|| Continuation::new(&policy.model, 2 * budget as i64));
        let mut logps = vec![Vec::new(); prompts.len()];
        let mut active: Vec<usize> = (0..prompts.len()).collect();
        while !active.is_empty() {
            let mut next = Vec::new();
            // A row with no room left (budget, turn limit or positions) ends its turn unsampled.
            let (stalled, sampled): (Vec<usize>, Vec<usize>) = active
                .iter()
                .partition(|&&i| turn_cap(&prompts[i], &rows[i], &live[i]) == 0);
            for i in stalled {
                if ctx.absorb(&mut rows[i], &mut live[i], &[], true, 0)? {
                    next.push(i);
                }
            }
            if !sampled.is_empty() {
                let room = |i: usize| turn_cap(&prompts[i], &rows[i], &live[i]);
                let (prefixes, round) = match workspace {
                    false => next_round(prompts, &rows, &sampled, sampling, max_positions, room),
                    true => {
                        let prefixes = sampled
                            .iter()
                            .map(|&i| {
                                let ids = live[i]
                                    .workspace
                                    .as_ref()
                                    .map_or(&prompts[i], |w| &w.prompt_ids);
                                [ids.as_slice(), &rows[i].response[live[i].turn_start..]].concat()
                            })
                            .collect();
                        round_of(prefixes, &sampled, sampling, max_positions, room)
                    }
                };
                let rollout = match kept.as_mut() {
                    Some(kept) => kept
                        .sample_until_any(&sampled, &prefixes, &round, &stops)
                        .map_err(|e| TrainError::Model(e.to_string()))?,
                    None => policy.sample_until_any(&prefixes, &round, &stops)?,
                };
                let width = rollout.response_width() as usize;
                let logp = Vec::<f32>::try_from(
                    rollout
                        .logp
                        .to_device(tch::Device::Cpu)
                        .contiguous()
                        .view([-1]),
                )
                .map_err(|e| TrainError::Model(e.to_string()))?;
                for (k, ((&i, new), &cut)) in sampled
                    .iter()
                    .zip(rollout.response_ids_with_eos())
                    .zip(&rollout.truncated)
                    .enumerate()
                {
                    let cap = turn_cap(&prompts[i], &rows[i], &live[i]);
                    let take = new.len().min(cap);
                    logps[i].extend_from_slice(&logp[k * width..k * width + take]);
                    if ctx.absorb(&mut rows[i], &mut live[i], &new, cut, cap)? {
                        next.push(i);
                    }
                }
            }
            active = next;
        }
        Ok((rows, logps))
    }
}

/// What handling one row's turn needs besides the row.
struct TurnContext<'a> {
    tok: &'a Codec,
    stops: &'a [&'a [i64]],
    stop_texts: &'a [&'static str],
    eos: i64,
    budget: usize,
    plan_execute: bool,
}

impl TurnContext<'_> {
    /// Takes a round's `new` tokens into `row` (at most `cap` of them, the room the row had;
    /// `cut`: the round ended before a stop or `<eos>`), and when the turn is over plays its
    /// action and appends the reply. True when the episode goes on into another round.
    fn absorb(
        &self,
        row: &mut Sampled,
        episode: &mut Live,
        new: &[i64],
        cut: bool,
        cap: usize,
    ) -> Result<bool, TrainError> {
        let take = new.len().min(cap);
        row.response.extend_from_slice(&new[..take]);
        row.env.resize(row.response.len(), false);
        if cut && take < cap {
            // The round ended before this row's stop, with room left: sample on.
            return Ok(true);
        }
        let eos = take > 0 && take == new.len() && new.last() == Some(&self.eos) && !cut;
        let action_end = row.response.len() - eos as usize;
        let stop = self
            .stops
            .iter()
            .zip(self.stop_texts)
            .find(|(ids, _)| !eos && row.response[episode.turn_start..action_end].ends_with(ids))
            .map(|(_, text)| *text);
        // A turn without its stop or `<eos>` was cut by the room it had (budget, turn limit or
        // positions): it is played as the episode's last action.
        let out_of_room = stop.is_none() && !eos;
        let action = self
            .tok
            .decode(&row.response[episode.turn_start..action_end]);
        let step = episode.env.step(&action);
        // Every row starts with an empty episode (sample_episodes), so there is one to extend.
        let Some(turns) = row.episode.as_mut() else {
            return Ok(false);
        };
        let span = (episode.turn_start, row.response.len());
        match self.plan_execute {
            true => record_plan_turn(turns, self.tok, &action, span),
            false => turns.spans.push(span),
        }
        turns.rewards.push(step.reward);
        turns.states.push(episode.state);
        let normalized = normalize_action(&action, episode.env.action_stops());
        turns.actions.push(fnv1a64(&normalized));
        turns.invalid.push(step.invalid);
        turns.terminated = step.terminated;
        episode.state = fnv1a64(&step.observation);
        if step.terminated || step.truncated || eos || out_of_room {
            row.truncated = out_of_room && !step.terminated;
            return Ok(false);
        }
        let reply = env_reply(stop.unwrap_or(""), &step.observation);
        let ids = self
            .tok
            .encode(&reply)
            .map_err(|e| TrainError::Task(format!("observation {reply:?}: {e}")))?;
        let room = self.budget - row.response.len();
        let fits = ids.len().min(room);
        row.response.extend_from_slice(&ids[..fits]);
        row.env.resize(row.response.len(), true);
        if fits < ids.len() || fits == room {
            row.truncated = true;
            return Ok(false);
        }
        episode.turn_start = row.response.len();
        if let Some(LiveWorkspace {
            workspace,
            problem,
            prompt_ids: ids,
        }) = episode.workspace.as_mut()
        {
            workspace.push(&action, stop.unwrap_or(""), &step.observation);
            let rebuilt = Problem {
                prompt: workspace.context(&problem.prompt),
                ..problem.clone()
            };
            *ids = self.tok.encode_prompt(&rebuilt)?;
            row.round_prompts.push(ids.clone());
        }
        Ok(true)
    }
}

/// Records one plan-execute turn whose tokens are `span` and text `text`: the action's span
/// goes to [`Episode::spans`], the decision's and the subgoal's to the plan, with placeholder
/// values that the plan critic fills before credit. A turn that does not parse is all action
/// and keeps the current segment.
fn record_plan_turn(episode: &mut Episode, tok: &Codec, text: &str, span: (usize, usize)) {
    // Token offset of a byte position: exact for the character vocabulary, the prefix's
    // token count for a subword one.
    let at = |byte: usize| span.0 + tok.encode(&text[..byte]).map_or(byte, |ids| ids.len());
    let plan = episode.plan.get_or_insert_with(|| PlanTurns {
        v_term: Some(Vec::new()),
        ..Default::default()
    });
    match parse_plan_turn(text) {
        Some(turn) => {
            plan.switch.push(turn.switch);
            plan.switch_spans
                .push((at(turn.decision.start), at(turn.decision.end)));
            plan.subgoal_spans
                .push((at(turn.subgoal.start), at(turn.subgoal.end)));
            episode
                .spans
                .push((at(turn.action.start).min(span.1), span.1));
        }
        None => {
            plan.switch.push(false);
            plan.switch_spans.push((span.0, span.0));
            plan.subgoal_spans.push((span.0, span.0));
            episode.spans.push(span);
        }
    }
    plan.v_low.push(0.0);
    plan.v_high.push(0.0);
    if let Some(v_term) = plan.v_term.as_mut() {
        v_term.push(0.0);
    }
}

/// Agent statistics over a step's (or an evaluation's) episodes.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentStats {
    pub episodes: usize,
    pub turns: usize,
    pub invalid: usize,
    pub terminated: usize,
    pub env_tokens: usize,
}

impl AgentStats {
    pub fn add(&mut self, s: &Sampled) {
        let Some(episode) = &s.episode else {
            return;
        };
        self.episodes += 1;
        self.turns += episode.turns();
        self.invalid += episode.invalid.iter().filter(|&&b| b).count();
        self.terminated += episode.terminated as usize;
        self.env_tokens += s.env.iter().filter(|&&e| e).count();
    }

    /// `agent/*` metrics: turns per episode (episode length), the share of invalid actions,
    /// the share of episodes the environment ended (goal, purchase, answer), and environment
    /// tokens per episode. Success is `accuracy` (`eval/pass@1` held out). Empty when no
    /// episode was played.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let mut row = BTreeMap::new();
        if self.episodes == 0 {
            return row;
        }
        let n = self.episodes as f64;
        row.insert("agent/turns".into(), self.turns as f64 / n);
        row.insert(
            "agent/invalid_rate".into(),
            self.invalid as f64 / self.turns.max(1) as f64,
        );
        row.insert("agent/terminated_frac".into(), self.terminated as f64 / n);
        row.insert("agent/env_tokens".into(), self.env_tokens as f64 / n);
        row
    }
}

/// IGPO's probe (igpo.md, step 1): for every turn `t` of every episode, the policy's
/// length-normalised probability of the gold answer, teacher-forced after the history before
/// that turn's action and the environment's answer prefix: `exp(mean_j log pi(a_j | ...))`.
/// Detached, at temperature 1, with the weights that sampled the episodes (the old policy).
/// Fills [`Episode::gold_probs`]; rows without an episode or a gold answer are left alone.
pub fn probe_gold_answers(
    policy: &Policy,
    tok: &Codec,
    task: &dyn Task,
    prompts: &[Vec<i64>],
    problems: &[&Problem],
    rows: &mut [Sampled],
) -> Result<(), TrainError> {
    let Some(env) = task.agent_env() else {
        return Ok(());
    };
    let prefix = tok
        .encode(env.answer_prefix())
        .map_err(|e| TrainError::Task(format!("answer prefix: {e}")))?;
    // (row, context ids, gold ids) for every turn of every episode with a gold answer.
    let mut queries: Vec<(usize, Vec<i64>, Vec<i64>)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Some(episode) = &row.episode else {
            continue;
        };
        if problems[i].answer.is_empty() {
            return Err(TrainError::Config(format!(
                "config key `method.credit.estimator`: the gold-answer probe (IGPO) needs an \
                 environment with a gold answer (searchqa); `{}` has none",
                task.name()
            )));
        }
        let gold = tok
            .encode(&problems[i].answer)
            .map_err(|e| TrainError::Task(format!("gold answer {:?}: {e}", problems[i].answer)))?;
        for &(start, _) in &episode.spans {
            let context = [prompts[i].as_slice(), &row.response[..start], &prefix].concat();
            queries.push((i, context, gold.clone()));
        }
    }
    const CHUNK: usize = 64;
    for chunk in queries.chunks(CHUNK) {
        let contexts: Vec<&[i64]> = chunk.iter().map(|(_, c, _)| c.as_slice()).collect();
        let golds: Vec<&[i64]> = chunk.iter().map(|(_, _, g)| g.as_slice()).collect();
        let packed = crate::packing::pack(&contexts, &golds, tok.pad_id(), policy.device());
        let (logp, _) = tch::no_grad(|| policy.logprobs(&packed, 1.0, false));
        let sums = (logp * &packed.response_mask).sum_dim_intlist(1, false, tch::Kind::Double);
        let sums = Vec::<f64>::try_from(sums.to_device(tch::Device::Cpu))
            .map_err(|e| TrainError::Model(e.to_string()))?;
        for ((i, _, gold), sum) in chunk.iter().zip(sums) {
            let p = (sum / gold.len().max(1) as f64).exp();
            if let Some(episode) = rows[*i].episode.as_mut() {
                episode.gold_probs.push(p);
            }
        }
    }
    Ok(())
}
