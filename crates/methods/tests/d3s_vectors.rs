//! d3s.md "CPU-scale check": cross-group max-variance sample selection, top |A| H token
//! selection, the linear schedule, and that D3S with every fraction at 1 is its base method.
use polopt_methods::credit::{group_relative_advantage, CreditBatch};
use polopt_methods::objective::{Aggregation, PlannedLoss};
use polopt_methods::plan::{MethodRuntime, StepContext};
use polopt_methods::select::{max_variance_subset, top_tokens_mask, D3sConfig};
use polopt_methods::MethodConfig;
use tch::Device;

fn population_variance(values: &[f64]) -> f64 {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64
}

#[test]
fn spec_pool_selects_the_extremes_of_both_signs() {
    let a = [1.5, 0.5, -0.5, -1.5, 0.9, 0.9, -1.1, -0.7];
    let chosen = max_variance_subset(&a, 4);
    assert_eq!(chosen, vec![0, 3, 4, 6]); // 1.5, -1.5, 0.9, -1.1
    let picked: Vec<f64> = chosen.iter().map(|&i| a[i]).collect();
    assert!((population_variance(&picked) - 1.6275).abs() < 1e-12);
    assert!((population_variance(&a) - 1.04).abs() < 1e-12);
}

#[test]
fn a_short_side_is_filled_from_the_other_and_zeros_come_last() {
    let a = [0.0, 2.0, 1.0, 0.5, -1.0];
    assert_eq!(max_variance_subset(&a, 4), vec![1, 2, 3, 4]);
    assert_eq!(max_variance_subset(&a, 5), vec![0, 1, 2, 3, 4]);
}

#[test]
fn half_the_tokens_by_advantage_times_entropy() {
    let entropy = vec![vec![0.1, 2.0, 0.5, 1.5]];
    let mask = top_tokens_mask(&[0], &[4], |_, _| 1.0, Some(&entropy), 0.5);
    assert_eq!(mask, vec![vec![0.0, 1.0, 0.0, 1.0]]);
}

#[test]
fn schedule_is_linear_in_progress() {
    let c = D3sConfig {
        sample_frac_init: 0.25,
        token_frac_init: 0.2,
        ..D3sConfig::default()
    };
    assert_eq!(c.schedule(0.0), (0.25, 0.2));
    assert_eq!(c.schedule(1.0), (1.0, 1.0));
    let (n, k) = c.schedule(0.5);
    assert!((n - 0.625).abs() < 1e-12 && (k - 0.6).abs() < 1e-12);
}

#[test]
fn selected_subsets_of_standardized_groups_have_variance_at_least_one() {
    // Four groups of 8 binary rewards, standardized with the population std.
    let rewards: Vec<f64> = (0..32)
        .map(|i| ((i * 7 + i / 5) % 3 == 0) as u8 as f64)
        .collect();
    let groups: Vec<usize> = (0..32).map(|i| i / 8).collect();
    let lens = vec![1; 32];
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let a = group_relative_advantage(&batch, true, 0, 0.0);
    for n in [4, 8, 16, 24] {
        let picked: Vec<f64> = max_variance_subset(&a, n).iter().map(|&i| a[i]).collect();
        assert!(
            population_variance(&picked) >= 1.0 - 1e-12,
            "n = {n}: {picked:?}"
        );
    }
}

fn d3s_plan(config: &MethodConfig, progress: f64) -> (Vec<Vec<f64>>, PlannedLoss) {
    let rewards = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let groups = [0, 0, 0, 0, 1, 1, 1, 1];
    let lens = [2, 3, 1, 2, 3, 3, 2, 1];
    let entropy: Vec<Vec<f64>> = lens
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            (0..l)
                .map(|t| 0.1 + 0.3 * ((i + 2 * t) % 4) as f64)
                .collect()
        })
        .collect();
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let runtime = MethodRuntime::new(config).expect("valid");
    assert!(runtime.needs_old_entropy());
    let ctx = StepContext {
        progress,
        old_entropy: Some(&entropy),
        ..Default::default()
    };
    let plan = runtime.plan(&batch, &ctx).expect("plan");
    let mask = plan.token_keep.clone().expect("d3s masks tokens");
    (mask, PlannedLoss::new(&plan, &lens, 3, Device::Cpu))
}

#[test]
fn early_training_keeps_few_tokens_and_the_end_keeps_all() {
    let mut config = MethodConfig::default();
    config.select.downsample = "d3s".into();
    config.select.parts.set("d3s", "sample_frac_init", 0.25);
    config.select.parts.set("d3s", "token_frac_init", 0.2);
    config.objective.aggregation = Aggregation::TokenMean;
    let (early, _) = d3s_plan(&config, 0.0);
    let kept_rows = early.iter().filter(|r| r.iter().any(|&k| k > 0.0)).count();
    let kept_tokens: f64 = early.iter().flatten().sum();
    assert_eq!(kept_rows, 1, "{early:?}"); // ceil(0.2 * tokens of 2 samples) = 1 token
    assert_eq!(kept_tokens, 1.0);
    let (late, _) = d3s_plan(&config, 1.0);
    assert!(late.iter().flatten().all(|&k| k == 1.0), "{late:?}");
}

#[test]
fn every_fraction_at_one_is_the_base_method_exactly() {
    use polopt_methods::objective::{PolicyObjective, PolicyTerms};
    use tch::{Kind, Tensor};
    let rewards = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    let groups = [0, 0, 0, 1, 1, 1];
    let lens = [2, 3, 1, 3, 2, 2];
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let loss = |config: &MethodConfig| {
        let plan = MethodRuntime::new(config)
            .expect("valid")
            .plan(&batch, &StepContext::default())
            .expect("plan");
        let planned = PlannedLoss::new(&plan, &lens, 3, Device::Cpu);
        let opts = (Kind::Float, Device::Cpu);
        let old = Tensor::full([6, 3], -1.0, opts);
        let logp = &old + Tensor::linspace(-0.3, 0.3, 18, opts).view([6, 3]);
        let mask_rows: Vec<f32> = lens
            .iter()
            .flat_map(|&l| (0..3).map(move |t| (t < l) as u8 as f32))
            .collect();
        let mask = Tensor::from_slice(&mask_rows).view([6, 3]);
        let terms = PolicyTerms {
            logp: &logp,
            old_logp: &old,
            ref_logp: None,
            advantages: &planned.advantages,
            mask: &mask,
            entropy: None,
        };
        let index = Tensor::arange(6, (Kind::Int64, Device::Cpu));
        let objective = PolicyObjective::new(config.objective.clone()).expect("valid objective");
        planned
            .loss(&objective, &terms, &index, 3.0)
            .loss
            .double_value(&[])
    };
    let mut base = MethodConfig::default();
    base.objective.aggregation = Aggregation::TokenMean;
    let mut d3s = base.clone();
    d3s.select.downsample = "d3s".into();
    assert_eq!(loss(&d3s), loss(&base));
    assert_ne!(loss(&base), 0.0);
}
