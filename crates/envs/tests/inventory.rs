//! The inventory benchmarks against their known optima (spec `algorithms/hdpo.md`).
use polopt_envs::inventory::lost_sales_dp::{solve, Grid};
use polopt_envs::inventory::optimal::backlogged_optimum;
use polopt_envs::inventory::scenarios::sample_store;
use polopt_envs::inventory::store::{
    base_stock_order, capped_base_stock_order, simulate, StoreProblem,
};

#[test]
fn exact_dp_reproduces_the_spec_lost_sales_optima_for_short_lead_times() {
    // (L, p, spec value): the spec's own DP on these dynamics, 3 decimals.
    let cases = [
        (1, 4.0, 4.041),
        (1, 9.0, 5.438),
        (2, 4.0, 4.395),
        (2, 9.0, 6.094),
    ];
    for (l, p, want) in cases {
        let grid = Grid {
            max_on_hand: 40,
            max_order: 22,
        };
        let got = solve(5.0, l, 1.0, p, grid, 1e-7, 5000);
        assert!(
            got.upper - got.lower < 1e-6,
            "L={l} p={p}: not converged {got:?}"
        );
        assert!(
            (got.cost - want).abs() < 5e-4,
            "L={l} p={p}: DP {} vs {want}",
            got.cost
        );
    }
}

/// Mean per-period cost and its standard error over independent scenarios (each scenario's
/// post-warm-up average is one observation, so autocorrelation within a trace is harmless).
fn simulate_base_stock(p: &StoreProblem, level: f64, count: usize, seed: u64) -> (f64, f64) {
    let (periods, warm_up) = (600, 100);
    let s = sample_store(p, count, periods, seed);
    let per_scenario: Vec<f64> = (0..count)
        .map(|i| {
            let mut x = s.initial_of(i).to_vec();
            let demands: Vec<f64> = (0..periods).map(|t| s.demand_at(i, t, 0)).collect();
            let costs = simulate(p, &mut x, &demands, |x| base_stock_order(x, level));
            costs[warm_up..].iter().sum::<f64>() / (periods - warm_up) as f64
        })
        .collect();
    let n = count as f64;
    let mean = per_scenario.iter().sum::<f64>() / n;
    let var = per_scenario.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn long_simulation_of_the_optimal_base_stock_gives_the_closed_form_cost() {
    for (l, p) in [(4, 9.0), (1, 9.0), (4, 39.0)] {
        let problem = StoreProblem::backlogged(l, p);
        let opt = backlogged_optimum(&problem).unwrap();
        let (mean, se) = simulate_base_stock(&problem, opt.level, 400, 3);
        assert!(
            (mean - opt.cost).abs() < 4.0 * se,
            "L={l} p={p}: simulated {mean} +- {se}, closed form {}",
            opt.cost
        );
        // And S* is a minimum: 1.5 units off costs clearly more on the same scenarios.
        let (worse, _) = simulate_base_stock(&problem, opt.level + 1.5, 400, 3);
        let (worse_low, _) = simulate_base_stock(&problem, opt.level - 1.5, 400, 3);
        assert!(
            worse > mean + 0.05 && worse_low > mean + 0.05,
            "{worse} {worse_low} {mean}"
        );
    }
}

#[test]
fn best_capped_base_stock_is_near_but_not_below_the_lost_sales_optimum() {
    // L = 1, p = 4: the DP optimum 4.041 bounds every policy from below (up to simulation
    // noise); the best capped base-stock is a strong heuristic, the plain one is not.
    let problem = StoreProblem::lost_sales(1, 4.0);
    let s = sample_store(&problem, 200, 600, 9);
    let cost_of = |level: f64, cap: f64| {
        let mut total = 0.0;
        for i in 0..s.count {
            let mut x = s.initial_of(i).to_vec();
            let demands: Vec<f64> = (0..s.periods).map(|t| s.demand_at(i, t, 0)).collect();
            let c = simulate(&problem, &mut x, &demands, |x| {
                capped_base_stock_order(x, level, cap)
            });
            total += c[100..].iter().sum::<f64>() / 500.0;
        }
        total / s.count as f64
    };
    let mut best = f64::INFINITY;
    for level in 6..=14 {
        for cap in 4..=10 {
            best = best.min(cost_of(level as f64, cap as f64));
        }
    }
    let uncapped = (6..=14)
        .map(|l| cost_of(l as f64, 1e9))
        .fold(f64::INFINITY, f64::min);
    assert!(best > 4.041 - 0.02 && best < 4.041 * 1.015, "capped {best}");
    assert!(
        uncapped > best + 0.02,
        "uncapped {uncapped} vs capped {best}"
    );
}
