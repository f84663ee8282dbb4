//! Sampling with tool interrupts, for tasks that offer a tool ([`Task::tool`]).
//!
//! The sampler stops a row right after the call's closing tag (a stop sequence); the task
//! answers the call, its reply is appended to the row as tokens the policy did not sample, and
//! every interrupted row resumes from its extended prefix in the next round. A row ends at
//! `<eos>`, at the response budget (`max_new_tokens`, tool tokens included: it is the sequence
//! width the loss sees), or at the closing tag of a call beyond `max_calls` (unanswered). Tool
//! tokens carry `env` = true: the loss masks them out and they never get behaviour log-probs
//! (the loop recomputes old log-probs, so none are kept from the sampler). Tasks without a tool
//! take one plain sampling round, exactly as before.
use std::collections::BTreeMap;

use polopt_envs::text::{Problem, Task, ToolProtocol};
use polopt_methods::credit::turns::Episode;
use polopt_models::{Rollout, SamplingConfig};

use crate::codec::Codec;
use crate::error::TrainError;
use crate::policy::Policy;

/// One sampled response.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sampled {
    /// Response ids, the `<eos>` included when one was produced, tool replies included.
    pub response: Vec<i64>,
    /// Per response token: written by the environment (a tool reply). Empty when none is.
    pub env: Vec<bool>,
    pub truncated: bool,
    pub calls: usize,
    /// Calls whose reply was an error (bad expression, division by zero, ...).
    pub errors: usize,
    /// Token position of the first call's opening tag (its closing tag when none was opened).
    pub first_call: Option<usize>,
    /// The turns of a multi-turn episode (agent tasks), for turn-level credit.
    pub episode: Option<Episode>,
    /// Per turn, the prompt ids its action was sampled from, when that was not the history
    /// (`rl.agent_context = "workspace"`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub round_prompts: Vec<Vec<i64>>,
}

/// One [`Sampled`] per row of a single-turn rollout (no tool output in it).
pub fn samples_of(rollout: &Rollout) -> Vec<Sampled> {
    rollout
        .response_ids_with_eos()
        .into_iter()
        .zip(&rollout.truncated)
        .map(|(response, &truncated)| Sampled {
            response,
            truncated,
            ..Default::default()
        })
        .collect()
}

/// Samples one response per prompt under `sampling`, answering tool calls when `task` has a
/// tool and playing episodes when it is an agent environment (`problems[i]` is the problem of
/// `prompts[i]`). Call it inside `with_torch_seed`: every round draws from libtorch's generator.
pub fn sample_responses(
    policy: &Policy,
    tok: &Codec,
    task: &dyn Task,
    prompts: &[Vec<i64>],
    problems: &[&Problem],
    sampling: &SamplingConfig,
    max_turn_tokens: usize,
) -> Result<Vec<Sampled>, TrainError> {
    if task.agent_env().is_some() {
        return crate::agent_rollout::sample_episodes(
            policy,
            tok,
            task,
            prompts,
            problems,
            sampling,
            max_turn_tokens,
        );
    }
    let Some(tool) = task.tool() else {
        return Ok(samples_of(&policy.sample(prompts, sampling)?));
    };
    let encode = |text: &str| {
        tok.encode(text)
            .map_err(|e| TrainError::Task(format!("tool text {text:?}: {e}")))
    };
    let tags = Tags {
        open: encode(tool.call_open)?,
        close: encode(tool.call_close)?,
    };
    let budget = sampling.max_new_tokens as usize;
    let mut rows: Vec<Sampled> = vec![Sampled::default(); prompts.len()];
    let mut active: Vec<usize> = (0..prompts.len()).collect();
    let max_positions = policy.config.max_position_embeddings as usize;
    while !active.is_empty() {
        let (prefixes, round) = next_round(prompts, &rows, &active, sampling, max_positions, |i| {
            budget - rows[i].response.len()
        });
        let rollout = policy.sample_until(&prefixes, &round, &tags.close)?;
        let mut next = Vec::new();
        for ((&i, new), &cut) in active
            .iter()
            .zip(rollout.response_ids_with_eos())
            .zip(&rollout.truncated)
        {
            match absorb(
                &mut rows[i],
                &new,
                cut,
                budget,
                sampling.eos_token_id,
                &tags,
            ) {
                Next::Done => {}
                Next::Resume => next.push(i),
                Next::Call(body) => {
                    if answer(&mut rows[i], &body, task, &tool, tok, budget)? {
                        next.push(i);
                    }
                }
            }
        }
        active = next;
    }
    Ok(rows)
}

/// The next round of an interactive rollout: each active row's prompt and what it holds so far,
/// and the sampling of a round as long as the row with the most room left needs (`room_of`),
/// within the position limit for the longest prefix. A row the round cuts short resumes.
pub(crate) fn next_round(
    prompts: &[Vec<i64>],
    rows: &[Sampled],
    active: &[usize],
    sampling: &SamplingConfig,
    max_positions: usize,
    room_of: impl Fn(usize) -> usize,
) -> (Vec<Vec<i64>>, SamplingConfig) {
    let prefixes: Vec<Vec<i64>> = active
        .iter()
        .map(|&i| [prompts[i].as_slice(), &rows[i].response].concat())
        .collect();
    round_of(prefixes, active, sampling, max_positions, room_of)
}

