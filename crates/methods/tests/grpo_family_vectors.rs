//! Every numeric test vector of shared/algorithms/grpo-family.md ("CPU-scale check" and GSPO),
//! plus the PPO surrogate, GAE-free value-loss vectors of ppo-baseline.md.
use polopt_methods::credit::{estimator, Advantages, CreditBatch};
use polopt_methods::objective::{
    aggregate, clipped_surrogate, clipped_value_loss, importance_ratio, kl_penalty, Aggregation,
    ClipBounds, KlEstimator, LossScale, RatioLevel,
};
use polopt_methods::MethodConfig;
use tch::{Kind, Tensor};

fn advantages(
    name: &str,
    rewards: &[f64],
    groups: &[usize],
    lens: &[usize],
    ddof: u32,
) -> Vec<f64> {
    let mut config = MethodConfig::default().credit;
    config.estimator = name.into();
    config.std_ddof = ddof;
    let batch = CreditBatch {
        rewards,
        group_ids: groups,
        response_lens: lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    match estimator(&config)
        .expect("registered")
        .estimate(&batch)
        .expect("valid batch")
    {
        Advantages::Sequence(a) => a,
        Advantages::Token(t) => t.iter().map(|row| row[0]).collect(),
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

const R: [f64; 4] = [1.0, 0.0, 1.0, 1.0];
const ONE_GROUP: [usize; 4] = [0, 0, 0, 0];
const ONE_TOKEN: [usize; 4] = [1, 1, 1, 1];

#[test]
fn grpo_unbiased_and_population_std() {
    assert_close(
        &advantages("grpo", &R, &ONE_GROUP, &ONE_TOKEN, 1),
        &[0.5, -1.5, 0.5, 0.5],
        1e-5,
    );
    assert_close(
        &advantages("grpo", &R, &ONE_GROUP, &ONE_TOKEN, 0),
        &[0.5774, -1.7321, 0.5774, 0.5774],
        1e-4,
    );
}

#[test]
fn dr_grpo_and_rloo() {
    assert_close(
        &advantages("dr_grpo", &R, &ONE_GROUP, &ONE_TOKEN, 1),
        &[0.25, -0.75, 0.25, 0.25],
        1e-12,
    );
    assert_close(
        &advantages("rloo", &R, &ONE_GROUP, &ONE_TOKEN, 1),
        &[1.0 / 3.0, -1.0, 1.0 / 3.0, 1.0 / 3.0],
        1e-12,
    );
}

#[test]
fn reinforce_pp_baseline_whitens_over_the_batch() {
    let rewards = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let groups = [0, 0, 0, 0, 1, 1, 1, 1];
    let want = [
        0.5401, -1.6202, 0.5401, 0.5401, -0.5401, -0.5401, -0.5401, 1.6202,
    ];
    assert_close(
        &advantages("reinforce_pp_baseline", &rewards, &groups, &[1; 8], 1),
        &want,
        1e-4,
    );
    // Two tokens per response: whitening runs over all tokens, so the magnitudes change.
    let two = advantages("reinforce_pp_baseline", &rewards, &groups, &[2; 8], 1);
    assert!(
        (two[0] - 0.5590).abs() < 1e-4 && (two[1] + 1.6771).abs() < 1e-4,
        "{two:?}"
    );
}

#[test]
fn all_equal_group_gives_zero_advantage_for_every_group_estimator() {
    for name in ["grpo", "dr_grpo", "rloo", "reinforce_pp_baseline"] {
        let a = advantages(name, &[1.0; 4], &ONE_GROUP, &ONE_TOKEN, 1);
        assert!(a.iter().all(|v| v.abs() < 1e-9), "{name}: {a:?}");
    }
}

#[test]
fn groups_need_not_be_contiguous() {
    let interleaved = advantages(
        "grpo",
        &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0],
        &[0, 1, 0, 1, 0, 1, 0, 1],
        &[1; 8],
        1,
    );
    assert_close(
        &[
            interleaved[0],
            interleaved[2],
            interleaved[4],
            interleaved[6],
        ],
        &[0.5, -1.5, 0.5, 0.5],
        1e-5,
    );
}

#[test]
fn nan_reward_is_an_error_that_names_the_index() {
    let mut config = MethodConfig::default().credit;
    config.estimator = "grpo".into();
    let batch = CreditBatch {
        rewards: &[1.0, f64::NAN],
        group_ids: &[0, 0],
        response_lens: &[1, 1],
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let err = estimator(&config)
        .unwrap()
        .estimate(&batch)
        .unwrap_err()
        .to_string();
    assert!(err.contains("reward") && err.contains("index 1"), "{err}");
}

fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}

fn surrogate_loss(ratio: f64, adv: f64, low: f64, high: f64) -> (f64, bool) {
    let r = Tensor::from_slice(&[ratio]).set_requires_grad(true);
    let a = Tensor::from_slice(&[adv]);
    let s = clipped_surrogate(&r, &a, &ClipBounds::constant(low, high), None);
    s.per_token_loss.sum(Kind::Double).backward();
    let grad = r.grad().double_value(&[0]);
    (scalar(&s.per_token_loss.sum(Kind::Double)), grad != 0.0)
}

#[test]
fn clip_vectors_symmetric_and_clip_higher() {
    assert!((surrogate_loss(1.3, 1.0, 0.2, 0.2).0 + 1.2).abs() < 1e-12);
    assert!((surrogate_loss(1.3, 1.0, 0.2, 0.28).0 + 1.28).abs() < 1e-12);
    let (loss, has_grad) = surrogate_loss(0.7, -1.0, 0.2, 0.2);
    assert!((loss - 0.8).abs() < 1e-12);
    assert!(!has_grad, "clipped side must carry no gradient");
}

#[test]
fn ppo_surrogate_vectors() {
    // ppo-baseline.md gives min(rA, clip(r)A); our per-token loss is its negation.
    for (ratio, adv, want) in [
        (1.3, 1.0, 1.2),
        (1.3, -1.0, -1.3),
        (0.7, 1.0, 0.7),
        (0.7, -1.0, -0.8),
        (1.1, 2.0, 2.2),
    ] {
        let (loss, _) = surrogate_loss(ratio, adv, 0.2, 0.2);
        assert!(
            (-loss - want).abs() < 1e-12,
            "r={ratio} A={adv}: {} vs {want}",
            -loss
        );
    }
}

#[test]
fn dual_clip_caps_the_loss_of_negative_advantages() {
    let r = Tensor::from_slice(&[5.0f64]);
    let a = Tensor::from_slice(&[-1.0f64]);
    let s = clipped_surrogate(&r, &a, &ClipBounds::constant(0.2, 0.2), Some(3.0));
    assert!((scalar(&s.per_token_loss.sum(Kind::Double)) - 3.0).abs() < 1e-12);
}

#[test]
fn ppo_clipped_value_loss_vector() {
    let v = Tensor::from_slice(&[0.9f64]);
    let loss = clipped_value_loss(
        &v,
        &Tensor::from_slice(&[0.5f64]),
        &Tensor::from_slice(&[1.0f64]),
        Some(0.2),
    );
    assert!((scalar(&loss.sum(Kind::Double)) - 0.045).abs() < 1e-12);
}

#[test]
fn k3_vector() {
    let kl = kl_penalty(
        &Tensor::from_slice(&[-1.0f64]),
        &Tensor::from_slice(&[-1.2f64]),
        KlEstimator::K3,
    );
    assert!((scalar(&kl.sum(Kind::Double)) - 0.018731).abs() < 1e-6);
}

#[test]
fn straight_through_estimators_keep_their_value_and_take_k2_gradient() {
    let reference = Tensor::from_slice(&[-1.2f64, -0.3]);
    for (st, plain) in [
        (KlEstimator::K1StraightThrough, KlEstimator::K1),
        (KlEstimator::K3StraightThrough, KlEstimator::K3),
    ] {
        let logp = Tensor::from_slice(&[-1.0f64, -0.9]).set_requires_grad(true);
        let value = kl_penalty(&logp, &reference, st);
        let want = kl_penalty(&logp.detach(), &reference, plain);
        assert!(scalar(&(&value - &want).abs().max()) < 1e-12);
        value.sum(Kind::Double).backward();
        let want_grad = logp.detach() - &reference; // d/dlogp of 0.5 (logp - ref)^2
        assert!(scalar(&(logp.grad() - want_grad).abs().max()) < 1e-12);
    }
}

#[test]
fn aggregation_vectors() {
    let loss = Tensor::from_slice(&[1.0f64, 1.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0]).view([2, 4]);
    let mask = Tensor::from_slice(&[1.0f64, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]).view([2, 4]);
    let scale = LossScale::of_mask(&mask, 4.0);
    let value = |mode| scalar(&aggregate(&loss, &mask, mode, &scale));
    assert!((value(Aggregation::TokenMean) - 10.0 / 6.0).abs() < 1e-12);
    assert!((value(Aggregation::SeqMeanTokenMean) - 1.5).abs() < 1e-12);
    assert!((value(Aggregation::SeqMeanTokenSumNorm) - 1.25).abs() < 1e-12);
    assert!((value(Aggregation::SeqMeanTokenSum) - 5.0).abs() < 1e-12);
}

#[test]
fn micro_batches_with_mini_batch_totals_sum_to_the_whole() {
    let loss = Tensor::from_slice(&[1.0f64, 3.0, 0.0, 2.0, 2.0, 2.0]).view([2, 3]);
    let mask = Tensor::from_slice(&[1.0f64, 1.0, 0.0, 1.0, 1.0, 1.0]).view([2, 3]);
    let scale = LossScale::of_mask(&mask, 3.0);
    for mode in Aggregation::ALL {
        let whole = scalar(&aggregate(&loss, &mask, mode, &scale));
        let parts: f64 = (0..2)
            .map(|i| {
                scalar(&aggregate(
                    &loss.narrow(0, i, 1),
                    &mask.narrow(0, i, 1),
                    mode,
                    &scale,
                ))
            })
            .sum();
        assert!((whole - parts).abs() < 1e-12, "{}", mode.name());
    }
}

#[test]
fn gspo_sequence_ratio_vector() {
    // Token log-ratios [0.1, -0.2, 0.4] -> s = exp(0.1).
    let old = Tensor::from_slice(&[-1.0f64, -1.0, -1.0]).view([1, 3]);
    let mask = Tensor::ones([1, 3], (Kind::Double, tch::Device::Cpu));
    for (adv, want, grad_flows) in [(1.0, -1.0004, false), (-1.0, 1.105171, true)] {
        let logp =
            (&old + Tensor::from_slice(&[0.1f64, -0.2, 0.4]).view([1, 3])).set_requires_grad(true);
        let ratio = importance_ratio(&logp, &old, &mask, RatioLevel::Sequence);
        let a = Tensor::full([1, 3], adv, (Kind::Double, tch::Device::Cpu));
        let s = clipped_surrogate(&ratio, &a, &ClipBounds::constant(3e-4, 4e-4), None);
        let loss = aggregate(
            &s.per_token_loss,
            &mask,
            Aggregation::SeqMeanTokenMean,
            &LossScale::of_mask(&mask, 3.0),
        );
        assert!(
            (scalar(&loss) - want).abs() < 1e-6,
            "A={adv}: {}",
            scalar(&loss)
        );
        loss.backward();
        let g = scalar(&logp.grad().abs().sum(Kind::Double));
        assert_eq!(g > 0.0, grad_flows, "A={adv}: gradient {g}");
    }
}
