//! adora.md "CPU-scale check": Length-Advantage classification and the group weights, and the
//! property that unit weights leave GRPO's advantages unchanged.
use polopt_methods::credit::{
    adora_group_weights, is_temporarily_advantageous, AdoraConfig, Advantages, CreditBatch,
};
use polopt_methods::plan::{MethodRuntime, StepContext};
use polopt_methods::MethodConfig;

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

fn logic_rl() -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.reweight = "adora".into();
    m.credit.parts.set("adora", "correct_threshold", 1.01);
    m
}

fn planned(config: &MethodConfig, rewards: &[f64], lens: &[usize]) -> Vec<f64> {
    let groups = vec![0; rewards.len()];
    let runtime = MethodRuntime::new(config).expect("valid config");
    let plan = runtime
        .plan(&batch(rewards, &groups, lens), &StepContext::default())
        .expect("plan");
    match plan.advantages {
        Advantages::Sequence(a) => a,
        Advantages::Token(_) => panic!("sequence-level"),
    }
}

fn assert_close(got: &[f64], want: &[f64]) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-4, "got {got:?}, want {want:?}");
    }
}

const SCORES: [f64; 4] = [3.0, 3.0, -0.5, -2.0];

#[test]
fn longest_correct_longer_than_mean_incorrect_keeps_grpo_advantages() {
    // max correct 1200 > mean incorrect 1150: TAS.
    let a = planned(&logic_rl(), &SCORES, &[900, 1200, 1500, 800]);
    assert_close(&a, &[0.8403, 0.8403, -0.5437, -1.1368]);
}

#[test]
fn shorter_correct_answers_attenuate_the_group_tenfold() {
    // max correct 700 < mean incorrect 1400: TDS, weight 0.1.
    let a = planned(&logic_rl(), &SCORES, &[600, 700, 1500, 1300]);
    assert_close(&a, &[0.0840, 0.0840, -0.0544, -0.1137]);
}

#[test]
fn unit_weights_equal_grpo_exactly() {
    let mut config = logic_rl();
    config.credit.parts.set("adora", "weight_tds", 1.0);
    let lens = [600, 700, 1500, 1300];
    let adora = planned(&config, &SCORES, &lens);
    let grpo = planned(&MethodConfig::default(), &SCORES, &lens);
    assert_eq!(adora, grpo);
}

#[test]
fn truncated_incorrect_responses_leave_the_mean() {
    let config = AdoraConfig {
        correct_threshold: 0.5,
        ..AdoraConfig::default()
    };
    let rewards = [1.0, 1.0, 0.0, 0.0];
    let lens = [600, 1200, 2000, 800];
    let groups = [0, 0, 0, 0];
    let b = batch(&rewards, &groups, &lens);
    // Mean incorrect 1400 > 1200: TDS; excluding the truncated 2000-token answer: 800 < 1200.
    assert!(!is_temporarily_advantageous(&b, &[0, 1, 2, 3], &config));
    let cut = AdoraConfig {
        max_length_threshold: 1500,
        ..config
    };
    assert!(is_temporarily_advantageous(&b, &[0, 1, 2, 3], &cut));
}

#[test]
fn groups_without_correct_or_without_incorrect_answers_are_tds() {
    let config = AdoraConfig::default();
    let rewards = [1.0, 1.0, 0.0, 0.0];
    let lens = [5, 6, 3, 2];
    let groups = [0, 0, 1, 1];
    let w = adora_group_weights(&batch(&rewards, &groups, &lens), &config);
    assert_eq!(w, vec![0.1, 0.1, 0.1, 0.1]);
}
