//! Step-level DAPO's actor loss (dapo-step.md, "CPU-scale check"), reconstructed.
use polopt_methods::objective::step_regression_loss;
use tch::{Kind, Tensor};

/// One step of one token: loss and d loss / d log pi for a given log-ratio and advantage.
fn one(log_ratio: f64, advantage: f64, beta: f64) -> (f64, f64) {
    let logp = Tensor::from_slice(&[log_ratio])
        .view([1, 1])
        .set_requires_grad(true);
    let reference = Tensor::zeros([1, 1], (Kind::Double, tch::Device::Cpu));
    let mask = Tensor::ones([1, 1], (Kind::Double, tch::Device::Cpu));
    let adv = Tensor::from_slice(&[advantage]);
    let out = step_regression_loss(&logp, &reference, &mask, &adv, beta);
    out.loss.backward();
    (
        out.loss.double_value(&[]),
        logp.grad().double_value(&[0, 0]),
    )
}

#[test]
fn spec_numeric_check() {
    // beta = 0.5, V(s) = 0.4, V(s+a) = 0.7: A = 0.3; beta * log-ratio = 0.1.
    let a = 0.7 - 0.4;
    let (loss, grad) = one(0.2, a, 0.5);
    assert!((loss - 0.04).abs() < 1e-12, "{loss}");
    assert!(
        grad < 0.0,
        "descent must raise log pi for A > 0: grad {grad}"
    );
    assert!((grad - 2.0 * 0.5 * (0.1 - 0.3)).abs() < 1e-12);
    // A = -0.2 at log-ratio 0: loss 0.04 and descent lowers log pi.
    let (loss, grad) = one(0.0, -0.2, 0.5);
    assert!((loss - 0.04).abs() < 1e-12, "{loss}");
    assert!(
        grad > 0.0,
        "descent must lower log pi for A < 0: grad {grad}"
    );
    // A = 0 pulls the log-ratio back to 0 from either side, and is at rest there.
    assert!(one(0.3, 0.0, 0.5).1 > 0.0);
    assert!(one(-0.3, 0.0, 0.5).1 < 0.0);
    assert_eq!(one(0.0, 0.0, 0.5).1, 0.0);
}

#[test]
fn gradient_matches_finite_differences() {
    // Three steps of up to four tokens (masked), f64 throughout.
    let logp_v: Vec<f64> = (0..12)
        .map(|i| -0.3 - 0.17 * (i as f64 * 1.3).sin().abs())
        .collect();
    let ref_v: Vec<f64> = (0..12)
        .map(|i| -0.5 + 0.1 * (i as f64 * 0.7).cos())
        .collect();
    let mask = Tensor::from_slice(&[1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
        .view([3, 4]);
    let reference = Tensor::from_slice(&ref_v).view([3, 4]);
    let adv = Tensor::from_slice(&[0.3, -0.2, 0.05]);
    let beta = 0.7;
    let loss_at = |v: &[f64]| {
        let logp = Tensor::from_slice(v).view([3, 4]);
        step_regression_loss(&logp, &reference, &mask, &adv, beta)
            .loss
            .double_value(&[])
    };
    let logp = Tensor::from_slice(&logp_v)
        .view([3, 4])
        .set_requires_grad(true);
    step_regression_loss(&logp, &reference, &mask, &adv, beta)
        .loss
        .backward();
    let grad = logp.grad();
    let h = 1e-6;
    for i in 0..12 {
        let (mut up, mut down) = (logp_v.clone(), logp_v.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (loss_at(&up) - loss_at(&down)) / (2.0 * h);
        let an = grad.double_value(&[(i / 4) as i64, (i % 4) as i64]);
        assert!(
            (fd - an).abs() < 1e-7,
            "token {i}: analytic {an} vs fd {fd}"
        );
    }
    // Masked tokens get no gradient.
    assert_eq!(grad.double_value(&[0, 3]), 0.0);
}
