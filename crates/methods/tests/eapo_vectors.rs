//! eapo-iterresearch.md: the test vector (gamma 0.9, three trajectories), correctness from the
//! episode's total reward, and the adaptive downsampling to a multiple of the DP world size.
use std::collections::BTreeSet;

use polopt_methods::credit::turns::Episode;
use polopt_methods::credit::{
    downsample_to_multiple, estimator, round_rewards, Advantages, CreditBatch,
};
use polopt_methods::MethodConfig;

/// `turns` one-token rounds at positions 0, 2, 4, ...
fn episode(turns: usize) -> Episode {
    Episode {
        spans: (0..turns).map(|t| (2 * t, 2 * t + 1)).collect(),
        rewards: vec![0.0; turns],
        states: vec![0; turns],
        actions: vec![0; turns],
        invalid: vec![false; turns],
        terminated: true,
        ..Default::default()
    }
}

fn config_with(settings: &[(&str, toml::Value)]) -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.estimator = "eapo".into();
    for (key, value) in settings {
        m.credit.parts.set("eapo", key, value.clone());
    }
    m
}

/// Per-round advantages of episodes of the given lengths and total rewards, one group.
fn advantages(m: &MethodConfig, turns: &[usize], totals: &[f64]) -> Vec<Vec<f64>> {
    let episodes: Vec<Episode> = turns.iter().map(|&t| episode(t)).collect();
    let lens: Vec<usize> = turns.iter().map(|t| 2 * t).collect();
    let groups = vec![0; turns.len()];
    let batch = CreditBatch {
        rewards: totals,
        group_ids: &groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: Some(&episodes),
    };
    let Advantages::Token(rows) = estimator(&m.credit).unwrap().estimate(&batch).unwrap() else {
        panic!("eapo is token-level");
    };
    rows.iter()
        .map(|row| {
            assert!(row.iter().skip(1).step_by(2).all(|&a| a == 0.0), "{row:?}");
            row.iter().step_by(2).copied().collect()
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}

#[test]
fn round_rewards_discount_geometrically_towards_the_answer() {
    assert_close(
        &round_rewards(4, true, 0.9),
        &[0.729, 0.81, 0.9, 1.0],
        1e-12,
    );
    assert_close(&round_rewards(2, false, 0.9), &[0.0, 0.0], 0.0);
    assert_close(&round_rewards(3, true, 0.9), &[0.81, 0.9, 1.0], 1e-12);
}

#[test]
fn spec_vector_three_trajectories() {
    let m = config_with(&[("gamma", 0.9.into()), ("eps", 0.0.into())]);
    let a = advantages(&m, &[4, 2, 3], &[1.0, 0.0, 1.0]);
    assert_close(&a[0], &[0.122225, 0.338491, 0.578787, 0.845783], 1e-6);
    assert_close(&a[1], &[-1.824174, -1.824174], 1e-6);
    assert_close(&a[2], &[0.338491, 0.578787, 0.845783], 1e-6);
    // Nine samples with mean 0.683222 and population std 0.374538 give these z-scores.
    let pooled = [0.729, 0.81, 0.9, 1.0, 0.0, 0.0, 0.81, 0.9, 1.0];
    let mean = pooled.iter().sum::<f64>() / 9.0;
    let std = (pooled.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 9.0).sqrt();
    assert!((mean - 0.683222).abs() < 1e-6 && (std - 0.374538).abs() < 1e-6);
}

#[test]
fn correctness_is_the_total_reward_reaching_the_threshold() {
    let m = config_with(&[("gamma", 0.9.into()), ("success_threshold", 0.5.into())]);
    let a = advantages(&m, &[2, 2], &[0.5, 0.49]);
    assert!(
        a[0].iter().all(|&x| x > 0.0) && a[1].iter().all(|&x| x < 0.0),
        "{a:?}"
    );
    // All wrong: nothing to prefer.
    let a = advantages(&config_with(&[]), &[3, 1], &[0.0, 0.0]);
    assert!(a.iter().flatten().all(|&x| x == 0.0), "{a:?}");
}

#[test]
fn downsampling_keeps_the_largest_multiple_of_the_world_size() {
    let kept = downsample_to_multiple(9, 4, 7).unwrap();
    assert_eq!(kept.len(), 8);
    assert!(kept.windows(2).all(|w| w[0] < w[1]) && kept.iter().all(|&i| i < 9));
    assert_eq!(
        kept,
        downsample_to_multiple(9, 4, 7).unwrap(),
        "same seed, same draw"
    );
    assert_eq!(
        downsample_to_multiple(8, 4, 7).unwrap(),
        (0..8).collect::<Vec<_>>()
    );
    assert!(downsample_to_multiple(3, 4, 7).unwrap().is_empty());
    let e = downsample_to_multiple(9, 0, 7).unwrap_err().to_string();
    assert!(e.contains("world_size"), "{e}");
}

#[test]
fn downsampling_drops_different_samples_under_different_seeds() {
    let dropped: BTreeSet<usize> = (0..32)
        .map(|seed| {
            let kept = downsample_to_multiple(9, 4, seed).unwrap();
            (0..9).find(|i| !kept.contains(i)).expect("one is dropped")
        })
        .collect();
    assert!(dropped.len() > 3, "{dropped:?}");
}

#[test]
fn bad_settings_name_their_key() {
    for (key, value) in [
        ("gamma", toml::Value::from(0.0)),
        ("eps", (-0.1).into()),
        ("success", 1.0.into()),
    ] {
        let e = config_with(&[(key, value)])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("method.credit.eapo") && e.contains(key), "{e}");
    }
    config_with(&[]).validate().expect("the defaults are valid");
}
