//! riskpo.md "CPU-scale check": the bundle's paper scores, batch quantiles, range-VaR, CVaR,
//! mix, scaling and `std` credit, and the quantile tracker's first two steps.
use polopt_methods::credit::{
    bundle_advantages, estimator, quantile, Advantages, CreditBatch, QuantileMode, QuantileTracker,
    RiskpoConfig,
};
use polopt_methods::MethodConfig;

// Questions q1 = [1,0,1,0], q2 = [0,0,1,0]: papers X = [1, 0, 2, 0].
const REWARDS: [f64; 8] = [1., 0., 1., 0., 0., 0., 1., 0.];
const GROUPS: [usize; 8] = [0, 0, 0, 0, 1, 1, 1, 1];
const LENS: [usize; 8] = [1; 8];

fn batch() -> CreditBatch<'static> {
    CreditBatch {
        rewards: &REWARDS,
        group_ids: &GROUPS,
        response_lens: &LENS,
        token_kl: None,
        trajectories: None,
        episodes: None,
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

const SPEC_ADV: [f64; 8] = [
    -0.7236, -1.7574, 0.0, -1.7574, -0.8356, -2.0292, 0.0, -2.0292,
];

#[test]
fn batch_quantiles_interpolate_linearly() {
    let x = [1.0, 0.0, 2.0, 0.0];
    assert!((quantile(&x, 0.2) - 0.0).abs() < 1e-12);
    assert!((quantile(&x, 0.9) - 1.7).abs() < 1e-12);
}

#[test]
fn spec_bundle_gives_the_spec_advantages() {
    let config = RiskpoConfig::default();
    let (adv, scores) = bundle_advantages(&batch(), &config, None);
    assert_eq!(scores, vec![1.0, 0.0, 2.0, 0.0]);
    assert_close(&adv, &SPEC_ADV, 1e-4);
    // The natural baseline leaves the best paper at 0 and every other one below.
    assert!(adv.iter().all(|&a| a <= 0.0));
}

#[test]
fn mixed_var_parts_match_the_spec() {
    let config = RiskpoConfig::default();
    let x = [1.0, 0.0, 2.0, 0.0];
    let g = polopt_methods::credit::mixed_var(&x, 0.0, 1.7, &config);
    assert_close(&g, &[-0.4, -0.9714, 0.0, -0.9714], 1e-4);
    let range_only = RiskpoConfig {
        mix_weight: 0.0,
        ..config
    };
    let g = polopt_methods::credit::mixed_var(&x, 0.0, 1.7, &range_only);
    assert_close(&g, &[-1.0, -2.4286, 0.0, -2.4286], 1e-4);
}

fn riskpo_estimator(mode: QuantileMode) -> Box<dyn polopt_methods::credit::AdvantageEstimator> {
    let mut credit = MethodConfig::default().credit;
    credit.estimator = "riskpo".into();
    let riskpo = RiskpoConfig {
        quantile_mode: mode,
        ..RiskpoConfig::default()
    };
    credit.parts.put("riskpo", &riskpo).expect("serializes");
    estimator(&credit).expect("registered")
}

fn sequence(a: Advantages) -> Vec<f64> {
    match a {
        Advantages::Sequence(a) => a,
        Advantages::Token(_) => panic!("sequence-level"),
    }
}

#[test]
fn tracked_mode_uses_bundle_quantiles_first_then_the_tracker() {
    let est = riskpo_estimator(QuantileMode::Track);
    let first = sequence(est.estimate(&batch()).expect("valid"));
    assert_close(&first, &SPEC_ADV, 1e-4);
    // The tracker now holds the batch quantiles; one SGD step on the same scores moves each
    // level by lr (level - F(q)) before the third call.
    let mut tracker = QuantileTracker::default();
    tracker.update(&[1.0, 0.0, 2.0, 0.0], 0.1);
    let (a, b) = (
        tracker.at(0.2).expect("initialized"),
        tracker.at(0.9).expect("initialized"),
    );
    assert!((a - 0.0).abs() < 1e-12 && (b - 1.7).abs() < 1e-12);
    let second = sequence(est.estimate(&batch()).expect("valid"));
    let (want, _) = bundle_advantages(&batch(), &RiskpoConfig::default(), Some((a, b)));
    assert_close(&second, &want, 1e-12);
    tracker.update(&[1.0, 0.0, 2.0, 0.0], 0.1);
    // q_0.2 = 0: no score is below it, so it rises by 0.1 * 0.2; q_0.9 = 1.7: 3 of 4 below.
    let a3 = tracker.at(0.2).expect("initialized");
    let b3 = tracker.at(0.9).expect("initialized");
    assert!((a3 - 0.02).abs() < 1e-12, "{a3}");
    assert!((b3 - (1.7 + 0.1 * (0.9 - 0.75))).abs() < 1e-12, "{b3}");
    let third = sequence(est.estimate(&batch()).expect("valid"));
    let (want, _) = bundle_advantages(&batch(), &RiskpoConfig::default(), Some((a3, b3)));
    assert_close(&third, &want, 1e-12);
    assert_ne!(third, first);
}

#[test]
fn batch_mode_has_no_memory() {
    let est = riskpo_estimator(QuantileMode::Batch);
    let first = sequence(est.estimate(&batch()).expect("valid"));
    let second = sequence(est.estimate(&batch()).expect("valid"));
    assert_eq!(first, second);
    assert_close(&first, &SPEC_ADV, 1e-4);
}

#[test]
fn equal_paper_scores_do_not_blow_up_unless_the_floor_is_zero() {
    // Every paper scores 0 while the tracked lower quantile sits at 0.5.
    let rewards = [0.0; 8];
    let b = CreditBatch {
        rewards: &rewards,
        ..batch()
    };
    let floored = RiskpoConfig::default();
    let (adv, _) = bundle_advantages(&b, &floored, Some((0.5, 1.5)));
    // g = (1.5 * -(0.5)/0.2 + (0.5 - 1.5)/0.7) / 2.5, std(X) and std(R_q) taken as 1.
    let g = (1.5 * (-0.5 / 0.2) + (0.5 - 1.5) / 0.7) / 2.5;
    assert_close(&adv, &[g / (1.0 + 1e-6) / (1.0 + 1e-6); 8], 1e-9);
    let exact = RiskpoConfig {
        score_std_floor: 0.0,
        ..floored
    };
    let (adv, _) = bundle_advantages(&b, &exact, Some((0.5, 1.5)));
    assert!(adv[0] < -1e5, "{adv:?}");
}

#[test]
fn quantile_levels_out_of_the_tracker_grid_are_rejected_with_their_key() {
    let mut m = MethodConfig::default();
    m.credit.parts.set("riskpo", "quantile_high", 0.99);
    let err = m.validate().expect_err("0.99 > 0.95").to_string();
    assert!(err.contains("method.credit.riskpo.quantile_high"), "{err}");
}
