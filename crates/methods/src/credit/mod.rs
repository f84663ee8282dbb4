//! Credit assignment: advantage estimators over plain Rust slices.
//!
//! Scoring and credit never touch tensors (style.md, after prime-rl): an estimator reads the
//! rewards of a batch and the group each response belongs to, and returns advantages that the
//! objective consumes without knowing how they were made.
pub(crate) mod adora;
pub(crate) mod aspo;
mod bnpo;
pub(crate) mod clip_advantage;
pub(crate) mod copo;
pub(crate) mod dcpo;
mod eapo;
mod egae;
mod gae;
mod gbpo;
mod gigpo;
mod grpo;
mod hapo;
mod hgpo;
mod hiper;
mod igpo;
mod reinforce_pp;
mod riskpo;
mod rloo;
mod salt;
mod spo;
pub mod turn_groups;
pub mod turns;
pub(crate) mod win_rate;

pub use adora::{adora_group_weights, is_temporarily_advantageous, scale_advantages, AdoraConfig};
pub use aspo::{add_bias, aspo_bias, AspoConfig};
pub use bnpo::{beta_normalization_params, beta_normalized_advantage, beta_pdf, Bnpo, BnpoConfig};
pub use copo::{copo_blend, outcome_entropy, CopoBlend, CopoConfig};
pub use dcpo::{
    accuracy, dcpo_advantages, mixing_weight, target_ratio, target_temperature, DcpoConfig,
    DcpoState, EntropyEstimate,
};
pub use eapo::{downsample_to_multiple, round_advantages, round_rewards, Eapo, EapoConfig};
pub use egae::{egae, Egae, EgaeBootstrap, WindowEnd};
pub use gae::{gae, Gae, Trajectories};
pub use gbpo::{group_median_advantage, median, GbpoConfig, MedianBaseline};
pub use gigpo::{
    add_step_advantage, anchor_step_advantages, episode_advantages, episode_credit,
    gigpo_turn_advantages, EpisodeCredit, Gigpo, GigpoConfig,
};
pub use grpo::{group_relative_advantage, GroupNorm};
pub use hapo::{token_group_mean_advantage, TokenGroupMean, TOKEN_MEAN_FALLBACK};
pub use hgpo::{
    context_key, hgpo_turn_advantages, hierarchical_step_advantages, hierarchy_weighted_advantage,
    level_advantages, Hgpo, HgpoConfig,
};
pub use hiper::{
    hae_episode, hiper_turn_rewards, hiper_value_targets, HaeEpisode, HaeTargets, Hiper,
    HiperConfig, PlanTurns,
};
pub use igpo::{
    igpo_group_advantages, igpo_turn_rewards, information_gain, normalise_group_rewards, Igpo,
    IgpoConfig, InfoGain, RewardNorm,
};
pub use reinforce_pp::{discounted_token_returns, whiten_tokens, ReinforcePP, ReinforcePPBaseline};
pub use riskpo::{
    bundle_advantages, mixed_var, quantile, QuantileMode, QuantileTracker, RiskCredit, RiskPo,
    RiskpoConfig,
};
pub use rloo::{leave_one_out_advantage, Rloo};
pub use salt::{
    graph_edge_advantages, graph_edge_key, salt_turn_advantages, NodeMerge, Salt, SaltBase,
    SaltConfig,
};
pub use spo::{
    chain_cutpoints, chain_token_advantages, edge_advantages, probability_keep, whiten_masked,
    SegmentCredit, SpoConfig, TreeAdvantage,
};

use crate::config::{CreditConfig, MethodConfig};
use crate::error::{unknown, MethodError};
use crate::parts::{PartInput, Settings};

/// One batch of scored responses, as credit assignment sees it.
#[derive(Debug, Clone, Copy)]
pub struct CreditBatch<'a> {
    /// Scalar outcome reward per response, `[B]`.
    pub rewards: &'a [f64],
    /// Which prompt group each response belongs to, `[B]`. Groups need not be contiguous.
    pub group_ids: &'a [usize],
    /// Response length in tokens, `[B]`; token-level estimators use it.
    pub response_lens: &'a [usize],
    /// Optional per-token KL(old || ref) estimates, `[B][len_i]`, for KL-in-reward estimators.
    pub token_kl: Option<&'a [Vec<f64>]>,
    /// Optional per-step critic data for step-level estimators (GAE); then `rewards` holds one
    /// reward per environment step, time-major `[T * N]`.
    pub trajectories: Option<&'a Trajectories<'a>>,
    /// Turn structure of multi-turn episodes (`[B]`, one per response row), for turn-level
    /// estimators; `None` for single-turn rollouts.
    pub episodes: Option<&'a [turns::Episode]>,
}

