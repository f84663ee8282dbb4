//! N-PG-IGT and (N)-HARPG against npg-igt-harpg.md's test vectors (two-armed bandit,
//! r = [1, 0]), finite-difference checks of the closed-form score and surrogate Hessian-vector
//! product on CartPole states, exact unbiasedness on the bandit, and the presets' determinism.
use polopt_theory::pg::estimators::{
    gpomdp, hessian_estimate_vector, score_sum, surrogate, surrogate_hessian_vector, Trajectory,
};
use polopt_theory::pg::harpg::harpg_direction;
use polopt_theory::pg::npg_igt::{igt_point, momentum};
use polopt_theory::pg::softmax_linear::SoftmaxLinear;
use polopt_theory::pg::tasks::{bandit_gradient, bandit_hessian_vector, bandit_value, Task};
use polopt_theory::pg::{momentum_weight, normalized_step, step_length};
use polopt_theory::{rng, solver, RunSpec, Settings, TheoryError};
use rand::RngExt;

const BANDIT: SoftmaxLinear = SoftmaxLinear { actions: 2, dim: 1 };

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

/// The bandit trajectory that pulled arm `a` (reward 1 for arm 0, 0 for arm 1).
fn pull(a: usize) -> Trajectory {
    Trajectory {
        features: vec![1.0],
        actions: vec![a],
        rewards: vec![if a == 0 { 1.0 } else { 0.0 }],
    }
}

#[test]
fn igt_step_matches_spec_vector() {
    let (theta, theta_prev, eta) = ([0.2, 0.0], [0.0, 0.0], 0.5);
    let point = igt_point(&theta, &theta_prev, eta);
    assert_close(&point, &[0.4, 0.0], 1e-12);
    assert_close(&bandit_gradient(&point), &[0.240261, -0.240261], 1e-6);
    let g = gpomdp(&BANDIT, &point, &pull(0), 0.99);
    assert_close(&g, &[0.401312, -0.401312], 1e-6);
    let d = momentum(&[0.1, -0.1], &g, eta);
    assert_close(&d, &[0.250656, -0.250656], 1e-6);
    let next = normalized_step(&theta, &d, 0.1);
    assert_close(&next, &[0.270711, -0.070711], 1e-6);
}

#[test]
fn harpg_correction_matches_spec_vector() {
    let (theta, theta_prev) = ([0.2, 0.0], [0.0, 0.0]);
    let q = 0.5;
    let point: Vec<f64> = theta
        .iter()
        .zip(&theta_prev)
        .map(|(x, p)| q * x + (1.0 - q) * p)
        .collect();
    assert_close(&point, &[0.1, 0.0], 1e-12);
    // B's columns are B e_0 and B e_1.
    let traj = pull(0);
    let col0 = hessian_estimate_vector(&BANDIT, &point, &traj, 0.99, &[1.0, 0.0]);
    let col1 = hessian_estimate_vector(&BANDIT, &point, &traj, 0.99, &[0.0, 1.0]);
    assert_close(
        &[col0[0], col1[0], col0[1], col1[1]],
        &[-0.023731, 0.023731, 0.023731, -0.023731],
        1e-6,
    );
    let delta = [0.2, 0.0];
    let v = hessian_estimate_vector(&BANDIT, &point, &traj, 0.99, &delta);
    assert_close(&v, &[-0.004746, 0.004746], 1e-6);
    let exact = bandit_hessian_vector(&point, &delta);
    assert_close(&exact, &[-0.002492, 0.002492], 1e-6);
    // Arm 1 earns nothing, so B(arm 1) = 0 and E[B v] = π(0) v.
    let pi0 = bandit_value(&point);
    assert_close(&exact, &[pi0 * v[0], pi0 * v[1]], 1e-12);
}

#[test]
fn harpg_direction_is_storm_recursion() {
    let d = harpg_direction(&[1.0, -2.0], &[0.5, 0.5], &[4.0, 0.0], 0.25);
    // (1 − 0.25)(d + v) + 0.25 g
    assert_close(&d, &[0.75 * 1.5 + 1.0, 0.75 * -1.5], 1e-12);
}

#[test]
fn schedules_follow_spec() {
    assert_eq!(momentum_weight(0, 0.8), 1.0);
    assert!((momentum_weight(2, 0.8) - 0.5f64.powf(0.8)).abs() < 1e-15);
    assert!((momentum_weight(8, 1.0) - 0.2).abs() < 1e-15);
    assert!((step_length(0, 0.3) - 0.3).abs() < 1e-15);
    assert!((step_length(98, 0.5) - 0.01).abs() < 1e-15);
    // A zero direction takes no step instead of dividing by zero.
    assert_eq!(
        normalized_step(&[1.0, 2.0], &[0.0, 0.0], 0.1),
        vec![1.0, 2.0]
    );
}

