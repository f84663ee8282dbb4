//! SERR, the Structural Entropy Ranking Reward: ranked rewards for the truncated responses of
//! all-wrong groups, from each response's peak and global token entropy.
use crate::credit::CreditBatch;

use super::{collapsed, Collapsed, R3Config, SerrTies};

/// `(peak, global)` entropy of one response: the mean of its top `max(1, floor(p L))` token
/// entropies, and the mean of all of them. `(0, 0)` for an empty response.
pub fn entropy_profile(entropies: &[f64], peak_ratio: f64) -> (f64, f64) {
    let n = entropies.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mut sorted = entropies.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let top = ((peak_ratio * n as f64).floor() as usize).clamp(1, n);
    let peak = sorted[..top].iter().sum::<f64>() / top as f64;
    let global = entropies.iter().sum::<f64>() / n as f64;
    (peak, global)
}

/// SERR rewards for `N` responses given their `(peak, global)` entropies, in input order.
/// With `N = 1` there is nothing to rank and the lone response gets 0: rewarding it would
/// reward truncation itself.
pub fn serr_rewards(profiles: &[(f64, f64)], r_max: f64, ties: SerrTies) -> Vec<f64> {
    let n = profiles.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let score: Vec<usize> = profiles
        .iter()
        .map(|&(peak_i, glob_i)| {
            profiles
                .iter()
                .filter(|&&(peak_j, glob_j)| peak_i > peak_j && glob_i < glob_j)
                .count()
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[b].cmp(&score[a])); // stable: ties keep input order
    let reward_at = |rank: f64| r_max * (1.0 - rank / (n - 1) as f64);
    let mut out = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start;
        while end + 1 < n && score[order[end + 1]] == score[order[start]] {
            end += 1;
        }
        for (pos, &i) in order.iter().enumerate().take(end + 1).skip(start) {
            out[i] = match ties {
                SerrTies::Stable => reward_at(pos as f64),
                SerrTies::Average => reward_at((start + end) as f64 / 2.0),
            };
        }
        start = end + 1;
    }
    out
}

/// Rewards after SERR: in every all-negative group of on-policy samples with at least two
/// truncated responses, those responses get their ranked reward (the others keep theirs).
/// Returns the rewards and the number of groups shaped.
pub fn serr_shape(
    batch: &CreditBatch,
    truncated: &[bool],
    replayed: &[bool],
    entropy: &[Vec<f64>],
    config: &R3Config,
) -> (Vec<f64>, usize) {
    let mut rewards = batch.rewards.to_vec();
    let mut shaped = 0;
    for members in batch.groups() {
        let own: Vec<usize> = members.into_iter().filter(|&i| !replayed[i]).collect();
        let own_rewards: Vec<f64> = own.iter().map(|&i| batch.rewards[i]).collect();
        if collapsed(&own_rewards, config.success_reward) != Some(Collapsed::AllNegative) {
            continue;
        }
        let cut: Vec<usize> = own.into_iter().filter(|&i| truncated[i]).collect();
        if cut.len() < 2 {
            continue;
        }
        let profiles: Vec<(f64, f64)> = cut
            .iter()
            .map(|&i| {
                let len = batch.response_lens[i].min(entropy[i].len());
                entropy_profile(&entropy[i][..len], config.peak_ratio)
            })
            .collect();
        for (&i, r) in cut
            .iter()
            .zip(serr_rewards(&profiles, config.r_max, config.ties))
        {
            rewards[i] = r;
        }
        shaped += 1;
    }
    (rewards, shaped)
}
