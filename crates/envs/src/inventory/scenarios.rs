//! Scenarios: the exogenous randomness of a run (spec, "Method": demand trace and initial
//! inventory), drawn once from a seed so that the train, dev and test sets are fixed data.
//!
//! Initial inventory: every state slot ~ U[0, 1] x the mean demand it serves (the spec uses
//! the empirical mean; the model mean is the same in expectation and independent of the trace).
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::sampling::{clipped_normal_demand, poisson, standard_normal, uniform};
use super::serial::SerialProblem;
use super::store::{DemandModel, StoreProblem};
use super::warehouse::WarehouseProblem;

/// `count` scenarios of `periods` periods, `stores` demand streams each.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenarios {
    pub count: usize,
    pub periods: usize,
    pub stores: usize,
    /// Numbers of the initial state per scenario.
    pub state_len: usize,
    /// `[count][periods][stores]`, flat.
    pub demand: Vec<f64>,
    /// `[count][state_len]`, flat.
    pub initial: Vec<f64>,
}

impl Scenarios {
    pub fn demand_at(&self, scenario: usize, period: usize, store: usize) -> f64 {
        self.demand[(scenario * self.periods + period) * self.stores + store]
    }

    /// The demands of every store in one period.
    pub fn demands(&self, scenario: usize, period: usize) -> &[f64] {
        let start = (scenario * self.periods + period) * self.stores;
        &self.demand[start..start + self.stores]
    }

    pub fn initial_of(&self, scenario: usize) -> &[f64] {
        &self.initial[scenario * self.state_len..(scenario + 1) * self.state_len]
    }
}

fn draw(model: &DemandModel, rng: &mut ChaCha8Rng) -> f64 {
    match *model {
        DemandModel::Normal { mean, std } => clipped_normal_demand(mean, std, standard_normal(rng)),
        DemandModel::Poisson { mean } => poisson(rng, mean),
    }
}

/// One store: demands iid from the problem's model.
pub fn sample_store(p: &StoreProblem, count: usize, periods: usize, seed: u64) -> Scenarios {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = p.state_len();
    let mean = p.demand.mean();
    let mut s = Scenarios {
        count,
        periods,
        stores: 1,
        state_len: k,
        demand: Vec::with_capacity(count * periods),
        initial: Vec::with_capacity(count * k),
    };
    for _ in 0..count {
        s.initial.extend((0..k).map(|_| uniform(&mut rng) * mean));
        s.demand
            .extend((0..periods).map(|_| draw(&p.demand, &mut rng)));
    }
    s
}

/// The serial system: one demand stream (the store's); every node's slots start at
/// U[0, 1] x the store's mean demand.
pub fn sample_serial(p: &SerialProblem, count: usize, periods: usize, seed: u64) -> Scenarios {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = p.state_len();
    let mean = p.demand.mean();
    let mut s = Scenarios {
        count,
        periods,
        stores: 1,
        state_len: k,
        demand: Vec::with_capacity(count * periods),
        initial: Vec::with_capacity(count * k),
    };
    for _ in 0..count {
        s.initial.extend((0..k).map(|_| uniform(&mut rng) * mean));
        s.demand
            .extend((0..periods).map(|_| draw(&p.demand, &mut rng)));
    }
    s
}

/// One warehouse, `n` stores: demand `mean_i + std_i * z_i` with
/// `z_i = sqrt(rho) z_0 + sqrt(1 - rho) e_i` (pairwise correlation `rho`), clipped at 0.
/// Store slots start at U[0, 1] x their mean, the warehouse's at U[0, 1] x the total mean;
/// slots beyond a store's lead time start empty.
pub fn sample_warehouse(
    p: &WarehouseProblem,
    count: usize,
    periods: usize,
    seed: u64,
) -> Scenarios {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (n, k, lw) = (p.stores(), p.store_state_len(), p.warehouse_lead_time);
    let total: f64 = p.store_means.iter().sum();
    let mut s = Scenarios {
        count,
        periods,
        stores: n,
        state_len: p.state_len(),
        demand: Vec::with_capacity(count * periods * n),
        initial: Vec::with_capacity(count * p.state_len()),
    };
    let (shared, own) = (p.correlation.sqrt(), (1.0 - p.correlation).sqrt());
    for _ in 0..count {
        s.initial.extend((0..lw).map(|_| uniform(&mut rng) * total));
        for i in 0..n {
            for j in 0..k {
                let u = uniform(&mut rng);
                let used = j < p.store_lead_times[i];
                s.initial
                    .push(if used { u * p.store_means[i] } else { 0.0 });
            }
        }
        for _ in 0..periods {
            let z0 = standard_normal(&mut rng);
            for i in 0..n {
                let z = shared * z0 + own * standard_normal(&mut rng);
                let d = clipped_normal_demand(p.store_means[i], p.store_stds[i], z);
                s.demand.push(d);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_scenarios_and_another_seed_others() {
        let p = StoreProblem::backlogged(4, 9.0);
        assert_eq!(sample_store(&p, 3, 10, 5), sample_store(&p, 3, 10, 5));
        assert_ne!(sample_store(&p, 3, 10, 5), sample_store(&p, 3, 10, 6));
    }

    #[test]
    fn warehouse_demands_are_correlated_about_one_half() {
        let p = WarehouseProblem::sample(3, 11);
        let s = sample_warehouse(&p, 1, 40_000, 2);
        let col = |i: usize| -> Vec<f64> { (0..s.periods).map(|t| s.demand_at(0, t, i)).collect() };
        let (a, b) = (col(0), col(1));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (ma, mb) = (mean(&a), mean(&b));
        let cov: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum::<f64>();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum::<f64>();
        let corr = cov / (va * vb).sqrt();
        // Clipping at 0 (CV <= 0.5: P(d < 0) <= 2.3%) lowers it a little.
        assert!((corr - 0.5).abs() < 0.03, "{corr}");
    }
}
