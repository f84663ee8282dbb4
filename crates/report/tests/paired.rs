//! Paired differences against a baseline: seed matching, the bootstrap interval and the
//! verdict it implies (crates/report/src/paired.rs).

use polopt_report::paired::{
    compare_paired, draw_resamples, paired_bootstrap_ci, paired_differences, paired_interval,
    Verdict, TOO_FEW_PAIRS,
};
use polopt_report::stats::{stratified_bootstrap_ci, Aggregate, BootstrapConfig, StatsError};

fn cfg() -> BootstrapConfig {
    BootstrapConfig::default()
}

#[test]
fn pairs_match_by_seed_and_count_the_unmatched() {
    let method = [(0, 0.5), (1, 0.6), (2, 0.7), (7, 0.9)];
    let baseline = [(1, 0.4), (0, 0.45), (2, 0.75), (3, 0.1), (4, 0.2)];
    let p = paired_differences(&method, &baseline);
    assert_eq!(p.seeds, [0, 1, 2]);
    let want = [0.5 - 0.45, 0.6 - 0.4, 0.7 - 0.75];
    assert_eq!(p.differences, want);
    // Seed 7 (method only), seeds 3 and 4 (baseline only).
    assert_eq!(p.n_unmatched, 3);
}

#[test]
fn pairing_does_not_depend_on_input_order() {
    let method = vec![(3, 1.0), (1, 2.0), (2, 4.0), (9, 5.0)];
    let baseline = vec![(2, 0.5), (3, 0.25), (1, 1.0), (5, 0.0)];
    let reference = paired_differences(&method, &baseline);
    let (mut m, mut b) = (method.clone(), baseline.clone());
    m.reverse();
    b.rotate_left(1);
    assert_eq!(paired_differences(&m, &b), reference);
    assert_eq!(reference.seeds, [1, 2, 3]);
    assert_eq!(reference.differences, [1.0, 3.5, 0.75]);
    // Swapping the sides negates every difference and keeps the counts.
    let swapped = paired_differences(&baseline, &method);
    assert_eq!(swapped.seeds, reference.seeds);
    assert_eq!(swapped.differences, [-1.0, -3.5, -0.75]);
    assert_eq!(swapped.n_unmatched, reference.n_unmatched);
}

#[test]
fn a_seed_repeated_on_one_side_is_left_out_as_ambiguous() {
    let p = paired_differences(&[(0, 1.0), (0, 2.0), (1, 3.0)], &[(0, 0.0), (1, 1.0)]);
    assert_eq!(p.seeds, [1]);
    assert_eq!(p.differences, [2.0]);
    assert_eq!(p.n_unmatched, 3);
}

#[test]
fn the_interval_contains_the_mean_difference() {
    let d = [0.1, -0.02, 0.05, 0.2, 0.07, -0.01, 0.03];
    let ci = paired_bootstrap_ci(&[&d], &cfg()).unwrap();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    assert!((ci.estimate - mean).abs() < 1e-15, "{ci:?}");
    assert!(ci.contains(ci.estimate) && ci.width() > 0.0, "{ci:?}");
}

#[test]
fn a_constant_difference_gives_a_zero_width_interval_at_that_value() {
    let method: Vec<(u64, f64)> = (0..6).map(|s| (s, 0.25 + s as f64)).collect();
    let baseline: Vec<(u64, f64)> = (0..6).map(|s| (s, s as f64)).collect();
    let r = compare_paired(&[(method, baseline)], true, &cfg()).unwrap();
    let ci = r.ci.unwrap();
    assert_eq!((ci.lower, ci.estimate, ci.upper), (0.25, 0.25, 0.25));
    assert_eq!(
        (r.mean, r.n_pairs, r.verdict),
        (Some(0.25), 6, Verdict::Better)
    );
}

#[test]
fn the_bootstrap_resamples_seeds_with_the_crates_rng_conventions() {
    // Same ChaCha8 draws as the crate's stratified bootstrap of the mean: identical bits.
    let a = [0.3, 0.1, -0.2, 0.5, 0.05];
    let b = [1.0, 2.0, -1.5];
    let config = BootstrapConfig {
        resamples: 2000,
        seed: 7,
        ..cfg()
    };
    for strata in [vec![&a[..]], vec![&a[..], &b[..]]] {
        assert_eq!(
            paired_bootstrap_ci(&strata, &config).unwrap(),
            stratified_bootstrap_ci(&strata, Aggregate::Mean, &config).unwrap()
        );
    }
    // And the injected-indices path gives the same interval on the drawn indices.
    let resamples = draw_resamples(&[a.len()], &config);
    assert_eq!(
        paired_interval(&[&a], &resamples, config.confidence).unwrap(),
        paired_bootstrap_ci(&[&a], &config).unwrap()
    );
}

