//! The multi-turn contract between the agent rollout and the turn-level estimators.
//!
//! One episode is one response row: its tokens alternate between the policy's actions and the
//! environment's text (masked out of the loss). Turn estimators (GiGPO, HGPO, IGPO, EAPO, SALT,
//! HiPER) compute one advantage per turn; [`turn_token_advantages`] spreads each over that
//! turn's action tokens, so the objective needs to know nothing about turns.
use super::Advantages;
use crate::error::MethodError;

/// One episode as credit sees it. All per-turn vectors have one entry per turn the policy took.
#[derive(Debug, Clone, Default, PartialEq)]
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
}

impl Episode {
    pub fn turns(&self) -> usize {
        self.spans.len()
    }

    /// Checks that every per-turn vector has one entry per turn (`gold_probs` may be empty).
    pub fn check(&self, part: &'static str, index: usize) -> Result<(), MethodError> {
        let t = self.turns();
        let lens = [self.rewards.len(), self.states.len(), self.actions.len()];
        let probes_ok = self.gold_probs.is_empty() || self.gold_probs.len() == t;
        if lens.iter().any(|&n| n != t) || !probes_ok {
            return Err(MethodError::Shape {
                part,
                detail: format!(
                    "episode {index}: {t} turn spans, but rewards {}, states {}, actions {}, gold_probs {}",
                    self.rewards.len(),
                    self.states.len(),
                    self.actions.len(),
                    self.gold_probs.len()
                ),
            });
        }
        Ok(())
    }
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
            for (&(start, end), &a) in episode.spans.iter().zip(advantages) {
                for slot in row.iter_mut().take(end.min(len)).skip(start) {
                    *slot = a;
                }
            }
            row
        })
        .collect();
    Advantages::Token(rows)
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
    fn a_ragged_episode_is_a_shape_error() {
        let episode = Episode {
            spans: vec![(0, 1)],
            ..Default::default()
        };
        assert!(episode.check("gigpo", 0).is_err());
    }
}
