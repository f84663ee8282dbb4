//! SubPO against subpo.md: marginal-gain rewards telescope to F(τ) − F({s_0}), the REINFORCE
//! gradient with the per-time-index baseline by hand, the entropy gradient by finite
//! differences, the spec's small CPU check in miniature, and determinism.
use polopt_envs::tabular::coverage::CoverageGrid;
use polopt_theory::pg::softmax_linear::SoftmaxLinear;
use polopt_theory::subpo::{batch_gradient, CoverageTask, Episode, Reward};
use polopt_theory::{rng, solver, RunSpec, Settings, TheoryError, TheoryRun};

fn run(name: &str, env: &str, seed: u64, episodes: u64) -> TheoryRun {
    let spec = RunSpec {
        seed,
        steps: episodes,
        env: env.into(),
    };
    (solver(name).unwrap().run)(&spec, &mut Settings::default(), &mut |_, _| {}).unwrap()
}

#[test]
fn marginal_gains_sum_to_coverage_minus_start() {
    for visited_features in [false, true] {
        let task = CoverageTask {
            grid: CoverageGrid::spec(1),
            visited_features,
        };
        let theta = vec![0.0; task.policy().n_params()];
        let mut r = rng(0, "test");
        for _ in 0..50 {
            let ep = task.episode(&theta, Reward::MarginalGain, &mut r, false);
            let start = task.grid.sensed(task.grid.start()).len();
            assert_eq!(ep.rewards.iter().sum::<f64>() as usize + start, ep.coverage);
            assert_eq!(ep.actions.len(), 10);
            // Modular rewards are the per-cell sizes |N_1(s)| of the same kind of walk.
            let m = task.episode(&theta, Reward::Modular, &mut r, false);
            assert!(m.rewards.iter().all(|x| (3.0..=5.0).contains(x)));
        }
    }
}

#[test]
fn gradient_uses_the_per_time_batch_mean_baseline() {
    // Two one-step episodes at θ = 0 (uniform π = 1/5), one-hot inputs x_1, x_2 and returns 4, 0:
    // b = 2, so ∇ = ½ [(4 − 2)(e_{a1} − π) ⊗ x_1 + (0 − 2)(e_{a2} − π) ⊗ x_2].
    let policy = SoftmaxLinear { actions: 5, dim: 3 };
    let theta = vec![0.0; 15];
    let ep = |x: usize, a: usize, r: f64| {
        let mut features = vec![0.0; 3];
        features[x] = 1.0;
        Episode {
            features,
            actions: vec![a],
            rewards: vec![r],
            coverage: 0,
        }
    };
    let grad = batch_gradient(&policy, &theta, &[ep(0, 1, 4.0), ep(2, 3, 0.0)], 0.0);
    let mut want = vec![0.0; 15];
    for b in 0..5 {
        want[b * 3] = 0.5 * 2.0 * (f64::from(u8::from(b == 1)) - 0.2);
        want[b * 3 + 2] = 0.5 * -2.0 * (f64::from(u8::from(b == 3)) - 0.2);
    }
    for (g, w) in grad.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12, "{grad:?} vs {want:?}");
    }
    // Adding the same reward at one time index to every episode changes nothing.
    let shifted = [ep(0, 1, 9.0), ep(2, 3, 5.0)];
    assert_eq!(batch_gradient(&policy, &theta, &shifted, 0.0), grad);
}

#[test]
fn entropy_gradient_matches_finite_differences() {
    let policy = SoftmaxLinear { actions: 5, dim: 4 };
    let theta: Vec<f64> = (0..20).map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.2).collect();
    let phi = [1.0, 0.0, 0.5, -1.0];
    let entropy = |th: &[f64]| {
        let mut p = vec![0.0; 5];
        policy.probs(th, &phi, &mut p);
        -p.iter().map(|x| x * x.ln()).sum::<f64>()
    };
    let mut probs = vec![0.0; 5];
    policy.probs(&theta, &phi, &mut probs);
    let mut grad = vec![0.0; 20];
    policy.add_entropy_gradient(&probs, &phi, 1.0, &mut grad);
    let eps = 1e-6;
    for i in 0..20 {
        let (mut up, mut down) = (theta.clone(), theta.clone());
        up[i] += eps;
        down[i] -= eps;
        let fd = (entropy(&up) - entropy(&down)) / (2.0 * eps);
        assert!(
            (fd - grad[i]).abs() < 1e-7,
            "param {i}: {fd} vs {}",
            grad[i]
        );
    }
}

/// subpo.md's small CPU check in miniature: 3000 episodes, one seed.
#[test]
fn subpo_covers_far_more_than_modular_rl() {
    let sub = run("subpo-coverage", "coverage", 0, 3000);
    let modular = run("modular-rl-coverage", "coverage", 0, 3000);
    assert_eq!(sub.final_metrics["optimal_coverage"], 23.0);
    assert!(
        sub.final_metrics["coverage"] >= 20.0,
        "SubPO F = {}",
        sub.final_metrics["coverage"]
    );
    assert!(
        modular.final_metrics["coverage"] <= 10.0,
        "modular F = {}",
        modular.final_metrics["coverage"]
    );
    // Radius 0: 11 distinct cells is the most H = 10 steps can reach.
    let distinct = run("subpo-coverage", "coverage-r0", 0, 3000);
    assert_eq!(distinct.final_metrics["optimal_coverage"], 11.0);
    assert!(distinct.final_metrics["coverage"] >= 10.0);
}

#[test]
fn presets_are_deterministic_from_the_seed() {
    for name in ["subpo-coverage", "modular-rl-coverage"] {
        let a = run(name, "coverage", 3, 200);
        assert_eq!(a, run(name, "coverage", 3, 200), "{name}");
        assert_ne!(a, run(name, "coverage", 4, 200), "{name}: seeds differ");
    }
}

#[test]
fn settings_are_checked() {
    let spec = RunSpec {
        seed: 0,
        steps: 10,
        env: "coverage".into(),
    };
    let err =
        (solver("subpo-coverage").unwrap().run)(&spec, &mut Settings::default(), &mut |_, _| {});
    assert!(matches!(err, Err(TheoryError::Setting { ref key, .. }) if key == "steps"));
    let spec = RunSpec {
        seed: 0,
        steps: 100,
        env: "cartpole".into(),
    };
    let err =
        (solver("subpo-coverage").unwrap().run)(&spec, &mut Settings::default(), &mut |_, _| {});
    assert!(matches!(err, Err(TheoryError::Setting { ref key, .. }) if key == "env"));
}
