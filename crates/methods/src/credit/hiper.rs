//! HiPER's Hierarchical Advantage Estimation, HAE ("HiPER: Hierarchical RL with Explicit
//! Credit Assignment for LLM Agents", arXiv 2602.16165; code JonP07/HiPER-agent; spec
//! hiper-hae.md, confidence high).
//!
//! Each turn the policy emits a plan decision (SWITCH to a new subgoal or KEEP it), a subgoal
//! and an action. Turn 0 and every SWITCH turn open a segment `[b_k, e_k]` of `d_k` turns. With
//! a critic's heads `V_low` (per turn), `V_high` (read at boundaries) and optionally `V_term`,
//! and turn rewards `r_t` = environment reward `- invalid_penalty` on invalid actions
//! `+ keep_penalty` on KEEP turns:
//! - low level, GAE inside each segment, bootstrapping at its end to the next boundary's
//!   planning value: `v_next(t) = V_low(t+1)` inside, `V_high(b_{k+1})` at `e_k`;
//!   `delta_t = r_t + gamma v_next(t) - V_low(t)`, `A^lo_t = delta_t + gamma lambda_turn
//!   A^lo_{t+1}` restarted at each segment end; target `A^lo_t + V_low(t)`;
//! - high level, SMDP GAE across segments: `R^seg_k = sum_u gamma^u r_{b_k+u}`,
//!   `delta^hi_k = R^seg_k + gamma^{d_k} V_high(b_{k+1}) - V_high(b_k)`,
//!   `A^hi_k = delta^hi_k + gamma^{d_k} lambda_seg A^hi_{k+1}`; target `A^hi_k + V_high(b_k)`;
//! - termination (the released code's form, three-head critic): `G_t = r_t + gamma G_{t+1}`
//!   inside the segment with `G_{e_k+1} = V_high(b_{k+1})`, `A^term_t = G_t - V_term(t)`;
//!   target `G_t`. The paper's `(q_t - beta_t)(V_high - V_low)` form is not implemented.
//!
//! After the last turn the next values are 0 when the episode terminated; when it was cut
//! (horizon, context) and `bootstrap_truncated`, they are the last turn's own `V_low` (as the
//! spec says) and, for the high level and `G`, its `V_high` (our reading: the same proxy on
//! the planning head). Tokens: `A^hi_k` goes to the subgoal tokens of the boundary turn `b_k`,
//! `A^lo_t` to every action token, `A^term_t` to every switch-decision token; without a
//! `V_term` head the boundary turns' switch tokens take `A^hi_k` (the spec's option) and KEEP
//! decisions get 0. With `norm_adv` each component is z-scored over the batch separately
//! (population std, eps 1e-8).
use serde::{Deserialize, Serialize};

use super::turns::{agent_episodes, fill_spans, population_z_scores, Episode};
use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// The plan-execute structure of one episode, one entry per turn ([`Episode::plan`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanTurns {
    /// The turn opened a new segment (SWITCH). Turn 0 always does, whatever it says.
    pub switch: Vec<bool>,
    /// `V_low(s_t, g_t)`, the critic's execution value.
    pub v_low: Vec<f64>,
    /// `V_high(s_t)`, the planning value; read at boundaries, and at the last turn of a cut
    /// episode to bootstrap.
    pub v_high: Vec<f64>,
    /// `V_term(t)` of a three-head critic; `None` with two heads.
    pub v_term: Option<Vec<f64>>,
    /// Token span `[start, end)` of each turn's switch decision in the response row.
    pub switch_spans: Vec<(usize, usize)>,
    /// Token span of each turn's subgoal (the action's is [`Episode::spans`]).
    pub subgoal_spans: Vec<(usize, usize)>,
}

