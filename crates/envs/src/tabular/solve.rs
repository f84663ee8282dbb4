//! Exact dynamic programming on a known kernel: the references the theory solvers' regrets
//! and sub-optimalities are measured against.
//!
//! Policies are stochastic tables `pi[s][a]` (finite horizon: `pi[h][s][a]`); a deterministic
//! policy is a table of one-hot rows ([`one_hot_policy`]).
use super::TabularMdp;

/// A stationary policy: `pi[s][a]`.
pub type Policy = Vec<Vec<f64>>;

/// Values and greedy choices of a discounted or average-reward problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// `V(s)` (discounted) or the bias `h(s)` with `h(0) = 0` (average reward).
    pub values: Vec<f64>,
    /// `Q(s,a)`.
    pub q: Vec<Vec<f64>>,
    /// The greedy action per state (lowest index among ties).
    pub greedy: Vec<usize>,
    /// Average reward only: the optimal gain `J*`.
    pub gain: f64,
}

/// Finite-horizon values, indexed `[h][s]` for `h = 0..H` (`values[H]` is all zeros).
#[derive(Debug, Clone, PartialEq)]
pub struct HorizonSolution {
    pub values: Vec<Vec<f64>>,
    /// `q[h][s][a]` for `h < H`.
    pub q: Vec<Vec<Vec<f64>>>,
    /// `greedy[h][s]`.
    pub greedy: Vec<Vec<usize>>,
}

/// Deterministic actions as a stochastic table.
pub fn one_hot_policy(actions: &[usize], n_actions: usize) -> Policy {
    actions
        .iter()
        .map(|&a| {
            (0..n_actions)
                .map(|b| f64::from(u8::from(a == b)))
                .collect()
        })
        .collect()
}

/// The index of the largest entry, the lowest among ties (0 for an empty slice).
pub fn argmax(xs: &[f64]) -> usize {
    // First maximum: ties go to the lowest index, so results do not depend on float noise order.
    let mut best = 0;
    for (i, x) in xs.iter().enumerate() {
        if *x > xs[best] {
            best = i;
        }
    }
    best
}

fn q_row(mdp: &TabularMdp, s: usize, v: &[f64], gamma: f64) -> Vec<f64> {
    (0..mdp.n_actions())
        .map(|a| mdp.r(s, a) + gamma * mdp.expect(s, a, v))
        .collect()
}

