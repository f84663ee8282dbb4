//! The optimal echelon base-stock levels and long-run cost of the serial system (Clark–Scarf
//! 1960; the recursion of Chen & Zheng 1994 / Gallego & Zipkin 1999), on a demand lattice.
//!
//! Model, in the simulator's own terms ([`super::serial`]), with stages `j = 1` (the store)
//! to `N` (the most upstream node; the simulator's index `N - j`), lead times `L_j`, on-hand
//! holding costs `h_j` and the store's backlog cost `p`:
//! - `Y_j(t)`, echelon `j`'s inventory position after it ships in period `t` (everything at
//!   or below `j`, its own pipeline included) is `min(S_j, W_{j+1}(t))` under echelon
//!   base-stock, where `W_{j+1}(t) = Y_{j+1}(t - L_{j+1}) - D[L_{j+1}]` is the echelon stock of
//!   `j + 1` at the start of `t` (the simulator caps a shipment by the upstream on-hand, which
//!   is exactly this); `W_{N+1} = inf` (outside supply).
//! - The period's cost `sum_j h_j OH_j + p B` (on-hand after shipping and demand; the store's
//!   `OH` signed, `B` its backlog) equals `sum_j e_j IL_j + (p + h_1) B - sum_{j<N} h_{j+1} T_j`
//!   with echelon holding costs `e_j = h_j - h_{j+1} >= 0`, echelon levels
//!   `IL_j = Y_j(t - L_j) - D[L_j + 1]` and `T_j` the stock in transit into `j`, whose long-run
//!   mean is `L_j mu` under any policy. So the simulator's cost is the textbook Clark–Scarf
//!   cost (pipeline stock charged at the upstream rate) minus the constant
//!   `sum_{j<N} h_{j+1} L_j mu`.
//! - Recursion: `G_1(y) = e_1 (y - (L_1+1) mu) + (p + h_1) E(D[L_1+1] - y)^+` and
//!   `G_j(y) = e_j (y - (L_j+1) mu) + E G_{j-1}(min(S_{j-1}, y - D[L_j]))`. For any levels the
//!   long-run cost is `G_N(S_N)` (with nonnegative demand a position never exceeds its level
//!   after the transient, so `Y_j = min(S_j, W_{j+1})` holds); `S_j* = argmin G_j` given the
//!   optimal levels below is optimal (Clark–Scarf: each `G_j` is convex).
//!
//! Discretisation: one period's demand is rounded to the lattice `step * Z` (cell masses by
//! Simpson's rule on the normal density; the simulator's own demand is clipped at 0 and
//! rounded to 0.001, i.e. this lattice with `step = 0.001`); sums of demands are exact
//! convolutions on the lattice, and `G_j` is exact on the lattice's grid. The only errors are
//! the lattice (rounding adds variance `step^2 / 12` per period: a relative cost error of order
//! `step^2 / (24 sigma^2)`, 1e-6 at `step = 0.01`), the levels' resolution (`S*` is a grid
//! point, within `step` of the continuous minimiser; the cost error is second order) and the
//! tails cut below `1e-15` probability.
use super::serial::SerialProblem;
use super::store::DemandModel;

/// A distribution on the lattice `{(first + i) * step}`: `mass[i] = P(D = (first + i) step)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lattice {
    pub step: f64,
    pub first: i64,
    pub mass: Vec<f64>,
}

/// Mass dropped at each end of a convolution (the tails beyond 9 sigma are far smaller).
const TAIL: f64 = 1e-15;

impl Lattice {
    /// `N(mean, std^2)` rounded to the nearest lattice point; `clip` moves the mass below 0
    /// to 0, as the simulator's demand does.
    pub fn normal(mean: f64, std: f64, step: f64, clip: bool) -> Self {
        let lo = ((mean - 9.0 * std) / step).floor() as i64;
        let hi = ((mean + 9.0 * std) / step).ceil() as i64;
        let pdf = |x: f64| {
            let z = (x - mean) / std;
            (-0.5 * z * z).exp() / (std * (2.0 * std::f64::consts::PI).sqrt())
        };
        // Cell `[k - 1/2, k + 1/2] step` by Simpson's rule: error step^5 f'''' / 2880.
        let cell = |k: i64| {
            let (a, m, b) = (
                (k as f64 - 0.5) * step,
                k as f64 * step,
                (k as f64 + 0.5) * step,
            );
            step / 6.0 * (pdf(a) + 4.0 * pdf(m) + pdf(b))
        };
        let mut out = Lattice {
            step,
            first: lo,
            mass: (lo..=hi).map(cell).collect(),
        };
        if clip && lo < 0 {
            let below: f64 = out.mass[..(-lo) as usize].iter().sum();
            out.mass.drain(..(-lo) as usize);
            out.first = 0;
            out.mass[0] += below;
        }
        out.normalise();
        out
    }

