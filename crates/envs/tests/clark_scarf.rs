//! The Clark–Scarf optimum of the serial system against a Monte-Carlo of the simulator's own
//! dynamics (`SerialProblem::step` with `echelon_orders`, clipped and rounded demand from
//! `sample_serial`, the initial inventories the trainer uses).
use polopt_envs::inventory::clark_scarf::{echelon_optimum, Lattice, Recursion};
use polopt_envs::inventory::scenarios::sample_serial;
use polopt_envs::inventory::serial::SerialProblem;

/// Per-scenario mean cost per period past `warm_up`, echelon base-stock at `levels`. Each
/// scenario's average is one independent observation (autocorrelation within a trace is
/// harmless), and the same seed gives every policy the same demands (common random numbers).
fn per_scenario(
    p: &SerialProblem,
    levels: &[f64],
    count: usize,
    periods: usize,
    warm_up: usize,
    seed: u64,
) -> Vec<f64> {
    let s = sample_serial(p, count, periods, seed);
    (0..count)
        .map(|i| {
            let mut x = s.initial_of(i).to_vec();
            let mut total = 0.0;
            for t in 0..periods {
                let a = p.echelon_orders(&x, levels);
                let c = p.step(&mut x, &a, s.demand_at(i, t, 0));
                if t >= warm_up {
                    total += c;
                }
            }
            total / (periods - warm_up) as f64
        })
        .collect()
}

fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn diff(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// Perturbations per node (upstream first): large enough that the recursion predicts a cost
/// increase well above the paired Monte-Carlo error, so "no perturbation is better" can fail.
const DELTAS: [f64; 4] = [6.0, 4.0, 3.0, 2.0];

#[test]
fn simulated_cost_matches_the_recursion_at_and_around_the_optimal_levels() {
    let p = SerialProblem::four_echelon();
    let r = Recursion::for_problem(&p, 0.02).unwrap();
    let opt = r.optimum();
    let (count, periods, warm_up, seed) = (200, 1100, 100, 11);
    let at = per_scenario(&p, &opt.levels, count, periods, warm_up, seed);
    let (mean, se) = mean_se(&at);
    assert!(
        (mean - opt.cost).abs() < 4.0 * se,
        "simulated {mean} +- {se}, recursion {}",
        opt.cost
    );
    for k in 0..4 {
        for sign in [-1.0, 1.0] {
            let mut levels = opt.levels.clone();
            levels[k] += sign * DELTAS[k];
            let predicted = r.cost_of(&levels) - opt.cost;
            let d = diff(
                &per_scenario(&p, &levels, count, periods, warm_up, seed),
                &at,
            );
            let (dm, dse) = mean_se(&d);
            // The recursion's cost of the perturbed levels is what the simulator measures...
            assert!(
                (dm - predicted).abs() < 4.0 * dse + 1e-3,
                "node {k} {:+}: simulated {dm} +- {dse}, predicted {predicted}",
                sign * DELTAS[k]
            );
            // ...and is significantly worse: S* is a local optimum within MC error.
            assert!(
                dm > 3.0 * dse,
                "node {k} {:+}: {dm} +- {dse}",
                sign * DELTAS[k]
            );
        }
    }
}

/// The numbers of `docs/methods/hdpo.md` ("Serial system"): the optimum's convergence in the
/// lattice step and a long Monte-Carlo. Run with
/// `cargo test --release -p polopt-envs --test clark_scarf -- --ignored --nocapture`.
#[test]
#[ignore]
fn report_the_serial_optimum() {
    let p = SerialProblem::four_echelon();
    for step in [0.05, 0.02, 0.01, 0.005] {
        let t = std::time::Instant::now();
        let o = echelon_optimum(&p, step).unwrap();
        println!(
            "step {step}: levels {:?} cost {:.6} (with pipeline {:.6}) in {:.2} s",
            o.levels,
            o.cost,
            o.cost_with_pipeline,
            t.elapsed().as_secs_f64()
        );
    }
    // The same system with unclipped normal demand: what ignoring the clipping would cost.
    let unclipped = Recursion::new(
        &p.lead_times,
        &p.holding,
        p.underage,
        Lattice::normal(5.0, 2.0, 0.01, false),
    )
    .unwrap()
    .optimum();
    println!(
        "unclipped N(5, 2^2): levels {:?} cost {:.6}",
        unclipped.levels, unclipped.cost
    );
    let r = Recursion::for_problem(&p, 0.01).unwrap();
    let opt = r.optimum();
    let (count, periods, warm_up, seed) = (2000, 5100, 100, 7);
    let at = per_scenario(&p, &opt.levels, count, periods, warm_up, seed);
    let (mean, se) = mean_se(&at);
    println!(
        "MC at S* ({count} x {} periods): {mean:.5} +- {se:.5}; recursion {:.5}",
        periods - warm_up,
        opt.cost
    );
    for k in 0..4 {
        for delta in [-DELTAS[k], -1.0, 1.0, DELTAS[k]] {
            let mut levels = opt.levels.clone();
            levels[k] += delta;
            let predicted = r.cost_of(&levels) - opt.cost;
            let d = diff(
                &per_scenario(&p, &levels, count / 4, periods, warm_up, seed),
                &at[..count / 4],
            );
            let (dm, dse) = mean_se(&d);
            println!(
                "node {k} {delta:+}: MC difference {dm:.5} +- {dse:.5}, recursion {predicted:.5}"
            );
        }
    }
}

/// HDPO's training objective is not the long-run cost: it averages all `T = 50` periods from
/// the scenarios' small initial inventories, warm-up included (spec, "Method"). This finds the
/// echelon levels that minimise that objective on 8192 scenarios (pattern search from S*, the
/// same scenarios for every candidate) and the long-run gap of those levels. Run with
/// `cargo test --release -p polopt-envs --test clark_scarf -- --ignored --nocapture`.
#[test]
#[ignore]
fn report_the_optimum_of_the_fifty_period_objective() {
    let p = SerialProblem::four_echelon();
    let r = Recursion::for_problem(&p, 0.01).unwrap();
    let opt = r.optimum();
    let objective = |levels: &[f64]| {
        let v = per_scenario(&p, levels, 8192, 50, 0, 3);
        v.iter().sum::<f64>() / v.len() as f64
    };
    let mut levels = opt.levels.clone();
    let mut best = objective(&levels);
    println!("50-period objective at S*: {best:.5}");
    for step in [2.0, 1.0, 0.5, 0.2, 0.1] {
        let mut improved = true;
        while improved {
            improved = false;
            for k in 0..4 {
                for sign in [-1.0, 1.0] {
                    let mut trial = levels.clone();
                    trial[k] += sign * step;
                    let c = objective(&trial);
                    if c < best - 1e-12 {
                        (best, levels, improved) = (c, trial, true);
                    }
                }
            }
        }
    }
    let long_run = r.cost_of(&levels);
    println!(
        "50-period optimum: levels {levels:?}, objective {best:.5}; long-run cost {long_run:.5} \
         (gap {:.3}% to {:.5})",
        100.0 * (long_run / opt.cost - 1.0),
        opt.cost
    );
}
