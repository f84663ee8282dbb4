//! dcpo.md "CPU-scale check": the controller's temperature rule and mixing weight, the mixed
//! per-token advantage, and the property that alpha = 0 is GRPO exactly (same loss).
use polopt_methods::credit::{
    accuracy, dcpo_advantages, mixing_weight, target_ratio, target_temperature, Advantages,
    CreditBatch, DcpoConfig, DcpoState,
};
use polopt_methods::objective::{PlannedLoss, PolicyObjective, PolicyTerms};
use polopt_methods::plan::{
    MethodRuntime, MethodState, StepContext, StepFeedback, TemperedOldLogp,
};
use polopt_methods::presets::preset;
use polopt_methods::{MethodConfig, MethodError};
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

fn dcpo_config() -> MethodConfig {
    (preset("dcpo").expect("registered").build)()
}

fn with_entropy(config: &MethodConfig, h: f64) -> MethodRuntime {
    let mut runtime = MethodRuntime::new(config).expect("valid");
    runtime
        .restore(MethodState {
            parts: [(
                "dcpo".to_string(),
                serde_json::to_value(DcpoState {
                    prev_entropy: Some(h),
                })
                .unwrap(),
            )]
            .into(),
            ..Default::default()
        })
        .expect("a DCPO state restores");
    runtime
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() < tol
}

#[test]
fn spec_example_gives_alpha_0_2857_and_the_spec_advantages() {
    let c = DcpoConfig::default();
    assert_eq!(c.entropy_target, 0.5);
    assert_eq!(target_temperature(0.30, &c), 1.2);
    let alpha = mixing_weight(0.30, 0.25, &c);
    assert!(close(alpha, 0.2857, 1e-4), "{alpha}");
    assert!(close(alpha, 2.0 / 7.0, 1e-12), "{alpha}");
    let rho = target_ratio(&[vec![-0.45], vec![-0.45]], &[vec![-0.5], vec![-0.5]], None);
    assert!(close(rho[0][0], 1.0513, 1e-4), "{rho:?}");
    let adv = dcpo_advantages(&[1.2, -0.4], &[1.0, 0.0], &rho, alpha, c.correct_threshold);
    assert!(close(adv[0][0], 1.1575, 1e-4), "{adv:?}");
    assert!(close(adv[1][0], -0.2857, 1e-4), "{adv:?}");
}

#[test]
fn temperature_flattens_at_or_below_the_target_and_sharpens_above() {
    let c = DcpoConfig::default();
    assert_eq!(target_temperature(0.1, &c), 1.2);
    assert_eq!(
        target_temperature(0.5, &c),
        1.2,
        "H = H_0 counts as too little"
    );
    assert_eq!(target_temperature(0.5000001, &c), 0.8);
    assert_eq!(target_temperature(3.0, &c), 0.8);
    // The gap is capped at 0.1, and no correct response means no regularizer at all.
    assert!(close(mixing_weight(3.0, 0.5, &c), (0.2) / 1.2, 1e-12));
    assert_eq!(mixing_weight(0.3, 0.0, &c), 0.0);
    assert_eq!(mixing_weight(0.5, 0.3, &c), 0.0);
    assert_eq!(accuracy(&[0.05, 0.06, 1.0, 0.0], 0.05), 0.5);
}

