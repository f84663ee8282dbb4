//! etr.md "CPU-scale check" (reconstructed formulas): elastic per-sample clip bounds, and the
//! regression property that alpha = beta = 0 is GRPO exactly, loss and gradients.
use polopt_methods::credit::{Advantages, CreditBatch};
use polopt_methods::objective::{
    elastic_bounds, ElasticConfig, PlannedLoss, PolicyObjective, PolicyTerms,
};
use polopt_methods::plan::{MethodRuntime, StepContext};
use polopt_methods::MethodConfig;
use tch::{Device, Kind, Tensor};

fn batch<'a>(rewards: &'a [f64], groups: &'a [usize], lens: &'a [usize]) -> CreditBatch<'a> {
    CreditBatch {
        rewards,
        group_ids: groups,
        response_lens: lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    }
}

fn spec_knobs() -> ElasticConfig {
    ElasticConfig {
        alpha: 0.2,
        beta: 0.5,
        ..ElasticConfig::default()
    }
}

#[test]
fn spec_group_gets_the_spec_bounds() {
    let rewards = [1.0, 0.0, 1.0, 1.0];
    let b = batch(&rewards, &[0; 4], &[1; 4]);
    let bounds = elastic_bounds(&b, &[0.5, -1.5, 0.5, 0.5], 0.2, 0.2, &spec_knobs());
    for (got, want) in bounds.low.iter().zip([0.1925, 0.2275, 0.1925, 0.1925]) {
        assert!((got - want).abs() < 1e-12, "{:?}", bounds.low);
    }
    assert_eq!(bounds.low, bounds.high);
}

#[test]
fn half_pass_rate_keeps_the_full_budget_and_zero_knobs_keep_the_constant() {
    let rewards = [1.0, 0.0, 1.0, 0.0];
    let b = batch(&rewards, &[0; 4], &[1; 4]);
    let no_micro = ElasticConfig {
        alpha: 0.0,
        ..spec_knobs()
    };
    let bounds = elastic_bounds(&b, &[0.87, -0.87, 0.87, -0.87], 0.2, 0.28, &no_micro);
    assert_eq!(bounds.high, vec![0.28; 4]);
    let zero = elastic_bounds(
        &b,
        &[0.87, -0.87, 0.87, -0.87],
        0.2,
        0.2,
        &ElasticConfig::default(),
    );
    assert_eq!(zero.low, vec![0.2; 4]);
}

/// Loss and gradient wrt logp of one update planned under `config`.
fn loss_and_grad(config: &MethodConfig) -> (f64, Vec<f64>) {
    let rewards = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0];
    let groups = [0, 0, 0, 0, 1, 1, 1, 1];
    let lens = [3; 8];
    let runtime = MethodRuntime::new(config).expect("valid");
    let plan = runtime
        .plan(&batch(&rewards, &groups, &lens), &StepContext::default())
        .expect("plan");
    assert!(matches!(plan.advantages, Advantages::Sequence(_)));
    let planned = PlannedLoss::new(&plan, &lens, 3, Device::Cpu);
    // Log-ratios spread over +-0.4 so that some tokens sit outside a 0.2 trust region.
    let shift = Tensor::linspace(-0.4, 0.4, 24, (Kind::Float, Device::Cpu)).view([8, 3]);
    let old = Tensor::full([8, 3], -1.0, (Kind::Float, Device::Cpu));
    let logp = (&old + shift).set_requires_grad(true);
    let mask = Tensor::ones([8, 3], (Kind::Float, Device::Cpu));
    let terms = PolicyTerms {
        logp: &logp,
        old_logp: &old,
        ref_logp: None,
        advantages: &planned.advantages,
        mask: &mask,
        entropy: None,
    };
    let objective = PolicyObjective::new(config.objective.clone()).expect("valid objective");
    let index = Tensor::arange(8, (Kind::Int64, Device::Cpu));
    let out = planned.loss(&objective, &terms, &index, 3.0);
    out.loss.backward();
    let grad: Vec<f64> = Vec::try_from(logp.grad().to_kind(Kind::Double).view([-1])).unwrap();
    (out.loss.double_value(&[]), grad)
}

#[test]
fn zero_knobs_make_etr_grpo_exactly() {
    let grpo = MethodConfig::default();
    let mut etr = MethodConfig::default();
    etr.objective.trust_region = "elastic".into();
    assert_eq!(loss_and_grad(&etr), loss_and_grad(&grpo));
}

#[test]
fn elastic_bounds_change_which_tokens_are_clipped() {
    let grpo = MethodConfig::default();
    let mut etr = MethodConfig::default();
    etr.objective.trust_region = "elastic".into();
    etr.objective
        .parts
        .put("elastic", &spec_knobs())
        .expect("serializes");
    let (_, g_grpo) = loss_and_grad(&grpo);
    let (_, g_etr) = loss_and_grad(&etr);
    let zeros = |g: &[f64]| g.iter().filter(|&&x| x == 0.0).count();
    assert_ne!(zeros(&g_grpo), zeros(&g_etr), "{g_grpo:?} vs {g_etr:?}");
}

#[test]
fn a_negative_beta_is_rejected_with_its_key() {
    let mut m = MethodConfig::default();
    m.objective.parts.set("elastic", "beta", -0.1);
    let err = m.validate().expect_err("beta < 0").to_string();
    assert!(err.contains("method.objective.elastic.beta"), "{err}");
}
