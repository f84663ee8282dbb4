//! The serial system (spec, benchmark 3): four echelons in a line, index 0 most upstream, the
//! last one the store facing `N(5, 2^2)` demand (clipped), backlogged; unlimited outside supply
//! at the top. Echelon `k` orders from echelon `k - 1`; what it asks is capped by the
//! upstream on-hand (feasibility is the policy's job, spec "Warehouse/echelon nodes").
//!
//! Period: the policy observes every node's state and ships `a_k` into node `k`'s pipeline
//! (`a_0` from outside); upstream on-hand falls by `a_k`; store demand as in [`store_step`];
//! cost = store cost + `sum_k h_k * I_k` over the upstream nodes after shipping; every
//! pipeline shifts and `a_k` lands at slot `L_k - 1` of node `k`.
use serde::{Deserialize, Serialize};

use super::store::{store_step, DemandModel};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerialProblem {
    /// Lead time of each node, upstream first.
    pub lead_times: Vec<usize>,
    /// Holding cost of each node, upstream first; the last is the store's.
    pub holding: Vec<f64>,
    /// The store's backlog cost.
    pub underage: f64,
    pub demand: DemandModel,
}

impl SerialProblem {
    /// The spec's system: L = [2, 4, 3, 4], h = [0.1, 0.2, 0.5, 1], p = 9, N(5, 2^2).
    pub fn four_echelon() -> Self {
        Self {
            lead_times: vec![2, 4, 3, 4],
            holding: vec![0.1, 0.2, 0.5, 1.0],
            underage: 9.0,
            demand: DemandModel::Normal {
                mean: 5.0,
                std: 2.0,
            },
        }
    }

    pub fn nodes(&self) -> usize {
        self.lead_times.len()
    }

    /// Offset of node `k`'s state in the flat state vector (nodes upstream first).
    pub fn offset(&self, k: usize) -> usize {
        self.lead_times[..k].iter().sum()
    }

    pub fn state_len(&self) -> usize {
        self.lead_times.iter().sum()
    }

    /// Steps the flat state `x` with shipments `a` (one per node, feasible) and store demand
    /// `d`; returns the period's cost.
    pub fn step(&self, x: &mut [f64], a: &[f64], d: f64) -> f64 {
        let n = self.nodes();
        for k in 1..n {
            x[self.offset(k - 1)] -= a[k];
        }
        let mut cost = 0.0;
        for k in 0..n {
            let node = &mut x[self.offset(k)..self.offset(k) + self.lead_times[k]];
            if k + 1 == n {
                cost += store_step(node, a[k], d, self.holding[k], self.underage, false);
            } else {
                // An upstream node sees no demand: its on-hand after shipping is held.
                cost += self.holding[k] * node[0];
                store_step(node, a[k], 0.0, 0.0, 0.0, false);
            }
        }
        cost
    }

    /// Echelon-stock shipments for levels `s` (one per node, upstream first): node `k` asks
    /// for `max(S_k - echelon position_k, 0)`, where its echelon position is everything at
    /// or below it (on-hand and pipelines), capped by the upstream on-hand.
    pub fn echelon_orders(&self, x: &[f64], levels: &[f64]) -> Vec<f64> {
        let n = self.nodes();
        (0..n)
            .map(|k| {
                let position: f64 = x[self.offset(k)..].iter().sum();
                let ask = (levels[k] - position).max(0.0);
                match k {
                    0 => ask,
                    _ => ask.min(x[self.offset(k - 1)].max(0.0)),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shipment_leaves_upstream_and_lands_downstream_after_its_lead_time() {
        let p = SerialProblem {
            lead_times: vec![1, 2],
            holding: vec![0.5, 1.0],
            underage: 9.0,
            demand: DemandModel::Poisson { mean: 1.0 },
        };
        // Upstream on-hand 10; store on-hand 3, nothing in transit.
        let mut x = vec![10.0, 3.0, 0.0];
        let cost = p.step(&mut x, &[0.0, 4.0], 1.0);
        // Upstream holds 6 (0.5 * 6 = 3); store holds 2 after demand (1 * 2 = 2).
        assert_eq!(cost, 5.0);
        assert_eq!(x, vec![6.0, 2.0, 4.0]);
        p.step(&mut x, &[0.0, 0.0], 0.0);
        assert_eq!(x, vec![6.0, 6.0, 0.0]);
    }

    #[test]
    fn echelon_orders_are_capped_by_upstream_on_hand() {
        let p = SerialProblem::four_echelon();
        let x = vec![0.0; p.state_len()];
        let a = p.echelon_orders(&x, &[40.0, 30.0, 20.0, 10.0]);
        assert_eq!(a, vec![40.0, 0.0, 0.0, 0.0]);
        let mut x = vec![0.0; p.state_len()];
        x[p.offset(2)] = 4.0; // the warehouse holds 4; the store wants 10
        assert_eq!(p.echelon_orders(&x, &[40.0, 30.0, 20.0, 10.0])[3], 4.0);
    }
}
