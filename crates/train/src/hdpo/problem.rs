//! From the config to the simulator, the three scenario sets and the known optimum.
//!
//! The optimum a run is measured against (spec, "Benchmark environments"):
//! - backlogged store: the closed-form base-stock cost, and the optimal base-stock `S*`
//!   simulated by the f64 reference on the *same* dev/test scenarios (common random numbers:
//!   the gap then measures the policy, not the sampling noise of the scenarios);
//! - lost-sales store: the exact DP optimum for `L <= 2` (grid as in the envs tests), Zipkin's
//!   table otherwise;
//! - serial system: the Clark–Scarf optimum (`clark_scarf`, lattice step 0.01) and its
//!   optimal echelon base-stock levels simulated on the same dev/test scenarios, as for the
//!   backlogged store;
//! - warehouse: none known here (costs are logged, gaps are not).
use polopt_envs::inventory::clark_scarf::echelon_optimum;
use polopt_envs::inventory::lost_sales_dp::{self, Grid};
use polopt_envs::inventory::optimal::{backlogged_optimum, lost_sales_table};
use polopt_envs::inventory::scenarios::{sample_serial, sample_store, sample_warehouse};
use polopt_envs::inventory::serial::SerialProblem;
use polopt_envs::inventory::store::{base_stock_order, simulate, DemandModel, StoreProblem};
use polopt_envs::inventory::warehouse::WarehouseProblem;
use polopt_envs::inventory::Scenarios;

use super::config::{InventoryConfig, Problem};
use super::sim::TensorSim;
use crate::seeds::derive_seed;

pub struct Setup {
    pub sim: TensorSim,
    pub train: Scenarios,
    pub dev: Scenarios,
    pub test: Scenarios,
    /// Known optimal cost per period per store.
    pub optimal_cost: Option<f64>,
    /// The optimal policy's cost on the dev / test scenarios (periods past the warm-up).
    pub dev_reference: Option<f64>,
    pub test_reference: Option<f64>,
}

pub fn setup(cfg: &InventoryConfig) -> Setup {
    let (i, t, e, seed) = (&cfg.inventory, &cfg.train, &cfg.eval, cfg.run.seed);
    let stream = |tag: &str| derive_seed(seed, tag, 0);
    let sample = |sampler: &dyn Fn(usize, usize, u64) -> Scenarios| {
        (
            sampler(t.scenarios, t.periods, stream("inventory-train")),
            sampler(e.dev_scenarios, e.dev_periods, stream("inventory-dev")),
            sampler(e.test_scenarios, e.test_periods, stream("inventory-test")),
        )
    };
    match i.problem {
        Problem::Backlog | Problem::LostSales => {
            let p = match i.problem {
                Problem::Backlog => StoreProblem::backlogged(i.lead_time, i.underage),
                _ => StoreProblem::lost_sales(i.lead_time, i.underage),
            };
            let (train, dev, test) = sample(&|m, periods, s| sample_store(&p, m, periods, s));
            let (optimal_cost, level) = match backlogged_optimum(&p) {
                Some(opt) => (Some(opt.cost), Some(opt.level)),
                None => (lost_sales_optimum(&p), None),
            };
            let reference =
                |s: &Scenarios, ignore: usize| level.map(|l| base_stock_cost(&p, s, l, ignore));
            Setup {
                sim: TensorSim::Store(p),
                dev_reference: reference(&dev, e.dev_ignore),
                test_reference: reference(&test, e.test_ignore),
                train,
                dev,
                test,
                optimal_cost,
            }
        }
        Problem::Serial => {
            let p = SerialProblem::four_echelon();
            let (train, dev, test) = sample(&|m, periods, s| sample_serial(&p, m, periods, s));
            match echelon_optimum(&p, SERIAL_STEP) {
                Ok(opt) => Setup {
                    dev_reference: Some(echelon_cost(&p, &dev, &opt.levels, e.dev_ignore)),
                    test_reference: Some(echelon_cost(&p, &test, &opt.levels, e.test_ignore)),
                    sim: TensorSim::Serial(p),
                    train,
                    dev,
                    test,
                    optimal_cost: Some(opt.cost),
                },
                // The four-echelon system's costs rise downstream; a changed one may not.
                Err(_) => no_reference(TensorSim::Serial(p), train, dev, test),
            }
        }
        Problem::Warehouse => {
            let p = WarehouseProblem::sample(i.stores, i.instance_seed);
            let (train, dev, test) = sample(&|m, periods, s| sample_warehouse(&p, m, periods, s));
            no_reference(TensorSim::warehouse(p), train, dev, test)
        }
    }
}

fn no_reference(sim: TensorSim, train: Scenarios, dev: Scenarios, test: Scenarios) -> Setup {
    Setup {
        sim,
        train,
        dev,
        test,
        optimal_cost: None,
        dev_reference: None,
        test_reference: None,
    }
}

/// Lattice step of the serial optimum: its cost is then exact to about 1e-5 (see
/// `clark_scarf`), and it takes well under a second.
const SERIAL_STEP: f64 = 0.01;

/// The DP optimum where it is cheap (L <= 2), else Zipkin's table.
fn lost_sales_optimum(p: &StoreProblem) -> Option<f64> {
    if let (DemandModel::Poisson { mean }, true) = (p.demand, p.lead_time <= 2) {
        let grid = Grid {
            max_on_hand: 40,
            max_order: 22,
        };
        let r = lost_sales_dp::solve(mean, p.lead_time, p.holding, p.underage, grid, 1e-7, 5000);
        return Some(r.cost);
    }
    lost_sales_table(p)
}

/// Base-stock `level` simulated by the f64 reference: mean cost per period past `ignore`.
pub fn base_stock_cost(p: &StoreProblem, s: &Scenarios, level: f64, ignore: usize) -> f64 {
    let mut total = 0.0;
    for i in 0..s.count {
        let mut x = s.initial_of(i).to_vec();
        let demands: Vec<f64> = (0..s.periods).map(|t| s.demand_at(i, t, 0)).collect();
        let c = simulate(p, &mut x, &demands, |x| base_stock_order(x, level));
        total += c[ignore..].iter().sum::<f64>();
    }
    total / (s.count * (s.periods - ignore)) as f64
}

/// Echelon base-stock `levels` (upstream first) on the serial system, simulated by the f64
/// reference: mean cost per period past `ignore`.
pub fn echelon_cost(p: &SerialProblem, s: &Scenarios, levels: &[f64], ignore: usize) -> f64 {
    let mut total = 0.0;
    for i in 0..s.count {
        let mut x = s.initial_of(i).to_vec();
        for t in 0..s.periods {
            let a = p.echelon_orders(&x, levels);
            let c = p.step(&mut x, &a, s.demand_at(i, t, 0));
            if t >= ignore {
                total += c;
            }
        }
    }
    total / (s.count * (s.periods - ignore)) as f64
}
