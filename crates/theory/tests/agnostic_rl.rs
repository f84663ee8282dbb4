//! TrajectoryTree and spanning capacity (agnostic-rl.md): the deterministic 2-layer example,
//! capacities by brute force, the Hoeffding tree count, and the binary-tree small check.
use polopt_envs::tabular::layered::{binary_tree, two_layer_example};
use polopt_theory::policy_class::PolicyClass;
use polopt_theory::spanning_capacity::spanning_capacity;
use polopt_theory::trajectory_tree::{erm, grow_tree, hoeffding_trees, monte_carlo_round, LEAVES};
use polopt_theory::{rng, solver, RunSpec, Settings, TheoryRun};

fn run(preset: &str, seed: u64, steps: u64, settings: &str) -> TheoryRun {
    let spec = RunSpec {
        seed,
        steps,
        env: "binary-tree".into(),
    };
    let mut settings = Settings::new(settings.parse().unwrap());
    (solver(preset).unwrap().run)(&spec, &mut settings, &mut |_, _| {}).unwrap()
}

/// Π = {always-0, always-1, switch (1 then 0)}: values 0, 0, 1 and a tree of 5 queries
/// (2 at the root, 1 under action 0, 2 under action 1).
#[test]
fn two_layer_example_tree_has_five_queries_and_exact_values() {
    let mdp = two_layer_example().unwrap();
    let mut class = PolicyClass::constant_actions(mdp.layers(), 2);
    let switch = PolicyClass::open_loop(mdp.layers(), &[vec![1, 0]]);
    class.names.extend(switch.names);
    class.tables.extend(switch.tables);
    assert_eq!(class.values(&mdp), vec![0.0, 0.0, 1.0]);
    let round = grow_tree(&mdp, &class, &mut rng(0, "t"));
    assert_eq!(round.queries, 5);
    assert_eq!(round.values, vec![0.0, 0.0, 1.0]);
    assert_eq!(erm(&round.values), 2);
    assert_eq!(monte_carlo_round(&mdp, &class, &mut rng(0, "t")).queries, 6);
}

#[test]
fn spanning_capacities_by_brute_force() {
    let constant = PolicyClass::constant_actions(&[1, 2, 2], 3);
    assert_eq!(
        spanning_capacity(&[1, 2, 2], 3, &constant, 1 << 20).unwrap(),
        3
    );
    let tree = [1, 2, 4];
    let all = PolicyClass::all_policies(&tree, 2, 1 << 10).unwrap();
    assert_eq!(all.len(), 128);
    assert_eq!(spanning_capacity(&tree, 2, &all, 1 << 20).unwrap(), 8);
    let four = PolicyClass::spec_four(&tree).unwrap();
    assert_eq!(spanning_capacity(&tree, 2, &four, 1 << 20).unwrap(), 4);
    assert!(spanning_capacity(&[2, 4, 4, 4], 3, &constant, 1000).is_err());
}

#[test]
fn hoeffding_tree_count_matches_the_spec() {
    assert_eq!(hoeffding_trees(4, 0.1, 0.05), 1016);
}

/// The four policies on the binary tree: 10 queries per tree (2 + 2·2 + 4) against 12 for one
/// rollout of each (only the root is shared), and tree samples are unbiased.
#[test]
fn binary_tree_spec_class_costs_ten_queries_per_tree() {
    let mdp = binary_tree(&LEAVES).unwrap();
    let class = PolicyClass::spec_four(mdp.layers()).unwrap();
    assert_eq!(class.values(&mdp), vec![0.1, 0.7, 0.9, 0.5]);
    let mut r = rng(3, "t");
    let mut sums = [0.0; 4];
    for _ in 0..4000 {
        let round = grow_tree(&mdp, &class, &mut r);
        assert_eq!(round.queries, 10);
        for (s, v) in sums.iter_mut().zip(&round.values) {
            *s += v;
        }
    }
    for (s, v) in sums.iter().zip([0.1, 0.7, 0.9, 0.5]) {
        assert!((s / 4000.0 - v).abs() < 0.03, "{sums:?}");
    }
    assert_eq!(monte_carlo_round(&mdp, &class, &mut r).queries, 12);
    let all = PolicyClass::all_policies(mdp.layers(), 2, 1 << 10).unwrap();
    assert_eq!(grow_tree(&mdp, &all, &mut r).queries, 14);
}

/// The small CPU check: with the spec's 1016 trees the output is "011" (the only ε-optimal
/// policy) on every one of 20 seeds, and the tree learner spends 10 queries per tree.
#[test]
fn trajectory_tree_returns_the_eps_optimal_policy() {
    for seed in 0..20 {
        let f = run("trajectory-tree-binary", seed, 1016, "").final_metrics;
        assert_eq!(f["eps_optimal"], 1.0, "seed {seed}: {f:?}");
        assert_eq!(f["queries"], 10.0 * 1016.0);
        assert_eq!(
            (f["spanning_capacity"], f["class_size"], f["n_hoeffding"]),
            (4.0, 4.0, 1016.0)
        );
        assert!(f["queries_to_eps_optimal"] <= f["queries"] && f["censored"] == 0.0);
    }
    let mc = run("mc-eval-binary", 0, 1016, "").final_metrics;
    assert_eq!(mc["queries"], 12.0 * 1016.0);
}

#[test]
fn runs_are_deterministic_from_the_seed_and_check_settings() {
    for preset in ["trajectory-tree-binary", "mc-eval-binary"] {
        let a = run(preset, 1, 50, "class = \"all\"");
        assert_eq!(a, run(preset, 1, 50, "class = \"all\""));
        assert_ne!(a, run(preset, 2, 50, "class = \"all\""));
    }
    let spec = RunSpec {
        seed: 0,
        steps: 5,
        env: "binary-tree".into(),
    };
    for text in [
        "class = \"some\"",
        "leaves = [0.1, 0.2, 0.3]",
        "epsilon = 2.0",
        "eps = 0.1",
    ] {
        let mut settings = Settings::new(text.parse().unwrap());
        let err =
            (solver("trajectory-tree-binary").unwrap().run)(&spec, &mut settings, &mut |_, _| {});
        assert!(err.is_err(), "{text}");
    }
}
