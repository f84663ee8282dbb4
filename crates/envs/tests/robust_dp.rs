//! Exact robust DP under TV uncertainty (dr-rpo.md): the spec's dual vectors, the dual against
//! the greedy mass-moving minimizer, and the risky shortcut's robust values computed by hand.
use polopt_envs::tabular::linear_mdp::LinearMdp;
use polopt_envs::tabular::risky_shortcut::{risky_shortcut, RISKY, SAFE};
use polopt_envs::tabular::robust::{robust_evaluate, robust_optimal, tv_dual, tv_worst_case};
use polopt_envs::tabular::solve::{horizon_evaluate, horizon_optimal, one_hot_policy, Policy};
use polopt_envs::tabular::TabularError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn tv_dual_matches_the_spec_vectors() {
    let (v, mu0) = ([0.0, 1.0, 2.0], [0.5, 0.3, 0.2]);
    assert!(close(tv_dual(&v, &mu0, 0.2), 0.3, 1e-12));
    assert!(close(tv_dual(&v, &mu0, 0.05), 0.6, 1e-12));
    let (value, mu) = tv_worst_case(&v, &mu0, 0.2);
    assert!(close(value, 0.3, 1e-12));
    assert!(
        mu.iter()
            .zip([0.7, 0.3, 0.0])
            .all(|(a, b)| close(*a, b, 1e-12)),
        "{mu:?}"
    );
    let (value, mu) = tv_worst_case(&v, &mu0, 0.05);
    assert!(close(value, 0.6, 1e-12));
    assert!(
        mu.iter()
            .zip([0.55, 0.3, 0.15])
            .all(|(a, b)| close(*a, b, 1e-12)),
        "{mu:?}"
    );
}

/// The minimizer may put mass on a state outside μ0's support, and a radius beyond the movable
/// mass leaves only the minimum.
#[test]
fn tv_worst_case_uses_states_outside_the_support_and_saturates() {
    let (v, mu0) = ([0.0, 1.0, 2.0], [0.0, 0.5, 0.5]);
    assert!(close(tv_worst_case(&v, &mu0, 0.25).0, 1.0, 1e-12));
    assert!(close(tv_dual(&v, &mu0, 0.25), 1.0, 1e-12));
    assert!(close(tv_worst_case(&v, &mu0, 5.0).0, 0.0, 1e-12));
    assert!(close(tv_dual(&v, &mu0, 5.0), 0.0, 1e-12));
}

#[test]
fn tv_dual_equals_the_primal_minimizer_on_random_vectors() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..500 {
        let n = rng.random_range(1..7usize);
        let v: Vec<f64> = (0..n)
            .map(|_| (rng.random::<f64>() * 3.0 * 4.0).round() / 4.0)
            .collect();
        let w: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
        let sum: f64 = w.iter().sum();
        let mu0: Vec<f64> = w.iter().map(|x| x / sum).collect();
        let rho = rng.random::<f64>() * 0.6;
        let (primal, mu) = tv_worst_case(&v, &mu0, rho);
        let tv: f64 = mu.iter().zip(&mu0).map(|(a, b)| (a - b).abs()).sum::<f64>() / 2.0;
        assert!(tv <= rho + 1e-12 && close(mu.iter().sum(), 1.0, 1e-12));
        assert!(
            close(primal, tv_dual(&v, &mu0, rho), 1e-10),
            "{v:?} {mu0:?} {rho}"
        );
    }
}

fn shortcut_policy(first: usize) -> Vec<Policy> {
    // `first` in s0 at step 0, safe in s0 afterwards; s1's action does not matter.
    vec![
        one_hot_policy(&[first, SAFE], 2),
        one_hot_policy(&[SAFE, SAFE], 2),
        one_hot_policy(&[SAFE, SAFE], 2),
    ]
}

