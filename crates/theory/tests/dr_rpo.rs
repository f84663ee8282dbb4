//! DR-RPO (dr-rpo.md, reconstructed): the spec's actor vectors, determinism, and the small
//! check on the risky shortcut (robust learner goes safe, the non-robust one risky).
mod common;

use polopt_theory::dr_rpo::{kl, mirror_descent_step, regularized_greedy};
use polopt_theory::{solver, RunSpec, Settings, TheoryRun};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn run(preset: &str, env: &str, seed: u64, steps: u64, settings: &str) -> TheoryRun {
    common::run_on(preset, env, seed, steps, settings).unwrap()
}

#[test]
fn regularized_greedy_matches_the_spec() {
    let (pi, v) = regularized_greedy(&[1.0, 0.0], &[0.5, 0.5], 0.5);
    assert!(
        close(pi[0], 0.880797, 1e-6) && close(pi[1], 0.119203, 1e-6),
        "{pi:?}"
    );
    assert!(close(v, 0.716890, 1e-6), "{v}");
    // The value is the regularized objective at the greedy policy.
    let direct = pi[0] * 1.0 - 0.5 * kl(&pi, &[0.5, 0.5]);
    assert!(close(v, direct, 1e-12));
}

#[test]
fn one_mirror_descent_step_matches_the_spec() {
    let pi = mirror_descent_step(&[0.5, 0.5], &[0.5, 0.5], &[1.0, 0.0], 1.0, 0.5);
    assert!(
        close(pi[0], 0.660756, 1e-6) && close(pi[1], 0.339244, 1e-6),
        "{pi:?}"
    );
}

/// Iterating the actor with a fixed Q converges to the regularized greedy policy.
#[test]
fn mirror_descent_converges_to_the_regularized_greedy_policy() {
    let (q, r) = ([0.3, 1.0, 0.2], [0.2, 0.3, 0.5]);
    let mut pi = r.to_vec();
    for _ in 0..200 {
        pi = mirror_descent_step(&pi, &r, &q, 1.0, 0.5);
    }
    let (want, _) = regularized_greedy(&q, &r, 0.5);
    assert!(
        pi.iter().zip(&want).all(|(a, b)| close(*a, *b, 1e-9)),
        "{pi:?} {want:?}"
    );
}

#[test]
fn runs_are_deterministic_from_the_seed() {
    for (preset, env) in [("dr-rpo-shortcut", "shortcut"), ("rpo-shortcut", "linear")] {
        let a = run(preset, env, 1, 60, "");
        assert_eq!(a, run(preset, env, 1, 60, ""));
        assert_ne!(a, run(preset, env, 2, 60, ""));
    }
}

/// The small CPU check at ρ = 0.4 with the default 2000 episodes (where "safe" is robust-optimal, 1.5 vs 1.4): DR-RPO ends
/// near the robust optimum and mostly safe; the non-robust learner goes risky, keeps the
/// higher nominal return and loses robust return.
#[test]
fn robust_learner_goes_safe_and_beats_the_non_robust_one_under_the_worst_case() {
    let robust = run("dr-rpo-shortcut", "shortcut", 0, 2000, "").final_metrics;
    let plain = run("rpo-shortcut", "shortcut", 0, 2000, "").final_metrics;
    assert!(close(robust["robust_optimal"], 1.5, 1e-12));
    assert!(close(plain["robust_of_nominal_optimal"], 1.4, 1e-12));
    assert!(robust["p_risky_first"] < 0.3, "{robust:?}");
    assert!(plain["p_risky_first"] > 0.95, "{plain:?}");
    assert!(
        robust["robust_return"] > plain["robust_return"] + 0.05,
        "{robust:?} {plain:?}"
    );
    assert!(plain["nominal_return"] > robust["nominal_return"] + 0.2);
}

#[test]
fn unknown_settings_and_the_radius_of_the_baseline_are_rejected() {
    let spec = RunSpec {
        seed: 0,
        steps: 5,
        env: "shortcut".into(),
    };
    for (preset, text) in [
        ("dr-rpo-shortcut", "rho_typo = 0.1"),
        ("rpo-shortcut", "rho = 0.3"),
        ("dr-rpo-shortcut", "instance = 2"),
    ] {
        let mut settings = Settings::new(text.parse().unwrap());
        let err = (solver(preset).unwrap().run)(&spec, &mut settings, &mut |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("settings."), "{err}");
    }
}
