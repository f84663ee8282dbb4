//! Optimism in the face of uncertainty, tabular: visit counts, L1 confidence sets around the
//! empirical kernel, and the closed-form inner max/min of `p · v` over such a set (Jaksch,
//! Ortner & Auer 2010, UCRL2's extended value iteration). Shared by LOOP (average-reward
//! planning, loop.md), GOSPRL (goal-reaching planning, gosprl.md) and the optimistic
//! actor-critic's doubling switch rule (ac-optimal.md).
//!
//! The set for one pair is `P(s,a) = { p ∈ Δ_S : ‖p − P̂(·|s,a)‖₁ ≤ β(s,a) }`. Its maximiser of
//! `p · v` moves `min(β/2, 1 − P̂(s*))` mass onto the best state `s* = argmax v` and takes the
//! same mass away from the worst states first; the minimiser is the same with `v` reversed.
//! A radius of 2 or more makes the set the whole simplex: that is how an unvisited pair is
//! "fully uncertain".

/// Counts of an online learner: `N(s,a)`, `N(s,a,s')` and reward sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    n_states: usize,
    n_actions: usize,
    visits: Vec<u64>,
    /// `[s][a][s']`.
    next: Vec<u64>,
    reward_sum: Vec<f64>,
}

impl Counts {
    pub fn new(n_states: usize, n_actions: usize) -> Self {
        Self {
            n_states,
            n_actions,
            visits: vec![0; n_states * n_actions],
            next: vec![0; n_states * n_actions * n_states],
            reward_sum: vec![0.0; n_states * n_actions],
        }
    }

    pub fn n_states(&self) -> usize {
        self.n_states
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    /// Records one transition `(s, a, r, s')`.
    pub fn record(&mut self, s: usize, a: usize, r: f64, next: usize) {
        let sa = s * self.n_actions + a;
        self.visits[sa] += 1;
        self.next[sa * self.n_states + next] += 1;
        self.reward_sum[sa] += r;
    }

    /// `N(s,a)`.
    pub fn n(&self, s: usize, a: usize) -> u64 {
        self.visits[s * self.n_actions + a]
    }

    /// All `N(s,a)`, row-major `[s][a]`.
    pub fn visits(&self) -> &[u64] {
        &self.visits
    }

    /// `P̂(·|s,a)`; uniform for an unvisited pair (any point would do: its radius is 2).
    pub fn p_hat(&self, s: usize, a: usize) -> Vec<f64> {
        let sa = s * self.n_actions + a;
        let n = self.visits[sa];
        if n == 0 {
            return vec![1.0 / self.n_states as f64; self.n_states];
        }
        self.next[sa * self.n_states..][..self.n_states]
            .iter()
            .map(|&c| c as f64 / n as f64)
            .collect()
    }

    /// `r̂(s,a)`, 0 for an unvisited pair.
    pub fn mean_reward(&self, s: usize, a: usize) -> f64 {
        let sa = s * self.n_actions + a;
        match self.visits[sa] {
            0 => 0.0,
            n => self.reward_sum[sa] / n as f64,
        }
    }
}

/// The L1 radius `√(2 S ln(log_arg) / N)` of the Weissman et al. deviation bound, capped at 2
/// (the whole simplex), and 2 for `N = 0` (the empirical kernel is undefined). The callers
/// choose `log_arg`: `2 S A t / δ` in LOOP, `2 S A N⁺ / δ` in GOSPRL.
pub fn l1_radius(n_states: usize, n: u64, log_arg: f64) -> f64 {
    if n == 0 {
        return 2.0;
    }
    (2.0 * n_states as f64 * log_arg.max(1.0).ln() / n as f64)
        .sqrt()
        .min(2.0)
}

/// States ordered from the largest `v` to the smallest (ties by index, so the order does not
/// depend on sort internals): the order the maximiser wants them in.
pub fn descending(v: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[j].total_cmp(&v[i]).then(i.cmp(&j)));
    order
}

