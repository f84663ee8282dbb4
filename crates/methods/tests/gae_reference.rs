//! GAE from the credit registry against an independent reference: the direct sum
//! `A_t = sum_k (gamma lambda)^k delta_{t+k}` over each episode segment (no recursion), on a
//! rollout of several environments with terminations, time-limit truncations (bootstrapped
//! with the value of the final observation) and segments cut by the rollout's end.
// Index loops on purpose: the reference mirrors a numpy-style loop, not idiomatic Rust.
#![allow(clippy::needless_range_loop)]

use polopt_methods::credit::{estimator, gae, Advantages, CreditBatch, Trajectories};
use polopt_methods::CreditConfig;

/// numpy-style reference over one environment's column: split into segments at done flags,
/// then sum discounted TD errors forward inside each segment.
fn reference_column(
    r: &[f64],
    v: &[f64],
    next_v: &[f64],
    term: &[bool],
    trunc: &[bool],
    gamma: f64,
    lambda: f64,
) -> Vec<f64> {
    let t_len = r.len();
    let delta: Vec<f64> = (0..t_len)
        .map(|t| {
            let bootstrap = if term[t] { 0.0 } else { gamma * next_v[t] };
            r[t] + bootstrap - v[t]
        })
        .collect();
    let mut out = vec![0.0; t_len];
    for t in 0..t_len {
        let mut weight = 1.0;
        let mut sum = 0.0;
        for k in t..t_len {
            sum += weight * delta[k];
            if term[k] || trunc[k] {
                break;
            }
            weight *= gamma * lambda;
        }
        out[t] = sum;
    }
    out
}

/// A small deterministic pseudo-random stream (LCG), so the test needs no RNG crate.
fn lcg(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn registry_gae_matches_the_direct_sum_reference_with_truncation_bootstrap() {
    let (t_len, n) = (37, 3);
    let mut s = 7u64;
    let len = t_len * n;
    let rewards: Vec<f64> = (0..len).map(|_| lcg(&mut s) * 2.0 - 0.5).collect();
    let values: Vec<f64> = (0..len).map(|_| lcg(&mut s) * 3.0).collect();
    let mut terminated = vec![false; len];
    let mut truncated = vec![false; len];
    for k in 0..len {
        let u = lcg(&mut s);
        terminated[k] = u < 0.08;
        truncated[k] = (0.08..0.14).contains(&u) || u > 0.985; // some both-true cases below
    }
    terminated[5 * n + 1] = true;
    truncated[5 * n + 1] = true;
    // Next values: the next row's value while the episode continues; a distinct V(final_obs)
    // where it ended (it must be used for truncation and ignored for termination).
    let mut next_values = vec![0.0; len];
    for k in 0..len {
        let ended = terminated[k] || truncated[k];
        next_values[k] = if ended || k + n >= len {
            10.0 + lcg(&mut s)
        } else {
            values[k + n]
        };
    }
    let (gamma, lambda) = (0.97, 0.9);
    let traj = Trajectories {
        values: &values,
        next_values: &next_values,
        terminated: &terminated,
        truncated: &truncated,
        num_envs: n,
    };
    let config = CreditConfig {
        estimator: "gae".into(),
        gamma,
        gae_lambda: lambda,
        ..Default::default()
    };
    let groups: Vec<usize> = (0..len).map(|k| k % n).collect();
    let ones = vec![1usize; len];
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &groups,
        response_lens: &ones,
        token_kl: None,
        trajectories: Some(&traj),
        episodes: None,
    };
    let Advantages::Sequence(adv) = estimator(&config).unwrap().estimate(&batch).unwrap() else {
        panic!("gae gives one advantage per step");
    };
    let (_, returns) = gae(&rewards, &traj, gamma, lambda);
    for env in 0..n {
        let col = |x: &[f64]| (0..t_len).map(|t| x[t * n + env]).collect::<Vec<f64>>();
        let colb = |x: &[bool]| (0..t_len).map(|t| x[t * n + env]).collect::<Vec<bool>>();
        let want = reference_column(
            &col(&rewards),
            &col(&values),
            &col(&next_values),
            &colb(&terminated),
            &colb(&truncated),
            gamma,
            lambda,
        );
        for t in 0..t_len {
            let k = t * n + env;
            assert!((adv[k] - want[t]).abs() < 1e-9, "env {env} t {t}");
            assert!((returns[k] - (want[t] + values[k])).abs() < 1e-9);
        }
    }
    assert!(truncated
        .iter()
        .zip(&terminated)
        .any(|(&tr, &te)| tr && !te));
}

#[test]
fn lambda_one_gives_the_discounted_return_minus_the_value() {
    // reinforce-ac-baseline.md: r = [1, 1, 1], gamma 0.99 -> G = [2.9701, 1.99, 1.0]; with the
    // baseline b = [2.5, 1.5, 0.5] the weights are [0.4701, 0.49, 0.5].
    let traj = Trajectories {
        values: &[2.5, 1.5, 0.5],
        next_values: &[1.5, 0.5, 0.0],
        terminated: &[false, false, true],
        truncated: &[false; 3],
        num_envs: 1,
    };
    let (adv, _) = gae(&[1.0; 3], &traj, 0.99, 1.0);
    let (_, ret) = gae(
        &[1.0; 3],
        &Trajectories {
            values: &[0.0; 3],
            next_values: &[0.0; 3],
            ..traj
        },
        0.99,
        1.0,
    );
    for (got, want) in ret.iter().zip([2.9701, 1.99, 1.0]) {
        assert!((got - want).abs() < 1e-12);
    }
    for (got, want) in adv.iter().zip([0.4701, 0.49, 0.5]) {
        assert!((got - want).abs() < 1e-12);
    }
}

#[test]
fn one_step_target_matches_the_a2c_vector() {
    // r = 1, gamma 0.99, V(s') = 2, d = 0, V(s) = 2.5 -> R = 2.98, A = 0.48.
    let traj = Trajectories {
        values: &[2.5],
        next_values: &[2.0],
        terminated: &[false],
        truncated: &[false],
        num_envs: 1,
    };
    let (adv, ret) = gae(&[1.0], &traj, 0.99, 1.0);
    assert!((ret[0] - 2.98).abs() < 1e-12 && (adv[0] - 0.48).abs() < 1e-12);
}

#[test]
fn mismatched_lengths_name_the_estimator() {
    let traj = Trajectories {
        values: &[0.0, 0.0],
        next_values: &[0.0],
        terminated: &[false, false],
        truncated: &[false, false],
        num_envs: 1,
    };
    let config = CreditConfig {
        estimator: "gae".into(),
        ..Default::default()
    };
    let batch = CreditBatch {
        rewards: &[1.0, 1.0],
        group_ids: &[0, 0],
        response_lens: &[1, 1],
        token_kl: None,
        trajectories: Some(&traj),
        episodes: None,
    };
    let err = estimator(&config).unwrap().estimate(&batch).unwrap_err();
    assert!(err.to_string().contains("gae"), "{err}");
}
