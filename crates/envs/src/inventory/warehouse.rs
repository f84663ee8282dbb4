//! One warehouse feeding `n` stores (spec, benchmark 4): lost sales at the stores, correlated
//! clipped-normal demand, warehouse with holding cost only and unlimited outside supply.
//!
//! Period: the policy observes every state and outputs the warehouse's order `q_w` and store
//! requests `r_i`; requests are made feasible by proportional allocation of the warehouse's
//! on-hand, `a_i = r_i * min(1, W / sum_j r_j)`; the warehouse on-hand falls by `sum a_i`;
//! each store steps as [`store_step`] with lost sales; cost = stores' costs + `h_w * W`
//! after shipping; the warehouse pipeline shifts with `q_w` landing at slot `L_w - 1`.
//! Per-period costs are divided by `n` by the callers (spec, "Ambiguities").
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::sampling::uniform;
use super::store::store_step;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarehouseProblem {
    pub store_means: Vec<f64>,
    pub store_stds: Vec<f64>,
    /// Pairwise correlation of store demands.
    pub correlation: f64,
    pub store_lead_times: Vec<usize>,
    pub store_holding: Vec<f64>,
    pub store_underage: Vec<f64>,
    pub warehouse_holding: f64,
    pub warehouse_lead_time: usize,
}

impl WarehouseProblem {
    /// Draws an instance as the spec says: means ~ U[2.5, 7.5], CV ~ U[0.25, 0.5],
    /// L ~ U{2, 3}, h ~ U[0.7, 1.3], p ~ U[6.3, 11.7]; correlation 0.5; warehouse h = 0.3, L = 3.
    pub fn sample(stores: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut between = |lo: f64, hi: f64| lo + (hi - lo) * uniform(&mut rng);
        let mut p = Self {
            store_means: Vec::new(),
            store_stds: Vec::new(),
            correlation: 0.5,
            store_lead_times: Vec::new(),
            store_holding: Vec::new(),
            store_underage: Vec::new(),
            warehouse_holding: 0.3,
            warehouse_lead_time: 3,
        };
        for _ in 0..stores {
            let mean = between(2.5, 7.5);
            p.store_means.push(mean);
            p.store_stds.push(mean * between(0.25, 0.5));
            p.store_lead_times
                .push(if between(0.0, 1.0) < 0.5 { 2 } else { 3 });
            p.store_holding.push(between(0.7, 1.3));
            p.store_underage.push(between(6.3, 11.7));
        }
        p
    }

    pub fn stores(&self) -> usize {
        self.store_means.len()
    }

    /// Every store's state is padded to the longest store lead time, so the tensor simulator
    /// can hold all stores in one `[B, n, K]` block; an order lands at slot `L_i - 1`.
    pub fn store_state_len(&self) -> usize {
        self.store_lead_times.iter().copied().max().unwrap_or(1)
    }

    /// Flat state: the warehouse's `L_w` numbers, then `n` blocks of `store_state_len`.
    pub fn state_len(&self) -> usize {
        self.warehouse_lead_time + self.stores() * self.store_state_len()
    }

    /// `a_i = r_i * min(1, W / sum r)` (zero requests ask for nothing).
    pub fn allocate(&self, warehouse_on_hand: f64, requests: &[f64]) -> Vec<f64> {
        let total: f64 = requests.iter().sum();
        let scale = if total > 0.0 {
            (warehouse_on_hand.max(0.0) / total).min(1.0)
        } else {
            0.0
        };
        requests.iter().map(|r| r * scale).collect()
    }

    /// Steps the flat state with warehouse order `q_w`, store requests and demands; returns
    /// the total (not per-store) cost of the period.
    pub fn step(&self, x: &mut [f64], q_w: f64, requests: &[f64], demands: &[f64]) -> f64 {
        let lw = self.warehouse_lead_time;
        let k = self.store_state_len();
        let shipped = self.allocate(x[0], requests);
        x[0] -= shipped.iter().sum::<f64>();
        let mut cost = self.warehouse_holding * x[0];
        store_step(&mut x[..lw], q_w, 0.0, 0.0, 0.0, false);
        for i in 0..self.stores() {
            let s = &mut x[lw + i * k..lw + (i + 1) * k];
            // Order lands at L_i - 1 (not K - 1): step with no order, then add it.
            cost += store_step(
                s,
                0.0,
                demands[i],
                self.store_holding[i],
                self.store_underage[i],
                true,
            );
            s[self.store_lead_times[i] - 1] += shipped[i];
        }
        cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_allocation_never_ships_more_than_the_warehouse_holds() {
        let p = WarehouseProblem::sample(3, 7);
        assert_eq!(p.allocate(10.0, &[2.0, 3.0, 1.0]), vec![2.0, 3.0, 1.0]);
        let a = p.allocate(3.0, &[2.0, 3.0, 1.0]);
        assert!((a.iter().sum::<f64>() - 3.0).abs() < 1e-12);
        assert!((a[1] / a[0] - 1.5).abs() < 1e-12);
        assert_eq!(p.allocate(5.0, &[0.0, 0.0, 0.0]), vec![0.0; 3]);
    }

    #[test]
    fn a_store_with_lead_time_two_receives_after_two_periods() {
        let mut p = WarehouseProblem::sample(1, 3);
        p.store_lead_times = vec![2];
        p.store_holding = vec![1.0];
        let mut x = vec![0.0; p.state_len()];
        x[0] = 5.0;
        p.step(&mut x, 0.0, &[4.0], &[0.0]);
        assert_eq!(x[0], 1.0);
        assert_eq!(x[3], 0.0);
        p.step(&mut x, 0.0, &[0.0], &[0.0]);
        assert_eq!(x[3], 4.0);
    }
}