#[test]
fn runtime_plans_the_spec_mix_with_the_tempered_pass() {
    let config = dcpo_config();
    let runtime = with_entropy(&config, 0.30);
    assert_eq!(runtime.extra_old_temperature(), Some(1.2));
    // One group, one correct of four: acc = 0.25, GRPO (unbiased std 0.5) A = [1.5, -0.5 x3]
    // (up to the std's eps = 1e-6).
    let rewards = [1.0, 0.0, 0.0, 0.0];
    let lens = [2, 1, 1, 1];
    let b = batch(&rewards, &[0; 4], &lens);
    let tempered = vec![vec![-0.45, -1.0], vec![-0.45], vec![-0.45], vec![-0.45]];
    let base = vec![vec![-0.5, -0.9], vec![-0.5], vec![-0.5], vec![-0.5]];
    let ctx = StepContext {
        tempered_old_logp: Some(TemperedOldLogp {
            temperature: 1.2,
            tempered: &tempered,
            base: &base,
        }),
        ..Default::default()
    };
    let plan = runtime.plan(&b, &ctx).expect("plan");
    let alpha = 2.0 / 7.0;
    assert!(close(plan.metrics["dcpo/alpha"], alpha, 1e-12));
    assert_eq!(plan.metrics["dcpo/temperature"], 1.2);
    let Advantages::Token(rows) = &plan.advantages else {
        panic!("dcpo gives token-level advantages");
    };
    let want0 = (1.0 - alpha) * 1.5 + alpha * 0.05f64.exp();
    let want1 = (1.0 - alpha) * 1.5 + alpha * (-0.1f64).exp();
    assert!(close(rows[0][0], want0, 1e-5), "{rows:?}");
    assert!(close(rows[0][1], want1, 1e-5), "{rows:?}");
    for row in &rows[1..] {
        assert!(close(row[0], (1.0 - alpha) * -0.5, 1e-5), "{rows:?}");
    }
}

#[test]
fn a_missing_tempered_pass_is_an_error_that_names_dcpo() {
    let runtime = with_entropy(&dcpo_config(), 0.30);
    let rewards = [1.0, 0.0];
    let b = batch(&rewards, &[0, 0], &[1, 1]);
    let err = runtime.plan(&b, &StepContext::default()).unwrap_err();
    assert!(
        matches!(err, MethodError::Shape { part: "dcpo", .. }),
        "{err}"
    );
}

#[test]
fn rho_clamp_is_optional_and_caps_the_ratio() {
    let rho = target_ratio(&[vec![0.0, -3.0]], &[vec![-2.0, -1.0]], Some(5.0));
    assert_eq!(rho[0][0], 5.0, "e^2 = 7.39 is clamped to 5");
    assert!(close(rho[0][1], (-2.0f64).exp(), 1e-15));
    let free = target_ratio(&[vec![0.0]], &[vec![-2.0]], None);
    assert!(close(free[0][0], 2.0f64.exp(), 1e-12));
}

/// Loss and gradient wrt logp of one update planned by `runtime`.
fn loss_and_grad(
    runtime: &MethodRuntime,
    config: &MethodConfig,
    b: &CreditBatch,
    ctx: &StepContext,
) -> (f64, Vec<f64>) {
    let plan = runtime.plan(b, ctx).expect("plan");
    let width = 3;
    let planned = PlannedLoss::new(&plan, b.response_lens, width, Device::Cpu);
    let n = b.len() as i64;
    let old = Tensor::from_slice(&[
        -0.5f32, -1.0, -0.2, -0.7, -0.3, -0.9, -1.2, -0.4, -0.6, -0.8, -0.1, -0.5,
    ])
    .view([n, 3]);
    let step = Tensor::from_slice(&[0.3f32, -0.4, 0.1, -0.35, 0.05, 0.25]).repeat([2]);
    let logp = (&old + step.view([n, 3])).set_requires_grad(true);
    let mask = Tensor::from_slice(&[1f32, 1., 1., 1., 1., 0., 1., 0., 0., 1., 1., 1.]).view([n, 3]);
    let terms = PolicyTerms {
        logp: &logp,
        old_logp: &old,
        ref_logp: None,
        advantages: &planned.advantages,
        mask: &mask,
        entropy: None,
    };
    let objective = PolicyObjective::new(config.objective.clone()).expect("valid objective");
    let index = Tensor::arange(n, (Kind::Int64, Device::Cpu));
    let out = planned.loss(&objective, &terms, &index, 3.0);
    out.loss.backward();
    let grad = Vec::<f64>::try_from(logp.grad().to_kind(Kind::Double).view([-1])).unwrap();
    (out.loss.double_value(&[]), grad)
}

