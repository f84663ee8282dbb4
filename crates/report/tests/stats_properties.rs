//! Properties every bootstrap interval should have, independent of any reference tool.

use polopt_report::stats::{
    bootstrap_ci, probability_of_improvement_ci, stratified_bootstrap_ci, Aggregate,
    BootstrapConfig,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Scores with a known mean of 0.5: a sum of two uniforms on [0, 0.5], mildly peaked like
/// real seed-to-seed spread.
fn scores(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| rng.random_range(0.0..0.5) + rng.random_range(0.0..0.5))
        .collect()
}

#[test]
fn intervals_contain_their_point_estimate() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let cfg = BootstrapConfig::default();
    for n in [2, 3, 5, 10, 40] {
        let x = scores(&mut rng, n);
        let y = scores(&mut rng, n);
        for agg in [Aggregate::Mean, Aggregate::Median, Aggregate::Iqm] {
            let ci = bootstrap_ci(&x, agg, &cfg).unwrap();
            assert!(ci.contains(ci.estimate), "{agg:?} n={n}: {ci:?}");
        }
        let p = probability_of_improvement_ci(&[&x], &[&y], &cfg).unwrap();
        assert!(p.contains(p.estimate), "P n={n}: {p:?}");
        assert!(0.0 <= p.lower && p.upper <= 1.0);
    }
}

#[test]
fn intervals_narrow_with_more_seeds() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let cfg = BootstrapConfig::default();
    let few = scores(&mut rng, 8);
    let many = scores(&mut rng, 128);
    for agg in [Aggregate::Mean, Aggregate::Iqm] {
        let w_few = bootstrap_ci(&few, agg, &cfg).unwrap().width();
        let w_many = bootstrap_ci(&many, agg, &cfg).unwrap().width();
        // The width shrinks like 1/sqrt(n): 16x the seeds, about a quarter of the width.
        assert!(w_many < 0.5 * w_few, "{agg:?}: {w_many} vs {w_few}");
    }
}

#[test]
fn same_seed_same_interval_and_other_seed_close() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = scores(&mut rng, 10);
    let cfg = BootstrapConfig::default();
    let a = bootstrap_ci(&x, Aggregate::Iqm, &cfg).unwrap();
    let b = bootstrap_ci(&x, Aggregate::Iqm, &cfg).unwrap();
    assert_eq!(a, b);
    let c = bootstrap_ci(&x, Aggregate::Iqm, &BootstrapConfig { seed: 99, ..cfg }).unwrap();
    assert_ne!(a, c);
    assert!((a.lower - c.lower).abs() < 0.05 * a.width());
    assert!((a.upper - c.upper).abs() < 0.05 * a.width());
}

#[test]
fn one_stratum_is_the_plain_bootstrap() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = scores(&mut rng, 9);
    let cfg = BootstrapConfig::default();
    assert_eq!(
        bootstrap_ci(&x, Aggregate::Mean, &cfg).unwrap(),
        stratified_bootstrap_ci(&[&x], Aggregate::Mean, &cfg).unwrap()
    );
}

#[test]
fn mean_interval_covers_the_true_mean_about_95_percent_of_the_time() {
    // 400 experiments of 20 seeds each. The percentile bootstrap slightly under-covers at
    // small n (about 93-94% here); the binomial standard error of the rate is about 1.2%.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let cfg = BootstrapConfig {
        resamples: 1000,
        ..BootstrapConfig::default()
    };
    let trials = 400;
    let covered = (0..trials)
        .filter(|&t| {
            let x = scores(&mut rng, 20);
            let cfg = BootstrapConfig { seed: t, ..cfg };
            bootstrap_ci(&x, Aggregate::Mean, &cfg)
                .unwrap()
                .contains(0.5)
        })
        .count();
    let rate = covered as f64 / trials as f64;
    assert!((0.89..=0.99).contains(&rate), "coverage {rate}");
}

#[test]
fn probability_of_improvement_is_decisive_for_separated_samples() {
    let x = [0.8, 0.85, 0.9, 0.82, 0.88];
    let y = [0.1, 0.2, 0.15, 0.12, 0.18];
    let p = probability_of_improvement_ci(&[&x], &[&y], &BootstrapConfig::default()).unwrap();
    assert_eq!((p.estimate, p.lower, p.upper), (1.0, 1.0, 1.0));
    let q = probability_of_improvement_ci(&[&y], &[&x], &BootstrapConfig::default()).unwrap();
    assert_eq!((q.estimate, q.lower, q.upper), (0.0, 0.0, 0.0));
}
