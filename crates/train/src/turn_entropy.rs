//! Per-turn entropy of a multi-turn step (issue 14's metrics): the policy's full-vocabulary
//! entropy on the tokens of each turn, by turn index, `agent/entropy_turn{k}`. A turn is
//! everything the policy wrote between two environment replies (a plan-execute turn's decision
//! and subgoal included); the replies themselves are no turn's. Turns from
//! [`TURN_ENTROPY_CAP`] on share one key, `agent/entropy_turn{CAP}plus`, so that a long
//! episode does not add a column per turn.
//!
//! The values come from the update's own forwards (no extra pass): the token-weighted mean over
//! the first epoch's applied minibatches of the entropy on trained tokens (the loss mask, so
//! the overlong filter's rows are out as they are of `entropy`). With one minibatch, one epoch
//! and one turn per episode, `agent/entropy_turn0` is the step's `entropy`.
use std::collections::BTreeMap;

use tch::{Device, Kind, Tensor};

/// Turns with a key of their own; later turns share `agent/entropy_turn{CAP}plus`.
pub const TURN_ENTROPY_CAP: usize = 8;

pub struct TurnEntropy {
    /// `[B, R]` i64: the (capped) turn index of each response token, -1 on the environment's.
    turn_of: Tensor,
    /// `[CAP + 1]` f64: entropy summed per turn, and trained tokens per turn.
    sums: Tensor,
    counts: Tensor,
}

impl TurnEntropy {
    /// From each row's environment-token flags (`env[i][t]`: token `t` of row `i`'s response
    /// is the environment's), for `[B, width]` response tensors on `device`.
    pub fn of(env: &[&[bool]], width: usize, device: Device) -> Self {
        let mut turn_of = vec![-1i64; env.len() * width];
        for (row, flags) in env.iter().enumerate() {
            let mut turn = 0usize;
            for t in 0..width {
                match flags.get(t) {
                    Some(true) => {
                        // The first reply token after a turn closes it.
                        if t > 0 && !flags[t - 1] {
                            turn += 1;
                        }
                    }
                    _ => turn_of[row * width + t] = turn.min(TURN_ENTROPY_CAP) as i64,
                }
            }
        }
        let zeros = || Tensor::zeros([TURN_ENTROPY_CAP as i64 + 1], (Kind::Double, device));
        TurnEntropy {
            turn_of: Tensor::from_slice(&turn_of)
                .view([env.len() as i64, width as i64])
                .to_device(device),
            sums: zeros(),
            counts: zeros(),
        }
    }

    /// Adds one minibatch: rows `rows` (`[b]` i64) of the step, their token entropies and loss
    /// mask (`[b, R]`).
    pub fn add(&mut self, rows: &Tensor, entropy: &Tensor, mask: &Tensor) {
        let turn = self.turn_of.index_select(0, rows);
        let weight = (mask.to_kind(Kind::Double) * turn.ge(0).to_kind(Kind::Double)).view([-1]);
        let index = turn.clamp_min(0).view([-1]);
        let values = entropy.detach().to_kind(Kind::Double).view([-1]) * &weight;
        self.sums = self.sums.scatter_add(0, &index, &values);
        self.counts = self.counts.scatter_add(0, &index, &weight);
    }

    /// The per-turn sums then counts, on the host (data-parallel ranks add theirs up).
    pub fn totals(&self) -> Vec<f64> {
        let host = |t: &Tensor| Vec::<f64>::try_from(t.to_device(Device::Cpu)).unwrap_or_default();
        [host(&self.sums), host(&self.counts)].concat()
    }

    /// Replaces the sums and counts with [`Self::totals`]' layout.
    pub fn set_totals(&mut self, totals: &[f64]) {
        let (sums, counts) = totals.split_at(totals.len() / 2);
        let device = self.sums.device();
        self.sums = Tensor::from_slice(sums).to_device(device);
        self.counts = Tensor::from_slice(counts).to_device(device);
    }

    /// `agent/entropy_turn{k}` for every turn index with a trained token.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let host = |t: &Tensor| Vec::<f64>::try_from(t.to_device(Device::Cpu)).unwrap_or_default();
        let (sums, counts) = (host(&self.sums), host(&self.counts));
        sums.iter()
            .zip(&counts)
            .enumerate()
            .filter(|(_, (_, &n))| n > 0.0)
            .map(|(k, (&sum, &n))| {
                let key = match k {
                    TURN_ENTROPY_CAP => format!("agent/entropy_turn{k}plus"),
                    _ => format!("agent/entropy_turn{k}"),
                };
                (key, sum / n)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[f64]) -> Tensor {
        Tensor::from_slice(values).view([1, values.len() as i64])
    }

    #[test]
    fn one_turn_gives_the_masked_mean_and_turns_split_it() {
        let entropy = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).view([2, 4]);
        let mask = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]).view([2, 4]);
        let rows = Tensor::from_slice(&[0i64, 1]);
        // No environment token: one turn, whose value is the masked mean (1+2+3+5+6+7+8)/7.
        let mut one = TurnEntropy::of(&[&[], &[false; 4]], 4, Device::Cpu);
        one.add(&rows, &entropy, &mask);
        let m = one.metrics();
        assert_eq!(m.len(), 1);
        assert!((m["agent/entropy_turn0"] - 32.0 / 7.0).abs() < 1e-12);
        // Row 1: turn 0 = token 0, reply = token 1, turn 1 = tokens 2-3; masked token 3 of row
        // 0 stays out. The token-weighted turn means recombine to the masked mean of the
        // turns' tokens.
        let env: [&[bool]; 2] = [&[false; 4], &[false, true, false, false]];
        let mut two = TurnEntropy::of(&env, 4, Device::Cpu);
        two.add(&rows, &entropy, &mask);
        let m = two.metrics();
        assert!((m["agent/entropy_turn0"] - (1.0 + 2.0 + 3.0 + 5.0) / 4.0).abs() < 1e-12);
        assert!((m["agent/entropy_turn1"] - 7.5).abs() < 1e-12);
    }

    #[test]
    fn turns_past_the_cap_share_one_key() {
        let width = 2 * (TURN_ENTROPY_CAP + 3);
        // Turn, reply, turn, reply, ...: one token each.
        let env: Vec<bool> = (0..width).map(|t| t % 2 == 1).collect();
        let mut turns = TurnEntropy::of(&[&env], width, Device::Cpu);
        let entropy: Vec<f64> = (0..width).map(|t| (t / 2) as f64).collect();
        turns.add(
            &Tensor::from_slice(&[0i64]),
            &row(&entropy),
            &row(&vec![1.0; width]),
        );
        let m = turns.metrics();
        assert_eq!(m.len(), TURN_ENTROPY_CAP + 1);
        assert_eq!(m["agent/entropy_turn3"], 3.0);
        let late = (TURN_ENTROPY_CAP..TURN_ENTROPY_CAP + 3).sum::<usize>() as f64 / 3.0;
        let key = format!("agent/entropy_turn{TURN_ENTROPY_CAP}plus");
        assert!((m[&key] - late).abs() < 1e-12);
    }
}