/// States ordered from the smallest `v` to the largest: the order the minimiser wants them in.
pub fn ascending(v: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]).then(i.cmp(&j)));
    order
}

/// The extreme point of `{p ∈ Δ : ‖p − center‖₁ ≤ radius}` that favours the states early in
/// `preference` (most wanted first): `min(radius/2, 1 − center[best])` mass moves onto the
/// most wanted state and is taken from the least wanted states first. With `preference =
/// descending(v)` it maximises `p · v`; with `ascending(v)` it minimises it.
pub fn extreme_point(center: &[f64], radius: f64, preference: &[usize]) -> Vec<f64> {
    let mut p = center.to_vec();
    let best = preference[0];
    let mut moved = (radius / 2.0).min(1.0 - p[best]).max(0.0);
    p[best] += moved;
    for &worst in preference.iter().rev() {
        if moved <= 0.0 {
            break;
        }
        if worst == best {
            continue;
        }
        let take = moved.min(p[worst]);
        p[worst] -= take;
        moved -= take;
    }
    p
}

/// `p · v` at [`extreme_point`] without building `p`: the inner step of extended value
/// iteration, called S·A times per sweep.
pub fn extreme_expectation(center: &[f64], radius: f64, v: &[f64], preference: &[usize]) -> f64 {
    let best = preference[0];
    let mut moved = (radius / 2.0).min(1.0 - center[best]).max(0.0);
    let mut total = (center[best] + moved) * v[best];
    for &s in preference.iter().rev() {
        if s == best {
            continue;
        }
        let take = moved.min(center[s]);
        moved -= take;
        total += (center[s] - take) * v[s];
    }
    total
}

/// L1 confidence sets of every pair: centers `[s][a][s']` and radii `[s][a]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidenceSet {
    n_states: usize,
    n_actions: usize,
    centers: Vec<f64>,
    radii: Vec<f64>,
}

impl ConfidenceSet {
    /// From explicit centers and radii (tests, hand-made examples). Panics on wrong shapes:
    /// these come from code, not from users.
    pub fn new(n_states: usize, n_actions: usize, centers: Vec<f64>, radii: Vec<f64>) -> Self {
        assert_eq!(centers.len(), n_states * n_actions * n_states, "centers");
        assert_eq!(radii.len(), n_states * n_actions, "radii");
        Self {
            n_states,
            n_actions,
            centers,
            radii,
        }
    }

    /// Centers `P̂` from `counts`, radius of each pair from its count.
    pub fn from_counts(counts: &Counts, radius: impl Fn(u64) -> f64) -> Self {
        let (n_states, n_actions) = (counts.n_states(), counts.n_actions());
        let mut centers = Vec::with_capacity(n_states * n_actions * n_states);
        let mut radii = Vec::with_capacity(n_states * n_actions);
        for s in 0..n_states {
            for a in 0..n_actions {
                centers.extend(counts.p_hat(s, a));
                radii.push(radius(counts.n(s, a)));
            }
        }
        Self::new(n_states, n_actions, centers, radii)
    }

