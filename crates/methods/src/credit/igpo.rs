//! IGPO, Information Gain-based Policy Optimization (Wang et al., "Information Gain-based
//! Policy Optimization: A Simple and Effective Approach for Multi-Turn LLM Agents",
//! arXiv 2510.14967; spec igpo.md, confidence high).
//!
//! Every turn earns what it taught the policy about the gold answer. With `P_t` the policy's
//! length-normalised probability of the gold answer after `t` turns (`P_0`: the prompt alone;
//! the rollout's teacher-forced probe, [`Episode::gold_probs`]), an episode of `T` turns gets
//! - information gain for turns `1..T-1`: `r_t = P_t - P_{t-1}` (`prob_diff`, the paper) or
//!   `ln P_t - ln P_{t-1}` (`log_prob_diff`, the updated code);
//! - at turn `T` the outcome: the environment's last-turn reward (F1) when the episode ended
//!   by answering, else the format penalty (-2, the code's value);
//! - `r~ = (r - mean(R)) / (std(R) + eps)` (eps 1e-6) over the multiset `R` of all turn rewards of the
//!   group (`joint`, the paper) or over its information gains and its outcomes apart
//!   (`separate`, the updated script), population std (a lone value maps to 0);
//! - `A_t = sum_{k >= t} gamma^(k - t) r~_k`, spread over turn `t`'s action tokens.
use serde::{Deserialize, Serialize};

use super::turn_groups::by_episode_group;
use super::turns::{
    agent_episodes, discounted_returns, population_z_scores, turn_token_advantages, Episode,
};
use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// How a turn's information gain is measured (`method.credit.igpo.info_gain`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfoGain {
    /// `P_t - P_{t-1}` (the paper).
    #[default]
    ProbDiff,
    /// `ln P_t - ln P_{t-1}`: the change of the mean log-probability of the gold tokens.
    LogProbDiff,
}

/// Which rewards share normalisation statistics (`method.credit.igpo.norm`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardNorm {
    /// All turn rewards of the group together (the paper).
    #[default]
    Joint,
    /// Information gains with information gains, outcomes with outcomes (updated script).
    Separate,
}

/// `method.credit.igpo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IgpoConfig {
    pub info_gain: InfoGain,
    pub norm: RewardNorm,
    /// Outcome reward of an episode that never answered (ran out of turns or context).
    pub format_penalty: f64,
    /// Discount of the normalised future turn rewards.
    pub gamma: f64,
    /// Added to the std of the normalisation.
    pub eps: f64,
}

impl Default for IgpoConfig {
    fn default() -> Self {
        Self {
            info_gain: InfoGain::ProbDiff,
            norm: RewardNorm::Joint,
            format_penalty: -2.0,
            gamma: 1.0,
            eps: 1e-6,
        }
    }
}

impl Settings for IgpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.igpo.gamma",
            self.gamma,
            (0.0..=1.0).contains(&self.gamma),
            "in [0, 1]",
        )?;
        check_range(
            "method.credit.igpo.eps",
            self.eps,
            (0.0..1.0).contains(&self.eps),
            "in [0, 1)",
        )?;
        check_range(
            "method.credit.igpo.format_penalty",
            self.format_penalty,
            true,
            "finite",
        )
    }
}

#[derive(Debug, Clone)]
pub struct Igpo {
    pub config: IgpoConfig,
}

impl AdvantageEstimator for Igpo {
    fn name(&self) -> &'static str {
        "igpo"
    }
    fn needs_gold_probe(&self) -> bool {
        true
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        let episodes = agent_episodes(batch, "igpo")?;
        // Every episode's turn rewards first: a missing probe is an error, not a group's zero.
        let rewards = episodes
            .iter()
            .enumerate()
            .map(|(i, episode)| igpo_turn_rewards(episode, i, &self.config))
            .collect::<Result<Vec<_>, _>>()?;
        let per_turn = by_episode_group(batch, episodes, |members, _| {
            let group: Vec<Vec<f64>> = members.iter().map(|&i| rewards[i].clone()).collect();
            igpo_group_advantages(&group, &self.config)
        });
        Ok(turn_token_advantages(
            episodes,
            &per_turn,
            batch.response_lens,
        ))
    }
}

