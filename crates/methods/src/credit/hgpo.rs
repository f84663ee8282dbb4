//! HGPO, Hierarchy-of-Groups Policy Optimization for Long-Horizon Agentic Tasks (2026,
//! arXiv 2602.22817; code langfengQ/verl-agent `recipe/hgpo`; spec hgpo.md). Builds on GiGPO
//! (gigpo.rs), whose episode advantage it reuses.
//!
//! Within one episode group:
//! - k-step context `C_k(i, t) = (s_{t-k}, ..., s_t)` of episode i, defined only for `t >= k`
//!   (with `include_actions`, also the actions `a_{t-k}, ..., a_{t-1}` taken between them);
//! - nested groups `G_k(i, t) = {(j, u) : C_k(j, u) = C_k(i, t)}`, `k = 0..=K`, `G_0` being
//!   GiGPO's anchor group; groups of one are discarded;
//! - per-level advantage `A_k(i, t) = R_t^(i) - mean_{G_k} R` (or the z-score with `mean_std`);
//! - `A^H(i, t) = sum_{k valid} w_k A_k / sum_{k valid} w_k`, `w_k = (k + 1)^alpha`, over the
//!   levels whose group has more than one member; no valid level (`|G_0| = 1`) gives 0;
//! - `A(i, t) = A^E(i) + omega A^H(i, t)` with GiGPO's `A^E`.
//!
//! The code skips levels whose `A_k` is exactly 0 in the weighted mean; the spec recommends
//! keeping them (a zero advantage is information), so `skip_zero_levels` is off by default.
use serde::{Deserialize, Serialize};

use super::gigpo::{add_step_advantage, check_episode_knobs, episode_credit};
use super::turn_groups::{
    by_episode_group, flat_turns, keyed_advantages, unflatten, Relative, RelativeNorm,
};
use super::turns::agent_episodes;
use super::turns::{turn_token_advantages, Episode};
use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `method.credit.hgpo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HgpoConfig {
    /// K, the deepest history level (the code's default 2 = the memory window).
    pub k: usize,
    /// Exponent of the level weights `(k + 1)^alpha`.
    pub alpha: f64,
    /// Per-level and episode normalisation.
    pub norm: RelativeNorm,
    pub omega: f64,
    pub gamma: f64,
    pub invalid_penalty: f64,
    /// Contexts also hold the past actions (prompt equality when prompts show actions); off =
    /// observations only, as the code.
    pub include_actions: bool,
    /// Leave levels with `A_k == 0` out of the weighted mean (the code's behaviour).
    pub skip_zero_levels: bool,
}

impl Default for HgpoConfig {
    fn default() -> Self {
        Self {
            k: 2,
            alpha: 1.0,
            norm: RelativeNorm::Mean,
            omega: 1.0,
            gamma: 0.95,
            invalid_penalty: 0.1,
            include_actions: false,
            skip_zero_levels: false,
        }
    }
}

impl Settings for HgpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.hgpo.alpha",
            self.alpha,
            self.alpha >= 0.0,
            ">= 0 (deeper, more consistent contexts weigh no less)",
        )?;
        check_episode_knobs(
            [
                "method.credit.hgpo.gamma",
                "method.credit.hgpo.omega",
                "method.credit.hgpo.invalid_penalty",
            ],
            self.gamma,
            self.omega,
            self.invalid_penalty,
        )
    }
}

#[derive(Debug, Clone)]
pub struct Hgpo {
    pub config: HgpoConfig,
    pub std_ddof: u32,
    pub eps: f64,
}

impl AdvantageEstimator for Hgpo {
    fn name(&self) -> &'static str {
        "hgpo"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        let episodes = agent_episodes(batch, "hgpo")?;
        let relative = Relative {
            norm: self.config.norm,
            std_ddof: self.std_ddof,
            eps: self.eps,
        };
        let per_turn = by_episode_group(batch, episodes, |_, group| {
            hgpo_turn_advantages(group, &self.config, &relative)
        });
        Ok(turn_token_advantages(
            episodes,
            &per_turn,
            batch.response_lens,
        ))
    }
}

/// `C_k(i, t)`: observations `s_{t-k..=t}`, with `include_actions` interleaved with the actions
/// `a_{t-k..t}` taken between them; `None` for `t < k`.
pub fn context_key(
    episode: &Episode,
    t: usize,
    k: usize,
    include_actions: bool,
) -> Option<Vec<u64>> {
    let start = t.checked_sub(k)?;
    let mut key = Vec::with_capacity(2 * k + 1);
    for u in start..t {
        key.push(episode.states[u]);
        if include_actions {
            key.push(episode.actions[u]);
        }
    }
    key.push(episode.states[t]);
    Some(key)
}

/// `A_k(i, t)` for `k = 0..=depth`, as `[k][flat turn]` in [`flat_turns`] order; `None` where
/// the context is undefined or its group has one member.
pub fn level_advantages(
    group: &[&Episode],
    returns: &[Vec<f64>],
    depth: usize,
    include_actions: bool,
    relative: &Relative,
) -> Vec<Vec<Option<f64>>> {
    let turns = flat_turns(group);
    let values: Vec<f64> = turns.iter().map(|&(i, t)| returns[i][t]).collect();
    // Levels beyond the longest episode have no defined context anywhere.
    let longest = group.iter().map(|e| e.turns()).max().unwrap_or(0);
    (0..=depth.min(longest.saturating_sub(1)))
        .map(|k| {
            let contexts = turns
                .iter()
                .map(|&(i, t)| context_key(group[i], t, k, include_actions));
            keyed_advantages(contexts, &values, relative)
        })
        .collect()
}

/// `A^H = sum_k w_k A_k / sum_k w_k`, `w_k = (k + 1)^alpha`, over the defined levels
/// (`levels[k]`); 0 when there is none.
pub fn hierarchy_weighted_advantage(
    levels: &[Option<f64>],
    alpha: f64,
    skip_zero_levels: bool,
) -> f64 {
    let (weighted, total) = levels
        .iter()
        .enumerate()
        .filter_map(|(k, a)| a.map(|a| (k, a)))
        .filter(|&(_, a)| !(skip_zero_levels && a == 0.0))
        .fold((0.0, 0.0), |(weighted, total), (k, a)| {
            let w = ((k + 1) as f64).powf(alpha);
            (weighted + w * a, total + w)
        });
    if total > 0.0 {
        weighted / total
    } else {
        0.0
    }
}

/// `A^H(i, t)` for one episode group, one row per member.
pub fn hierarchical_step_advantages(
    group: &[&Episode],
    returns: &[Vec<f64>],
    config: &HgpoConfig,
    relative: &Relative,
) -> Vec<Vec<f64>> {
    let levels = level_advantages(group, returns, config.k, config.include_actions, relative);
    let per_turn = (0..flat_turns(group).len()).map(|n| {
        let at_turn: Vec<Option<f64>> = levels.iter().map(|level| level[n]).collect();
        hierarchy_weighted_advantage(&at_turn, config.alpha, config.skip_zero_levels)
    });
    unflatten(group, per_turn)
}

/// HGPO's per-turn advantages for one episode group, one row per member.
pub fn hgpo_turn_advantages(
    group: &[&Episode],
    config: &HgpoConfig,
    relative: &Relative,
) -> Vec<Vec<f64>> {
    let credit = episode_credit(group, config.gamma, config.invalid_penalty, relative);
    let step = hierarchical_step_advantages(group, &credit.returns, config, relative);
    add_step_advantage(&credit.episode, config.omega, &step)
}