#[test]
fn injected_indices_are_used_as_given() {
    let d = [1.0, 2.0, 3.0, 10.0];
    // Resample means: 1, 10, 2.25, 4 -> sorted 1, 2.25, 4, 10.
    let resamples = vec![
        vec![vec![0, 0, 0, 0]],
        vec![vec![3, 3, 3, 3]],
        vec![vec![0, 1, 2, 2]],
        vec![vec![0, 1, 2, 3]],
    ];
    let ci = paired_interval(&[&d], &resamples, 0.5).unwrap();
    // 25% and 75% quantiles with h = 3p: h = 0.75 -> 1 + 0.75 * 1.25 = 1.9375,
    // h = 2.25 -> 4 + 0.25 * 6 = 5.5.
    assert_eq!((ci.estimate, ci.lower, ci.upper), (4.0, 1.9375, 5.5));
    let bad = vec![vec![vec![4]]];
    assert!(matches!(
        paired_interval(&[&d], &bad, 0.95),
        Err(StatsError::InvalidConfig(_))
    ));
}

#[test]
fn a_positive_mean_with_a_ci_straddling_zero_is_inconclusive() {
    // Mean +0.0175, but seeds disagree in sign.
    let delta = [0.09, -0.05, 0.12, -0.07, 0.03, -0.02, 0.08, -0.04];
    let baseline: Vec<(u64, f64)> = (0..8).map(|s| (s, 0.4)).collect();
    let method: Vec<(u64, f64)> = (0..8).map(|s| (s, 0.4 + delta[s as usize])).collect();
    let r = compare_paired(&[(method, baseline)], true, &cfg()).unwrap();
    let ci = r.ci.unwrap();
    assert!(r.mean.unwrap() > 0.0);
    assert!(ci.lower < 0.0 && ci.upper > 0.0, "{ci:?}");
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(r.note, None);
}

#[test]
fn the_verdict_follows_the_interval_and_flips_when_lower_is_better() {
    let ci = |lower, upper| polopt_report::ConfidenceInterval {
        estimate: (lower + upper) / 2.0,
        lower,
        upper,
        confidence: 0.95,
    };
    assert_eq!(Verdict::of_interval(&ci(0.01, 0.2), true), Verdict::Better);
    assert_eq!(Verdict::of_interval(&ci(-0.2, -0.01), true), Verdict::Worse);
    assert_eq!(
        Verdict::of_interval(&ci(-0.01, 0.2), true),
        Verdict::Inconclusive
    );
    // A CI touching 0 is not "> 0".
    assert_eq!(
        Verdict::of_interval(&ci(0.0, 0.2), true),
        Verdict::Inconclusive
    );
    assert_eq!(Verdict::of_interval(&ci(0.01, 0.2), false), Verdict::Worse);
    assert_eq!(
        Verdict::of_interval(&ci(-0.2, -0.01), false),
        Verdict::Better
    );

    // Through compare_paired: a loss metric that went down on every seed is better.
    let baseline: Vec<(u64, f64)> = (0..5).map(|s| (s, 2.0 + s as f64)).collect();
    let method: Vec<(u64, f64)> = (0..5).map(|s| (s, 1.5 + s as f64 * 1.01)).collect();
    let r = compare_paired(&[(method.clone(), baseline.clone())], false, &cfg()).unwrap();
    assert!(r.mean.unwrap() < 0.0);
    assert_eq!(r.verdict, Verdict::Better);
    let r = compare_paired(&[(method, baseline)], true, &cfg()).unwrap();
    assert_eq!(r.verdict, Verdict::Worse);
}

#[test]
fn fewer_than_two_pairs_give_no_interval_and_say_so() {
    let r = compare_paired(
        &[(vec![(0, 0.9), (1, 0.8)], vec![(1, 0.1), (2, 0.2)])],
        true,
        &cfg(),
    )
    .unwrap();
    assert_eq!((r.n_pairs, r.n_unmatched), (1, 2));
    assert_eq!(r.mean, Some(0.8 - 0.1));
    assert_eq!(r.ci, None);
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert_eq!(r.note.as_deref(), Some(TOO_FEW_PAIRS));

    let none = compare_paired(&[(vec![(0, 0.9)], vec![(1, 0.1)])], true, &cfg()).unwrap();
    assert_eq!((none.n_pairs, none.mean, none.ci), (0, None, None));
    assert_eq!(none.verdict, Verdict::Inconclusive);
}

#[test]
fn tasks_are_strata_matched_within_each_task() {
    // Seed 0 on task a and seed 0 on task b are different warm starts: no cross-task pairs.
    let a = (vec![(0, 1.0), (1, 2.0)], vec![(0, 0.0), (1, 1.0)]); // d = 1, 1
    let b = (vec![(0, 5.0)], vec![(0, 2.0), (1, 9.0)]); // d = 3; seed 1 unmatched
    let r = compare_paired(&[a, b], true, &cfg()).unwrap();
    assert_eq!((r.n_pairs, r.n_unmatched), (3, 1));
    // Mean of task means: (1 + 3) / 2; every resample keeps one pair of b and two of a.
    assert_eq!(r.mean, Some(2.0));
    let ci = r.ci.unwrap();
    assert_eq!((ci.lower, ci.upper), (2.0, 2.0));
}
