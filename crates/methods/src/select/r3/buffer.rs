//! R³'s per-query buffer S (Cross-Context Replay and the reflection prompts read it), and
//! the group tests over it. Cross-step state, saved in checkpoints for exact resume.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::R3Config;

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
