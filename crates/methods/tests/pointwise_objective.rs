//! The plain-number objective (`objective::pointwise`, used by the control trainer's native
//! backend) against the tensor objective on the same inputs, in f64: losses, autograd
//! gradients and clip flags, over grids that put ratios inside, below, above and exactly on the
//! trust region for every kernel, divergence and aggregation.
use polopt_methods::objective::pointwise::{kernel_point, policy_loss_rows, value_point};
use polopt_methods::objective::{
    clipped_value_loss, Aggregation, Divergence, LossScale, PolicyKernel, PolicyObjective,
    PolicyTerms, RatioLevel,
};
use polopt_methods::MethodConfig;
use polopt_methods::ObjectiveConfig;
use tch::{Kind, Tensor};

fn column(v: &[f64]) -> Tensor {
    Tensor::from_slice(v).view([-1, 1])
}

fn configs() -> Vec<ObjectiveConfig> {
    let mut out = Vec::new();
    for (kernel, divergence, dual) in [
        (PolicyKernel::Clip, Divergence::Squared, None),
        (PolicyKernel::Clip, Divergence::Squared, Some(3.0)),
        (PolicyKernel::BoundedRatio, Divergence::Hinge, None),
        (PolicyKernel::BoundedRatio, Divergence::Squared, None),
        (PolicyKernel::BoundedRatio, Divergence::Kl, None),
    ] {
        for aggregation in Aggregation::ALL {
            for ratio in [RatioLevel::Token, RatioLevel::Sequence] {
                let mut c = MethodConfig::default().objective;
                c.kernel = kernel;
                c.divergence = divergence;
                c.dual_clip = dual;
                c.aggregation = aggregation;
                c.ratio = ratio;
                c.clip_low = 0.2;
                c.clip_high = 0.28;
                c.entropy_coef = 0.01;
                out.push(c);
            }
        }
    }
    out
}

/// log-ratios covering every branch: inside, on both bounds, outside both, and far out for
/// the dual clip.
fn grid() -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let ratios = [0.5, 0.79, 0.8, 0.95, 1.0, 1.1, 1.28, 1.3, 2.0, 5.0];
    let advs = [-1.5, -0.3, 0.0, 0.4, 2.0];
    let (mut logp, mut old, mut adv, mut ent) = (vec![], vec![], vec![], vec![]);
    for (i, &r) in ratios.iter().enumerate() {
        for (j, &a) in advs.iter().enumerate() {
            let o = -0.3 - 0.1 * i as f64 - 0.05 * j as f64;
            old.push(o);
            logp.push(o + f64::ln(r));
            adv.push(a);
            ent.push(0.5 + 0.01 * (i * 5 + j) as f64);
        }
    }
    (logp, old, adv, ent)
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn row_losses_equal_the_tensor_objective_with_gradients_and_metrics() {
    let (logp, old, adv, ent) = grid();
    for config in configs() {
        let objective = PolicyObjective::new(config.clone()).expect("valid objective");
        let lp = column(&logp).set_requires_grad(true);
        let h = column(&ent).set_requires_grad(true);
        let (old_t, adv_t) = (column(&old), column(&adv));
        let mask = lp.ones_like().detach();
        let terms = PolicyTerms {
            logp: &lp,
            old_logp: &old_t,
            ref_logp: None,
            advantages: &adv_t,
            mask: &mask,
            entropy: Some(&h),
        };
        let out = objective.loss(&terms, &LossScale::of_mask(&mask, 1.0), None);
        out.loss.backward();
        let rows = policy_loss_rows(&config, &logp, &old, &adv, Some(&ent));
        let what = format!(
            "{:?}/{:?}/{:?}",
            config.kernel, config.divergence, config.aggregation
        );
        close(
            rows.loss,
            out.loss.double_value(&[]),
            &format!("{what} loss"),
        );
        let g = Vec::<f64>::try_from(&lp.grad().view([-1])).expect("grad");
        for (i, (a, b)) in rows.d_logp.iter().zip(&g).enumerate() {
            close(*a, *b, &format!("{what} d logp[{i}]"));
        }
        let gh = Vec::<f64>::try_from(&h.grad().view([-1])).expect("grad");
        for b in gh {
            close(rows.d_entropy, b, &format!("{what} d entropy"));
        }
        // The tensor objective sums its metrics in f32.
        for (k, v) in &out.metrics {
            let a = rows.metrics[k];
            assert!(
                (a - v).abs() <= 1e-6 * (1.0 + v.abs()),
                "{what} metric {k}: {a} vs {v}"
            );
        }
        assert_eq!(rows.metrics.len(), out.metrics.len(), "{what}");
    }
}

#[test]
fn kernel_points_report_the_tensor_kernels_clip_flags() {
    let (logp, old, adv, _) = grid();
    for config in configs().into_iter().step_by(8) {
        let objective = PolicyObjective::new(config.clone()).expect("valid objective");
        let lp = column(&logp);
        let mask = lp.ones_like();
        let (old_t, adv_t) = (column(&old), column(&adv));
        let terms = PolicyTerms {
            logp: &lp,
            old_logp: &old_t,
            ref_logp: None,
            advantages: &adv_t,
            mask: &mask,
            entropy: None,
        };
        let out = objective.loss(&terms, &LossScale::of_mask(&mask, 1.0), None);
        let n = logp.len() as f64;
        let (mut low, mut high) = (0.0, 0.0);
        for i in 0..logp.len() {
            let p = kernel_point(&config, (logp[i] - old[i]).exp(), adv[i]);
            low += f64::from(u8::from(p.clipped_low));
            high += f64::from(u8::from(p.clipped_high));
        }
        assert!(low > 0.0 && high > 0.0, "the grid must exercise both flags");
        assert!((low / n - out.metrics["clip_frac_low"]).abs() < 1e-6);
        assert!((high / n - out.metrics["clip_frac_high"]).abs() < 1e-6);
    }
}

#[test]
fn value_points_equal_the_clipped_value_loss_and_its_autograd() {
    let old = [0.0, 1.0, -1.0, 0.5, 2.0, 0.3];
    let deltas = [-0.5, -0.2, -0.1, 0.0, 0.1, 0.2, 0.5];
    let rets = [-1.0, 0.0, 0.05, 1.5];
    let (mut v, mut o, mut r) = (vec![], vec![], vec![]);
    for &ov in &old {
        for &d in &deltas {
            for &rt in &rets {
                v.push(ov + d);
                o.push(ov);
                r.push(ov + rt);
            }
        }
    }
    for clip in [None, Some(0.2)] {
        let vt = Tensor::from_slice(&v).set_requires_grad(true);
        let loss = clipped_value_loss(&vt, &Tensor::from_slice(&o), &Tensor::from_slice(&r), clip);
        loss.sum(Kind::Double).backward();
        let per = Vec::<f64>::try_from(&loss.detach()).expect("loss");
        let grad = Vec::<f64>::try_from(&vt.grad()).expect("grad");
        for i in 0..v.len() {
            let (l, g) = value_point(v[i], o[i], r[i], clip);
            close(l, per[i], &format!("value loss {i} {clip:?}"));
            close(g, grad[i], &format!("value grad {i} {clip:?}"));
        }
    }
}