    /// `Poisson(mean)` on the integers.
    pub fn poisson(mean: f64) -> Self {
        let mut mass = vec![(-mean).exp()];
        let mut k = 1.0;
        while k < mean + 20.0 * mean.sqrt().max(1.0) {
            let next = mass[mass.len() - 1] * mean / k;
            mass.push(next);
            k += 1.0;
        }
        let mut out = Lattice {
            step: 1.0,
            first: 0,
            mass,
        };
        out.normalise();
        out
    }

    /// The simulator's demand of `model` on a lattice of `step` (Poisson: the integers).
    pub fn of(model: &DemandModel, step: f64) -> Self {
        match *model {
            DemandModel::Normal { mean, std } => Self::normal(mean, std, step, true),
            DemandModel::Poisson { mean } => Self::poisson(mean),
        }
    }

    fn normalise(&mut self) {
        let total: f64 = self.mass.iter().sum();
        self.mass.iter_mut().for_each(|m| *m /= total);
    }

    pub fn value(&self, i: usize) -> f64 {
        (self.first + i as i64) as f64 * self.step
    }

    /// Index of the last support point, in lattice units.
    pub fn last(&self) -> i64 {
        self.first + self.mass.len() as i64 - 1
    }

    pub fn mean(&self) -> f64 {
        self.mass
            .iter()
            .enumerate()
            .map(|(i, m)| m * self.value(i))
            .sum()
    }

    /// The law of the sum of two independent draws, tails below [`TAIL`] cut.
    pub fn convolve(&self, other: &Lattice) -> Lattice {
        let mut mass = vec![0.0; self.mass.len() + other.mass.len() - 1];
        for (i, a) in self.mass.iter().enumerate() {
            for (j, b) in other.mass.iter().enumerate() {
                mass[i + j] += a * b;
            }
        }
        let mut out = Lattice {
            step: self.step,
            first: self.first + other.first,
            mass,
        };
        out.trim();
        out
    }

    /// The sum of `n` independent draws (`n = 0`: the point mass at 0).
    pub fn sum_of(&self, n: usize) -> Lattice {
        let mut out = Lattice {
            step: self.step,
            first: 0,
            mass: vec![1.0],
        };
        for _ in 0..n {
            out = out.convolve(self);
        }
        out
    }

    fn trim(&mut self) {
        let (mut cut, mut lead) = (0.0, 0);
        while lead + 1 < self.mass.len() && cut + self.mass[lead] < TAIL {
            cut += self.mass[lead];
            lead += 1;
        }
        let (mut cut, mut keep) = (0.0, self.mass.len());
        while keep > lead + 1 && cut + self.mass[keep - 1] < TAIL {
            cut += self.mass[keep - 1];
            keep -= 1;
        }
        self.mass.truncate(keep);
        self.mass.drain(..lead);
        self.first += lead as i64;
    }
}

/// The optimum of a serial system.
#[derive(Debug, Clone, PartialEq)]
pub struct EchelonOptimum {
    /// Optimal echelon base-stock levels, upstream first (the simulator's order).
    pub levels: Vec<f64>,
    /// Long-run cost per period as the simulator charges it (on-hand only).
    pub cost: f64,
    /// The textbook Clark–Scarf cost, stock in transit charged at the upstream node's rate.
    pub cost_with_pipeline: f64,
    pub step: f64,
}

/// The cost functions `G_j` on one lattice grid, for a serial system and a per-period demand.
pub struct Recursion {
    lead_times: Vec<usize>,
    /// On-hand holding costs, upstream first, as in [`SerialProblem`].
    holding: Vec<f64>,
    underage: f64,
    demand: Lattice,
    mean: f64,
    /// Grid `x_i = (lo + i) * step`, `i < n`.
    lo: i64,
    n: usize,
}

impl Recursion {
    /// Errors name what makes the recursion inapplicable (a negative echelon holding cost).
    pub fn new(
        lead_times: &[usize],
        holding: &[f64],
        underage: f64,
        demand: Lattice,
    ) -> Result<Self, String> {
        if lead_times.is_empty() || lead_times.len() != holding.len() {
            return Err(
                "serial system: lead_times and holding must be non-empty and as long".into(),
            );
        }
        if lead_times.contains(&0) {
            return Err("serial system: every lead time must be at least 1".into());
        }
        if holding.windows(2).any(|w| w[1] < w[0]) || holding[0] < 0.0 {
            return Err(format!(
                "serial system: holding costs {holding:?} must not fall downstream (Clark–Scarf \
                 needs nonnegative echelon holding costs)"
            ));
        }
        // Every argument a `G_j` is evaluated at lies within the total lead-time demand's
        // support below the top level; the grid covers it, and below it `G_j` is extended
        // linearly (exact for nonnegative demand: there every `G_j` is affine for x <= 0).
        // The total's support is cut at 10 of its standard deviations (P < 1e-23 if normal).
        let periods: usize = lead_times.iter().map(|l| l + 1).sum();
        let mean = demand.mean();
        let std = (0..demand.mass.len())
            .map(|i| demand.mass[i] * (demand.value(i) - mean).powi(2))
            .sum::<f64>()
            .sqrt();
        let (centre, spread) = (periods as f64 * mean, 10.0 * std * (periods as f64).sqrt());
        let low =
            (((centre - spread) / demand.step).floor() as i64).max(periods as i64 * demand.first);
        let high =
            (((centre + spread) / demand.step).ceil() as i64).min(periods as i64 * demand.last());
        let lo = low.min(0) - 2;
        let n = (high + 2 - lo + 1) as usize;
        Ok(Self {
            lead_times: lead_times.to_vec(),
            holding: holding.to_vec(),
            underage,
            demand,
            mean,
            lo,
            n,
        })
    }