/// The round of [`next_round`] for rows whose prefixes the caller built (`prefixes[k]` is row
/// `active[k]`'s).
pub(crate) fn round_of(
    prefixes: Vec<Vec<i64>>,
    active: &[usize],
    sampling: &SamplingConfig,
    max_positions: usize,
    room_of: impl Fn(usize) -> usize,
) -> (Vec<Vec<i64>>, SamplingConfig) {
    let longest = prefixes.iter().map(Vec::len).max().unwrap_or(0);
    let room = active
        .iter()
        .map(|&i| room_of(i))
        .max()
        .unwrap_or(1)
        .min(max_positions.saturating_sub(longest))
        .max(1);
    let round = SamplingConfig {
        max_new_tokens: room as i64,
        ..sampling.clone()
    };
    (prefixes, round)
}

struct Tags {
    open: Vec<i64>,
    close: Vec<i64>,
}

/// What a row does after a round.
#[derive(Debug, PartialEq)]
enum Next {
    Done,
    /// The round ended before the row's own budget: sample on.
    Resume,
    /// The row closed a call (the body's ids): answer it.
    Call(Vec<i64>),
}

/// Appends one round's tokens to `row` (`cut`: the round hit its length without `<eos>` or a
/// closing tag).
fn absorb(row: &mut Sampled, new: &[i64], cut: bool, budget: usize, eos: i64, tags: &Tags) -> Next {
    let room = budget - row.response.len();
    let take = new.len().min(room);
    row.response.extend_from_slice(&new[..take]);
    if !row.env.is_empty() {
        row.env.resize(row.response.len(), false);
    }
    if take < new.len() || take == 0 || (cut && take == room) {
        row.truncated = true;
        return Next::Done;
    }
    if cut {
        return Next::Resume;
    }
    if new.last() == Some(&eos) || !row.response.ends_with(&tags.close) {
        return Next::Done;
    }
    let close_at = row.response.len() - tags.close.len();
    // The body starts after the last opening tag sampled since the previous reply (a tag split
    // across a reply is not an opening tag); without one the call has an empty body.
    let since = row
        .env
        .iter()
        .rposition(|&e| e)
        .map_or(0, |j| j + 1)
        .min(close_at);
    let open_at = find_last(&row.response[since..close_at], &tags.open).map(|j| since + j);
    row.first_call.get_or_insert(open_at.unwrap_or(close_at));
    let body_start = open_at.map_or(close_at, |j| j + tags.open.len());
    Next::Call(row.response[body_start..close_at].to_vec())
}

/// Answers a closed call: appends the reply as environment tokens. True when the row goes on.
fn answer(
    row: &mut Sampled,
    body: &[i64],
    task: &dyn Task,
    tool: &ToolProtocol,
    tok: &Codec,
    budget: usize,
) -> Result<bool, TrainError> {
    row.calls += 1;
    if row.calls > tool.max_calls {
        return Ok(false);
    }
    let reply = task.tool_response(&tok.decode(body));
    row.errors += reply.error as usize;
    let ids = tok
        .encode(&reply.text)
        .map_err(|e| TrainError::Task(format!("tool reply {:?}: {e}", reply.text)))?;
    let room = budget - row.response.len();
    let take = ids.len().min(room);
    row.env.resize(row.response.len(), false);
    row.response.extend_from_slice(&ids[..take]);
    row.env.resize(row.response.len(), true);
    if take == room {
        row.truncated = true;
        return Ok(false);
    }
    Ok(true)
}

fn find_last(haystack: &[i64], needle: &[i64]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .rev()
        .find(|&j| haystack[j..j + needle.len()] == *needle)
}

/// Tool statistics over a step's responses.
#[derive(Debug, Clone, Copy, Default)]
pub struct ToolStats {
    /// The task has a tool (otherwise no metrics are written).
    pub enabled: bool,
    pub responses: usize,
    pub calls: usize,
    pub errors: usize,
    pub with_call: usize,
    pub first_call_sum: usize,
    pub env_tokens: usize,
}

impl ToolStats {
    pub fn add(&mut self, s: &Sampled) {
        self.responses += 1;
        self.calls += s.calls;
        self.errors += s.errors;
        self.env_tokens += s.env.iter().filter(|&&e| e).count();
        if let Some(p) = s.first_call {
            self.with_call += 1;
            self.first_call_sum += p;
        }
    }