/// E_a[g] = ∇J and E_a[B v] = ∇²J v by exact enumeration of the two arms.
#[test]
fn bandit_estimators_are_unbiased() {
    let theta = [0.7, -0.4];
    let v = [0.3, 1.1];
    let pi0 = bandit_value(&theta);
    let mut mean_g = [0.0; 2];
    let mut mean_bv = [0.0; 2];
    for (a, p) in [(0, pi0), (1, 1.0 - pi0)] {
        let g = gpomdp(&BANDIT, &theta, &pull(a), 0.99);
        let bv = hessian_estimate_vector(&BANDIT, &theta, &pull(a), 0.99, &v);
        for i in 0..2 {
            mean_g[i] += p * g[i];
            mean_bv[i] += p * bv[i];
        }
    }
    assert_close(&mean_g, &bandit_gradient(&theta), 1e-12);
    assert_close(&mean_bv, &bandit_hessian_vector(&theta, &v), 1e-12);
}

/// A CartPole trajectory under a random θ, and a random θ and direction to differentiate at.
fn cartpole_case(seed: u64) -> (SoftmaxLinear, Vec<f64>, Trajectory, Vec<f64>) {
    let mut task = Task::new("cartpole", 50).unwrap();
    let policy = task.policy();
    let mut r = rng(seed, "fd");
    let theta: Vec<f64> = (0..policy.n_params())
        .map(|_| r.random_range(-1.0..1.0))
        .collect();
    let traj = task.sample(&theta, &mut rng(seed, "policy"), &mut rng(seed, "env"));
    assert!(traj.len() >= 5, "a trajectory worth differentiating along");
    let v: Vec<f64> = (0..policy.n_params())
        .map(|_| r.random_range(-1.0..1.0))
        .collect();
    (policy, theta, traj, v)
}

fn shifted(theta: &[f64], v: &[f64], eps: f64) -> Vec<f64> {
    theta.iter().zip(v).map(|(x, y)| x + eps * y).collect()
}

#[test]
fn closed_form_score_matches_finite_differences_on_cartpole() {
    let (policy, theta, traj, _) = cartpole_case(3);
    let eps = 1e-6;
    for h in [0, traj.len() / 2, traj.len() - 1] {
        let phi = &traj.features[h * policy.dim..][..policy.dim];
        let a = traj.actions[h];
        let mut probs = vec![0.0; 2];
        policy.probs(&theta, phi, &mut probs);
        let mut score = vec![0.0; policy.n_params()];
        policy.add_score(&probs, phi, a, 1.0, &mut score);
        for i in 0..policy.n_params() {
            let mut e = vec![0.0; policy.n_params()];
            e[i] = 1.0;
            let fd = (policy.log_prob(&shifted(&theta, &e, eps), phi, a)
                - policy.log_prob(&shifted(&theta, &e, -eps), phi, a))
                / (2.0 * eps);
            assert!(
                (fd - score[i]).abs() < 1e-6,
                "step {h} param {i}: {fd} vs {}",
                score[i]
            );
        }
    }
}

#[test]
fn gpomdp_is_the_surrogate_gradient_by_finite_differences() {
    let (policy, theta, traj, v) = cartpole_case(5);
    let gamma = 0.99;
    let eps = 1e-6;
    let g = gpomdp(&policy, &theta, &traj, gamma);
    let directional = g.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>();
    let fd = (surrogate(&policy, &shifted(&theta, &v, eps), &traj, gamma)
        - surrogate(&policy, &shifted(&theta, &v, -eps), &traj, gamma))
        / (2.0 * eps);
    assert!(
        (fd - directional).abs() < 1e-5 * (1.0 + fd.abs()),
        "{fd} vs {directional}"
    );
    // GPOMDP as the spec writes it, with prefix sums of scores times γ^h r_h.
    let mut by_prefix = vec![0.0; policy.n_params()];
    for h in 0..traj.len() {
        let prefix = Trajectory {
            features: traj.features[..(h + 1) * policy.dim].to_vec(),
            actions: traj.actions[..=h].to_vec(),
            rewards: vec![0.0; h + 1],
        };
        let psi = score_sum(&policy, &theta, &prefix);
        for (b, p) in by_prefix.iter_mut().zip(psi) {
            *b += p * gamma.powi(h as i32) * traj.rewards[h];
        }
    }
    assert_close(&g, &by_prefix, 1e-9);
}