    pub fn for_problem(p: &SerialProblem, step: f64) -> Result<Self, String> {
        Self::new(
            &p.lead_times,
            &p.holding,
            p.underage,
            Lattice::of(&p.demand, step),
        )
    }

    fn x(&self, i: usize) -> f64 {
        (self.lo + i as i64) as f64 * self.demand.step
    }

    /// Stage `j` (1 = store) in the simulator's upstream-first index.
    fn node(&self, j: usize) -> usize {
        self.lead_times.len() - j
    }

    fn echelon_holding(&self, j: usize) -> f64 {
        let k = self.node(j);
        self.holding[k] - if k > 0 { self.holding[k - 1] } else { 0.0 }
    }

    /// `G_1` on the grid: the store's newsvendor cost over `L_1 + 1` periods.
    fn store_cost(&self) -> Vec<f64> {
        let l = self.lead_times[self.node(1)];
        let d = self.demand.sum_of(l + 1);
        // Tail sums: E(D - x)^+ = sum_{v > x} m v - x sum_{v > x} m.
        let len = d.mass.len();
        let (mut t0, mut t1) = (vec![0.0; len + 1], vec![0.0; len + 1]);
        for k in (0..len).rev() {
            t0[k] = t0[k + 1] + d.mass[k];
            t1[k] = t1[k + 1] + d.mass[k] * d.value(k);
        }
        let (e, b) = (
            self.echelon_holding(1),
            self.underage + self.holding[self.node(1)],
        );
        (0..self.n)
            .map(|i| {
                let x = self.x(i);
                let above = (self.lo + i as i64 - d.first + 1).clamp(0, len as i64) as usize;
                let shortfall = (t1[above] - x * t0[above]).max(0.0);
                e * (x - (l + 1) as f64 * self.mean) + b * shortfall
            })
            .collect()
    }

    /// `G_j` from `G_{j-1}` and the level `below` (a grid index) of stage `j - 1`.
    fn next_cost(&self, j: usize, g: &[f64], below: usize) -> Vec<f64> {
        let l = self.lead_times[self.node(j)];
        let d = self.demand.sum_of(l);
        let len = d.mass.len();
        // H(i) = G_{j-1}(min(S_{j-1}, x_i)) on the index range that x_i - D reaches, so that
        // G_j(x_i) = sum_k m_k H(i - first - k) is one sliding dot product.
        let slope = g[1] - g[0];
        let start = -(d.first + len as i64 - 1);
        let h: Vec<f64> = (start..self.n as i64 - d.first)
            .map(|i| match i {
                i if i < 0 => g[0] + i as f64 * slope,
                i => g[(i as usize).min(below)],
            })
            .collect();
        let reversed: Vec<f64> = d.mass.iter().rev().copied().collect();
        let e = self.echelon_holding(j);
        (0..self.n)
            .map(|i| {
                let window = &h[i..i + len];
                let expected: f64 = window.iter().zip(&reversed).map(|(a, b)| a * b).sum();
                e * (self.x(i) - (l + 1) as f64 * self.mean) + expected
            })
            .collect()
    }

    /// The grid index of a level (rounded to the grid, clamped into it).
    fn index(&self, level: f64) -> usize {
        let i = (level / self.demand.step).round() as i64 - self.lo;
        i.clamp(0, self.n as i64 - 1) as usize
    }

    /// Pipeline stock's long-run holding cost, which the simulator does not charge.
    fn pipeline_cost(&self) -> f64 {
        (1..self.lead_times.len())
            .map(|k| self.holding[k - 1] * self.lead_times[k] as f64 * self.mean)
            .sum()
    }

    /// Long-run cost per period, as the simulator charges it, of echelon base-stock with
    /// `levels` (upstream first, rounded to the grid): exact for any levels, not only S*.
    pub fn cost_of(&self, levels: &[f64]) -> f64 {
        let nodes = self.lead_times.len();
        let mut g = self.store_cost();
        for j in 2..=nodes {
            g = self.next_cost(j, &g, self.index(levels[self.node(j - 1)]));
        }
        g[self.index(levels[0])] - self.pipeline_cost()
    }

