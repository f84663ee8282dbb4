//! igpo.md: the test vector (G = 2, joint normalisation, population std, gamma 1 and 0.9),
//! the outcome and information-gain rules, the `separate` mode, and the errors.
use polopt_methods::credit::turns::Episode;
use polopt_methods::credit::{
    estimator, igpo_turn_rewards, information_gain, normalise_group_rewards, Advantages,
    CreditBatch, IgpoConfig, InfoGain, RewardNorm,
};
use polopt_methods::MethodConfig;

/// One token per turn at positions 0, 2, 4, ... (odd positions are the environment's text).
fn episode(gold_probs: &[f64], rewards: &[f64], terminated: bool) -> Episode {
    let turns = rewards.len();
    Episode {
        spans: (0..turns).map(|t| (2 * t, 2 * t + 1)).collect(),
        rewards: rewards.to_vec(),
        states: vec![0; turns],
        actions: vec![0; turns],
        invalid: vec![false; turns],
        gold_probs: gold_probs.to_vec(),
        terminated,
        ..Default::default()
    }
}

/// The spec's group: rollout 1 answers at turn 3 with F1 1, rollout 2 at turn 2 with F1 0.
fn spec_group() -> Vec<Episode> {
    vec![
        episode(&[0.10, 0.30, 0.60], &[0.0, 0.0, 1.0], true),
        episode(&[0.10, 0.05], &[0.0, 0.0], true),
    ]
}

fn config_with(settings: &[(&str, toml::Value)]) -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.estimator = "igpo".into();
    for (key, value) in settings {
        m.credit.parts.set("igpo", key, value.clone());
    }
    m
}

fn run(m: &MethodConfig, episodes: &[Episode], groups: &[usize]) -> Result<Advantages, String> {
    let rewards: Vec<f64> = episodes.iter().map(|e| e.rewards.iter().sum()).collect();
    let lens: Vec<usize> = episodes.iter().map(|e| 2 * e.turns()).collect();
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: Some(episodes),
    };
    estimator(&m.credit)
        .map_err(|e| e.to_string())?
        .estimate(&batch)
        .map_err(|e| e.to_string())
}