#[test]
fn alpha_zero_is_grpo_exactly_same_loss_and_gradient() {
    let rewards = [1.0, 0.0, 0.5, 1.0];
    let lens = [3, 2, 1, 3];
    let b = batch(&rewards, &[0, 0, 1, 1], &lens);
    let tempered: Vec<Vec<f64>> = lens.iter().map(|&l| vec![-0.3; l]).collect();
    let base: Vec<Vec<f64>> = lens.iter().map(|&l| vec![-0.6; l]).collect();
    let ctx = StepContext {
        tempered_old_logp: Some(TemperedOldLogp {
            temperature: 1.2,
            tempered: &tempered,
            base: &base,
        }),
        ..Default::default()
    };
    let dcpo = dcpo_config();
    let mut grpo = dcpo.clone();
    grpo.credit.entropy_control = "none".into();
    let reference = loss_and_grad(&MethodRuntime::new(&grpo).unwrap(), &grpo, &b, &ctx);

    let mut capped = dcpo.clone();
    capped.credit.parts.set("dcpo", "alpha_cap", 0.0);
    let runtime = with_entropy(&capped, 0.30);
    assert_eq!(
        runtime.extra_old_temperature(),
        None,
        "alpha = 0 needs no pass"
    );
    let zero = loss_and_grad(&runtime, &capped, &b, &StepContext::default());
    assert_eq!(zero, reference, "alpha_cap = 0");
    let at_target = with_entropy(&dcpo, 0.5);
    assert_eq!(at_target.extra_old_temperature(), None);
    assert_eq!(
        loss_and_grad(&at_target, &dcpo, &b, &StepContext::default()),
        reference,
        "H = H_0"
    );
    let first_step = MethodRuntime::new(&dcpo).unwrap();
    assert_eq!(
        loss_and_grad(&first_step, &dcpo, &b, &StepContext::default()),
        reference,
        "first step (no H yet)"
    );
    // And alpha > 0 does change it: the test above could not pass by accident.
    let active = with_entropy(&dcpo, 0.30);
    assert_ne!(loss_and_grad(&active, &dcpo, &b, &ctx).0, reference.0);
}

#[test]
fn controller_state_follows_feedback_and_survives_a_restore() {
    let config = dcpo_config();
    let mut runtime = MethodRuntime::new(&config).unwrap();
    assert_eq!(runtime.extra_old_temperature(), None, "first step");
    runtime.observe_step(&StepFeedback {
        token_nll_mean: 0.9,
        entropy_mean: 0.2,
        token_entropies: Vec::new(),
    });
    assert_eq!(prev_entropy(&runtime), Some(0.9));
    assert_eq!(runtime.extra_old_temperature(), Some(0.8));
    runtime.observe_step(&StepFeedback {
        token_nll_mean: f64::NAN,
        entropy_mean: 0.2,
        token_entropies: Vec::new(),
    });
    assert_eq!(
        prev_entropy(&runtime),
        Some(0.9),
        "a non-finite step keeps the last estimate"
    );
    let mut resumed = MethodRuntime::new(&config).unwrap();
    resumed
        .restore(runtime.state())
        .expect("a saved state restores");
    assert_eq!(resumed.extra_old_temperature(), Some(0.8));

    let mut full = config.clone();
    full.credit
        .parts
        .set("dcpo", "entropy_estimate", "full_entropy");
    let mut runtime = MethodRuntime::new(&full).unwrap();
    runtime.observe_step(&StepFeedback {
        token_nll_mean: 0.9,
        entropy_mean: 0.2,
        token_entropies: Vec::new(),
    });
    assert_eq!(runtime.extra_old_temperature(), Some(1.2));
}

#[test]
fn out_of_range_knobs_name_their_key() {
    let mut c = dcpo_config();
    c.credit.parts.set("dcpo", "alpha_cap", -0.1);
    let err = MethodRuntime::new(&c).err().expect("rejected").to_string();
    assert!(err.contains("method.credit.dcpo.alpha_cap"), "{err}");
    let mut c = dcpo_config();
    c.credit.parts.set("dcpo", "rho_max", 0.0);
    let err = MethodRuntime::new(&c).err().expect("rejected").to_string();
    assert!(err.contains("method.credit.dcpo.rho_max"), "{err}");
}

/// The controller's saved entropy estimate.
fn prev_entropy(runtime: &MethodRuntime) -> Option<f64> {
    let state: DcpoState = serde_json::from_value(runtime.state().parts["dcpo"].clone()).unwrap();
    state.prev_entropy
}