#[test]
fn surrogate_hessian_vector_matches_finite_differences_on_cartpole() {
    let (policy, theta, traj, v) = cartpole_case(7);
    let gamma = 0.99;
    let eps = 1e-5;
    let hv = surrogate_hessian_vector(&policy, &theta, &traj, gamma, &v);
    let plus = gpomdp(&policy, &shifted(&theta, &v, eps), &traj, gamma);
    let minus = gpomdp(&policy, &shifted(&theta, &v, -eps), &traj, gamma);
    let fd: Vec<f64> = plus
        .iter()
        .zip(&minus)
        .map(|(p, m)| (p - m) / (2.0 * eps))
        .collect();
    let scale = fd.iter().map(|x| x.abs()).fold(1.0, f64::max);
    assert_close(&hv, &fd, 1e-6 * scale);
    assert!(
        hv.iter().any(|x| x.abs() > 1e-3),
        "a non-trivial curvature to compare"
    );
    // B v adds ∇Φ (ψᵀv) to it.
    let bv = hessian_estimate_vector(&policy, &theta, &traj, gamma, &v);
    let g = gpomdp(&policy, &theta, &traj, gamma);
    let psi_v: f64 = score_sum(&policy, &theta, &traj)
        .iter()
        .zip(&v)
        .map(|(a, b)| a * b)
        .sum();
    let want: Vec<f64> = hv.iter().zip(&g).map(|(h, g)| h + g * psi_v).collect();
    assert_close(&bv, &want, 1e-9);
}

const PRESETS: [&str; 5] = [
    "npg-igt-cartpole",
    "nharpg-cartpole",
    "harpg-cartpole",
    "vpg-cartpole",
    "npg-momentum-cartpole",
];

fn run(name: &str, env: &str, seed: u64, steps: u64) -> polopt_theory::TheoryRun {
    let spec = RunSpec {
        seed,
        steps,
        env: env.into(),
    };
    (solver(name).unwrap().run)(&spec, &mut Settings::default(), &mut |_, _| {}).unwrap()
}

#[test]
fn presets_are_deterministic_from_the_seed() {
    for name in PRESETS {
        for env in ["cartpole", "bandit"] {
            let a = run(name, env, 1, 20);
            assert_eq!(a, run(name, env, 1, 20), "{name} on {env}");
            assert_ne!(a, run(name, env, 2, 20), "{name} on {env}: seeds differ");
            assert!(a.final_metrics.contains_key("return"));
        }
    }
}

#[test]
fn harpg_spends_two_batches_per_iteration() {
    let r = run("nharpg-cartpole", "cartpole", 0, 10);
    // Iteration 0 samples only g's batch (d_0 = g); each later one adds τ̂'s batch.
    assert_eq!(r.final_metrics["trajectories"], 10.0 + 9.0 * 20.0);
    assert_eq!(
        run("vpg-cartpole", "cartpole", 0, 10).final_metrics["trajectories"],
        100.0
    );
}

#[test]
fn normalized_methods_close_the_bandit_gap() {
    for name in [
        "npg-igt-cartpole",
        "nharpg-cartpole",
        "npg-momentum-cartpole",
    ] {
        let r = run(name, "bandit", 0, 200);
        assert!(
            r.final_metrics["gap"] < 0.05,
            "{name}: gap {}",
            r.final_metrics["gap"]
        );
    }
}

#[test]
fn settings_are_checked() {
    let spec = RunSpec {
        seed: 0,
        steps: 5,
        env: "bandit".into(),
    };
    let mut bad_horizon = Settings::new(toml::toml! { horizon = 5 });
    let err = (solver("vpg-cartpole").unwrap().run)(&spec, &mut bad_horizon, &mut |_, _| {});
    assert!(matches!(err, Err(TheoryError::Setting { ref key, .. }) if key == "settings.horizon"));
    // `lr` belongs to vpg and HARPG, not to N-PG-IGT.
    let mut foreign = Settings::new(toml::toml! { lr = 0.1 });
    let err = (solver("npg-igt-cartpole").unwrap().run)(&spec, &mut foreign, &mut |_, _| {});
    assert!(matches!(err, Err(TheoryError::Setting { ref key, .. }) if key == "settings.lr"));
}
