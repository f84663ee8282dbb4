//! Layered MDPs of agnostic-rl.md: exact policy values on the binary tree and the 2-layer
//! example, and the generative model's draws.
use polopt_envs::tabular::layered::{binary_tree, two_layer_example, LayeredPolicy};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const LEAVES: [f64; 8] = [0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.6, 0.7];

fn open_loop(actions: [usize; 3]) -> LayeredPolicy {
    (0..3).map(|h| vec![actions[h]; 1 << h]).collect()
}

#[test]
fn binary_tree_values_of_the_spec_policies() {
    let mdp = binary_tree(&LEAVES).unwrap();
    assert_eq!(mdp.layers(), &[1, 2, 4]);
    for (actions, want) in [
        ([0, 0, 0], 0.1),
        ([1, 1, 1], 0.7),
        ([0, 1, 1], 0.9),
        ([1, 0, 1], 0.5),
    ] {
        let v = mdp.value(&open_loop(actions));
        assert!((v - want).abs() < 1e-12, "{actions:?}: {v}");
    }
}

#[test]
fn two_layer_example_values() {
    let mdp = two_layer_example().unwrap();
    let always = |a| vec![vec![a], vec![a, a]];
    assert_eq!(mdp.value(&always(0)), 0.0);
    assert_eq!(mdp.value(&always(1)), 0.0);
    assert_eq!(mdp.value(&vec![vec![1], vec![0, 0]]), 1.0);
}

#[test]
fn binary_tree_queries_follow_the_history_and_draw_bernoulli_rewards() {
    let mdp = binary_tree(&LEAVES).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert_eq!(mdp.query(0, 0, 1, &mut rng), (0.0, Some(1)));
    assert_eq!(mdp.query(1, 1, 0, &mut rng).1, Some(2));
    let n = 20_000;
    let mean: f64 = (0..n).map(|_| mdp.query(2, 1, 1, &mut rng).0).sum::<f64>() / n as f64;
    assert!((mean - 0.9).abs() < 0.01, "{mean}");
    assert_eq!(mdp.query(2, 1, 1, &mut rng).1, None);
}

#[test]
fn binary_tree_needs_a_power_of_two_leaves() {
    assert!(binary_tree(&[0.1, 0.2, 0.3]).is_err());
    assert!(binary_tree(&[0.1, 1.2]).is_err());
}
