//! Scoring one response, the same way for every rollout kind: decode it without `<eos>`, ask
//! the reward function, optionally add DAPO's overlong shaping, and apply the NaN policy. A
//! non-finite reward is an error under `run.on_nan = "stop"` (naming the reward function, the
//! prompt and the completion, so that the user can reproduce it); under `"skip"` it comes back
//! and the caller drops what it would have poisoned (a group, a window, a value estimate).
use crate::codec::Codec;
use polopt_envs::text::Problem;
use polopt_methods::select::overlong_penalty;
use polopt_methods::SelectConfig;

use crate::config::OnNan;
use crate::error::TrainError;
use crate::reward::{Completion, RewardFn};
use crate::rollout::RolloutContext;

/// A response's reward (finite unless the policy is skip) and the verifier's correctness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub reward: f64,
    pub correct: bool,
}

impl Score {
    /// `None` for a non-finite reward, which the caller must not train on.
    pub fn finite(self) -> Option<Self> {
        self.reward.is_finite().then_some(self)
    }
}

/// DAPO's soft penalty on responses longer than `max_len - cache_len`.
#[derive(Debug, Clone, Copy)]
struct Overlong {
    max_len: usize,
    cache_len: usize,
}

/// What scores a rollout's responses, and what a non-finite reward does there.
pub struct Scorer<'a> {
    tok: &'a Codec,
    reward: &'a dyn RewardFn,
    /// `false`: a non-finite reward is always an error, because nothing can stand in for it.
    may_skip: bool,
    /// Where the response came from, for the error text (empty for an ordinary rollout).
    origin: &'static str,
    hint: &'static str,
    overlong: Option<Overlong>,
}

impl<'a> Scorer<'a> {
    /// Plain rewards under `run.on_nan`.
    pub fn new(tok: &'a Codec, reward: &'a dyn RewardFn, on_nan: OnNan) -> Self {
        Self {
            tok,
            reward,
            may_skip: on_nan == OnNan::Skip,
            origin: "",
            hint: "fix the reward function or set run.on_nan = \"skip\"",
            overlong: None,
        }
    }

    /// The group rollout's rewards: `run.on_nan`, plus overlong shaping when selected.
    pub fn for_rollout(ctx: &RolloutContext<'a>) -> Self {
        Self::new(ctx.tok, ctx.reward, ctx.on_nan).with_overlong(ctx.select)
    }

    /// Adds `overlong_penalty` to every reward when `select.overlong_shaping` is on.
    pub fn with_overlong(mut self, select: &SelectConfig) -> Self {
        self.overlong = select.overlong_shaping.then_some(Overlong {
            max_len: select.overlong_max_len,
            cache_len: select.overlong_cache_len,
        });
        self
    }

    /// Names where the responses come from in the error text (`origin` reads after "from
    /// `reward`", e.g. " for a reflection group").
    pub fn from_origin(mut self, origin: &'static str) -> Self {
        self.origin = origin;
        self
    }

    /// Makes every non-finite reward an error: the caller has no way to drop it (offline
    /// labels), so `run.on_nan = "skip"` cannot help and the hint does not offer it.
    pub fn never_skip(mut self) -> Self {
        self.may_skip = false;
        self.hint = "fix the reward function";
        self
    }

    /// The score of `response` (ids; every `<eos>` is dropped before decoding) for `problem`.
    pub fn score(
        &self,
        problem: &Problem,
        response: &[i64],
        step: usize,
    ) -> Result<Score, TrainError> {
        let mut scores = self.score_batch(&[(problem, response)], step)?;
        scores.pop().ok_or_else(|| TrainError::Reward {
            reward: self.reward.name().to_string(),
            detail: "returned no verdict".into(),
        })
    }

    /// [`Self::score`] of many responses with one call of the reward function (a Python or
    /// command reward then runs once per rollout, not once per completion).
    pub fn score_batch(
        &self,
        items: &[(&Problem, &[i64])],
        step: usize,
    ) -> Result<Vec<Score>, TrainError> {
        let eos = self.tok.eos_id();
        let decoded: Vec<(String, usize)> = items
            .iter()
            .map(|(_, response)| {
                let text_ids: Vec<i64> = response.iter().copied().filter(|&t| t != eos).collect();
                (self.tok.decode(&text_ids), text_ids.len())
            })
            .collect();
        let completions: Vec<Completion> = items
            .iter()
            .zip(&decoded)
            .map(|((problem, _), (text, tokens))| Completion {
                problem,
                text,
                tokens: *tokens,
            })
            .collect();
        let verdicts = self.reward.score_batch(&completions)?;
        if verdicts.len() != items.len() {
            return Err(TrainError::Reward {
                reward: self.reward.name().to_string(),
                detail: format!(
                    "returned {} verdicts for {} completions",
                    verdicts.len(),
                    items.len()
                ),
            });
        }
        let mut scores = Vec::with_capacity(items.len());
        for ((completion, verdict), (text, tokens)) in
            completions.iter().zip(verdicts).zip(&decoded)
        {
            let mut reward = verdict.reward;
            if let Some(o) = self.overlong {
                reward += overlong_penalty(*tokens, o.max_len, o.cache_len);
            }
            if !reward.is_finite() && !self.may_skip {
                return Err(TrainError::NonFinite {
                    what: format!(
                        "reward ({reward}) from `{}`{} for prompt {:?}, completion {text:?}",
                        self.reward.name(),
                        self.origin,
                        completion.problem.prompt
                    ),
                    step,
                    hint: self.hint,
                });
            }
            scores.push(Score {
                reward,
                correct: verdict.correct,
            });
        }
        Ok(scores)
    }
}