/// Per-turn advantages read off the action tokens; the environment's tokens must be 0.
fn per_turn(advantages: &Advantages) -> Vec<Vec<f64>> {
    let Advantages::Token(rows) = advantages else {
        panic!("igpo is token-level");
    };
    rows.iter()
        .map(|row| {
            assert!(row.iter().skip(1).step_by(2).all(|&a| a == 0.0), "{row:?}");
            row.iter().step_by(2).copied().collect()
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}

fn spec_rewards() -> Vec<Vec<f64>> {
    let config = IgpoConfig::default();
    spec_group()
        .iter()
        .enumerate()
        .map(|(i, e)| igpo_turn_rewards(e, i, &config).expect("valid episode"))
        .collect()
}

#[test]
fn turn_rewards_are_information_gains_then_the_outcome() {
    let rewards = spec_rewards();
    assert_close(&rewards[0], &[0.20, 0.30, 1.00], 1e-12);
    assert_close(&rewards[1], &[-0.05, 0.00], 1e-12);
}

#[test]
fn joint_normalisation_uses_the_population_std() {
    let all: Vec<f64> = spec_rewards().concat();
    let mean = all.iter().sum::<f64>() / 5.0;
    let std = (all.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
    assert!((mean - 0.29).abs() < 1e-12);
    assert!((std - 0.377359).abs() < 1e-6);
    let normalised = normalise_group_rewards(&spec_rewards(), RewardNorm::Joint, 0.0);
    assert_close(&normalised[0], &[-0.238500, 0.026500, 1.881496], 1e-6);
    assert_close(&normalised[1], &[-0.900998, -0.768498], 1e-6);
}

#[test]
fn spec_vector_with_gamma_one() {
    let m = config_with(&[("eps", 0.0.into())]);
    let a = per_turn(&run(&m, &spec_group(), &[0, 0]).unwrap());
    assert_close(&a[0], &[1.669497, 1.907996, 1.881496], 1e-6);
    assert_close(&a[1], &[-1.669497, -0.768498], 1e-6);
}

#[test]
fn spec_vector_with_gamma_point_nine() {
    let m = config_with(&[("eps", 0.0.into()), ("gamma", 0.9.into())]);
    let a = per_turn(&run(&m, &spec_group(), &[0, 0]).unwrap());
    assert_close(&a[0], &[1.309362, 1.719847, 1.881496], 1e-6);
    assert_close(&a[1], &[-1.592647, -0.768498], 1e-6);
}

#[test]
fn the_default_eps_shrinks_the_spec_vector_slightly() {
    let a = per_turn(&run(&config_with(&[]), &spec_group(), &[0, 0]).unwrap());
    let exact = 1.881496 * 0.377359 / (0.377359 + 1e-6);
    assert!((a[0][2] - exact).abs() < 1e-6, "{a:?}");
}

#[test]
fn groups_are_normalised_apart() {
    let mut episodes = spec_group();
    episodes.extend(spec_group());
    episodes[3].gold_probs = vec![0.9, 0.1];
    let m = config_with(&[("eps", 0.0.into())]);
    let a = per_turn(&run(&m, &episodes, &[7, 7, 3, 3]).unwrap());
    assert_close(&a[0], &[1.669497, 1.907996, 1.881496], 1e-6);
    assert_close(&a[1], &[-1.669497, -0.768498], 1e-6);
    assert_ne!(a[3], a[1]);
}

#[test]
fn an_episode_without_an_answer_pays_the_format_penalty() {
    let cut = episode(&[0.1, 0.2], &[0.0, 0.7], false);
    let config = IgpoConfig::default();
    let rewards = igpo_turn_rewards(&cut, 0, &config).unwrap();
    assert_close(&rewards, &[0.1, -2.0], 1e-12);
    let softer = IgpoConfig {
        format_penalty: 0.0,
        ..config
    };
    assert_close(
        &igpo_turn_rewards(&cut, 0, &softer).unwrap(),
        &[0.1, 0.0],
        1e-12,
    );
}

#[test]
fn log_prob_diff_measures_the_change_of_the_log_probability() {
    let gains = information_gain(&[0.1, 0.3, 0.15], InfoGain::LogProbDiff);
    assert_close(&gains, &[3f64.ln(), -(2f64.ln())], 1e-12);
    let m = config_with(&[("info_gain", "log_prob_diff".into())]);
    let zero_probe = vec![episode(&[0.0, 0.5], &[0.0, 1.0], true)];
    let e = run(&m, &zero_probe, &[0]).unwrap_err();
    assert!(
        e.contains("gold_probs") && e.contains("log_prob_diff"),
        "{e}"
    );
}

#[test]
fn separate_mode_normalises_gains_and_outcomes_apart() {
    let normalised = normalise_group_rewards(&spec_rewards(), RewardNorm::Separate, 0.0);
    // Outcomes {1, 0}: mean 0.5, population std 0.5.
    assert_close(&[normalised[0][2], normalised[1][1]], &[1.0, -1.0], 1e-12);
    let gains = [0.20, 0.30, -0.05];
    let mean = gains.iter().sum::<f64>() / 3.0;
    let std = (gains.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    let z: Vec<f64> = gains.iter().map(|g| (g - mean) / std).collect();
    assert_close(
        &[normalised[0][0], normalised[0][1], normalised[1][0]],
        &z,
        1e-12,
    );
}

#[test]
fn a_lone_single_turn_episode_gets_zero() {
    let alone = vec![episode(&[0.4], &[1.0], true)];
    let a = per_turn(&run(&config_with(&[]), &alone, &[0]).unwrap());
    assert_eq!(a, vec![vec![0.0]]);
}

#[test]
fn missing_probes_or_turns_are_errors_naming_igpo() {
    let mut episodes = spec_group();
    episodes[1].gold_probs.clear();
    let e = run(&config_with(&[]), &episodes, &[0, 0]).unwrap_err();
    assert!(e.contains("igpo") && e.contains("gold_probs"), "{e}");

    let batch = CreditBatch {
        rewards: &[1.0],
        group_ids: &[0],
        response_lens: &[4],
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let e = estimator(&config_with(&[]).credit)
        .unwrap()
        .estimate(&batch)
        .unwrap_err()
        .to_string();
    assert!(e.contains("igpo") && e.contains("agent"), "{e}");
}

#[test]
fn bad_settings_name_their_key() {
    for (key, value) in [
        ("gamma", toml::Value::from(1.5)),
        ("info_gain", "entropy".into()),
        ("norm", "per_turn".into()),
        ("eps", (-1.0).into()),
    ] {
        let m = config_with(&[(key, value)]);
        let e = m.validate().unwrap_err().to_string();
        assert!(e.contains(&format!("method.credit.igpo.{key}")), "{e}");
    }
    config_with(&[]).validate().expect("the defaults are valid");
}
