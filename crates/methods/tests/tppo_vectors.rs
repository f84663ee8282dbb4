//! T-PPO's EGAE (tppo-egae.md, "CPU-scale check"), reconstructed.
use polopt_methods::credit::{
    egae, estimator, Advantages, CreditBatch, EgaeBootstrap, Trajectories, WindowEnd,
};
use polopt_methods::CreditConfig;

const V: [f64; 4] = [0.5, 0.6, 0.4, 0.7];

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < tol, "{got:?} vs {want:?}");
    }
}

#[test]
fn truncated_window_bootstraps_with_the_last_value() {
    let a = egae(
        &V,
        WindowEnd::Truncated { prefix_value: 9.0 },
        EgaeBootstrap::LastValue,
        1.0,
        0.95,
    );
    close(&a, &[0.1807, 0.0850, 0.3000, 0.0000], 1e-4);
    assert_eq!(a[3], 0.0, "the last token of a truncated window has A = 0");
}

#[test]
fn finished_response_is_gae_with_terminal_reward() {
    let a = egae(
        &V,
        WindowEnd::Finished { reward: 1.0 },
        EgaeBootstrap::LastValue,
        1.0,
        0.95,
    );
    close(&a, &[0.4380, 0.3558, 0.5850, 0.3000], 1e-4);
}

#[test]
fn prefix_value_switch_uses_the_critics_prefix_value() {
    // V(s_T) = 1.2: delta_3 = 1.2 - 0.7 = 0.5, then the recursion.
    let a = egae(
        &V,
        WindowEnd::Truncated { prefix_value: 1.2 },
        EgaeBootstrap::PrefixValue,
        1.0,
        0.95,
    );
    let d = [0.1, -0.2, 0.3, 0.5];
    let mut want = [0.0; 4];
    let mut next = 0.0;
    for t in (0..4).rev() {
        next = d[t] + 0.95 * next;
        want[t] = next;
    }
    close(&a, &want, 1e-12);
}

#[test]
fn a_whole_response_in_one_window_gets_plain_gae() {
    // With the window at least the response length every window ends finished: EGAE must be
    // the textbook recursion A_t = delta_t + gamma lambda A_{t+1}, V(terminal) = 0.
    let mut state = 12345u64;
    let mut next_f = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for len in 1..8 {
        let values: Vec<f64> = (0..len).map(|_| next_f() * 2.0 - 1.0).collect();
        let reward = next_f();
        let (gamma, lambda) = (0.9 + 0.1 * next_f(), next_f());
        let mut want = vec![0.0; len];
        let mut carry = 0.0;
        for t in (0..len).rev() {
            let next_v = if t + 1 < len { values[t + 1] } else { 0.0 };
            let r = if t + 1 == len { reward } else { 0.0 };
            carry = r + gamma * next_v - values[t] + gamma * lambda * carry;
            want[t] = carry;
        }
        for bootstrap in [EgaeBootstrap::LastValue, EgaeBootstrap::PrefixValue] {
            let got = egae(
                &values,
                WindowEnd::Finished { reward },
                bootstrap,
                gamma,
                lambda,
            );
            close(&got, &want, 1e-12);
        }
    }
}

#[test]
fn registry_estimator_matches_the_window_function() {
    let config = CreditConfig {
        estimator: "egae".into(),
        gamma: 1.0,
        gae_lambda: 0.95,
        ..CreditConfig::default()
    };
    let est = estimator(&config).unwrap();
    assert_eq!(est.name(), "egae");
    // Two windows side by side (num_envs = 1, time-major = one after the other): the first
    // truncated (its next_values at the cut are ignored under last_value), the second finished.
    let values = [V.as_slice(), V.as_slice()].concat();
    let next_values = [0.6, 0.4, 0.7, 42.0, 0.6, 0.4, 0.7, 0.0];
    let rewards = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let traj = Trajectories {
        values: &values,
        next_values: &next_values,
        terminated: &[false, false, false, false, false, false, false, true],
        truncated: &[false, false, false, true, false, false, false, false],
        num_envs: 1,
    };
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &[0; 8],
        response_lens: &[1; 8],
        token_kl: None,
        trajectories: Some(&traj),
        episodes: None,
    };
    let Advantages::Sequence(a) = est.estimate(&batch).unwrap() else {
        panic!("egae gives one advantage per step");
    };
    close(&a[..4], &[0.1807, 0.0850, 0.3000, 0.0000], 1e-4);
    close(&a[4..], &[0.4380, 0.3558, 0.5850, 0.3000], 1e-4);
}