impl PlanTurns {
    /// One entry per turn in every vector, and finite values.
    pub(crate) fn check(
        &self,
        part: &'static str,
        index: usize,
        turns: usize,
    ) -> Result<(), MethodError> {
        let v_term = self.v_term.as_ref().map_or(turns, Vec::len);
        let lens = [
            self.switch.len(),
            self.v_low.len(),
            self.v_high.len(),
            v_term,
            self.switch_spans.len(),
            self.subgoal_spans.len(),
        ];
        if lens.iter().any(|&n| n != turns) {
            return Err(MethodError::Shape {
                part,
                detail: format!(
                    "episode {index}: {turns} turns, but plan switch {}, v_low {}, v_high {}, v_term {v_term}, switch_spans {}, subgoal_spans {}",
                    lens[0], lens[1], lens[2], lens[4], lens[5]
                ),
            });
        }
        let values = self
            .v_low
            .iter()
            .chain(&self.v_high)
            .chain(self.v_term.iter().flatten());
        if let Some(&value) = values.clone().find(|v| !v.is_finite()) {
            return Err(MethodError::NonFinite {
                part,
                what: "critic value of a plan turn",
                index,
                value,
            });
        }
        Ok(())
    }

    /// First turn of each segment: turn 0 and every later SWITCH turn.
    pub fn boundaries(&self) -> Vec<usize> {
        (0..self.switch.len())
            .filter(|&t| t == 0 || self.switch[t])
            .collect()
    }
}

/// `method.credit.hiper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HiperConfig {
    pub gamma: f64,
    /// GAE lambda of the low level (turns inside a segment).
    pub lambda_turn: f64,
    /// GAE lambda of the high level (segments).
    pub lambda_seg: f64,
    /// Subtracted from the reward of a turn whose action was invalid (>= 0; set 0 when the
    /// environment already penalises them).
    pub invalid_penalty: f64,
    /// Added to the reward of every KEEP turn (<= 0; the ALFWorld script uses -0.3).
    pub keep_penalty: f64,
    /// z-score each advantage component over the batch.
    pub norm_adv: bool,
    /// A cut episode bootstraps from its last turn's values instead of ending at 0.
    pub bootstrap_truncated: bool,
}

impl Default for HiperConfig {
    fn default() -> Self {
        Self {
            gamma: 1.0,
            lambda_turn: 1.0,
            lambda_seg: 0.95,
            invalid_penalty: 0.1,
            keep_penalty: 0.0,
            norm_adv: true,
            bootstrap_truncated: true,
        }
    }
}

impl Settings for HiperConfig {
    fn validate(&self) -> Result<(), MethodError> {
        let unit = |field, value: f64| {
            check_range(field, value, (0.0..=1.0).contains(&value), "in [0, 1]")
        };
        unit("method.credit.hiper.gamma", self.gamma)?;
        unit("method.credit.hiper.lambda_turn", self.lambda_turn)?;
        unit("method.credit.hiper.lambda_seg", self.lambda_seg)?;
        check_range(
            "method.credit.hiper.invalid_penalty",
            self.invalid_penalty,
            self.invalid_penalty >= 0.0,
            ">= 0 (it is subtracted)",
        )?;
        check_range(
            "method.credit.hiper.keep_penalty",
            self.keep_penalty,
            self.keep_penalty <= 0.0,
            "<= 0 (it is added)",
        )
    }
}

/// The z-score's epsilon (`norm_adv`, the released code).
const NORM_EPS: f64 = 1e-8;

/// Value targets of the three heads for one episode (before any normalisation).
#[derive(Debug, Clone, PartialEq)]
pub struct HaeTargets {
    /// `A^lo_t + V_low(t)` per turn.
    pub v_low: Vec<f64>,
    /// `A^hi_k + V_high(b_k)` per segment, at turn [`HaeEpisode::boundaries`]`[k]`.
    pub v_high: Vec<f64>,
    /// `G_t` per turn (the discounted return to the segment's end plus the next planning
    /// value), the target of `V_term`.
    pub v_term: Vec<f64>,
}

