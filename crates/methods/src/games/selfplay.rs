//! SPO, self-play preference optimization (Swamy et al. 2024, "A Minimaximalist Approach to
//! Reinforcement Learning from Human Feedback", arXiv 2401.04056; spo-selfplay.md). Named
//! `spo-selfplay` in the toolkit, not to be confused with Segment Policy Optimization.
//!
//! Reward stage only: each of `N` samples of one group is rewarded with its win rate against
//! the others,
//!
//! `r_i = (1/(N−1)) Σ_{j≠i} P(ξ_i ≻ ξ_j)`,
//!
//! and any reward-maximising learner (GRPO's group-normalised advantage, PPO, ...) takes `r`
//! as the terminal reward. The average iterate of a no-regret learner then approaches the
//! Minimax Winner of the symmetric game whose payoff is `P`. [`exploitability`] measures the
//! distance to it on synthetic games.
use super::oracle::PreferenceOracle;

/// Win-rate rewards of one group of sampled items against each other (the current group
/// only; the spec's optional queue of past samples is left to the caller, who can append
/// them to `group` and read off the first entries).
///
/// A group of one has no opponent and gets the tie value 0.5; an empty group gets nothing.
pub fn win_rates(group: &[usize], oracle: &dyn PreferenceOracle) -> Vec<f64> {
    let n = group.len();
    if n == 1 {
        return vec![0.5];
    }
    group
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let wins: f64 = group
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &b)| oracle.prob(a, b))
                .sum();
            wins / (n - 1) as f64
        })
        .collect()
}

/// `P(b ≻ π) = Σ_a π(a) P(b ≻ a)` for every response `b` in `0..n_items`: how often each
/// item beats a sample of the policy `policy` (a distribution over items `0..policy.len()`).
pub fn win_probabilities(
    policy: &[f64],
    oracle: &dyn PreferenceOracle,
    n_items: usize,
) -> Vec<f64> {
    (0..n_items)
        .map(|b| {
            policy
                .iter()
                .enumerate()
                .map(|(a, &p)| p * oracle.prob(b, a))
                .sum()
        })
        .collect()
}

/// `max_b Σ_a π(a) P(b ≻ a) − 1/2`, the best response's edge over the policy, with responses
/// `b` ranging over `0..n_items` (which may include items outside the policy's support).
///
/// 0 exactly at a Minimax Winner of the symmetric game (whose value is 1/2); a pure strategy
/// in rock-paper-scissors has exploitability 0.5.
pub fn exploitability(policy: &[f64], oracle: &dyn PreferenceOracle, n_items: usize) -> f64 {
    win_probabilities(policy, oracle, n_items)
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max)
        - 0.5
}
