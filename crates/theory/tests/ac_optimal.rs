//! The optimistic rare-switching actor-critic (ac-optimal.md): mirror-descent and bonus test
//! vectors, LSVI against exact backward induction, and the run's behaviour on RiverSwim.
mod common;

use common::{assert_deterministic, close, metric, run};
use polopt_envs::tabular::riverswim::riverswim;
use polopt_envs::tabular::solve::horizon_optimal;
use polopt_theory::ac_optimal::{bonus, mirror_step, optimistic_lsvi, uniform};
use polopt_theory::optimism::Counts;

#[test]
fn mirror_steps_match_the_spec_vectors() {
    let once = mirror_step(&[0.5, 0.5], &[1.0, 0.0], 1.0);
    assert!(
        close(once[0], 0.731059, 1e-6) && close(once[1], 0.268941, 1e-6),
        "{once:?}"
    );
    let twice = mirror_step(&once, &[1.0, 0.0], 1.0);
    assert!(
        close(twice[0], 0.880797, 1e-6) && close(twice[1], 0.119203, 1e-6),
        "{twice:?}"
    );
    // A reset is the uniform policy again.
    assert_eq!(uniform(1, 1, 2)[0][0], vec![0.5, 0.5]);
    // Large critic values do not overflow.
    let big = mirror_step(&[0.5, 0.5], &[1e6, 0.0], 1.0);
    assert!(close(big[0], 1.0, 1e-12));
}

#[test]
fn bonus_matches_the_spec_vector() {
    assert!(close(bonus(4, 1.0), 0.5, 1e-15));
    assert_eq!(bonus(0, 1.0), f64::INFINITY);
    assert_eq!(bonus(0, 0.0), 0.0);
}

/// Counts whose empirical kernel is RiverSwim's exactly (20 samples per pair).
fn exact_counts() -> Counts {
    let mdp = riverswim(6).unwrap();
    let mut counts = Counts::new(6, 2);
    for s in 0..6 {
        for a in 0..2 {
            for (next, p) in mdp.p(s, a).iter().enumerate() {
                for _ in 0..(p * 20.0).round() as usize {
                    counts.record(s, a, mdp.r(s, a), next);
                }
            }
            assert_eq!(counts.n(s, a), 20);
        }
    }
    counts
}

fn flat(q: &[Vec<Vec<f64>>]) -> Vec<f64> {
    q.iter().flatten().flatten().copied().collect()
}

#[test]
fn lsvi_without_bonus_on_the_exact_model_is_backward_induction() {
    let mdp = riverswim(6).unwrap();
    let exact = horizon_optimal(&mdp, 20);
    let q = optimistic_lsvi(&exact_counts(), 20, 0.0);
    let (got, want) = (flat(&q), flat(&exact.q));
    assert_eq!(got.len(), 20 * 6 * 2);
    for (i, (x, y)) in got.iter().zip(&want).enumerate() {
        assert!(
            close(*x, *y, 1e-9),
            "entry {i} (h, s, a row-major): {x} vs {y}"
        );
    }
}

#[test]
fn lsvi_is_optimistic_and_capped_at_the_horizon() {
    let mdp = riverswim(6).unwrap();
    let exact = horizon_optimal(&mdp, 20);
    // b = 5: a bonus of 1.1 per step, which adds up past H = 20 from h = 0.
    let q = optimistic_lsvi(&exact_counts(), 20, 5.0);
    for (x, y) in flat(&q).iter().zip(flat(&exact.q)) {
        assert!(*x >= y - 1e-9 && *x <= 20.0, "{x} vs {y}");
    }
    assert!(
        q[0].iter().flatten().any(|x| *x == 20.0),
        "the cap binds at h = 0"
    );
    // No data: every pair is fully optimistic.
    let empty = optimistic_lsvi(&Counts::new(6, 2), 20, 1.0);
    assert!(empty.iter().flatten().flatten().all(|x| *x == 20.0));
}

#[test]
fn optimism_finds_the_right_bank_where_a_greedy_actor_without_it_does_not() {
    let fast = "eta = 100.0";
    let optimistic = run("ac-optimal-riverswim", 0, 1000, fast).unwrap();
    let plain = run("ac-nooptimism-riverswim", 0, 1000, fast).unwrap();
    let optimal = horizon_optimal(&riverswim(6).unwrap(), 20).values[0][0];
    assert!(
        metric(&optimistic, "greedy_value") > 0.9 * optimal,
        "{:?}",
        optimistic.final_metrics
    );
    assert!(
        metric(&plain, "final_value") < 0.2,
        "{:?}",
        plain.final_metrics
    );
    // Offline uniform episodes rescue the non-optimistic variant (the hybrid claim).
    let hybrid = run(
        "ac-nooptimism-riverswim",
        0,
        500,
        "eta = 100.0\nhybrid_episodes = 200",
    )
    .unwrap();
    assert!(
        metric(&hybrid, "final_value") > 0.95 * optimal,
        "{:?}",
        hybrid.final_metrics
    );
}

#[test]
fn runs_are_deterministic_in_the_seed() {
    assert_deterministic("ac-optimal-riverswim", 200);
    assert_deterministic("ac-nooptimism-riverswim", 200);
    assert_deterministic("ac-vanilla-riverswim", 200);
}
