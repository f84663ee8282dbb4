//! R³: Replay, Reflection and Ranking rewards (arXiv 2601.19620; spec r3.md, confidence
//! medium). Partly **reconstructed**: the paper's optimization equation and hyperparameter
//! table were not recovered, so how α enters (here: it multiplies the replayed samples'
//! advantages) and all default values are the spec's [RECON] recommendations.
//!
//! The plain-data parts, used by the group-RL loop (`crates/train/src/r3.rs`) and by
//! [`crate::plan::MethodRuntime`]:
//! - [`ReplayBuffer`]: per-query history keyed by the problem's key (bounded responses per
//!   query, bounded queries with least-recently-seen eviction) with the running mean reward.
//! - Cross-Context Replay (CCR): a group whose rewards are all equal (zero advantage) gets `k`
//!   historical responses of the opposite outcome appended; GRPO then normalizes over the mixed
//!   group and [`scale_replayed`] multiplies the replayed samples' advantages by α.
//! - In-Context Self-Reflection (ISR): [`is_hard`] decides which queries get an augmented prompt.
//! - Structural Entropy Ranking Reward (SERR): for each response, peak entropy = mean of the top
//!   `max(1, floor(p L))` token entropies and global entropy = mean entropy; `i ≻ j` iff peak_i >
//!   peak_j and global_i < global_j; score `S_i = #{j : i ≻ j}`; the response ranked `k`-th by
//!   descending score gets `R_max (1 - k / (N - 1))` ([`serr_rewards`]).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::credit::{Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::{resolve, Needs, Part, PartEntry, PartKind, Settings};
use crate::plan::{StepContext, UpdatePlan};

/// How SERR ranks responses with equal dominance scores (`method.select.r3.ties`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SerrTies {
    /// Tied responses share the mean of their ranks (the spec's recommendation).
    #[default]
    Average,
    /// Ties keep batch order (the spec's worked example).
    Stable,
}

/// `method.select.r3`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct R3Config {
    /// Historical responses appended to a collapsed group (CCR); 0 disables replay.
    pub k: usize,
    /// Scale of the replayed samples' advantages.
    pub alpha: f64,
    /// Responses kept per query; 0 disables the buffer (no replay, no reflection).
    pub buffer_per_query: usize,
    /// Queries kept; the least recently seen is evicted first.
    pub buffer_queries: usize,
    /// A reward at or above this is a success (a positive) for replay and reflection.
    pub success_reward: f64,
    /// RL steps per "epoch": reflection starts after the first `epoch_steps` steps.
    pub epoch_steps: usize,
    /// Hard-query threshold τ on the historical mean reward (ISR).
    pub tau: f64,
    /// Most reflection-augmented prompts per step; 0 disables ISR.
    pub reflect_prompts: usize,
    /// The fixed reflection prompt p_r; only characters of the tokenizer's alphabet.
    pub reflect_text: String,
    /// Fraction p of a response's tokens whose entropies make its peak entropy.
    pub peak_ratio: f64,
    /// Reward of the top-ranked truncated response (SERR); 0 disables SERR.
    pub r_max: f64,
    pub ties: SerrTies,
}

impl Default for R3Config {
    fn default() -> Self {
        Self {
            k: 2,
            alpha: 0.5,
            buffer_per_query: 16,
            buffer_queries: 4096,
            success_reward: 1.0,
            epoch_steps: 50,
            tau: 0.2,
            reflect_prompts: 8,
            reflect_text: "\nwrong. again:\n".into(),
            peak_ratio: 0.1,
            r_max: 0.5,
            ties: SerrTies::Average,
        }
    }
}

impl Settings for R3Config {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.select.r3.alpha",
            self.alpha,
            self.alpha > 0.0 && self.alpha <= 1.0,
            "in (0, 1]",
        )?;
        check_range(
            "method.select.r3.buffer_queries",
            self.buffer_queries as f64,
            self.buffer_queries >= 1,
            ">= 1",
        )?;
        check_range(
            "method.select.r3.success_reward",
            self.success_reward,
            self.success_reward > 0.0,
            "> 0",
        )?;
        check_range(
            "method.select.r3.epoch_steps",
            self.epoch_steps as f64,
            self.epoch_steps >= 1,
            ">= 1",
        )?;
        check_range(
            "method.select.r3.tau",
            self.tau,
            (0.0..=1.0).contains(&self.tau),
            "in [0, 1]",
        )?;
        check_range(
            "method.select.r3.peak_ratio",
            self.peak_ratio,
            self.peak_ratio > 0.0 && self.peak_ratio <= 1.0,
            "in (0, 1]",
        )?;
        check_range(
            "method.select.r3.r_max",
            self.r_max,
            (0.0..1.0).contains(&self.r_max),
            "in [0, 1) (below a correct answer's reward)",
        )?;
        Ok(())
    }
}

/// One stored response to a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// Generated ids, `<eos>` included when one was produced.
    pub response: Vec<i64>,
    pub reward: f64,
    pub truncated: bool,
}