/// HAE's advantages and targets for one episode.
#[derive(Debug, Clone, PartialEq)]
pub struct HaeEpisode {
    /// First turn of each segment.
    pub boundaries: Vec<usize>,
    /// `A^lo_t` per turn.
    pub low: Vec<f64>,
    /// `A^hi_k` per segment.
    pub high: Vec<f64>,
    /// `A^term_t` per turn; `None` without a `V_term` head.
    pub term: Option<Vec<f64>>,
    pub targets: HaeTargets,
}

#[derive(Debug, Clone)]
pub struct Hiper {
    pub config: HiperConfig,
}

impl AdvantageEstimator for Hiper {
    fn name(&self) -> &'static str {
        "hiper"
    }
    fn needs_plan(&self) -> bool {
        true
    }
    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        let episodes = agent_episodes(batch, "hiper")?;
        let mut hae = hae_batch(episodes, &self.config)?;
        if self.config.norm_adv {
            normalise_components(&mut hae);
        }
        let rows = episodes
            .iter()
            .zip(&hae)
            .zip(batch.response_lens)
            .enumerate()
            .map(|(index, ((episode, hae), &len))| {
                Ok(token_row(episode, plan_of(episode, index)?, hae, len))
            })
            .collect::<Result<_, MethodError>>()?;
        Ok(Advantages::Token(rows))
    }
}

/// The value targets of every episode of the batch, for training the critic's heads.
pub fn hiper_value_targets(
    episodes: &[Episode],
    config: &HiperConfig,
) -> Result<Vec<HaeTargets>, MethodError> {
    for (index, episode) in episodes.iter().enumerate() {
        episode.check("hiper", index)?;
    }
    Ok(hae_batch(episodes, config)?
        .into_iter()
        .map(|h| h.targets)
        .collect())
}

fn hae_batch(episodes: &[Episode], config: &HiperConfig) -> Result<Vec<HaeEpisode>, MethodError> {
    episodes
        .iter()
        .enumerate()
        .map(|(index, episode)| {
            let plan = plan_of(episode, index)?;
            let rewards = hiper_turn_rewards(episode, plan, config);
            Ok(hae_episode(&rewards, plan, episode.terminated, config))
        })
        .collect()
}

fn plan_of(episode: &Episode, index: usize) -> Result<&PlanTurns, MethodError> {
    episode.plan.as_ref().ok_or_else(|| MethodError::MissingRollout {
        part: "hiper",
        rollout: "agent",
        detail: format!(
            "episode {index} has no plan (switch, subgoal, critic heads); hiper needs the plan-execute rollout"
        ),
    })
}

/// `r_t`: the environment's reward, minus the invalid-action penalty, plus the KEEP penalty.
pub fn hiper_turn_rewards(episode: &Episode, plan: &PlanTurns, config: &HiperConfig) -> Vec<f64> {
    (0..episode.turns())
        .map(|t| {
            let invalid = episode.invalid.get(t).copied().unwrap_or(false);
            let keep = t > 0 && !plan.switch[t];
            episode.rewards[t] - config.invalid_penalty * f64::from(u8::from(invalid))
                + config.keep_penalty * f64::from(u8::from(keep))
        })
        .collect()
}

