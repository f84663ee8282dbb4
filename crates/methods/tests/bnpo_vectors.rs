//! bnpo.md "CPU-scale check": Beta-normalization parameters, densities and advantages, and the
//! special cases alpha = beta = 1 (Dr. GRPO) and alpha = beta = 3/2 (GRPO, population std).
use polopt_methods::credit::{
    beta_normalization_params, beta_pdf, estimator, Advantages, CreditBatch,
};
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

fn bnpo(rewards: &[f64], groups: &[usize], config: MethodConfig) -> Vec<f64> {
    let lens = vec![1; rewards.len()];
    let mut credit = config.credit;
    credit.estimator = "bnpo".into();
    match estimator(&credit)
        .expect("bnpo is registered")
        .estimate(&batch(rewards, groups, &lens))
        .expect("valid batch")
    {
        Advantages::Sequence(a) => a,
        Advantages::Token(_) => panic!("bnpo is sequence-level"),
    }
}

/// Six groups of four with pass rates [0.25, 0.5, 0.75, 1, 0, 0.5].
fn spec_batch() -> (Vec<f64>, Vec<usize>) {
    let groups: [[f64; 4]; 6] = [
        [1., 0., 0., 0.],
        [1., 1., 0., 0.],
        [1., 1., 1., 0.],
        [1., 1., 1., 1.],
        [0., 0., 0., 0.],
        [0., 1., 0., 1.],
    ];
    let rewards = groups.iter().flatten().copied().collect();
    let ids = (0..6).flat_map(|g| [g; 4]).collect();
    (rewards, ids)
}

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

#[test]
fn moment_fit_of_the_spec_batch_gives_alpha_beta_seven_sixths() {
    let (a, b) = beta_normalization_params(&[0.25, 0.5, 0.75, 1.0, 0.0, 0.5]);
    close(a, 7.0 / 6.0, 1e-12);
    close(b, 7.0 / 6.0, 1e-12);
    close(beta_pdf(0.25, a, b), 1.0466, 1e-4);
    close(beta_pdf(0.75, a, b), 1.0466, 1e-4);
    close(beta_pdf(0.5, a, b), 1.0980, 1e-4);
}

#[test]
fn spec_batch_advantages_match_the_vector() {
    let (rewards, groups) = spec_batch();
    let a = bnpo(&rewards, &groups, MethodConfig::default());
    close(a[0], 0.7166, 1e-4); // p = 0.25, correct
    close(a[1], -0.2389, 1e-4); // p = 0.25, wrong
    close(a[4], 0.4554, 1e-4); // p = 0.5
    close(a[6], -0.4554, 1e-4);
    close(a[8], 0.2389, 1e-4); // p = 0.75, correct
    close(a[11], -0.7166, 1e-4);
    // All-equal groups get exactly zero even though the density vanishes at p in {0, 1}.
    assert!(a[12..20].iter().all(|&x| x == 0.0), "{:?}", &a[12..20]);
}

#[test]
fn alpha_beta_one_is_the_group_mean_baseline() {
    // Pass rates [0, 1, 0.5]: mu = 0.5, var = 0.25, so mu(1-mu)/var - 1 = 0 and alpha = beta = 1.
    let rewards = [0., 0., 1., 1., 1., 0.];
    let groups = [0, 0, 1, 1, 2, 2];
    let (a, b) = beta_normalization_params(&[0.0, 1.0, 0.5]);
    assert_eq!((a, b), (1.0, 1.0));
    let adv = bnpo(&rewards, &groups, MethodConfig::default());
    for (got, want) in adv.iter().zip([0.0, 0.0, 0.0, 0.0, 0.5, -0.5]) {
        close(*got, want, 1e-12);
    }
}

#[test]
fn alpha_beta_three_halves_is_std_normalization_up_to_a_constant() {
    // Beta(3/2, 3/2) density = sqrt(p (1 - p)) / B(3/2, 3/2), B(3/2, 3/2) = pi / 8.
    for p in [0.1f64, 0.3, 0.5, 0.9] {
        let want = (p * (1.0 - p)).sqrt() * 8.0 / std::f64::consts::PI;
        close(beta_pdf(p, 1.5, 1.5), want, 1e-12);
    }
}

#[test]
fn rewards_are_mapped_onto_the_unit_interval_first() {
    let (rewards, groups) = spec_batch();
    let signed: Vec<f64> = rewards.iter().map(|r| 2.0 * r - 1.0).collect();
    let mut config = MethodConfig::default();
    config.credit.parts.set("bnpo", "reward_min", -1.0);
    config.credit.parts.set("bnpo", "reward_max", 1.0);
    assert_eq!(
        bnpo(&signed, &groups, config),
        bnpo(&rewards, &groups, MethodConfig::default())
    );
}

#[test]
fn an_inverted_reward_range_is_rejected_with_its_key() {
    let mut config = MethodConfig::default();
    config.credit.parts.set("bnpo", "reward_max", -1.0);
    let err = config
        .validate()
        .expect_err("reward_max < reward_min")
        .to_string();
    assert!(err.contains("method.credit.bnpo.reward_max"), "{err}");
}