/// Discounted optimal values by value iteration until the sup-norm change is below `tol`.
pub fn discounted_optimal(mdp: &TabularMdp, gamma: f64, tol: f64) -> Solution {
    assert!((0.0..1.0).contains(&gamma), "discount must be in [0, 1)");
    let mut v = vec![0.0; mdp.n_states()];
    loop {
        let next: Vec<f64> = (0..mdp.n_states())
            .map(|s| {
                q_row(mdp, s, &v, gamma)
                    .into_iter()
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let delta = next
            .iter()
            .zip(&v)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        v = next;
        // Sup-norm contraction: the error to V* is at most delta * gamma / (1 - gamma).
        if delta * gamma / (1.0 - gamma) < tol {
            break;
        }
    }
    let q: Vec<Vec<f64>> = (0..mdp.n_states())
        .map(|s| q_row(mdp, s, &v, gamma))
        .collect();
    let greedy = q.iter().map(|row| argmax(row)).collect();
    Solution {
        values: v,
        q,
        greedy,
        gain: f64::NAN,
    }
}

/// Optimal finite-horizon values by backward induction over `horizon` steps.
pub fn horizon_optimal(mdp: &TabularMdp, horizon: usize) -> HorizonSolution {
    let n = mdp.n_states();
    let mut values = vec![vec![0.0; n]; horizon + 1];
    let mut q = vec![Vec::new(); horizon];
    let mut greedy = vec![Vec::new(); horizon];
    for h in (0..horizon).rev() {
        let rows: Vec<Vec<f64>> = (0..n).map(|s| q_row(mdp, s, &values[h + 1], 1.0)).collect();
        greedy[h] = rows.iter().map(|row| argmax(row)).collect();
        values[h] = rows
            .iter()
            .zip(&greedy[h])
            .map(|(row, &a)| row[a])
            .collect();
        q[h] = rows;
    }
    HorizonSolution { values, q, greedy }
}

/// Finite-horizon values of a (possibly step-dependent) policy `pi[h][s][a]`.
pub fn horizon_evaluate(mdp: &TabularMdp, pi: &[Policy]) -> Vec<Vec<f64>> {
    let n = mdp.n_states();
    let horizon = pi.len();
    let mut values = vec![vec![0.0; n]; horizon + 1];
    for h in (0..horizon).rev() {
        values[h] = (0..n)
            .map(|s| {
                q_row(mdp, s, &values[h + 1], 1.0)
                    .iter()
                    .zip(&pi[h][s])
                    .map(|(q, p)| q * p)
                    .sum()
            })
            .collect();
    }
    values
}

/// `Σ_s start(s) V(s)`.
pub fn start_value(mdp: &TabularMdp, values: &[f64]) -> f64 {
    mdp.start().iter().zip(values).map(|(p, v)| p * v).sum()
}

/// Optimal gain and bias of a communicating average-reward MDP by relative value iteration on
/// the aperiodic transform `P' = τ P + (1 − τ) I` (τ = 1/2), which has the same gain and
/// optimal policies and whose iteration converges even for periodic chains. The bias is
/// rescaled back to the original chain and pinned at `h(0) = 0`. Stops when the span of the
/// one-step change is below `tol`.
pub fn average_optimal(mdp: &TabularMdp, tol: f64) -> Solution {
    const TAU: f64 = 0.5;
    let n = mdp.n_states();
    let mut h = vec![0.0; n];
    let mut gain;
    let mut iterations = 0usize;
    loop {
        let next: Vec<f64> = (0..n)
            .map(|s| {
                (0..mdp.n_actions())
                    .map(|a| TAU * (mdp.r(s, a) + mdp.expect(s, a, &h)) + (1.0 - TAU) * h[s])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let diff: Vec<f64> = next.iter().zip(&h).map(|(a, b)| a - b).collect();
        let (lo, hi) = span(&diff);
        // The gain of the transform is τ J; bounds lo <= τ J <= hi.
        gain = (lo + hi) / 2.0 / TAU;
        h = next.iter().map(|x| x - next[0]).collect();
        iterations += 1;
        if hi - lo < tol * TAU || iterations > 10_000_000 {
            break;
        }
    }
    // h of the transform solves τ(r + P h) + (1−τ) h = τ J + h, i.e. r + P h = J + h: the same
    // bias equation as the original chain, so no rescaling is needed beyond the pin at 0.
    let q: Vec<Vec<f64>> = (0..n)
        .map(|s| {
            (0..mdp.n_actions())
                .map(|a| mdp.r(s, a) + mdp.expect(s, a, &h) - gain)
                .collect()
        })
        .collect();
    let greedy = q.iter().map(|row| argmax(row)).collect();
    Solution {
        values: h,
        q,
        greedy,
        gain,
    }
}

/// Gain of a stationary policy in a unichain MDP: `Σ_s μ(s) r_π(s)` with `μ` its stationary
/// distribution (power iteration on the aperiodic transform from the start distribution).
pub fn average_evaluate(mdp: &TabularMdp, pi: &[Vec<f64>], tol: f64) -> f64 {
    let n = mdp.n_states();
    let mut mu = mdp.start().to_vec();
    for _ in 0..10_000_000 {
        let mut next = vec![0.0; n];
        for s in 0..n {
            for (a, pa) in pi[s].iter().enumerate() {
                if *pa == 0.0 {
                    continue;
                }
                for (t, p) in mdp.p(s, a).iter().enumerate() {
                    next[t] += 0.5 * mu[s] * pa * p;
                }
            }
            next[s] += 0.5 * mu[s];
        }
        let delta: f64 = next.iter().zip(&mu).map(|(a, b)| (a - b).abs()).sum();
        mu = next;
        if delta < tol {
            break;
        }
    }
    (0..n)
        .map(|s| {
            mu[s]
                * pi[s]
                    .iter()
                    .enumerate()
                    .map(|(a, p)| p * mdp.r(s, a))
                    .sum::<f64>()
        })
        .sum()
}

/// Expected hitting times of `goals` under the best policy (unit cost per step, goals absorbing
/// at cost 0): the stochastic-shortest-path values. States from which every policy misses the
/// goals with positive probability get `f64::INFINITY`.
pub fn hitting_times(mdp: &TabularMdp, goals: &[usize], tol: f64) -> Vec<f64> {
    let n = mdp.n_states();
    let is_goal = |s: usize| goals.contains(&s);
    // States from which some policy reaches the goals with probability 1 (the usual
    // almost-sure reachability fixpoint): shrink a candidate set to the states that can reach a
    // goal using only actions whose support stays in the set, until it no longer shrinks.
    // Value iteration then runs on those states only, where it converges.
    let mut proper = vec![true; n];
    loop {
        let allowed = |s: usize, a: usize| {
            mdp.p(s, a)
                .iter()
                .enumerate()
                .all(|(t, &x)| x == 0.0 || proper[t])
        };
        let mut reach: Vec<bool> = (0..n).map(is_goal).collect();
        loop {
            let grow: Vec<usize> = (0..n)
                .filter(|&s| !reach[s] && proper[s])
                .filter(|&s| {
                    (0..mdp.n_actions()).any(|a| {
                        allowed(s, a)
                            && mdp
                                .p(s, a)
                                .iter()
                                .enumerate()
                                .any(|(t, &x)| x > 0.0 && reach[t])
                    })
                })
                .collect();
            if grow.is_empty() {
                break;
            }
            for s in grow {
                reach[s] = true;
            }
        }
        if reach == proper {
            break;
        }
        proper = reach;
    }
    let mut v: Vec<f64> = (0..n)
        .map(|s| if proper[s] { 0.0 } else { f64::INFINITY })
        .collect();
    loop {
        let mut delta = 0.0f64;
        for s in (0..n).filter(|&s| proper[s] && !is_goal(s)) {
            let best = (0..mdp.n_actions())
                .map(|a| {
                    // Zero-probability successors contribute nothing (avoids 0 * inf).
                    1.0 + mdp
                        .p(s, a)
                        .iter()
                        .zip(&v)
                        .filter(|(p, _)| **p > 0.0)
                        .map(|(p, x)| p * x)
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min);
            delta = delta.max((best - v[s]).abs());
            v[s] = best;
        }
        if delta < tol {
            break;
        }
    }
    v
}

/// `(min, max)` of a non-empty slice.
pub fn span(xs: &[f64]) -> (f64, f64) {
    xs.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        })
}
