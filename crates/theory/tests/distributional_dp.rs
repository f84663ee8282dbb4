//! Stock-augmented distributional DP (distributional-dp.md): the 2-step bet's 0.75 against
//! 0.5, the CVaR sanity vector, and the grid check (CVaR goes around, mean DP goes short).
mod common;

use polopt_envs::tabular::outcome_mdp::two_step_bet;
use polopt_envs::tabular::risky_grid::{risky_grid, ICY, START};
use polopt_theory::policy_enumeration::{history_distributions, markov_distributions};
use polopt_theory::return_dist::ReturnDist;
use polopt_theory::stock_dp::{optimize, propagate, Objective, StockDp, Utility};
use polopt_theory::{solver, RunSpec, Settings, TheoryRun};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn run(preset: &str, env: &str, seed: u64, steps: u64, settings: &str) -> TheoryRun {
    common::run_on(preset, env, seed, steps, settings).unwrap()
}

#[test]
fn cvar_sorted_tail_and_rockafellar_uryasev_agree_on_the_spec_vector() {
    let g = ReturnDist::from_atoms([(3.0, 0.5), (1.0, 0.5)]);
    assert!(close(g.cvar(0.25), 1.0) && close(g.cvar_ru(0.25), 1.0));
    let bet = ReturnDist::from_atoms([(-1.0, 0.25), (1.0, 0.25), (3.0, 0.25), (5.0, 0.25)]);
    assert!(
        close(bet.cvar(0.25), -1.0) && close(bet.cvar(0.5), 0.0) && close(bet.cvar_ru(0.5), 0.0)
    );
    assert!(close(bet.cvar(1.0), bet.mean()) && close(bet.prob_at_least(3.0), 0.5));
}

/// After reward 0 (stock −2) only the bet can reach G ≥ 2 (w.p. 1/2); after reward 2 safe is
/// sure: 0.75. Stock-agnostic Markov policies (always safe, always bet) reach 0.5.
#[test]
fn two_step_threshold_probability_is_three_quarters_with_stock() {
    let mdp = two_step_bet().unwrap();
    let sol = optimize(&mdp, 2, Objective::Threshold(2.0), &[]);
    assert!(close(sol.returns.prob_at_least(2.0), 0.75));
    let mut dp = StockDp::new(&mdp, 2, Utility::AtLeastZero);
    assert_eq!(dp.solve(1, 1, -2.0).0, 1, "bet with low stock");
    assert_eq!(dp.solve(1, 1, 0.0).0, 0, "safe with high stock");
    let markov = markov_distributions(&mdp, 2, 1000).unwrap();
    assert_eq!(markov.len(), 2);
    let best = |ds: &[ReturnDist]| ds.iter().map(|d| d.prob_at_least(2.0)).fold(0.0, f64::max);
    assert!(close(best(&markov), 0.5));
    let history = history_distributions(&mdp, 2, 1000).unwrap();
    assert_eq!(history.len(), 4);
    assert!(close(best(&history), 0.75));
    let f = run("stock-dp-twostep", "twostep", 0, 2, "").final_metrics;
    assert!(close(f["threshold_prob"], 0.75) && close(f["threshold_markov_best"], 0.5));
    assert!(close(f["threshold_history_best"], 0.75));
}

/// CVaR_0.25 on the bet: safe gives {1, 3} → 1.0, the best over all history-dependent
/// policies; the c_0 search finds it.
#[test]
fn two_step_cvar_search_matches_enumeration() {
    let f = run("stock-dp-twostep", "twostep", 0, 2, "objective = \"cvar\"").final_metrics;
    assert!(
        close(f["cvar"], 1.0) && close(f["cvar_history_best"], 1.0),
        "{f:?}"
    );
}

/// p = 0.1: the short path has mean −5 and CVaR_0.1 = (0.01·(−23) + 0.09·(−13))/0.1 = −14,
/// the safe path −7 surely.
#[test]
fn grid_cvar_goes_around_and_mean_dp_goes_short() {
    let fixed = "p_slip_range = [0.1, 0.1]";
    let stock = run("stock-dp-grid", "grid", 0, 10, fixed).final_metrics;
    assert!(
        close(stock["cvar"], -7.0) && close(stock["icy_steps"], 0.0),
        "{stock:?}"
    );
    assert!(close(stock["cvar_markov_best"], -7.0) && close(stock["p_slip"], 0.1));
    let mean = run("mean-dp-grid", "grid", 0, 10, fixed).final_metrics;
    assert!(
        close(mean["mean_return"], -5.0) && close(mean["icy_steps"], 2.0),
        "{mean:?}"
    );
    assert!(close(mean["cvar"], -14.0) && close(mean["mean_markov_best"], -5.0));
    assert!(close(mean["threshold_prob"], 0.81));
}

/// The law the DP carries in η is the law of the policy it outputs, and the c_0 search value
/// is the CVaR of that law.
#[test]
fn dp_law_is_the_propagated_law_of_its_policy() {
    let mdp = risky_grid(0.15, -10.0).unwrap();
    let mut dp = StockDp::new(&mdp, 8, Utility::MinZero);
    let eta = dp.solve(0, START, -5.0).1;
    let (law, _) = propagate(&mdp, 8, -5.0, &ICY, &mut |t, s, c| dp.solve(t, s, c).0);
    assert_eq!(eta.shift(5.0).key(), law.key());
    let sol = optimize(&mdp, 10, Objective::Cvar(0.1), &ICY);
    let j = -sol.c0 + sol.returns.shift(sol.c0).expect(|x| x.min(0.0)) / 0.1;
    assert!(
        close(j, sol.returns.cvar(0.1)),
        "{j} {}",
        sol.returns.cvar(0.1)
    );
}

#[test]
fn grid_runs_are_deterministic_and_the_seed_picks_the_slip() {
    for preset in ["stock-dp-grid", "mean-dp-grid"] {
        let a = run(preset, "grid", 3, 8, "");
        assert_eq!(a, run(preset, "grid", 3, 8, ""));
        assert_ne!(a, run(preset, "grid", 4, 8, ""));
        assert_eq!(a.curve.len(), 8);
    }
    let spec = RunSpec {
        seed: 0,
        steps: 4,
        env: "grid".into(),
    };
    for (preset, text) in [
        ("mean-dp-grid", "objective = \"cvar\""),
        ("stock-dp-grid", "p_slip_range = [0.5]"),
        ("stock-dp-grid", "tau = 0.0"),
    ] {
        let mut settings = Settings::new(text.parse().unwrap());
        assert!(
            (solver(preset).unwrap().run)(&spec, &mut settings, &mut |_, _| {}).is_err(),
            "{text}"
        );
    }
}
