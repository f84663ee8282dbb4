//! Autograd of the clipped loss and the k3 KL against central finite differences, in f64.
use polopt_methods::objective::{Aggregation, LossScale, PolicyObjective, PolicyTerms};
use polopt_methods::MethodConfig;
use tch::{Device, Kind, Tensor};

fn t(values: &[f64], shape: [i64; 2]) -> Tensor {
    Tensor::from_slice(values).view(shape)
}

/// Compares autograd with central differences of `f` at `x`, element by element.
fn check_gradient(x: &[f64], shape: [i64; 2], f: impl Fn(&Tensor) -> Tensor) {
    let input = t(x, shape).set_requires_grad(true);
    f(&input).backward();
    let grad = input.grad();
    let h = 1e-6;
    for i in 0..x.len() {
        let mut plus = x.to_vec();
        plus[i] += h;
        let mut minus = x.to_vec();
        minus[i] -= h;
        let numeric = (f(&t(&plus, shape)).double_value(&[])
            - f(&t(&minus, shape)).double_value(&[]))
            / (2.0 * h);
        let analytic = grad.view([-1]).double_value(&[i as i64]);
        assert!(
            (numeric - analytic).abs() < 1e-6,
            "element {i}: autograd {analytic}, finite difference {numeric}"
        );
    }
}

#[test]
fn clipped_loss_with_kl_and_entropy_matches_finite_differences() {
    // Ratios chosen away from the clip kinks: some inside, some clipped on each side.
    let old = [-1.0, -2.0, -0.5, -1.5, -0.7, -1.1];
    let logp = [-0.9, -2.5, -0.52, -1.2, -0.71, -1.6];
    let reference = [-1.1, -1.8, -0.6, -1.4, -0.8, -1.0];
    let adv = [1.0, -0.5, 2.0, 1.0, -1.0, -1.0];
    let mask = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0];
    let shape = [2, 3];
    for aggregation in Aggregation::ALL {
        let mut config = MethodConfig::default().objective;
        config.aggregation = aggregation;
        config.kl_coef = 0.1;
        config.clip_high = 0.28;
        let objective = PolicyObjective::new(config).expect("valid objective");
        let (old, reference, adv, mask) = (
            t(&old, shape),
            t(&reference, shape),
            t(&adv, shape),
            t(&mask, shape),
        );
        let scale = LossScale::of_mask(&mask, 3.0);
        check_gradient(&logp, shape, |lp| {
            let terms = PolicyTerms {
                logp: lp,
                old_logp: &old,
                ref_logp: Some(&reference),
                advantages: &adv,
                mask: &mask,
                entropy: None,
            };
            objective.loss(&terms, &scale, None).loss
        });
    }
}

#[test]
fn k3_gradient_matches_finite_differences() {
    let reference = t(&[-1.2, -0.3, -2.0, -0.01], [1, 4]);
    check_gradient(&[-1.0, -0.9, -1.5, -0.02], [1, 4], |lp| {
        polopt_methods::objective::kl_penalty(
            lp,
            &reference,
            polopt_methods::objective::KlEstimator::K3,
        )
        .sum(Kind::Double)
    });
    let _ = Device::Cpu;
}
