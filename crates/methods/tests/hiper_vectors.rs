//! hiper-hae.md: the test vector (A^lo and A^hi, gamma 0.99, lambda 0.95), the termination
//! advantage, value targets, truncation, reward shaping, token assignment and normalisation.
use polopt_methods::credit::turns::Episode;
use polopt_methods::credit::{
    estimator, hae_episode, hiper_turn_rewards, hiper_value_targets, Advantages, CreditBatch,
    HiperConfig, PlanTurns,
};
use polopt_methods::MethodConfig;

/// Turn `t` occupies tokens `4t..4t+4`: switch, subgoal, action, then the environment's text.
fn episode(rewards: &[f64], switch: &[bool], v_low: &[f64], v_high: &[f64]) -> Episode {
    let turns = rewards.len();
    let span = |offset: usize| (0..turns).map(move |t| (4 * t + offset, 4 * t + offset + 1));
    Episode {
        spans: span(2).collect(),
        rewards: rewards.to_vec(),
        states: vec![0; turns],
        actions: vec![0; turns],
        invalid: vec![false; turns],
        terminated: true,
        plan: Some(PlanTurns {
            switch: switch.to_vec(),
            v_low: v_low.to_vec(),
            v_high: v_high.to_vec(),
            v_term: None,
            switch_spans: span(0).collect(),
            subgoal_spans: span(1).collect(),
        }),
        ..Default::default()
    }
}

/// The spec's episode: segments [0, 1] and [2, 3], done at turn 3. V_high at the non-boundary
/// turns is never read (set to 9).
fn spec_episode() -> Episode {
    episode(
        &[0.0, 0.0, 0.0, 1.0],
        &[true, false, true, false],
        &[0.2, 0.3, 0.5, 0.8],
        &[0.25, 9.0, 0.6, 9.0],
    )
}

fn spec_config() -> HiperConfig {
    HiperConfig {
        gamma: 0.99,
        lambda_turn: 0.95,
        lambda_seg: 0.95,
        norm_adv: false,
        ..Default::default()
    }
}

fn plan(e: &Episode) -> &PlanTurns {
    e.plan.as_ref().unwrap()
}

fn config_with(settings: &[(&str, toml::Value)]) -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.estimator = "hiper".into();
    for (key, value) in settings {
        m.credit.parts.set("hiper", key, value.clone());
    }
    m
}

fn spec_settings() -> MethodConfig {
    config_with(&[
        ("gamma", 0.99.into()),
        ("lambda_turn", 0.95.into()),
        ("norm_adv", false.into()),
    ])
}

fn run(m: &MethodConfig, episodes: &[Episode]) -> Result<Vec<Vec<f64>>, String> {
    let rewards: Vec<f64> = episodes.iter().map(|e| e.rewards.iter().sum()).collect();
    let lens: Vec<usize> = episodes.iter().map(|e| 4 * e.turns()).collect();
    let groups: Vec<usize> = (0..episodes.len()).collect();
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: Some(episodes),
    };
    match estimator(&m.credit)
        .map_err(|e| e.to_string())?
        .estimate(&batch)
    {
        Ok(Advantages::Token(rows)) => Ok(rows),
        Ok(Advantages::Sequence(_)) => panic!("hiper is token-level"),
        Err(e) => Err(e.to_string()),
    }
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}

#[test]
fn spec_vector_low_and_high_advantages() {
    let e = spec_episode();
    let hae = hae_episode(&e.rewards, plan(&e), true, &spec_config());
    assert_eq!(hae.boundaries, vec![0, 2]);
    assert_close(&hae.low, &[0.373507, 0.294, 0.4801, 0.2], 1e-6);
    assert_close(&hae.high, &[0.701187, 0.39], 1e-6);
    assert_eq!(hae.term, None);
}

#[test]
fn value_targets_add_each_advantage_to_its_value() {
    let e = spec_episode();
    let hae = hae_episode(&e.rewards, plan(&e), true, &spec_config());
    assert_close(&hae.targets.v_low, &[0.573507, 0.594, 0.9801, 1.0], 1e-6);
    assert_close(&hae.targets.v_high, &[0.951187, 0.99], 1e-6);
    // Returns to each segment's end plus the next planning value (0.6 after turn 1).
    assert_close(&hae.targets.v_term, &[0.58806, 0.594, 0.99, 1.0], 1e-12);
    let targets = hiper_value_targets(&[e], &spec_config()).unwrap();
    assert_eq!(targets, vec![hae.targets]);
}

#[test]
fn termination_advantage_is_the_return_minus_v_term() {
    let mut e = spec_episode();
    e.plan.as_mut().unwrap().v_term = Some(vec![0.1, 0.2, 0.3, 0.4]);
    let hae = hae_episode(&e.rewards, plan(&e), true, &spec_config());
    assert_close(
        hae.term.as_deref().unwrap(),
        &[0.48806, 0.394, 0.69, 0.6],
        1e-12,
    );
}