/// Everything remembered about one query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryHistory {
    /// The newest `buffer_per_query` responses, oldest first.
    pub attempts: Vec<Attempt>,
    /// Responses ever scored for this query (not only those kept) and their reward sum.
    pub count: u64,
    pub reward_sum: f64,
    /// Step of the last insert, for eviction.
    pub last_step: usize,
}

/// The per-query buffer S. Cross-step state: saved in checkpoints (serde) for exact resume.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayBuffer {
    pub queries: BTreeMap<String, QueryHistory>,
}

impl ReplayBuffer {
    /// Adds one step's responses to `key` (S <- S ∪ rollouts), then applies both bounds.
    pub fn insert(
        &mut self,
        config: &R3Config,
        step: usize,
        key: &str,
        attempts: impl IntoIterator<Item = Attempt>,
    ) {
        if config.buffer_per_query == 0 {
            return;
        }
        let entry = self.queries.entry(key.to_string()).or_default();
        for a in attempts {
            entry.count += 1;
            entry.reward_sum += a.reward;
            entry.attempts.push(a);
        }
        let excess = entry.attempts.len().saturating_sub(config.buffer_per_query);
        entry.attempts.drain(..excess);
        entry.last_step = step;
        while self.queries.len() > config.buffer_queries {
            // Least recently seen first, ties by key: deterministic, so resume stays exact.
            let oldest = self
                .queries
                .iter()
                .min_by_key(|(k, h)| (h.last_step, k.as_str()))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.queries.remove(&k),
                None => break,
            };
        }
    }

    /// Historical mean reward R̄_q, `None` for a query never seen.
    pub fn mean_reward(&self, key: &str) -> Option<f64> {
        self.queries
            .get(key)
            .filter(|h| h.count > 0)
            .map(|h| h.reward_sum / h.count as f64)
    }

    /// Up to `k` distinct stored responses of the wanted outcome, chosen uniformly without
    /// replacement; `below(n)` must return a uniform index in `0..n`.
    pub fn pick(
        &self,
        config: &R3Config,
        key: &str,
        successes: bool,
        k: usize,
        below: &mut dyn FnMut(usize) -> usize,
    ) -> Vec<Attempt> {
        let Some(h) = self.queries.get(key) else {
            return Vec::new();
        };
        let mut pool: Vec<&Attempt> = h
            .attempts
            .iter()
            .filter(|a| (a.reward >= config.success_reward) == successes)
            .collect();
        let take = k.min(pool.len());
        for i in 0..take {
            let j = i + below(pool.len() - i);
            pool.swap(i, j);
        }
        pool[..take].iter().map(|a| (*a).clone()).collect()
    }
}

/// Outcome of a group whose rewards are all equal (its GRPO advantage is zero everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collapsed {
    AllNegative,
    AllPositive,
}

/// `Some` when every reward equals the first; positive when that reward is a success.
pub fn collapsed(rewards: &[f64], success_reward: f64) -> Option<Collapsed> {
    let first = *rewards.first()?;
    if rewards.iter().any(|&r| r != first) {
        return None;
    }
    Some(if first >= success_reward {
        Collapsed::AllPositive
    } else {
        Collapsed::AllNegative
    })
}

/// Whether a query is hard enough for a reflection prompt: seen before, mean reward below τ.
pub fn is_hard(buffer: &ReplayBuffer, key: &str, tau: f64) -> bool {
    buffer.mean_reward(key).is_some_and(|m| m < tau)
}

/// `(peak, global)` entropy of one response: the mean of its top `max(1, floor(p L))` token
/// entropies, and the mean of all of them. `(0, 0)` for an empty response.
pub fn entropy_profile(entropies: &[f64], peak_ratio: f64) -> (f64, f64) {
    let n = entropies.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mut sorted = entropies.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let top = ((peak_ratio * n as f64).floor() as usize).clamp(1, n);
    let peak = sorted[..top].iter().sum::<f64>() / top as f64;
    let global = entropies.iter().sum::<f64>() / n as f64;
    (peak, global)
}

/// SERR rewards for `N` responses given their `(peak, global)` entropies, in input order.
/// With `N = 1` there is nothing to rank and the lone response gets 0: rewarding it would
/// reward truncation itself.
pub fn serr_rewards(profiles: &[(f64, f64)], r_max: f64, ties: SerrTies) -> Vec<f64> {
    let n = profiles.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let score: Vec<usize> = profiles
        .iter()
        .map(|&(peak_i, glob_i)| {
            profiles
                .iter()
                .filter(|&&(peak_j, glob_j)| peak_i > peak_j && glob_i < glob_j)
                .count()
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[b].cmp(&score[a])); // stable: ties keep input order
    let reward_at = |rank: f64| r_max * (1.0 - rank / (n - 1) as f64);
    let mut out = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start;
        while end + 1 < n && score[order[end + 1]] == score[order[start]] {
            end += 1;
        }
        for (pos, &i) in order.iter().enumerate().take(end + 1).skip(start) {
            out[i] = match ties {
                SerrTies::Stable => reward_at(pos as f64),
                SerrTies::Average => reward_at((start + end) as f64 / 2.0),
            };
        }
        start = end + 1;
    }
    out
}