#[test]
fn risky_shortcut_nominal_optimum_is_risky_first() {
    let lin = risky_shortcut().unwrap();
    let sol = horizon_optimal(lin.nominal(), 3);
    assert!(close(sol.values[0][0], 1.9, 1e-12));
    assert_eq!(sol.greedy[0][0], RISKY);
    assert_eq!((sol.greedy[1][0], sol.greedy[2][0]), (SAFE, SAFE));
    let nominal = horizon_evaluate(lin.nominal(), &shortcut_policy(SAFE));
    assert!(close(nominal[0][0], 1.5, 1e-12));
}

/// By hand with V3 = [0.5, 1]: V2(s1) = 2 − ρ/2, V2(s0) = 1 (safe), and at step 1
/// safe = 1.5, risky = (0.9 − ρ)(2 − ρ/2) + (0.1 + ρ) = 1.9 − 1.45ρ + 0.5ρ².
#[test]
fn risky_shortcut_robust_values_switch_between_rho_03_and_04() {
    let lin = risky_shortcut().unwrap();
    for (rho, risky, best) in [(0.3, 1.51_f64, RISKY), (0.4, 1.4, SAFE)] {
        let sol = robust_optimal(&lin, rho);
        assert_eq!(sol.greedy[0][0], best, "rho {rho}");
        assert!(
            close(sol.values[0][0], risky.max(1.5), 1e-12),
            "rho {rho}: {:?}",
            sol.values
        );
        assert!(close(sol.values[1][1], 2.0 - rho / 2.0, 1e-12));
        let ev = robust_evaluate(&lin, rho, &shortcut_policy(RISKY)).unwrap();
        assert!(close(ev.values[0][0], risky, 1e-12));
        let ev = robust_evaluate(&lin, rho, &shortcut_policy(SAFE)).unwrap();
        assert!(close(ev.values[0][0], 1.5, 1e-12));
    }
}

/// Evaluating the policy on the returned worst-case kernels, step by step, gives its robust
/// value back: the kernels are the perturbed test environment.
#[test]
fn worst_case_kernels_reproduce_the_robust_value() {
    let lin = risky_shortcut().unwrap();
    let pi = shortcut_policy(RISKY);
    let ev = robust_evaluate(&lin, 0.4, &pi).unwrap();
    assert_eq!(ev.worst[0].p(0, RISKY), &[0.5, 0.5]);
    assert!(close(ev.worst[0].p(1, SAFE)[0], 0.4, 1e-12));
    let mut v = vec![0.0; 2];
    for h in (0..3).rev() {
        v = (0..2)
            .map(|s| {
                (0..2)
                    .map(|a| pi[h][s][a] * (ev.worst[h].r(s, a) + ev.worst[h].expect(s, a, &v)))
                    .sum()
            })
            .collect();
    }
    assert!(close(v[0], ev.values[0][0], 1e-12));
}

#[test]
fn random_linear_mdp_robust_values_fall_with_rho_and_rho_zero_is_nominal() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let lin = LinearMdp::random(5, 3, 4, 4, &mut rng).unwrap();
    let uniform: Vec<Policy> = vec![vec![vec![1.0 / 3.0; 3]; 5]; 4];
    let nominal = horizon_evaluate(lin.nominal(), &uniform);
    let at = |rho| robust_evaluate(&lin, rho, &uniform).unwrap().values[0][0];
    assert!(close(at(0.0), nominal[0][0], 1e-12));
    assert!(at(0.1) < at(0.0) && at(0.3) < at(0.1));
    assert!(robust_optimal(&lin, 0.3).values[0][0] >= at(0.3));
    assert!(close(
        robust_optimal(&lin, 0.0).values[0][0],
        horizon_optimal(lin.nominal(), 4).values[0][0],
        1e-12
    ));
}

#[test]
fn linear_mdp_rejects_features_that_are_not_distributions() {
    let err = LinearMdp::new(
        1,
        1,
        vec![0.5, 0.4],
        vec![vec![1.0], vec![1.0]],
        vec![0.0],
        vec![1.0],
        2,
    );
    assert!(matches!(
        err,
        Err(TabularError::NotADistribution {
            what: "features",
            ..
        })
    ));
}
