//! The multi-turn contract between the agent rollout and the turn-level estimators.
//!
//! One episode is one response row: its tokens alternate between the policy's actions and the
//! environment's text (masked out of the loss). Turn estimators (GiGPO, HGPO, IGPO, EAPO, SALT,
//! HiPER) compute one advantage per turn; [`turn_token_advantages`] spreads each over that
//! turn's action tokens, so the objective needs to know nothing about turns.
use super::{mean_std, Advantages, CreditBatch};
use crate::error::MethodError;

pub use super::hiper::PlanTurns;

/// One episode as credit sees it. All per-turn vectors have one entry per turn the policy took.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Episode {
    /// Token span `[start, end)` of each turn's action in the response row.
    pub spans: Vec<(usize, usize)>,
    /// The environment's reward for each turn (after its action; shaping included).
    pub rewards: Vec<f64>,
    /// Hash of the observation each turn's action was taken from (GiGPO's anchor state); turn
    /// 0's is the initial observation.
    pub states: Vec<u64>,
    /// Hash of each turn's normalised action text.
    pub actions: Vec<u64>,
    /// The action was invalid (it cost a step and changed nothing).
    pub invalid: Vec<bool>,
    /// IGPO's probe: the policy's (length-normalised) probability of the gold answer after
    /// `t` turns, `t = 0..=T-1` (entry 0: the prompt alone). Empty unless a part asks for it.
    pub gold_probs: Vec<f64>,
    /// The episode ended by the environment's rule (not by the horizon or the context budget).
    pub terminated: bool,
    /// HiPER's plan-execute structure (switch decisions, subgoal spans, the critic's heads);
    /// `None` unless the rollout parses plans.
    pub plan: Option<PlanTurns>,
}

impl Episode {
    pub fn turns(&self) -> usize {
        self.spans.len()
    }

    /// Checks that every per-turn vector has one entry per turn (`gold_probs` and `invalid`
    /// may be empty), and the plan's too when there is one.
    pub fn check(&self, part: &'static str, index: usize) -> Result<(), MethodError> {
        let t = self.turns();
        let lens = [self.rewards.len(), self.states.len(), self.actions.len()];
        let optional_ok = [self.gold_probs.len(), self.invalid.len()]
            .iter()
            .all(|&n| n == 0 || n == t);
        if lens.iter().any(|&n| n != t) || !optional_ok {
            return Err(MethodError::Shape {
                part,
                detail: format!(
                    "episode {index}: {t} turn spans, but rewards {}, states {}, actions {}, invalid {}, gold_probs {}",
                    self.rewards.len(),
                    self.states.len(),
                    self.actions.len(),
                    self.invalid.len(),
                    self.gold_probs.len()
                ),
            });
        }
        if let Some(&value) = self.rewards.iter().find(|r| !r.is_finite()) {
            return Err(MethodError::NonFinite {
                part,
                what: "turn reward of the episode",
                index,
                value,
            });
        }
        match &self.plan {
            Some(plan) => plan.check(part, index, t),
            None => Ok(()),
        }
    }
}

/// The batch's episodes, each checked, for an estimator that only runs on the agent rollout.
pub fn agent_episodes<'a>(
    batch: &CreditBatch<'a>,
    part: &'static str,
) -> Result<&'a [Episode], MethodError> {
    batch.check(part)?;
    let episodes = batch.episodes.ok_or_else(|| MethodError::MissingRollout {
        part,
        rollout: "agent",
        detail: "it assigns credit per turn and the batch has no turn structure (episodes): \
                 train on an agent environment (task.name = texthouse, minishop, searchqa, \
                 corridor or one of your own, docs/agents.md)"
            .into(),
    })?;
    if episodes.len() != batch.len() {
        return Err(MethodError::Shape {
            part,
            detail: format!(
                "{} episodes for {} response rows",
                episodes.len(),
                batch.len()
            ),
        });
    }
    for (index, episode) in episodes.iter().enumerate() {
        episode.check(part, index)?;
    }
    Ok(episodes)
}

