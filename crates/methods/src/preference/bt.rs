//! The Bradley–Terry reward-model loss (Christiano 2017, Ouyang 2022; preference-baselines.md
//! "Bradley–Terry reward model") on scalar rewards of chosen and rejected responses:
//!
//! `L = mean over pairs of -log sigmoid(r_w - r_l - m) + c * mean((r_w + r_l)^2)`,
//!
//! where `m` is the constant `margin` plus the batch's per-pair margin, if any (TRL's
//! `RewardTrainer` takes the latter from a data column), and `c` is the optional
//! reward-centering coefficient (Eisenstein et al. 2023, as TRL's `center_rewards_coefficient`).
use serde::{Deserialize, Serialize};

use super::support::{mean, same_length, wrong_input};
use super::{InputKind, PreferenceData, PreferenceLoss, PreferenceObjective, RewardPairs};
use crate::error::{check_range, MethodError};
use crate::objective::accumulation_kind;
use crate::parts::Settings;

/// `preference.bt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BtConfig {
    /// Constant margin `m` added to every pair's; default 0 (the plain BT loss).
    pub margin: f64,
    /// Reward-centering coefficient; default 0 (off).
    pub center_rewards_coefficient: f64,
}

impl Default for BtConfig {
    fn default() -> Self {
        Self {
            margin: 0.0,
            center_rewards_coefficient: 0.0,
        }
    }
}

impl Settings for BtConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range("preference.bt.margin", self.margin, true, "finite")?;
        check_range(
            "preference.bt.center_rewards_coefficient",
            self.center_rewards_coefficient,
            self.center_rewards_coefficient >= 0.0,
            ">= 0",
        )
    }
}

/// The BT loss over reward pairs; rewards in the output are the inputs, detached.
pub fn bt_loss(b: &RewardPairs, c: &BtConfig) -> Result<PreferenceLoss, MethodError> {
    let mut tensors = vec![
        ("chosen_reward", b.chosen_reward),
        ("rejected_reward", b.rejected_reward),
    ];
    if let Some(m) = b.margin {
        tensors.push(("margin", m));
    }
    same_length("bt", &tensors)?;
    let kind = accumulation_kind(b.chosen_reward);
    let chosen = b.chosen_reward.to_kind(kind);
    let rejected = b.rejected_reward.to_kind(kind);
    let mut diff = &chosen - &rejected - c.margin;
    if let Some(m) = b.margin {
        diff -= m.detach().to_kind(kind);
    }
    let mut losses = -diff.log_sigmoid();
    if c.center_rewards_coefficient > 0.0 {
        // Per pair `(r_w + r_l)^2`, so that the mean over pairs is TRL's centering term.
        losses += (&chosen + &rejected).square() * c.center_rewards_coefficient;
    }
    let loss = losses.mean(kind);
    let (chosen, rejected) = (chosen.detach(), rejected.detach());
    let mut metrics = std::collections::BTreeMap::new();
    metrics.insert("reward_accuracy", mean(&chosen.gt_tensor(&rejected)));
    metrics.insert("reward_chosen", mean(&chosen));
    metrics.insert("reward_rejected", mean(&rejected));
    metrics.insert("reward_margin", mean(&(&chosen - &rejected)));
    metrics.insert("loss", mean(&loss));
    Ok(PreferenceLoss {
        loss,
        losses,
        chosen_rewards: chosen,
        rejected_rewards: rejected,
        metrics,
    })
}

impl PreferenceObjective for BtConfig {
    fn name(&self) -> &'static str {
        "bt"
    }
    fn input(&self) -> InputKind {
        InputKind::Rewards
    }
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError> {
        match data {
            PreferenceData::Rewards(b) => bt_loss(b, self),
            other => Err(wrong_input("bt", "rewards", other)),
        }
    }
}