    pub fn n_states(&self) -> usize {
        self.n_states
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    pub fn center(&self, s: usize, a: usize) -> &[f64] {
        &self.centers[(s * self.n_actions + a) * self.n_states..][..self.n_states]
    }

    pub fn radius(&self, s: usize, a: usize) -> f64 {
        self.radii[s * self.n_actions + a]
    }

    /// `max_{p ∈ P(s,a)} p · v`, with `order = descending(v)` computed once per sweep.
    pub fn max_expectation(&self, s: usize, a: usize, v: &[f64], order: &[usize]) -> f64 {
        extreme_expectation(self.center(s, a), self.radius(s, a), v, order)
    }

    /// `min_{p ∈ P(s,a)} p · v`, with `order = ascending(v)` computed once per sweep.
    pub fn min_expectation(&self, s: usize, a: usize, v: &[f64], order: &[usize]) -> f64 {
        extreme_expectation(self.center(s, a), self.radius(s, a), v, order)
    }
}

/// The lazy-switching rule of LOOP, GOSPRL and the rare-switching actor-critic: replan once
/// some `N(s,a)` has doubled since the last plan (UCRL2's episode rule: `N ≥ N_plan +
/// max(1, N_plan)`, so an unvisited pair fires on its first visit).
#[derive(Debug, Clone, PartialEq)]
pub struct DoublingTrigger {
    at_plan: Vec<u64>,
}

impl DoublingTrigger {
    /// Armed at the current counts.
    pub fn new(counts: &Counts) -> Self {
        Self {
            at_plan: counts.visits().to_vec(),
        }
    }

    /// Re-arms at the current counts (call when planning).
    pub fn reset(&mut self, counts: &Counts) {
        self.at_plan.copy_from_slice(counts.visits());
    }

    /// Whether pair `(s, a)` has doubled: the per-step check after recording `(s, a)`.
    pub fn fired_at(&self, counts: &Counts, s: usize, a: usize) -> bool {
        let sa = s * counts.n_actions() + a;
        let old = self.at_plan[sa];
        counts.visits()[sa] >= old + old.max(1)
    }

    /// Whether any pair has doubled.
    pub fn fired(&self, counts: &Counts) -> bool {
        counts
            .visits()
            .iter()
            .zip(&self.at_plan)
            .any(|(&n, &old)| n >= old + old.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_point_moves_half_the_radius_to_the_best_state() {
        let center = [0.5, 0.5, 0.0];
        let v = [3.0, 1.0, 0.0];
        // Minimiser: 0.1 onto state 2 (v = 0), taken from state 0 (v = 3).
        let p = extreme_point(&center, 0.2, &ascending(&v));
        assert!(p
            .iter()
            .zip([0.4, 0.5, 0.1])
            .all(|(a, b)| (a - b).abs() < 1e-12));
        let e = extreme_expectation(&center, 0.2, &v, &ascending(&v));
        assert!((e - (0.4 * 3.0 + 0.5)).abs() < 1e-12);
        // Maximiser: 0.1 onto state 0, taken from state 2 (empty) then state 1.
        let p = extreme_point(&center, 0.2, &descending(&v));
        assert!(p
            .iter()
            .zip([0.6, 0.4, 0.0])
            .all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn radius_two_is_the_whole_simplex() {
        let center = [1.0 / 3.0; 3];
        let v = [0.0, 5.0, 2.0];
        let p = extreme_point(&center, 2.0, &descending(&v));
        assert!((p[1] - 1.0).abs() < 1e-12 && p[0].abs() < 1e-12 && p[2].abs() < 1e-12);
        assert!((extreme_expectation(&center, 2.0, &v, &descending(&v)) - 5.0).abs() < 1e-12);
        assert_eq!(l1_radius(6, 0, 100.0), 2.0);
        assert!(l1_radius(6, 1_000_000, 100.0) < 0.02);
    }

    #[test]
    fn doubling_fires_on_first_visit_and_when_a_count_doubles() {
        let mut counts = Counts::new(1, 1);
        let trigger = DoublingTrigger::new(&counts);
        counts.record(0, 0, 0.0, 0);
        assert!(trigger.fired_at(&counts, 0, 0));
        let trigger = DoublingTrigger::new(&counts);
        counts.record(0, 0, 0.0, 0);
        assert!(trigger.fired(&counts), "1 -> 2 doubles");
        let trigger = DoublingTrigger::new(&counts);
        counts.record(0, 0, 0.0, 0);
        assert!(!trigger.fired(&counts), "2 -> 3 does not");
        counts.record(0, 0, 0.0, 0);
        assert!(trigger.fired(&counts), "2 -> 4 does");
    }
}
