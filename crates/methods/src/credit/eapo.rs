//! EAPO, Efficiency-Aware Policy Optimization, the RL recipe of IterResearch (Chen et al.,
//! "IterResearch: Rethinking Long-Horizon Agents via Markovian State Reconstruction",
//! arXiv 2511.07327; spec eapo-iterresearch.md, confidence low-moderate: partly
//! reconstructed from the abstract and secondary summaries, not from the paper's equations).
//!
//! - Geometric discounting of the terminal correctness `R_T` in {0, 1}: round `t = 1..T` earns
//!   `r_t = gamma^(T - t) R_T`, so a correct answer found in fewer rounds pays its early rounds
//!   more, and the last round earns `R_T` itself. `R_T = 1` when the episode's total reward
//!   reaches `success_threshold`.
//! - Group-relative advantage over all round-samples of the question's G trajectories:
//!   `A_{i,t} = (r_{i,t} - mean) / (std + eps)`, population std (the normaliser is the spec's
//!   recommendation, unverified), spread over round `t`'s action tokens.
//! - Adaptive downsampling ([`downsample_to_multiple`]): of `C` round-samples keep
//!   `floor(C / D) D`, dropping the rest uniformly at random, so that `D` data-parallel ranks
//!   get equal shares. Here one episode is one response row, so the training loop only needs
//!   it when it splits rounds into rows.
//!
//! The paper's GSPO-style sequence-level ratio is the objective's concern
//! (`method.objective`), not the estimator's.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::turn_groups::by_episode_group;
use super::turns::{agent_episodes, population_z_scores, turn_token_advantages};
use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// `method.credit.eapo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EapoConfig {
    /// Discount per round between a round and the answer ("slightly below 1"; the spec
    /// recommends 0.99, 0.9 for small test environments).
    pub gamma: f64,
    /// An episode whose total reward reaches this counts as correct (`R_T = 1`).
    pub success_threshold: f64,
    /// Added to the std of the normalisation.
    pub eps: f64,
}

impl Default for EapoConfig {
    fn default() -> Self {
        Self {
            gamma: 0.99,
            success_threshold: 1.0,
            eps: 1e-6,
        }
    }
}

impl Settings for EapoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.eapo.gamma",
            self.gamma,
            self.gamma > 0.0 && self.gamma <= 1.0,
            "in (0, 1]",
        )?;
        check_range(
            "method.credit.eapo.success_threshold",
            self.success_threshold,
            true,
            "finite",
        )?;
        check_range(
            "method.credit.eapo.eps",
            self.eps,
            (0.0..1.0).contains(&self.eps),
            "in [0, 1)",
        )
    }
}

#[derive(Debug, Clone)]
pub struct Eapo {
    pub config: EapoConfig,
}

impl AdvantageEstimator for Eapo {
    fn name(&self) -> &'static str {
        "eapo"
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        let episodes = agent_episodes(batch, "eapo")?;
        let per_turn = by_episode_group(batch, episodes, |members, group| {
            let rewards: Vec<Vec<f64>> = members
                .iter()
                .zip(group)
                .map(|(&i, episode)| {
                    let correct = batch.rewards[i] >= self.config.success_threshold;
                    round_rewards(episode.turns(), correct, self.config.gamma)
                })
                .collect();
            round_advantages(&rewards, self.config.eps)
        });
        Ok(turn_token_advantages(
            episodes,
            &per_turn,
            batch.response_lens,
        ))
    }
}

/// `r_t = gamma^(T - t) R_T` for the rounds `t = 1..T` of one trajectory (index `t - 1`).
pub fn round_rewards(rounds: usize, correct: bool, gamma: f64) -> Vec<f64> {
    if !correct {
        return vec![0.0; rounds];
    }
    (1..=rounds)
        .map(|t| gamma.powi((rounds - t) as i32))
        .collect()
}

/// The z-score of every round reward against all round-samples of the group.
pub fn round_advantages(rewards: &[Vec<f64>], eps: f64) -> Vec<Vec<f64>> {
    let pooled: Vec<f64> = rewards.iter().flatten().copied().collect();
    let mut z = population_z_scores(&pooled, eps).into_iter();
    rewards
        .iter()
        .map(|r| z.by_ref().take(r.len()).collect())
        .collect()
}

/// Indices (ascending) of the `floor(n / world_size) * world_size` samples kept out of
/// `n_samples`, chosen uniformly at random and reproducibly from `seed`.
pub fn downsample_to_multiple(
    n_samples: usize,
    world_size: usize,
    seed: u64,
) -> Result<Vec<usize>, MethodError> {
    if world_size == 0 {
        return Err(MethodError::OutOfRange {
            field: "eapo downsampling world_size",
            value: "0".into(),
            expected: ">= 1 data-parallel rank",
        });
    }
    let keep = n_samples / world_size * world_size;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut kept = rand::seq::index::sample(&mut rng, n_samples, keep).into_vec();
    kept.sort_unstable();
    Ok(kept)
}
