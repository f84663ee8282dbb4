//! brrl-bpo-gbpo.md "CPU-scale check" (reconstructed): the bounded-ratio kernel's values for
//! hinge and squared divergences, the median baseline, and the check that the hinge kernel
//! reproduces PPO's gradients exactly.
use polopt_methods::credit::{estimator, Advantages, CreditBatch};
use polopt_methods::objective::{
    bounded_ratio_loss, ClipBounds, Divergence, LossScale, PolicyKernel, PolicyObjective,
    PolicyTerms,
};
use polopt_methods::MethodConfig;
use tch::{Device, Kind, Tensor};

fn kernel(ratio: f64, adv: f64, d: Divergence) -> f64 {
    let r = Tensor::from_slice(&[ratio]);
    let a = Tensor::from_slice(&[adv]);
    bounded_ratio_loss(&r, &a, &ClipBounds::constant(0.2, 0.2), d)
        .per_token_loss
        .double_value(&[0])
}

#[test]
fn spec_vectors_for_hinge_and_squared() {
    // (rho, A) -> (hinge, squared)
    let cases = [
        (1.3, 1.0, 0.0, 0.005),
        (1.1, 1.0, 0.1, 0.005),
        (0.7, -1.0, 0.0, 0.005),
        (0.9, -1.0, 0.1, 0.005),
    ];
    for (rho, a, hinge, squared) in cases {
        assert!(
            (kernel(rho, a, Divergence::Hinge) - hinge).abs() < 1e-12,
            "{rho} {a}"
        );
        assert!(
            (kernel(rho, a, Divergence::Squared) - squared).abs() < 1e-12,
            "{rho} {a}"
        );
    }
}

#[test]
fn kl_divergence_is_zero_at_the_target_and_positive_elsewhere() {
    assert!(kernel(1.2, 1.0, Divergence::Kl).abs() < 1e-12);
    // (1.3 - 1.2) - 1.2 ln(1.3 / 1.2)
    let want = 0.1 - 1.2 * (1.3f64 / 1.2).ln();
    assert!((kernel(1.3, 1.0, Divergence::Kl) - want).abs() < 1e-12);
    assert!(kernel(0.5, -2.0, Divergence::Kl) > 0.0);
    assert_eq!(kernel(1.7, 0.0, Divergence::Squared), 0.0);
}

#[test]
fn median_baseline_matches_the_spec() {
    let mut config = MethodConfig::default().credit;
    config.estimator = "gbpo".into();
    let batch = CreditBatch {
        rewards: &[1.0, 0.0, 0.0, 1.0, 1.0],
        group_ids: &[0; 5],
        response_lens: &[1; 5],
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let adv = estimator(&config)
        .expect("registered")
        .estimate(&batch)
        .expect("valid");
    assert_eq!(adv, Advantages::Sequence(vec![0.0, -1.0, -1.0, 0.0, 0.0]));
}

fn grad_of(kernel: PolicyKernel, divergence: Divergence) -> Vec<f64> {
    let opts = (Kind::Double, Device::Cpu);
    let old = Tensor::full([4, 5], -1.0, opts);
    // Ratios from exp(-0.5) to exp(0.5), none on a clip edge.
    let logp =
        (&old + Tensor::linspace(-0.5, 0.5, 20, opts).view([4, 5]) + 0.013).set_requires_grad(true);
    let adv = Tensor::from_slice(&[1.5, -0.5, 0.7, -2.0]).view([4, 1]) * Tensor::ones([4, 5], opts);
    let mask = Tensor::ones([4, 5], opts);
    let mut config = MethodConfig::default().objective;
    config.kernel = kernel;
    config.divergence = divergence;
    let terms = PolicyTerms {
        logp: &logp,
        old_logp: &old,
        ref_logp: None,
        advantages: &adv,
        mask: &mask,
        entropy: None,
    };
    let out = PolicyObjective::new(config).expect("valid objective").loss(
        &terms,
        &LossScale::of_mask(&mask, 5.0),
        None,
    );
    out.loss.backward();
    Vec::try_from(logp.grad().view([-1])).unwrap()
}

#[test]
fn hinge_kernel_has_exactly_ppos_gradients() {
    let ppo = grad_of(PolicyKernel::Clip, Divergence::Hinge);
    let hinge = grad_of(PolicyKernel::BoundedRatio, Divergence::Hinge);
    for (p, h) in ppo.iter().zip(&hinge) {
        assert!((p - h).abs() < 1e-12, "{ppo:?}\n{hinge:?}");
    }
    assert!(ppo.contains(&0.0) && ppo.iter().any(|&g| g != 0.0));
    // The squared kernel also pulls back overshooting ratios that PPO leaves alone.
    let squared = grad_of(PolicyKernel::BoundedRatio, Divergence::Squared);
    assert!(ppo
        .iter()
        .zip(&squared)
        .any(|(&p, &s)| p == 0.0 && s != 0.0));
}
