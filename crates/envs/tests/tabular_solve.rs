//! Exact solvers against hand-computed values (loop.md's RiverSwim numbers, closed forms on
//! two-state chains) and the MDP constructor's checks.
use polopt_envs::tabular::riverswim::{riverswim, LEFT, RIGHT};
use polopt_envs::tabular::solve::{
    average_evaluate, average_optimal, discounted_optimal, hitting_times, horizon_evaluate,
    horizon_optimal, one_hot_policy,
};
use polopt_envs::tabular::{TabularError, TabularMdp};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn riverswim_gain_and_bias_match_loop_spec() {
    let mdp = riverswim(6).unwrap();
    let sol = average_optimal(&mdp, 1e-12);
    assert!(close(sol.gain, 0.428622, 1e-6), "J* = {}", sol.gain);
    let bias = [0.0, 0.714371, 2.041059, 3.455222, 4.881880, 6.310324];
    for (h, want) in sol.values.iter().zip(bias) {
        assert!(close(*h, want, 1e-5), "bias {:?}", sol.values);
    }
    assert_eq!(sol.greedy, vec![RIGHT; 6], "always-right is optimal");
    let always_left = one_hot_policy(&[LEFT; 6], 2);
    assert!(close(
        average_evaluate(&mdp, &always_left, 1e-13),
        0.005,
        1e-9
    ));
    let always_right = one_hot_policy(&[RIGHT; 6], 2);
    assert!(close(
        average_evaluate(&mdp, &always_right, 1e-13),
        sol.gain,
        1e-6
    ));
}

/// Two states, one action: 0 -> 1 -> 0 deterministically (period 2), reward 1 in state 1.
/// Gain 1/2, bias h(1) - h(0) = 1/2; plain relative VI would oscillate on this chain.
#[test]
fn average_reward_on_a_periodic_chain() {
    let mdp = TabularMdp::new(
        2,
        1,
        vec![0.0, 1.0, 1.0, 0.0],
        vec![0.0, 1.0],
        vec![1.0, 0.0],
    )
    .unwrap();
    let sol = average_optimal(&mdp, 1e-12);
    assert!(close(sol.gain, 0.5, 1e-9));
    assert!(close(sol.values[1], 0.5, 1e-9));
}

/// One state, two actions with rewards 1 and 0: V* = 1 / (1 - gamma).
#[test]
fn discounted_and_horizon_values_on_a_bandit() {
    let mdp = TabularMdp::new(1, 2, vec![1.0, 1.0], vec![1.0, 0.0], vec![1.0]).unwrap();
    let sol = discounted_optimal(&mdp, 0.9, 1e-12);
    assert!(close(sol.values[0], 10.0, 1e-9));
    assert_eq!(sol.greedy, vec![0]);
    let h = horizon_optimal(&mdp, 3);
    assert_eq!(h.values[0], vec![3.0]);
    assert_eq!(h.values[3], vec![0.0]);
    let uniform = vec![vec![vec![0.5, 0.5]]; 3];
    assert_eq!(horizon_evaluate(&mdp, &uniform)[0], vec![1.5]);
}

/// gosprl.md's 3-state chain with the true kernel (right moves w.p. 0.5): hitting times of
/// state 2 are [4, 2, 0].
#[test]
fn hitting_times_on_the_ssp_chain() {
    let n = 3;
    let mut kernel = vec![0.0; n * 2 * n];
    for s in 0..n {
        kernel[(s * 2) * n + s] = 1.0; // stay
        let right = (s + 1).min(n - 1);
        kernel[(s * 2 + 1) * n + s] += 0.5;
        kernel[(s * 2 + 1) * n + right] += 0.5;
    }
    let mdp = TabularMdp::new(n, 2, kernel, vec![0.0; 6], vec![1.0, 0.0, 0.0]).unwrap();
    let v = hitting_times(&mdp, &[2], 1e-12);
    assert!(
        close(v[0], 4.0, 1e-8) && close(v[1], 2.0, 1e-8) && v[2] == 0.0,
        "{v:?}"
    );
    // A goal no state can reach is infinitely far.
    let stuck = mdp.with_kernel(one_hot_kernel(n)).unwrap();
    assert!(hitting_times(&stuck, &[2], 1e-9)[0].is_infinite());
}

fn one_hot_kernel(n: usize) -> Vec<f64> {
    let mut k = vec![0.0; n * 2 * n];
    for s in 0..n {
        for a in 0..2 {
            k[(s * 2 + a) * n + s] = 1.0;
        }
    }
    k
}

#[test]
fn bad_kernels_are_errors_that_name_the_row() {
    let err = TabularMdp::new(1, 2, vec![1.0, 0.9], vec![0.0, 0.0], vec![1.0]).unwrap_err();
    assert!(matches!(&err, TabularError::NotADistribution { row, .. } if row == "(s=0, a=1)"));
    assert!(err.to_string().contains("sums to 0.9"));
    let err = TabularMdp::new(1, 1, vec![1.0], vec![f64::NAN], vec![1.0]).unwrap_err();
    assert!(err.to_string().contains("reward"));
    assert!(matches!(
        TabularMdp::new(2, 1, vec![1.0], vec![0.0; 2], vec![1.0, 0.0]),
        Err(TabularError::Shape { what: "kernel", .. })
    ));
}
