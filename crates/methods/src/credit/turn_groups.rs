//! What the turn-level group estimators (GiGPO, HGPO, SALT) share: the checks on the agent
//! rollout's episodes, bucketing turns of one episode group by a key (anchor state, k-step
//! context, graph edge), and the group-relative baseline `x - mean` or `(x - mean) / (std + eps)`.
//!
//! Everything here works within one episode group (the G episodes of one task instance, one
//! `group_id`): steps of different tasks are never compared.
use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use super::turns::Episode;
use super::{mean_std, CreditBatch};

/// How a value is compared with its group (GiGPO's `F_norm`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelativeNorm {
    /// `x - mean` (`F_norm = 1`, verl-agent's `mean_norm`, its default).
    #[default]
    Mean,
    /// `(x - mean) / (std + eps)` (`mean_std_norm`).
    MeanStd,
}

/// A [`RelativeNorm`] with the std convention and eps it divides by (`method.credit.std_ddof`,
/// `method.credit.eps`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relative {
    pub norm: RelativeNorm,
    pub std_ddof: u32,
    pub eps: f64,
}

impl Relative {
    /// Each value relative to the group of all `values`. Fewer than two values carry no
    /// relative signal and get 0 (also for the episode advantage, where verl's convention
    /// would keep a lone episode's raw return).
    pub fn advantages(&self, values: &[f64]) -> Vec<f64> {
        if values.len() < 2 {
            return vec![0.0; values.len()];
        }
        let (mean, std) = mean_std(values.iter().copied(), self.std_ddof);
        let scale = match self.norm {
            RelativeNorm::Mean => 1.0,
            RelativeNorm::MeanStd => {
                let denominator = std.unwrap_or(1.0) + self.eps;
                // Zero only with eps = 0 and equal values, whose centred values are all 0.
                if denominator > 0.0 {
                    1.0 / denominator
                } else {
                    1.0
                }
            }
        };
        values.iter().map(|v| (v - mean) * scale).collect()
    }
}

/// Indices of equal keys, each bucket in order of its first appearance.
pub fn bucket_by<K: Hash + Eq>(keys: impl IntoIterator<Item = K>) -> Vec<Vec<usize>> {
    let mut slot_of: HashMap<K, usize> = HashMap::new();
    let mut buckets: Vec<Vec<usize>> = Vec::new();
    for (index, key) in keys.into_iter().enumerate() {
        let slot = *slot_of.entry(key).or_insert_with(|| {
            buckets.push(Vec::new());
            buckets.len() - 1
        });
        buckets[slot].push(index);
    }
    buckets
}

/// `values[n]` relative to the other values with the same key. `None` where the key is
/// undefined (`None`) or no other value shares it (a group of one has no relative signal).
pub fn keyed_advantages<K: Hash + Eq>(
    keys: impl IntoIterator<Item = Option<K>>,
    values: &[f64],
    relative: &Relative,
) -> Vec<Option<f64>> {
    let (defined, keys): (Vec<usize>, Vec<K>) = keys
        .into_iter()
        .enumerate()
        .filter_map(|(n, key)| key.map(|k| (n, k)))
        .unzip();
    let mut out = vec![None; values.len()];
    for bucket in bucket_by(keys).into_iter().filter(|b| b.len() > 1) {
        let members: Vec<usize> = bucket.iter().map(|&b| defined[b]).collect();
        let group: Vec<f64> = members.iter().map(|&n| values[n]).collect();
        for (&n, a) in members.iter().zip(relative.advantages(&group)) {
            out[n] = Some(a);
        }
    }
    out
}

/// Every turn of one episode group, flattened: `(member, turn)` in member order.
pub fn flat_turns(group: &[&Episode]) -> Vec<(usize, usize)> {
    group
        .iter()
        .enumerate()
        .flat_map(|(member, episode)| (0..episode.turns()).map(move |t| (member, t)))
        .collect()
}

/// Flat per-turn values (in [`flat_turns`] order) back into one row per member.
pub fn unflatten(group: &[&Episode], flat: impl IntoIterator<Item = f64>) -> Vec<Vec<f64>> {
    let mut flat = flat.into_iter();
    group
        .iter()
        .map(|episode| flat.by_ref().take(episode.turns()).collect())
        .collect()
}

/// Turn rewards after the invalid-action penalty (`r_t - penalty` where the action was invalid).
pub fn penalized_rewards(episode: &Episode, invalid_penalty: f64) -> Vec<f64> {
    episode
        .rewards
        .iter()
        .enumerate()
        .map(|(t, &r)| {
            if episode.invalid.get(t).copied().unwrap_or(false) {
                r - invalid_penalty
            } else {
                r
            }
        })
        .collect()
}

/// Runs `per_group` on each episode group (its members' episodes, in batch order) and puts the
/// per-turn values it returns, one row per member, back at the members' batch rows.
pub fn by_episode_group(
    batch: &CreditBatch,
    episodes: &[Episode],
    mut per_group: impl FnMut(&[usize], &[&Episode]) -> Vec<Vec<f64>>,
) -> Vec<Vec<f64>> {
    let mut out = vec![Vec::new(); episodes.len()];
    for members in batch.groups() {
        let group: Vec<&Episode> = members.iter().map(|&i| &episodes[i]).collect();
        for (&i, row) in members.iter().zip(per_group(&members, &group)) {
            out[i] = row;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_first_appearance_order() {
        assert_eq!(
            bucket_by([7, 3, 7, 9, 3]),
            vec![vec![0, 2], vec![1, 4], vec![3]]
        );
    }

    #[test]
    fn singletons_and_undefined_keys_have_no_relative_advantage() {
        let relative = Relative {
            norm: RelativeNorm::Mean,
            std_ddof: 1,
            eps: 1e-6,
        };
        let got = keyed_advantages(
            [Some(1), None, Some(1), Some(2)],
            &[1.0, 5.0, 0.0, 3.0],
            &relative,
        );
        assert_eq!(got, vec![Some(0.5), None, Some(-0.5), None]);
    }

    #[test]
    fn equal_values_with_zero_eps_stay_zero() {
        let relative = Relative {
            norm: RelativeNorm::MeanStd,
            std_ddof: 1,
            eps: 0.0,
        };
        assert_eq!(relative.advantages(&[0.5, 0.5]), vec![0.0, 0.0]);
    }
}