#[test]
fn tokens_get_their_component() {
    let mut three_heads = spec_episode();
    three_heads.plan.as_mut().unwrap().v_term = Some(vec![0.1, 0.2, 0.3, 0.4]);
    let rows = run(&spec_settings(), &[spec_episode(), three_heads]).unwrap();
    let (lo, hi) = ([0.373507, 0.294, 0.4801, 0.2], [0.701187, 0.0, 0.39, 0.0]);
    let term = [0.48806, 0.394, 0.69, 0.6];
    for (row, switch) in rows.iter().zip([hi, term]) {
        let column =
            |offset: usize| -> Vec<f64> { row.iter().skip(offset).step_by(4).copied().collect() };
        assert_close(&column(0), &switch, 1e-6);
        assert_close(&column(1), &hi, 1e-6);
        assert_close(&column(2), &lo, 1e-6);
        assert_eq!(column(3), vec![0.0; 4], "environment tokens");
    }
}

#[test]
fn a_cut_episode_bootstraps_from_its_last_values() {
    let mut e = episode(&[0.0, 0.0], &[true, false], &[0.2, 0.3], &[0.25, 0.4]);
    e.terminated = false;
    let config = spec_config();
    let hae = hae_episode(&e.rewards, plan(&e), false, &config);
    let last = 0.99 * 0.3 - 0.3;
    let first = 0.99 * 0.3 - 0.2 + 0.99 * 0.95 * last;
    assert_close(&hae.low, &[first, last], 1e-12);
    assert_close(&hae.high, &[0.99 * 0.99 * 0.4 - 0.25], 1e-12);

    let ending = HiperConfig {
        bootstrap_truncated: false,
        ..config
    };
    let hae = hae_episode(&e.rewards, plan(&e), false, &ending);
    assert_close(
        &hae.low,
        &[0.99 * 0.3 - 0.2 + 0.99 * 0.95 * -0.3, -0.3],
        1e-12,
    );
    assert_close(&hae.high, &[-0.25], 1e-12);
}

#[test]
fn invalid_actions_and_keep_turns_are_penalised() {
    let mut e = spec_episode();
    e.invalid = vec![false, true, false, false];
    let config = HiperConfig {
        invalid_penalty: 0.1,
        keep_penalty: -0.3,
        ..spec_config()
    };
    let r = hiper_turn_rewards(&e, plan(&e), &config);
    assert_close(&r, &[0.0, -0.4, 0.0, 0.7], 1e-12);
}

#[test]
fn normalisation_standardises_each_component_over_the_batch() {
    let mut other = spec_episode();
    other.rewards = vec![0.0, 1.0, 0.0, 0.0];
    let rows = run(&config_with(&[]), &[spec_episode(), other]).unwrap();
    let actions: Vec<f64> = rows
        .iter()
        .flat_map(|row| row.iter().skip(2).step_by(4).copied())
        .collect();
    let mean = actions.iter().sum::<f64>() / actions.len() as f64;
    let var = actions.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / actions.len() as f64;
    assert!(
        mean.abs() < 1e-9 && (var.sqrt() - 1.0).abs() < 1e-6,
        "{actions:?}"
    );
    let subgoals: Vec<f64> = rows.iter().flat_map(|row| [row[1], row[9]]).collect();
    let mean = subgoals.iter().sum::<f64>() / 4.0;
    let var = subgoals.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 4.0;
    assert!(
        mean.abs() < 1e-9 && (var.sqrt() - 1.0).abs() < 1e-6,
        "{subgoals:?}"
    );
}

#[test]
fn missing_plans_or_turns_are_errors_naming_hiper() {
    let mut e = spec_episode();
    e.plan = None;
    let err = run(&config_with(&[]), &[e]).unwrap_err();
    assert!(err.contains("hiper") && err.contains("plan"), "{err}");

    let mut e = spec_episode();
    e.plan.as_mut().unwrap().v_low.pop();
    let err = run(&config_with(&[]), &[e]).unwrap_err();
    assert!(err.contains("hiper") && err.contains("v_low 3"), "{err}");

    let batch = CreditBatch {
        rewards: &[1.0],
        group_ids: &[0],
        response_lens: &[4],
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let err = estimator(&config_with(&[]).credit)
        .unwrap()
        .estimate(&batch)
        .unwrap_err()
        .to_string();
    assert!(err.contains("hiper") && err.contains("agent"), "{err}");
}

#[test]
fn bad_settings_name_their_key() {
    for (key, value) in [
        ("gamma", toml::Value::from(1.1)),
        ("lambda_seg", (-0.5).into()),
        ("invalid_penalty", (-0.1).into()),
        ("keep_penalty", 0.3.into()),
        ("norm_adv", "yes".into()),
    ] {
        let e = config_with(&[(key, value)])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("method.credit.hiper.{key}")), "{e}");
    }
    config_with(&[]).validate().expect("the defaults are valid");
}
