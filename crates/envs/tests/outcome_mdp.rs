//! Finite-outcome MDPs of distributional-dp.md: the 2-step bet and the risky grid, checked by
//! risk-neutral DP against hand-computed path returns.
use polopt_envs::tabular::outcome_mdp::{two_step_bet, BET, SAFE};
use polopt_envs::tabular::risky_grid::{risky_grid, step, DOWN, GOAL, LEFT, RIGHT, START, UP};
use polopt_envs::tabular::solve::horizon_optimal;

#[test]
fn two_step_bet_means() {
    let mdp = two_step_bet().unwrap();
    assert_eq!(mdp.outcomes(1, BET).len(), 2);
    let mean = mdp.mean_mdp().unwrap();
    assert_eq!(
        (mean.r(0, 0), mean.r(1, SAFE), mean.r(1, BET)),
        (1.0, 1.0, 1.0)
    );
    assert_eq!(horizon_optimal(&mean, 2).values[0][0], 2.0);
}

#[test]
fn grid_moves_and_walls() {
    assert_eq!(step(START, RIGHT), 13);
    assert_eq!(step(START, LEFT), START);
    assert_eq!(step(START, DOWN), START);
    assert_eq!(step(START, UP), 8);
    assert_eq!(step(14, RIGHT), GOAL);
    let mdp = risky_grid(0.1, -10.0).unwrap();
    let icy = mdp.outcomes(START, RIGHT);
    assert_eq!(icy.len(), 2);
    assert!((icy[1].prob - 0.1).abs() < 1e-12 && icy[1].reward == -11.0);
    assert_eq!(mdp.outcomes(8, UP).len(), 1);
    assert_eq!(mdp.outcomes(GOAL, LEFT)[0].next, GOAL);
}

/// Short path mean −3 − 2·10·p, safe path −7: risk-neutral DP goes short below p = 0.2 and
/// around above it.
#[test]
fn mean_dp_on_the_grid_switches_at_p_one_fifth() {
    for (p, value, first) in [(0.1, -5.0, RIGHT), (0.25, -7.0, UP)] {
        let mean = risky_grid(p, -10.0).unwrap().mean_mdp().unwrap();
        let sol = horizon_optimal(&mean, 10);
        assert!(
            (sol.values[0][START] - value).abs() < 1e-12,
            "p {p}: {}",
            sol.values[0][START]
        );
        assert_eq!(sol.greedy[0][START], first);
    }
    assert!(risky_grid(1.0, -10.0).is_err());
}
