//! One store (spec, "Simulator step" and benchmarks 1-2): the step every network reuses, the
//! base-stock policies, and a whole-trace simulation.
//!
//! Period `t`, state `x = (I, p_1, ..., p_{L-1})`:
//! 1. the policy observes `x` and orders `q >= 0`;
//! 2. demand `d`; `post = I - d`;
//! 3. cost `p * max(-post, 0) + h * max(post, 0)`;
//! 4. lost sales: `post = max(post, 0)`;
//! 5. shift: `x' = (post + p_1, p_2, ..., p_{L-1}, 0)`, then `x'[L-1] += q`.
use serde::{Deserialize, Serialize};

/// Distribution of one period's demand at one store.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum DemandModel {
    /// `N(mean, std^2)` clipped at 0, rounded to 3 decimals.
    Normal { mean: f64, std: f64 },
    /// `Poisson(mean)`.
    Poisson { mean: f64 },
}

impl DemandModel {
    pub fn mean(&self) -> f64 {
        match self {
            DemandModel::Normal { mean, .. } | DemandModel::Poisson { mean } => *mean,
        }
    }
}

/// One store: lead time `L >= 1`, holding cost `h`, underage (backlog or lost-sale) cost `p`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoreProblem {
    pub lead_time: usize,
    pub holding: f64,
    pub underage: f64,
    pub lost_sales: bool,
    pub demand: DemandModel,
}

impl StoreProblem {
    /// Benchmark 1: backlogged, `N(5, 1.6^2)` demand, `h = 1`.
    pub fn backlogged(lead_time: usize, underage: f64) -> Self {
        Self {
            lead_time,
            holding: 1.0,
            underage,
            lost_sales: false,
            demand: DemandModel::Normal {
                mean: 5.0,
                std: 1.6,
            },
        }
    }

    /// Benchmark 2: lost sales, `Poisson(5)` demand, `h = 1`.
    pub fn lost_sales(lead_time: usize, underage: f64) -> Self {
        Self {
            lead_time,
            holding: 1.0,
            underage,
            lost_sales: true,
            demand: DemandModel::Poisson { mean: 5.0 },
        }
    }

    /// Length of the state vector.
    pub fn state_len(&self) -> usize {
        self.lead_time.max(1)
    }
}

/// Steps `x` (length `L`) in place with order `q` and demand `d`; returns the period's cost.
pub fn store_step(
    x: &mut [f64],
    q: f64,
    d: f64,
    holding: f64,
    underage: f64,
    lost_sales: bool,
) -> f64 {
    let mut post = x[0] - d;
    let cost = underage * (-post).max(0.0) + holding * post.max(0.0);
    if lost_sales {
        post = post.max(0.0);
    }
    let k = x.len();
    let arriving = if k > 1 { x[1] } else { 0.0 };
    x[0] = post + arriving;
    for j in 1..k {
        x[j] = if j + 1 < k { x[j + 1] } else { 0.0 };
    }
    x[k - 1] += q;
    cost
}

/// Base-stock: `q = max(S - sum(x), 0)`, the inventory position raised to `S`.
pub fn base_stock_order(x: &[f64], level: f64) -> f64 {
    (level - x.iter().sum::<f64>()).max(0.0)
}

/// Capped base-stock: `q = min(max(S - sum(x), 0), cap)`.
pub fn capped_base_stock_order(x: &[f64], level: f64, cap: f64) -> f64 {
    base_stock_order(x, level).min(cap)
}

/// Runs `policy` over one scenario: `x` the initial state, `demands` one per period. Returns
/// the cost of each period.
pub fn simulate(
    problem: &StoreProblem,
    x: &mut [f64],
    demands: &[f64],
    mut policy: impl FnMut(&[f64]) -> f64,
) -> Vec<f64> {
    demands
        .iter()
        .map(|&d| {
            let q = policy(x);
            store_step(
                x,
                q,
                d,
                problem.holding,
                problem.underage,
                problem.lost_sales,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_step_vectors_backlogged_lost_and_base_stock() {
        // Spec: L = 2, x = (3, 4), q = 6, d = 5, h = 1, p = 9.
        let mut x = [3.0, 4.0];
        assert_eq!(store_step(&mut x, 6.0, 5.0, 1.0, 9.0, false), 18.0);
        assert_eq!(x, [2.0, 6.0]);
        let mut x = [3.0, 4.0];
        assert_eq!(store_step(&mut x, 6.0, 5.0, 1.0, 9.0, true), 18.0);
        assert_eq!(x, [4.0, 6.0]);
        assert_eq!(base_stock_order(&[3.0, 4.0], 12.0), 5.0);
        assert_eq!(capped_base_stock_order(&[3.0, 4.0], 12.0, 2.5), 2.5);
    }

    #[test]
    fn an_order_arrives_after_exactly_lead_time_periods() {
        for lead in 1..=4 {
            let mut x = vec![0.0; lead];
            store_step(&mut x, 7.0, 0.0, 1.0, 9.0, false);
            for _ in 1..lead {
                assert_eq!(x[0], 0.0, "L = {lead}: arrived early");
                store_step(&mut x, 0.0, 0.0, 1.0, 9.0, false);
            }
            assert_eq!(x[0], 7.0, "L = {lead}");
        }
    }
}