impl CreditBatch<'_> {
    pub fn len(&self) -> usize {
        self.rewards.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
    fn check(&self, part: &'static str) -> Result<(), MethodError> {
        let n = self.rewards.len();
        if self.group_ids.len() != n || self.response_lens.len() != n {
            return Err(MethodError::Shape {
                part,
                detail: format!(
                    "rewards {n}, group_ids {}, response_lens {}",
                    self.group_ids.len(),
                    self.response_lens.len()
                ),
            });
        }
        if let Some((index, &value)) = self
            .rewards
            .iter()
            .enumerate()
            .find(|(_, r)| !r.is_finite())
        {
            return Err(MethodError::NonFinite {
                part,
                what: "reward",
                index,
                value,
            });
        }
        Ok(())
    }

    /// Indices of each group's members, in order of first appearance.
    pub fn groups(&self) -> Vec<Vec<usize>> {
        turn_groups::bucket_by(self.group_ids.iter().copied())
    }
}

/// What the rollout knows about one response beyond its reward, for shaping parts (ASPO).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseInfo {
    /// The verifier judged the answer correct (rewards may also hold shaping terms).
    pub correct: bool,
    /// Token position in the response of the first tool call's opening tag; `None` without one.
    pub first_tool_call: Option<usize>,
}

/// Advantages at the level an estimator produces them.
#[derive(Debug, Clone, PartialEq)]
pub enum Advantages {
    /// One advantage per response, broadcast to all its tokens.
    Sequence(Vec<f64>),
    /// One advantage per response token, `[B][len_i]`.
    Token(Vec<Vec<f64>>),
}

impl Advantages {
    /// Row-major `[B, width]` matrix for the loss: each response's advantages in its first
    /// `len_i` columns, zeros after (masked out anyway).
    pub fn to_token_matrix(&self, response_lens: &[usize], width: usize) -> Vec<f32> {
        let mut out = vec![0f32; response_lens.len() * width];
        for (i, &len) in response_lens.iter().enumerate() {
            let row = &mut out[i * width..(i + 1) * width];
            for (t, slot) in row.iter_mut().enumerate().take(len.min(width)) {
                *slot = match self {
                    Advantages::Sequence(a) => a[i] as f32,
                    Advantages::Token(a) => a[i].get(t).copied().unwrap_or(0.0) as f32,
                };
            }
        }
        out
    }

    /// One number per response (the mean over tokens for token-level advantages), for metrics.
    pub fn per_sequence(&self) -> Vec<f64> {
        match self {
            Advantages::Sequence(a) => a.clone(),
            Advantages::Token(a) => a
                .iter()
                .map(|row| {
                    if row.is_empty() {
                        0.0
                    } else {
                        row.iter().sum::<f64>() / row.len() as f64
                    }
                })
                .collect(),
        }
    }
}

/// An advantage estimator, registered by name in [`ESTIMATORS`].
pub trait AdvantageEstimator: Send + Sync {
    fn name(&self) -> &'static str;
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError>;
    /// Reads the policy's probability of the gold answer before each turn
    /// ([`turns::Episode::gold_probs`]); the agent rollout computes it only when asked.
    fn needs_gold_probe(&self) -> bool {
        false
    }
    /// Reads plan-execute turns with critic values ([`turns::Episode::plan`], HiPER): the loop
    /// then keeps a three-head critic that fills them before credit.
    fn needs_plan(&self) -> bool {
        false
    }
    /// Cross-step state for checkpoints (`Null` for stateless estimators), so that a resumed
    /// run continues exactly.
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Restores what [`AdvantageEstimator::state`] saved.
    fn restore(&self, _state: &serde_json::Value) -> Result<(), MethodError> {
        Ok(())
    }
}