/// Rewards after SERR: in every all-negative group of on-policy samples with at least two
/// truncated responses, those responses get their ranked reward (the others keep theirs).
/// Returns the rewards and the number of groups shaped.
pub fn serr_shape(
    batch: &CreditBatch,
    truncated: &[bool],
    replayed: &[bool],
    entropy: &[Vec<f64>],
    config: &R3Config,
) -> (Vec<f64>, usize) {
    let mut rewards = batch.rewards.to_vec();
    let mut shaped = 0;
    for members in batch.groups() {
        let own: Vec<usize> = members.into_iter().filter(|&i| !replayed[i]).collect();
        let own_rewards: Vec<f64> = own.iter().map(|&i| batch.rewards[i]).collect();
        if collapsed(&own_rewards, config.success_reward) != Some(Collapsed::AllNegative) {
            continue;
        }
        let cut: Vec<usize> = own.into_iter().filter(|&i| truncated[i]).collect();
        if cut.len() < 2 {
            continue;
        }
        let profiles: Vec<(f64, f64)> = cut
            .iter()
            .map(|&i| {
                let len = batch.response_lens[i].min(entropy[i].len());
                entropy_profile(&entropy[i][..len], config.peak_ratio)
            })
            .collect();
        for (&i, r) in cut
            .iter()
            .zip(serr_rewards(&profiles, config.r_max, config.ties))
        {
            rewards[i] = r;
        }
        shaped += 1;
    }
    (rewards, shaped)
}

/// α-scaling of the off-policy (replayed) samples' advantages.
pub fn scale_replayed(advantages: &mut Advantages, replayed: &[bool], alpha: f64) {
    match advantages {
        Advantages::Sequence(a) => {
            for (v, _) in a.iter_mut().zip(replayed).filter(|(_, &r)| r) {
                *v *= alpha;
            }
        }
        Advantages::Token(rows) => {
            for (row, _) in rows.iter_mut().zip(replayed).filter(|(_, &r)| r) {
                row.iter_mut().for_each(|v| *v *= alpha);
            }
        }
    }
}

/// Fraction of groups with at least one non-zero advantage.
pub fn nonzero_group_frac(batch: &CreditBatch, advantages: &[f64]) -> f64 {
    let groups = batch.groups();
    let live = groups
        .iter()
        .filter(|m| m.iter().any(|&i| advantages[i].abs() > 1e-9))
        .count();
    live as f64 / groups.len().max(1) as f64
}

/// The credit side of R³ (the rollout side is the loop's replay extension): SERR rewrites the
/// rewards of truncated all-wrong groups before credit, and replayed responses' advantages are
/// scaled by `alpha` after it.
struct R3(R3Config);

impl Part for R3 {
    fn needs(&self) -> Needs {
        Needs {
            old_entropy: self.0.r_max > 0.0,
            replay: true,
            ..Needs::default()
        }
    }

    fn shape_rewards(
        &self,
        batch: &CreditBatch,
        ctx: &StepContext,
        metrics: &mut BTreeMap<&'static str, f64>,
    ) -> Result<Option<Vec<f64>>, MethodError> {
        let n = batch.len();
        let no_flags = vec![false; n];
        let truncated = ctx.truncated.unwrap_or(&no_flags);
        let replayed = ctx.replayed.unwrap_or(&no_flags);
        let shape = |detail: String| MethodError::Shape { part: "r3", detail };
        if truncated.len() != n || replayed.len() != n {
            return Err(shape(format!(
                "rewards {n}, truncated {}, replayed {}",
                truncated.len(),
                replayed.len()
            )));
        }
        let (rewards, groups) = match (ctx.old_entropy, self.0.r_max > 0.0) {
            (Some(entropy), true) if entropy.len() != n => {
                return Err(shape(format!(
                    "rewards {n}, entropy rows {}",
                    entropy.len()
                )))
            }
            (Some(entropy), true) => serr_shape(batch, truncated, replayed, entropy, &self.0),
            (None, true) => {
                return Err(shape(
                    "SERR (r_max > 0) needs the old policy's entropy".into(),
                ))
            }
            (_, false) => (batch.rewards.to_vec(), 0),
        };
        metrics.insert("r3/serr_groups", groups as f64);
        metrics.insert(
            "r3/replayed",
            replayed.iter().filter(|&&r| r).count() as f64,
        );
        Ok(Some(rewards))
    }

    fn apply(
        &self,
        plan: &mut UpdatePlan,
        _batch: &CreditBatch,
        ctx: &StepContext,
    ) -> Result<(), MethodError> {
        if let Some(replayed) = ctx.replayed {
            scale_replayed(&mut plan.advantages, replayed, self.0.alpha);
        }
        Ok(())
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "r3",
    kind: PartKind::Replay,
    table: "r3",
    description: "R3: per-query replay into zero-variance groups, reflection prompts, SERR",
    spec: "r3.md",
    reconstructed: true,
    build: |input| Ok(Box::new(R3(input.parse()?))),
    resolve: resolve::<R3Config>,
};