/// Information-gain rewards of turns `1..T-1` from the probes `P_0..P_{T-1}` (`T - 1` values).
pub fn information_gain(gold_probs: &[f64], kind: InfoGain) -> Vec<f64> {
    let level = |p: f64| match kind {
        InfoGain::ProbDiff => p,
        InfoGain::LogProbDiff => p.ln(),
    };
    gold_probs
        .windows(2)
        .map(|w| level(w[1]) - level(w[0]))
        .collect()
}

/// An episode's raw turn rewards: its information gains, then its outcome at the last turn.
/// `index` is the episode's row, for errors.
pub fn igpo_turn_rewards(
    episode: &Episode,
    index: usize,
    config: &IgpoConfig,
) -> Result<Vec<f64>, MethodError> {
    let turns = episode.turns();
    if turns == 0 {
        return Ok(Vec::new());
    }
    if episode.gold_probs.is_empty() {
        return Err(MethodError::MissingRollout {
            part: "igpo",
            rollout: "agent",
            detail: format!(
                "episode {index} has no gold-answer probe (gold_probs); the rollout computes it when the estimator is igpo"
            ),
        });
    }
    let positive_needed = config.info_gain == InfoGain::LogProbDiff;
    if let Some((turn, &p)) = episode
        .gold_probs
        .iter()
        .enumerate()
        .find(|(_, &p)| !(0.0..=1.0).contains(&p) || (positive_needed && p <= 0.0))
    {
        return Err(MethodError::OutOfRange {
            field: "igpo gold-answer probability (Episode.gold_probs)",
            value: format!("{p} (episode {index}, turn {turn})"),
            expected: "in [0, 1], and > 0 for info_gain = log_prob_diff",
        });
    }
    let mut rewards = information_gain(&episode.gold_probs, config.info_gain);
    // Without an answer there is no F1 to score: the last turn pays the format penalty.
    let outcome = if episode.terminated {
        episode.rewards[turns - 1]
    } else {
        config.format_penalty
    };
    rewards.push(outcome);
    Ok(rewards)
}

/// Per-turn advantages of one group from its episodes' raw turn rewards (each episode's last
/// entry is its outcome, the others information gains).
pub fn igpo_group_advantages(rewards: &[Vec<f64>], config: &IgpoConfig) -> Vec<Vec<f64>> {
    let normalised = normalise_group_rewards(rewards, config.norm, config.eps);
    normalised
        .iter()
        .map(|r| discounted_returns(r, config.gamma))
        .collect()
}

/// Step 4 of igpo.md: the group's turn rewards standardised jointly or by kind.
pub fn normalise_group_rewards(rewards: &[Vec<f64>], norm: RewardNorm, eps: f64) -> Vec<Vec<f64>> {
    // Pool 0 holds every reward (joint) or the information gains (separate); pool 1 the outcomes.
    let pool_of = |r: &[f64], t: usize| match norm {
        RewardNorm::Joint => 0,
        RewardNorm::Separate => usize::from(t + 1 == r.len()),
    };
    let mut out: Vec<Vec<f64>> = rewards.iter().map(|r| vec![0.0; r.len()]).collect();
    for pool in 0..2 {
        let slots: Vec<(usize, usize)> = rewards
            .iter()
            .enumerate()
            .flat_map(|(i, r)| (0..r.len()).map(move |t| (i, t)))
            .filter(|&(i, t)| pool_of(&rewards[i], t) == pool)
            .collect();
        let values: Vec<f64> = slots.iter().map(|&(i, t)| rewards[i][t]).collect();
        for (&(i, t), z) in slots.iter().zip(population_z_scores(&values, eps)) {
            out[i][t] = z;
        }
    }
    out
}