/// Registry entry: name, one-line description, the spec it follows, and its settings table
/// (`method.credit.<table>`) when it has one.
pub struct EstimatorEntry {
    pub name: &'static str,
    pub description: &'static str,
    pub spec: &'static str,
    pub table: Option<&'static str>,
    /// Reads the turns of multi-turn episodes ([`CreditBatch::episodes`]): it runs only on an
    /// agent environment, and a run on another task is refused when its config is checked.
    pub turns: bool,
    pub build: fn(&CreditConfig) -> Result<Box<dyn AdvantageEstimator>, MethodError>,
}

/// Every advantage estimator, by name. Adding one is one file and one line here.
pub const ESTIMATORS: &[EstimatorEntry] = &[
    EstimatorEntry {
        name: "grpo",
        description: "group-normalized: (R - mean) / (std + eps)",
        spec: "grpo-family.md",
        table: None,
        turns: false,
        build: |c| Ok(Box::new(GroupNorm::of(c, true))),
    },
    EstimatorEntry {
        name: "dr_grpo",
        description: "group mean baseline without std division (Dr. GRPO)",
        spec: "grpo-family.md",
        table: None,
        turns: false,
        build: |c| Ok(Box::new(GroupNorm::of(c, false))),
    },
    EstimatorEntry {
        name: "rloo",
        description: "leave-one-out group baseline",
        spec: "grpo-family.md",
        table: None,
        turns: false,
        build: |_| Ok(Box::new(Rloo)),
    },
    EstimatorEntry {
        name: "reinforce_pp",
        description: "per-token discounted return with KL in reward, whitened over the batch",
        spec: "grpo-family.md",
        table: None,
        turns: false,
        build: |c| {
            Ok(Box::new(ReinforcePP {
                gamma: c.gamma,
                kl_coef: c.kl_in_reward_coef,
                eps: c.eps,
            }))
        },
    },
    EstimatorEntry {
        name: "reinforce_pp_baseline",
        description: "group mean baseline, then whitened over all tokens of the batch",
        spec: "grpo-family.md",
        table: None,
        turns: false,
        build: |c| Ok(Box::new(ReinforcePPBaseline { eps: c.eps })),
    },
    EstimatorEntry {
        name: "gae",
        description:
            "GAE(gamma, lambda) over environment steps with a critic; truncation bootstraps",
        spec: "ppo-baseline.md",
        table: None,
        turns: false,
        build: |c| {
            Ok(Box::new(Gae {
                gamma: c.gamma,
                lambda: c.gae_lambda,
            }))
        },
    },
    EstimatorEntry {
        name: "egae",
        description:
            "extended GAE over response windows: truncated windows bootstrap V(s_T) [reconstructed]",
        spec: "tppo-egae.md",
        table: None,
        turns: false,
        build: |c| {
            Ok(Box::new(Egae {
                gamma: c.gamma,
                lambda: c.gae_lambda,
                bootstrap: c.egae_bootstrap,
            }))
        },
    },
    EstimatorEntry {
        name: "bnpo",
        description:
            "Beta-density normalization, (R - p) / BetaPdf(p; alpha, beta) fitted per batch",
        spec: "bnpo.md",
        table: Some("bnpo"),
        turns: false,
        build: |c| {
            Ok(Box::new(Bnpo {
                config: c.settings("bnpo")?,
            }))
        },
    },
    EstimatorEntry {
        name: "gbpo",
        description: "group median baseline R - median(R) [reconstructed]",
        spec: "brrl-bpo-gbpo.md",
        table: Some("gbpo"),
        turns: false,
        build: |c| {
            let gbpo: GbpoConfig = c.settings("gbpo")?;
            Ok(Box::new(MedianBaseline {
                scale_by_std: gbpo.scale_by_std,
                std_ddof: c.std_ddof,
                eps: c.eps,
            }))
        },
    },
    EstimatorEntry {
        name: "token_group_mean",
        description:
            "length-weighted group mean/std (HAPO token-level group average), GRPO if |A| >= 5",
        spec: "hapo.md",
        table: None,
        turns: false,
        build: |c| {
            Ok(Box::new(TokenGroupMean {
                std_ddof: c.std_ddof,
                eps: c.eps,
            }))
        },
    },
    EstimatorEntry {
        name: "riskpo",
        description: "mixed value-at-risk over bundles of prompts, tracked quantiles (stateful)",
        spec: "riskpo.md",
        table: Some("riskpo"),
        turns: false,
        build: |c| Ok(Box::new(RiskPo::new(c.settings("riskpo")?))),
    },
    EstimatorEntry {
        name: "spo",
        description: "segment values V(c_k) - V(c_{k-1}) from the SPO chain/tree rollout",
        spec: "spo-segment.md",
        table: Some("spo"),
        turns: false,
        build: |c| {
            // The segment rollouts read these settings; building checks them.
            let _: SpoConfig = c.settings("spo")?;
            Ok(Box::new(SegmentCredit))
        },
    },
    EstimatorEntry {
        name: "gigpo",
        description:
            "GiGPO over turns: episode advantage + omega * anchor-state step advantage (agent rollout)",
        spec: "gigpo.md",
        table: Some("gigpo"),
        turns: true,
        build: |c| {
            Ok(Box::new(Gigpo {
                config: c.settings("gigpo")?,
                std_ddof: c.std_ddof,
                eps: c.eps,
            }))
        },
    },
    EstimatorEntry {
        name: "igpo",
        description:
            "per-turn information gain P_t - P_{t-1} plus outcome, group z-score, discounted turn sums",
        spec: "igpo.md",
        table: Some("igpo"),
        turns: true,
        build: |c| {
            Ok(Box::new(Igpo {
                config: c.settings("igpo")?,
            }))
        },
    },
    EstimatorEntry {
        name: "hgpo",
        description:
            "HGPO over turns: episode advantage + weighted hierarchy of k-step context groups (agent rollout)",
        spec: "hgpo.md",
        table: Some("hgpo"),
        turns: true,
        build: |c| {
            Ok(Box::new(Hgpo {
                config: c.settings("hgpo")?,
                std_ddof: c.std_ddof,
                eps: c.eps,
            }))
        },
    },
    EstimatorEntry {
        name: "eapo",
        description:
            "round rewards gamma^(T-t) R_T, z-scored over the group's round-samples [reconstructed]",
        spec: "eapo-iterresearch.md",
        table: Some("eapo"),
        turns: true,
        build: |c| {
            Ok(Box::new(Eapo {
                config: c.settings("eapo")?,
            }))
        },
    },
    EstimatorEntry {
        name: "salt",
        description:
            "SALT over turns: mean base advantage of the trajectories through each graph edge (agent rollout) [reconstructed]",
        spec: "salt.md",
        table: Some("salt"),
        turns: true,
        build: |c| {
            Ok(Box::new(Salt {
                config: c.settings("salt")?,
                std_ddof: c.std_ddof,
                eps: c.eps,
            }))
        },
    },
    EstimatorEntry {
        name: "hiper",
        description:
            "two-time-scale GAE over plan segments (HAE): A^lo actions, A^hi subgoals, A^term switches",
        spec: "hiper-hae.md",
        table: Some("hiper"),
        turns: true,
        build: |c| {
            Ok(Box::new(Hiper {
                config: c.settings("hiper")?,
            }))
        },
    },
];