/// Spreads per-turn advantages (`[B][T_i]`) over each turn's action tokens; tokens outside any
/// turn (the environment's text, the `<eos>`) get 0.
pub fn turn_token_advantages(
    episodes: &[Episode],
    per_turn: &[Vec<f64>],
    response_lens: &[usize],
) -> Advantages {
    let rows = episodes
        .iter()
        .zip(per_turn)
        .zip(response_lens)
        .map(|((episode, advantages), &len)| {
            let mut row = vec![0.0; len];
            fill_spans(&mut row, &episode.spans, advantages);
            row
        })
        .collect();
    Advantages::Token(rows)
}

/// Writes `values[k]` over the tokens of `spans[k]` (clipped to the row); spans without a
/// value are left alone.
pub fn fill_spans(row: &mut [f64], spans: &[(usize, usize)], values: &[f64]) {
    let len = row.len();
    for (&(start, end), &value) in spans.iter().zip(values) {
        for slot in row.iter_mut().take(end.min(len)).skip(start) {
            *slot = value;
        }
    }
}

/// `(x - mean) / (std + eps)` with the population std (divide by n), the normalisation the
/// turn-level methods share (IGPO's joint rewards, EAPO's round rewards, HiPER's components).
/// Equal values (a single one included) map to 0, as IGPO's "std = 1 if |R| <= 1" also
/// gives, even with `eps = 0`.
pub fn population_z_scores(values: &[f64], eps: f64) -> Vec<f64> {
    let (mean, std) = mean_std(values.iter().copied(), 0);
    let scale = std.unwrap_or(0.0) + eps;
    if scale <= 0.0 {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| (v - mean) / scale).collect()
}

/// Discounted reverse sums `R_t = sum_{k >= t} gamma^(k - t) r_k`.
pub fn discounted_returns(rewards: &[f64], gamma: f64) -> Vec<f64> {
    let mut out = vec![0.0; rewards.len()];
    let mut acc = 0.0;
    for t in (0..rewards.len()).rev() {
        acc = rewards[t] + gamma * acc;
        out[t] = acc;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_advantages_cover_action_tokens_only() {
        let episode = Episode {
            spans: vec![(0, 2), (5, 6)],
            rewards: vec![0.0, 1.0],
            states: vec![1, 2],
            actions: vec![3, 4],
            invalid: vec![false, false],
            ..Default::default()
        };
        let adv = turn_token_advantages(&[episode], &[vec![0.5, -1.0]], &[8]);
        assert_eq!(
            adv,
            Advantages::Token(vec![vec![0.5, 0.5, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0]])
        );
    }

    #[test]
    fn returns_discount_from_the_end() {
        let r = discounted_returns(&[0.0, 1.0], 0.95);
        assert!((r[0] - 0.95).abs() < 1e-12 && r[1] == 1.0);
    }

    #[test]
    fn z_scores_use_the_population_std_and_map_equal_values_to_zero() {
        let z = population_z_scores(&[1.0, 3.0], 0.0);
        assert_eq!(z, vec![-1.0, 1.0]);
        assert_eq!(population_z_scores(&[2.0, 2.0], 0.0), vec![0.0, 0.0]);
        assert_eq!(population_z_scores(&[5.0], 1e-6), vec![0.0]);
    }

    #[test]
    fn a_ragged_episode_is_a_shape_error() {
        let episode = Episode {
            spans: vec![(0, 1)],
            ..Default::default()
        };
        assert!(episode.check("gigpo", 0).is_err());
        let one_turn = Episode {
            spans: vec![(0, 1)],
            rewards: vec![1.0],
            states: vec![1],
            actions: vec![2],
            ..Default::default()
        };
        assert!(one_turn.check("gigpo", 0).is_ok());
        let two_flags = Episode {
            invalid: vec![false, true],
            ..one_turn
        };
        assert!(two_flags.check("gigpo", 0).is_err());
    }
}