    /// `tool/*` metrics: calls per response, share of responses with a call, mean first-call
    /// position in tokens (over responses with a call; absent when none called), tool errors
    /// per response, and environment tokens per response (all masked out of the loss).
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let mut row = BTreeMap::new();
        if !self.enabled {
            return row;
        }
        let n = self.responses.max(1) as f64;
        row.insert("tool/calls_per_response".into(), self.calls as f64 / n);
        row.insert("tool/call_frac".into(), self.with_call as f64 / n);
        row.insert("tool/errors_per_response".into(), self.errors as f64 / n);
        row.insert(
            "tool/env_tokens_per_response".into(),
            self.env_tokens as f64 / n,
        );
        if self.with_call > 0 {
            row.insert(
                "tool/first_call_pos".into(),
                self.first_call_sum as f64 / self.with_call as f64,
            );
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polopt_envs::text::{make_task, Calc};

    fn ids(tok: &Codec, s: &str) -> Vec<i64> {
        tok.encode(s).unwrap()
    }

    fn tags(tok: &Codec) -> Tags {
        Tags {
            open: ids(tok, "<calc>"),
            close: ids(tok, "</calc>"),
        }
    }

    /// Replays the rounds of one row: each round's sampled text, then the tool when it stopped.
    fn replay(rounds: &[&str], budget: usize) -> (Sampled, String) {
        let tok = Codec::builtin();
        let task = make_task("calc", &serde_json::json!({"max_calls": 2})).unwrap();
        let tool = task.tool().unwrap();
        let tags = tags(&tok);
        let mut row = Sampled::default();
        // A round ends in `$` (<eos>), `|` (cut by the round's length) or `</calc>`; a round
        // that reaches the budget otherwise is cut too.
        for (r, text) in rounds.iter().enumerate() {
            let mut new = ids(&tok, text.trim_end_matches(['$', '|']));
            if text.ends_with('$') {
                new.push(tok.eos_id());
            }
            let cut = text.ends_with('|')
                || (row.response.len() + new.len() >= budget
                    && !text.ends_with('$')
                    && !text.ends_with("</calc>"));
            let go_on = match absorb(&mut row, &new, cut, budget, tok.eos_id(), &tags) {
                Next::Call(b) => answer(&mut row, &b, task.as_ref(), &tool, &tok, budget).unwrap(),
                Next::Resume => true,
                Next::Done => false,
            };
            assert_eq!(go_on, r + 1 < rounds.len(), "round {r}: {row:?}");
        }
        (row.clone(), tok.decode(&row.response))
    }

    #[test]
    fn tool_replies_are_spliced_and_masked() {
        let (row, text) = replay(&["6*7\n<calc>6*7</calc>", "\n42$"], 64);
        assert_eq!(text, "6*7\n<calc>6*7</calc><result>42</result>\n42");
        assert_eq!((row.calls, row.errors, row.first_call), (1, 0, Some(4)));
        assert!(!row.truncated);
        let env: String = text
            .chars()
            .zip(&row.env)
            .filter(|(_, &e)| e)
            .map(|(c, _)| c)
            .collect();
        assert_eq!(env, "<result>42</result>");
        assert_eq!(row.env.len(), row.response.len());
        // The environment's mask agrees with the one SFT computes from the text.
        let calc = Calc::new(Default::default()).unwrap();
        let n = text.chars().count();
        assert_eq!(
            row.env[..n],
            polopt_envs::text::tool_output_mask(&calc, &text)[..]
        );
        assert_eq!(row.env[n..], [false], "the <eos>");
    }

    #[test]
    fn a_row_cut_by_the_round_resumes_and_finds_its_opening_tag() {
        let (row, text) = replay(&["6*7\n<ca|", "lc>6*7</calc>", "\n42$"], 64);
        assert_eq!(text, "6*7\n<calc>6*7</calc><result>42</result>\n42");
        assert_eq!(
            (row.calls, row.first_call, row.truncated),
            (1, Some(4), false)
        );
    }

    #[test]
    fn errors_the_call_cap_and_the_budget_end_rows_correctly() {
        let (row, text) = replay(&["<calc>1/0</calc>", "<calc>2+</calc>", "x</calc>"], 96);
        assert_eq!(row.calls, 3);
        assert_eq!(row.errors, 2);
        assert_eq!(row.first_call, Some(0));
        assert!(!row.truncated, "the third call ends the row unanswered");
        assert!(text.ends_with("x</calc>"), "{text}");
        // A reply that does not fit the budget is cut and the row is truncated.
        let (row, text) = replay(&["<calc>1+1</calc>"], 20);
        assert_eq!(text, "<calc>1+1</calc><res");
        assert!(row.truncated);
        assert_eq!(row.response.len(), 20);
    }

    #[test]
    fn stats_average_over_responses() {
        let mut s = ToolStats {
            enabled: true,
            ..Default::default()
        };
        let with = |first_call, calls| Sampled {
            first_call,
            calls,
            ..Default::default()
        };
        s.add(&with(Some(4), 1));
        s.add(&with(Some(10), 2));
        s.add(&with(None, 0));
        let m = s.metrics();
        assert_eq!(m["tool/calls_per_response"], 1.0);
        assert_eq!(m["tool/call_frac"], 2.0 / 3.0);
        assert_eq!(m["tool/first_call_pos"], 7.0);
        assert!(ToolStats::default().metrics().is_empty());
    }
}
