//! SPO self-play's reward (spo-selfplay.md): each response's reward becomes its win rate
//! against the other responses of its group under a preference oracle, before credit, so that
//! GRPO (or any group estimator) optimises the win rate. A judge part: it rewrites rewards
//! from comparisons within each group.
//!
//! The oracle compares responses by what the step knows of them: their rewards (the run's
//! verifier or reward functions) and, for `oracle = "cyclic"`, their lengths: equal rewards
//! are decided by a rock-paper-scissors cycle on `length mod 3`, an intransitive preference
//! that no scalar reward can represent (our reading of the spec's check 3).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::CreditBatch;
use crate::error::{check_range, MethodError};
use crate::games::oracle::{CyclicOracle, PreferenceOracle, ScoreOracle};
use crate::games::selfplay::win_rates;
use crate::parts::{resolve, Part, PartEntry, PartKind, Settings};
use crate::plan::StepContext;

/// How two responses of a group are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WinRateOracle {
    /// `P(i > j) = sigmoid((r_i - r_j) / temperature)`; temperature 0: the higher reward wins,
    /// equal rewards tie at 0.5 (transitive: on 0/1 rewards, GRPO's advantages exactly).
    #[default]
    Reward,
    /// The higher reward wins; equal rewards by rock-paper-scissors on `length mod 3`.
    Cyclic,
}

/// `method.credit.win_rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WinRateConfig {
    pub oracle: WinRateOracle,
    /// The reward oracle's temperature (0 = hard comparisons).
    pub temperature: f64,
}

impl Default for WinRateConfig {
    fn default() -> Self {
        Self {
            oracle: WinRateOracle::Reward,
            temperature: 0.0,
        }
    }
}

impl Settings for WinRateConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.win_rate.temperature",
            self.temperature,
            self.temperature >= 0.0,
            ">= 0",
        )
    }
}

struct WinRate(WinRateConfig);

impl Part for WinRate {
    fn shape_rewards(
        &self,
        batch: &CreditBatch,
        _ctx: &StepContext,
        metrics: &mut BTreeMap<&'static str, f64>,
    ) -> Result<Option<Vec<f64>>, MethodError> {
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, &g) in batch.group_ids.iter().enumerate() {
            groups.entry(g).or_default().push(i);
        }
        let mut rewards = vec![0.0; batch.len()];
        for members in groups.values() {
            let oracle: Box<dyn PreferenceOracle> = match self.0.oracle {
                WinRateOracle::Reward => Box::new(ScoreOracle::new(
                    members.iter().map(|&i| batch.rewards[i]).collect(),
                    self.0.temperature,
                )?),
                WinRateOracle::Cyclic => Box::new(CyclicOracle {
                    items: members
                        .iter()
                        .map(|&i| (batch.rewards[i], batch.response_lens[i]))
                        .collect(),
                }),
            };
            let local: Vec<usize> = (0..members.len()).collect();
            for (&i, r) in members.iter().zip(win_rates(&local, oracle.as_ref())) {
                rewards[i] = r;
            }
        }
        let n = batch.len().max(1) as f64;
        metrics.insert(
            "win_rate/mean_outcome_reward",
            batch.rewards.iter().sum::<f64>() / n,
        );
        Ok(Some(rewards))
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "win_rate",
    kind: PartKind::Judge,
    table: "win_rate",
    description: "SPO self-play: each response's reward is its win rate against its group under a preference oracle",
    spec: "spo-selfplay.md",
    reconstructed: false,
    build: |input| Ok(Box::new(WinRate(input.parse()?))),
    resolve: resolve::<WinRateConfig>,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn shaped(
        config: WinRateConfig,
        rewards: &[f64],
        lens: &[usize],
        groups: &[usize],
    ) -> Vec<f64> {
        let batch = CreditBatch {
            rewards,
            group_ids: groups,
            response_lens: lens,
            token_kl: None,
            trajectories: None,
            episodes: None,
        };
        let ctx = StepContext::default();
        let mut metrics = BTreeMap::new();
        WinRate(config)
            .shape_rewards(&batch, &ctx, &mut metrics)
            .expect("shaped")
            .expect("rewrites")
    }

    #[test]
    fn hard_reward_oracle_gives_win_rates_within_each_group() {
        // Group 0: one correct of three; group 1: all equal.
        let r = shaped(
            WinRateConfig::default(),
            &[1.0, 0.0, 0.0, 0.5, 0.5],
            &[3, 3, 3, 2, 2],
            &[0, 0, 0, 1, 1],
        );
        assert_eq!(r, vec![1.0, 0.25, 0.25, 0.5, 0.5]);
    }

    #[test]
    fn cyclic_oracle_breaks_equal_rewards_by_rock_paper_scissors_on_length() {
        // Lengths 3, 4, 5 = classes R, P, S: P beats R, S beats P, R beats S.
        let config = WinRateConfig {
            oracle: WinRateOracle::Cyclic,
            temperature: 0.0,
        };
        let r = shaped(config, &[1.0, 1.0, 1.0, 1.0], &[3, 4, 5, 3], &[0, 0, 0, 0]);
        // The spec's vector [R, P, S, R] -> [0.5, 0.6667, 0.3333, 0.5].
        let want = [0.5, 2.0 / 3.0, 1.0 / 3.0, 0.5];
        for (a, b) in r.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{r:?}");
        }
    }
}