    /// The optimal levels and cost: `S_j* = argmin G_j` stage by stage from the store up.
    pub fn optimum(&self) -> EchelonOptimum {
        let nodes = self.lead_times.len();
        let argmin =
            |g: &[f64]| (0..g.len()).fold(0, |best, i| if g[i] < g[best] { i } else { best });
        let mut levels = vec![0.0; nodes];
        let mut g = self.store_cost();
        let mut s = argmin(&g);
        levels[self.node(1)] = self.x(s);
        for j in 2..=nodes {
            g = self.next_cost(j, &g, s);
            s = argmin(&g);
            levels[self.node(j)] = self.x(s);
        }
        let cost_with_pipeline = g[s];
        EchelonOptimum {
            levels,
            cost: cost_with_pipeline - self.pipeline_cost(),
            cost_with_pipeline,
            step: self.demand.step,
        }
    }
}

/// The optimum of the simulator's serial system on a lattice of `step` (0.01: see the module
/// docs for the error).
pub fn echelon_optimum(p: &SerialProblem, step: f64) -> Result<EchelonOptimum, String> {
    Ok(Recursion::for_problem(p, step)?.optimum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::optimal::backlogged_optimum;
    use crate::inventory::store::StoreProblem;

    #[test]
    fn lattice_normal_has_its_moments_and_clipping_keeps_the_mass() {
        let d = Lattice::normal(5.0, 2.0, 0.01, false);
        let var: f64 = (0..d.mass.len())
            .map(|i| d.mass[i] * (d.value(i) - 5.0).powi(2))
            .sum();
        assert!((d.mean() - 5.0).abs() < 1e-9, "{}", d.mean());
        // Rounding adds step^2 / 12.
        assert!((var - 4.0 - 1e-4 / 12.0).abs() < 1e-8, "{var}");
        let c = Lattice::normal(5.0, 2.0, 0.01, true);
        assert_eq!(c.first, 0);
        // E max(X, 0) = mu Phi(mu/sigma) + sigma phi(mu/sigma) = 5.004008 for N(5, 2^2).
        assert!((c.mean() - 5.004008).abs() < 2e-6, "{}", c.mean());
        let sum = c.sum_of(3);
        assert!((sum.mean() - 3.0 * c.mean()).abs() < 1e-9);
        assert!((sum.mass.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn one_stage_is_the_newsvendor_closed_form() {
        // Unclipped N(5, 1.6^2), as the closed form assumes; levels within a grid step, costs
        // to the lattice's error (1e-6 relative at step 0.01).
        for (l, under) in [(4, 9.0), (1, 9.0), (4, 39.0)] {
            let store = StoreProblem::backlogged(l, under);
            let want = backlogged_optimum(&store).unwrap();
            let step = 0.01;
            let r = Recursion::new(&[l], &[1.0], under, Lattice::normal(5.0, 1.6, step, false))
                .unwrap();
            let got = r.optimum();
            assert!(
                (got.levels[0] - want.level).abs() <= step,
                "L={l} p={under}: S {} vs {}",
                got.levels[0],
                want.level
            );
            assert!(
                (got.cost - want.cost).abs() < 2e-5,
                "L={l} p={under}: cost {} vs {}",
                got.cost,
                want.cost
            );
            assert_eq!(got.cost, got.cost_with_pipeline);
        }
    }

    #[test]
    fn the_optimum_is_the_cheapest_of_its_neighbours_and_coarser_grids_agree() {
        let p = SerialProblem::four_echelon();
        let r = Recursion::for_problem(&p, 0.05).unwrap();
        let opt = r.optimum();
        assert!((r.cost_of(&opt.levels) - opt.cost).abs() < 1e-12);
        for k in 0..4 {
            for delta in [-0.5, 0.5] {
                let mut levels = opt.levels.clone();
                levels[k] += delta;
                assert!(r.cost_of(&levels) > opt.cost, "node {k} {delta:+}");
            }
        }
        let fine = echelon_optimum(&p, 0.025).unwrap();
        assert!((fine.cost - opt.cost).abs() < 1e-3, "{fine:?} {opt:?}");
        for (a, b) in fine.levels.iter().zip(&opt.levels) {
            assert!((a - b).abs() <= 0.1, "{fine:?} {opt:?}");
        }
    }

    #[test]
    fn falling_holding_costs_are_refused_with_the_reason() {
        let err = Recursion::new(&[1, 1], &[1.0, 0.5], 9.0, Lattice::poisson(5.0))
            .err()
            .unwrap_or_default();
        assert!(err.contains("holding"), "{err}");
    }
}