pub fn estimator(config: &CreditConfig) -> Result<Box<dyn AdvantageEstimator>, MethodError> {
    let entry = ESTIMATORS
        .iter()
        .find(|e| e.name == config.estimator)
        .ok_or_else(|| {
            let known: Vec<&str> = ESTIMATORS.iter().map(|e| e.name).collect();
            unknown(
                "advantage estimator (method.credit.estimator)",
                &config.estimator,
                &known,
            )
        })?;
    (entry.build)(config)
}

impl CreditConfig {
    /// Settings table `method.credit.<table>` of the estimator (or rollout) that reads it,
    /// defaults filled in and range-checked.
    pub fn settings<T: Settings>(&self, table: &str) -> Result<T, MethodError> {
        PartInput {
            method: &MethodConfig::default(),
            table: self.parts.get(table),
            key: format!("method.credit.{table}"),
        }
        .parse()
    }
}

/// Mean and standard deviation with the given delta degrees of freedom. With fewer than
/// `ddof + 1` values the std is undefined; callers get `None` and apply their convention.
pub(crate) fn mean_std(values: impl Iterator<Item = f64> + Clone, ddof: u32) -> (f64, Option<f64>) {
    let n = values.clone().count();
    if n == 0 {
        return (0.0, None);
    }
    let mean = values.clone().sum::<f64>() / n as f64;
    let dof = n as f64 - ddof as f64;
    if dof <= 0.0 {
        return (mean, None);
    }
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / dof;
    (mean, Some(var.sqrt()))
}