/// HAE for one episode of shaped rewards `r_t`; `terminated`: the last turn ended it (else it
/// was cut and may bootstrap).
pub fn hae_episode(
    rewards: &[f64],
    plan: &PlanTurns,
    terminated: bool,
    config: &HiperConfig,
) -> HaeEpisode {
    let turns = rewards.len();
    let gamma = config.gamma;
    let boundaries = plan.boundaries();
    let segments = boundaries.len();
    let bootstrap = !terminated && config.bootstrap_truncated && turns > 0;
    // The unseen state after the last turn, on each head's scale.
    let (tail_low, tail_high) = if bootstrap {
        (plan.v_low[turns - 1], plan.v_high[turns - 1])
    } else {
        (0.0, 0.0)
    };
    let end_of = |k: usize| boundaries.get(k + 1).map_or(turns, |&b| b);
    let next_high = |k: usize| boundaries.get(k + 1).map_or(tail_high, |&b| plan.v_high[b]);

    let mut low = vec![0.0; turns];
    let mut returns = vec![0.0; turns];
    let mut high = vec![0.0; segments];
    let mut following_high = 0.0;
    for k in (0..segments).rev() {
        let (start, end) = (boundaries[k], end_of(k));
        let at_end = if k + 1 < segments {
            next_high(k)
        } else {
            tail_low
        };
        let mut next_low = 0.0;
        let mut next_return = next_high(k);
        for t in (start..end).rev() {
            let last = t + 1 == end;
            let v_next = if last { at_end } else { plan.v_low[t + 1] };
            let delta = rewards[t] + gamma * v_next - plan.v_low[t];
            let carried = if last {
                0.0
            } else {
                gamma * config.lambda_turn * next_low
            };
            low[t] = delta + carried;
            next_low = low[t];
            returns[t] = rewards[t] + gamma * next_return;
            next_return = returns[t];
        }
        let steps = (end - start) as i32;
        let segment_reward: f64 = (start..end)
            .map(|t| gamma.powi((t - start) as i32) * rewards[t])
            .sum();
        let target = segment_reward + gamma.powi(steps) * next_high(k);
        let delta = target - plan.v_high[start];
        high[k] = delta + gamma.powi(steps) * config.lambda_seg * following_high;
        following_high = high[k];
    }

    let term = plan
        .v_term
        .as_ref()
        .map(|v_term| returns.iter().zip(v_term).map(|(g, v)| g - v).collect());
    let targets = HaeTargets {
        v_low: low.iter().zip(&plan.v_low).map(|(a, v)| a + v).collect(),
        v_high: high
            .iter()
            .zip(&boundaries)
            .map(|(a, &b)| a + plan.v_high[b])
            .collect(),
        v_term: returns,
    };
    HaeEpisode {
        boundaries,
        low,
        high,
        term,
        targets,
    }
}

/// z-scores `A^lo`, `A^hi` and `A^term` each over the whole batch.
fn normalise_components(episodes: &mut [HaeEpisode]) {
    fn standardise(slots: Vec<&mut f64>) {
        let values: Vec<f64> = slots.iter().map(|v| **v).collect();
        for (slot, z) in slots
            .into_iter()
            .zip(population_z_scores(&values, NORM_EPS))
        {
            *slot = z;
        }
    }
    standardise(episodes.iter_mut().flat_map(|e| e.low.iter_mut()).collect());
    standardise(
        episodes
            .iter_mut()
            .flat_map(|e| e.high.iter_mut())
            .collect(),
    );
    standardise(
        episodes
            .iter_mut()
            .flat_map(|e| e.term.iter_mut().flatten())
            .collect(),
    );
}

/// One response row: `A^lo` on action tokens, `A^hi` on the boundary turns' subgoal tokens,
/// `A^term` (or, without it, `A^hi` at boundaries) on switch tokens.
fn token_row(episode: &Episode, plan: &PlanTurns, hae: &HaeEpisode, len: usize) -> Vec<f64> {
    let mut row = vec![0.0; len];
    fill_spans(&mut row, &episode.spans, &hae.low);
    let boundary_subgoals: Vec<(usize, usize)> = hae
        .boundaries
        .iter()
        .map(|&b| plan.subgoal_spans[b])
        .collect();
    fill_spans(&mut row, &boundary_subgoals, &hae.high);
    match &hae.term {
        Some(term) => fill_spans(&mut row, &plan.switch_spans, term),
        None => {
            let boundary_switches: Vec<(usize, usize)> = hae
                .boundaries
                .iter()
                .map(|&b| plan.switch_spans[b])
                .collect();
            fill_spans(&mut row, &boundary_switches, &hae.high);
        }
    }
    row
}
