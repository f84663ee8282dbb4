//! copo.md "CPU-scale check" (reconstructed formulas): outcome entropy, gate weights, global
//! advantages, and the blended loss checked against an independent per-token computation.
use polopt_methods::credit::{copo_blend, outcome_entropy, CopoConfig, CreditBatch};
use polopt_methods::objective::{Aggregation, PlannedLoss, PolicyObjective, PolicyTerms};
use polopt_methods::plan::{MethodRuntime, StepContext};
use polopt_methods::MethodConfig;
use tch::{Device, Kind, Tensor};

const REWARDS: [f64; 12] = [1., 1., 1., 1., 1., 1., 0., 0., 0., 0., 0., 0.];
const GROUPS: [usize; 12] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];

fn batch<'a>(lens: &'a [usize]) -> CreditBatch<'a> {
    CreditBatch {
        rewards: &REWARDS,
        group_ids: &GROUPS,
        response_lens: lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    }
}

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

#[test]
fn spec_vector_entropy_weights_and_global_advantage() {
    close(outcome_entropy(0.5), 0.693, 1e-3);
    assert_eq!(outcome_entropy(1.0), 0.0);
    let blend = copo_blend(&batch(&[1; 12]), &CopoConfig::default(), 1e-6);
    for (q, (w, g)) in [(0.0474, 1.0), (0.9808, 0.0), (0.0474, -1.0)]
        .iter()
        .enumerate()
    {
        close(blend.local_weights[4 * q], *w, 1e-4);
        close(blend.global_advantages[4 * q + 3], *g, 1e-5);
    }
}

fn copo_config() -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.global_advantage = "copo".into();
    m.objective.aggregation = Aggregation::TokenMean;
    m
}

/// `-min(r A, clip(r, 0.8, 1.2) A)` on plain numbers.
fn ppo_token(r: f64, a: f64) -> f64 {
    -(r * a).min(r.clamp(0.8, 1.2) * a)
}

#[test]
fn blended_loss_is_the_weighted_sum_of_local_and_global_surrogates() {
    let lens = [2; 12];
    let config = copo_config();
    let runtime = MethodRuntime::new(&config).expect("valid");
    let plan = runtime
        .plan(&batch(&lens), &StepContext::default())
        .expect("plan");
    let blend = plan.blend.clone().expect("copo blends");
    let local: Vec<f64> = plan.advantages.per_sequence();
    close(local[4], 0.866, 1e-3);
    let planned = PlannedLoss::new(&plan, &lens, 2, Device::Cpu);
    let opts = (Kind::Double, Device::Cpu);
    let log_ratio: Vec<f64> = (0..24).map(|k| -0.35 + 0.03 * k as f64).collect();
    let old = Tensor::full([12, 2], -1.0, opts);
    let logp = &old + Tensor::from_slice(&log_ratio).view([12, 2]);
    let mask = Tensor::ones([12, 2], opts);
    let advantages = planned.advantages.to_kind(Kind::Double);
    let terms = PolicyTerms {
        logp: &logp,
        old_logp: &old,
        ref_logp: None,
        advantages: &advantages,
        mask: &mask,
        entropy: None,
    };
    let index = Tensor::arange(12, (Kind::Int64, Device::Cpu));
    let out = planned.loss(
        &PolicyObjective::new(config.objective).expect("valid objective"),
        &terms,
        &index,
        2.0,
    );
    let mut want = 0.0;
    for i in 0..12 {
        let w = blend.local_weights[i];
        for t in 0..2 {
            let r = log_ratio[2 * i + t].exp();
            want +=
                w * ppo_token(r, local[i]) + (1.0 - w) * ppo_token(r, blend.global_advantages[i]);
        }
    }
    close(out.loss.double_value(&[]), want / 24.0, 1e-5);
}

#[test]
fn consistent_groups_still_get_a_gradient() {
    let lens = [2; 12];
    let config = copo_config();
    let plan = MethodRuntime::new(&config)
        .expect("valid")
        .plan(&batch(&lens), &StepContext::default())
        .expect("plan");
    let planned = PlannedLoss::new(&plan, &lens, 2, Device::Cpu);
    let opts = (Kind::Float, Device::Cpu);
    let old = Tensor::full([12, 2], -1.0, opts);
    let logp = old.copy().set_requires_grad(true);
    let mask = Tensor::ones([12, 2], opts);
    let terms = PolicyTerms {
        logp: &logp,
        old_logp: &old,
        ref_logp: None,
        advantages: &planned.advantages,
        mask: &mask,
        entropy: None,
    };
    let index = Tensor::arange(12, (Kind::Int64, Device::Cpu));
    planned
        .loss(
            &PolicyObjective::new(config.objective).expect("valid objective"),
            &terms,
            &index,
            2.0,
        )
        .loss
        .backward();
    let grad: Vec<f32> = Vec::try_from(logp.grad().view([-1])).unwrap();
    // All-correct prompt pushed up, all-wrong pushed down, though GRPO gives both zero.
    assert!(grad[..8].iter().all(|&g| g < 0.0), "{grad:?}");
    assert!(grad[16..].iter().all(|&g| g > 0.0), "{grad:?}");
}
