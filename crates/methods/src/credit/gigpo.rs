//! GiGPO, Group-in-Group Policy Optimization for LLM Agent Training (Feng et al. 2025,
//! arXiv 2505.10978; code langfengQ/verl-agent `adv_estimator=gigpo`; spec gigpo.md).
//!
//! Within one episode group (the G episodes of one task instance, same initial state):
//! - episode advantage `A^E(i) = (R(tau_i) - mean_j R(tau_j)) / F_norm` with
//!   `R(tau) = sum_t r_t` and trajectory-level statistics (the paper's definition; verl-agent's
//!   default averages over step rows instead, gigpo.md "Implementation note");
//! - anchor-state groups `G^S(s) = {(i, t) : s_t^(i) = s}` over the group's turns;
//! - discounted step returns `R_t = sum_{k >= t} gamma^(k - t) r_k`;
//! - step advantage `A^S(i, t) = (R_t^(i) - mean_{G^S(s_t^(i))} R) / F_norm`, 0 for a group
//!   of one;
//! - `A(i, t) = A^E(i) + omega A^S(i, t)` on every action token of turn t.
//!
//! `F_norm` is 1 (`norm = "mean"`, the code's default) or the std plus eps
//! (`norm = "mean_std"`, `method.credit.std_ddof` and `method.credit.eps`). An invalid turn's
//! reward is lowered by `invalid_penalty` before both the returns and `R(tau)`.
use serde::{Deserialize, Serialize};

use super::turn_groups::{
    by_episode_group, flat_turns, keyed_advantages, penalized_rewards, unflatten, Relative,
    RelativeNorm,
};
use super::turns::agent_episodes;
use super::turns::{discounted_returns, turn_token_advantages, Episode};
use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `method.credit.gigpo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GigpoConfig {
    /// `F_norm` of both the episode and the step advantage.
    pub norm: RelativeNorm,
    /// Discount of the step returns.
    pub gamma: f64,
    /// Weight of the step advantage.
    pub omega: f64,
    /// Subtracted from the reward of each invalid turn.
    pub invalid_penalty: f64,
}

impl Default for GigpoConfig {
    fn default() -> Self {
        Self {
            norm: RelativeNorm::Mean,
            gamma: 0.95,
            omega: 1.0,
            invalid_penalty: 0.1,
        }
    }
}

impl Settings for GigpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_episode_knobs(
            [
                "method.credit.gigpo.gamma",
                "method.credit.gigpo.omega",
                "method.credit.gigpo.invalid_penalty",
            ],
            self.gamma,
            self.omega,
            self.invalid_penalty,
        )
    }
}

/// Range checks of the knobs GiGPO and HGPO share, under each table's key names
/// (`[gamma, omega, invalid_penalty]`).
pub(crate) fn check_episode_knobs(
    keys: [&'static str; 3],
    gamma: f64,
    omega: f64,
    invalid_penalty: f64,
) -> Result<(), MethodError> {
    check_range(keys[0], gamma, (0.0..=1.0).contains(&gamma), "in [0, 1]")?;
    check_range(keys[1], omega, omega >= 0.0, ">= 0")?;
    check_range(keys[2], invalid_penalty, invalid_penalty >= 0.0, ">= 0")
}

#[derive(Debug, Clone)]
pub struct Gigpo {
    pub config: GigpoConfig,
    pub std_ddof: u32,
    pub eps: f64,
}

impl AdvantageEstimator for Gigpo {
    fn name(&self) -> &'static str {
        "gigpo"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        let episodes = agent_episodes(batch, "gigpo")?;
        let relative = Relative {
            norm: self.config.norm,
            std_ddof: self.std_ddof,
            eps: self.eps,
        };
        let per_turn = by_episode_group(batch, episodes, |_, group| {
            gigpo_turn_advantages(group, &self.config, &relative)
        });
        Ok(turn_token_advantages(
            episodes,
            &per_turn,
            batch.response_lens,
        ))
    }
}

/// What GiGPO and HGPO compute alike for one episode group: per-turn returns `R_t` and the
/// episode advantages `A^E`, both after the invalid-action penalty.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeCredit {
    /// `R_t^(i)`, one row per member.
    pub returns: Vec<Vec<f64>>,
    /// `A^E(i)`, one per member.
    pub episode: Vec<f64>,
}

pub fn episode_credit(
    group: &[&Episode],
    gamma: f64,
    invalid_penalty: f64,
    relative: &Relative,
) -> EpisodeCredit {
    let rewards: Vec<Vec<f64>> = group
        .iter()
        .map(|e| penalized_rewards(e, invalid_penalty))
        .collect();
    EpisodeCredit {
        returns: rewards
            .iter()
            .map(|r| discounted_returns(r, gamma))
            .collect(),
        episode: episode_advantages(&rewards, relative),
    }
}

/// `A^E(i)` from each member's turn rewards: `R(tau_i) = sum_t r_t` relative to the group.
pub fn episode_advantages(turn_rewards: &[Vec<f64>], relative: &Relative) -> Vec<f64> {
    let totals: Vec<f64> = turn_rewards.iter().map(|r| r.iter().sum()).collect();
    relative.advantages(&totals)
}

/// `A^S(i, t)`: each turn's return relative to the turns of the group taken from the same
/// observation (anchor state); 0 where no other turn shares it.
pub fn anchor_step_advantages(
    group: &[&Episode],
    returns: &[Vec<f64>],
    relative: &Relative,
) -> Vec<Vec<f64>> {
    let turns = flat_turns(group);
    let values: Vec<f64> = turns.iter().map(|&(i, t)| returns[i][t]).collect();
    let anchors = turns.iter().map(|&(i, t)| Some(group[i].states[t]));
    let step = keyed_advantages(anchors, &values, relative);
    unflatten(group, step.into_iter().map(|a| a.unwrap_or(0.0)))
}

/// `A(i, t) = A^E(i) + omega A_step(i, t)`.
pub fn add_step_advantage(episode: &[f64], omega: f64, step: &[Vec<f64>]) -> Vec<Vec<f64>> {
    episode
        .iter()
        .zip(step)
        .map(|(&a_e, row)| row.iter().map(|a_s| a_e + omega * a_s).collect())
        .collect()
}

/// GiGPO's per-turn advantages for one episode group, one row per member.
pub fn gigpo_turn_advantages(
    group: &[&Episode],
    config: &GigpoConfig,
    relative: &Relative,
) -> Vec<Vec<f64>> {
    let credit = episode_credit(group, config.gamma, config.invalid_penalty, relative);
    let step = anchor_step_advantages(group, &credit.returns, relative);
    add_step_advantage(&credit.episode, config.omega, &step)
}
