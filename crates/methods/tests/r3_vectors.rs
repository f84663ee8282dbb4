//! R³ (spec r3.md, "CPU-scale check"): the SERR ranking vector, the CCR mixed-group vector
//! with α, the buffer's bounds, and "with buffers disabled R³ = GRPO".
use polopt_methods::credit::{Advantages, CreditBatch};
use polopt_methods::plan::{MethodRuntime, StepContext};
use polopt_methods::presets::preset;
use polopt_methods::select::{
    collapsed, entropy_profile, serr_rewards, serr_shape, Attempt, Collapsed, R3Config,
    ReplayBuffer, SerrTies,
};
use polopt_methods::{MethodConfig, MethodError};

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
}

/// A(2.0, 0.5), B(1.5, 0.4), C(2.5, 0.6), D(1.0, 0.9) as (E_peak, E_glob).
const PROFILES: [(f64, f64); 4] = [(2.0, 0.5), (1.5, 0.4), (2.5, 0.6), (1.0, 0.9)];

#[test]
fn serr_spec_vector_with_stable_ties() {
    let r = serr_rewards(&PROFILES, 1.0, SerrTies::Stable);
    assert!(close(&r, &[1.0, 0.6667, 0.3333, 0.0], 1e-4), "{r:?}");
}

#[test]
fn serr_average_ties_share_the_mean_rank() {
    // S = [1, 1, 1, 0]: A, B, C share ranks 0..2 (mean 1), D is last.
    let r = serr_rewards(&PROFILES, 1.0, SerrTies::Average);
    assert!(close(&r, &[0.6667, 0.6667, 0.6667, 0.0], 1e-4), "{r:?}");
    let half = serr_rewards(&PROFILES, 0.5, SerrTies::Average);
    assert!(
        close(&half, &[0.3333, 0.3333, 0.3333, 0.0], 1e-4),
        "{half:?}"
    );
}

#[test]
fn serr_lone_response_gets_nothing() {
    assert_eq!(
        serr_rewards(&[(3.0, 0.1)], 0.5, SerrTies::Average),
        vec![0.0]
    );
}

#[test]
fn entropy_profile_takes_the_top_floor_p_l_tokens() {
    let h = [0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.4, 0.6, 0.8, 1.0];
    // p = 0.2, L = 10 -> top 2 = (1.0 + 0.9) / 2; global mean 0.55.
    let (peak, glob) = entropy_profile(&h, 0.2);
    assert!((peak - 0.95).abs() < 1e-12 && (glob - 0.55).abs() < 1e-12);
    // p L < 1 still takes one token.
    let (peak, _) = entropy_profile(&h[..3], 0.1);
    assert!((peak - 0.9).abs() < 1e-12);
}

fn r3_config() -> MethodConfig {
    let mut c = (preset("r3").expect("registered").build)();
    c.select.parts.set("r3", "r_max", 0.0);
    c
}

fn ccr_plan(alpha: f64) -> Vec<f64> {
    let rewards = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
    let groups = [0; 6];
    let lens = [3; 6];
    let replayed = [false, false, false, false, true, true];
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let mut config = r3_config();
    config.select.parts.set("r3", "alpha", alpha);
    let runtime = MethodRuntime::new(&config).expect("valid");
    let ctx = StepContext {
        replayed: Some(&replayed),
        ..Default::default()
    };
    let plan = runtime.plan(&batch, &ctx).expect("plan");
    assert_eq!(plan.metrics["r3/replayed"], 2.0);
    assert_eq!(plan.metrics["nonzero_adv_group_frac"], 1.0);
    plan.advantages.per_sequence()
}

#[test]
fn ccr_spec_vector_mixed_group_with_unbiased_std() {
    let a = ccr_plan(1.0);
    let want = [-0.6455, -0.6455, -0.6455, -0.6455, 1.2910, 1.2910];
    assert!(close(&a, &want, 1e-4), "{a:?}");
}

#[test]
fn ccr_alpha_scales_only_the_replayed_samples() {
    let a = ccr_plan(0.5);
    let want = [-0.6455, -0.6455, -0.6455, -0.6455, 0.6455, 0.6455];
    assert!(close(&a, &want, 1e-4), "{a:?}");
}

#[test]
fn without_replays_and_serr_the_plan_is_grpo_exactly() {
    let rewards = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.3, 0.7];
    let groups = [0, 0, 0, 0, 1, 1, 2, 2];
    let lens = [2, 3, 1, 2, 3, 3, 2, 1];
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let flags = [false; 8];
    let grpo = MethodRuntime::new(&MethodConfig::default()).expect("valid");
    let r3 = MethodRuntime::new(&r3_config()).expect("valid");
    assert!(!r3.needs_old_entropy(), "r_max = 0 needs no extra forward");
    let ctx = StepContext {
        truncated: Some(&flags),
        replayed: Some(&flags),
        ..Default::default()
    };
    let a = grpo.plan(&batch, &ctx).expect("grpo").advantages;
    let b = r3.plan(&batch, &ctx).expect("r3").advantages;
    assert_eq!(a, b);
}

#[test]
fn serr_shapes_truncated_responses_of_all_negative_groups_only() {
    // Group 0: all wrong, three truncated (0, 1, 2) and one finished (3), plus a replayed
    // success (4) that must not count against "all negative". Group 1: mixed, untouched.
    let rewards = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0];
    let groups = [0, 0, 0, 0, 0, 1, 1];
    let lens = [2, 2, 2, 2, 2, 2, 2];
    let truncated = [true, true, true, false, true, true, false];
    let replayed = [false, false, false, false, true, false, false];
    // Response 0 has the sharper peak and the lower mean: it dominates 1 and 2.
    let entropy = vec![
        vec![2.0, 0.0],
        vec![1.0, 0.5],
        vec![1.5, 0.6],
        vec![9.0, 9.0],
        vec![9.0, 9.0],
        vec![1.0, 1.0],
        vec![1.0, 1.0],
    ];
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: &groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let config = R3Config {
        peak_ratio: 0.5,
        r_max: 0.5,
        ..R3Config::default()
    };
    let (shaped, count) = serr_shape(&batch, &truncated, &replayed, &entropy, &config);
    assert_eq!(count, 1);
    // Scores: 0 -> 2 (beats 1: 2>1, 1<0.75; beats 2: 2>1.5, 1<1.05), 1 -> 0, 2 -> 0.
    // Ranks 0 | 1, 2 tied (mean 1.5): 0.5, 0.5 (1 - 1.5/2) = 0.125.
    assert!(
        close(&shaped, &[0.5, 0.125, 0.125, 0.0, 1.0, 0.0, 1.0], 1e-12),
        "{shaped:?}"
    );
}

#[test]
fn serr_without_entropy_is_an_error_not_a_silent_skip() {
    let mut config = r3_config();
    config.select.parts.set("r3", "r_max", 0.5);
    let runtime = MethodRuntime::new(&config).expect("valid");
    assert!(runtime.needs_old_entropy());
    let batch = CreditBatch {
        rewards: &[0.0, 0.0],
        group_ids: &[0, 0],
        response_lens: &[1, 1],
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let err = runtime.plan(&batch, &StepContext::default()).unwrap_err();
    assert!(
        matches!(err, MethodError::Shape { part: "r3", .. }),
        "{err}"
    );
}

fn attempt(reward: f64, id: i64) -> Attempt {
    Attempt {
        response: vec![id],
        reward,
        truncated: false,
    }
}

#[test]
fn buffer_keeps_the_newest_responses_and_the_full_mean() {
    let config = R3Config {
        buffer_per_query: 2,
        buffer_queries: 2,
        ..R3Config::default()
    };
    let mut buffer = ReplayBuffer::default();
    buffer.insert(
        &config,
        1,
        "a",
        [attempt(1.0, 1), attempt(0.0, 2), attempt(0.0, 3)],
    );
    let kept: Vec<i64> = buffer.queries["a"]
        .attempts
        .iter()
        .map(|a| a.response[0])
        .collect();
    assert_eq!(kept, vec![2, 3]);
    assert!((buffer.mean_reward("a").unwrap() - 1.0 / 3.0).abs() < 1e-12);
    buffer.insert(&config, 2, "b", [attempt(1.0, 4)]);
    buffer.insert(&config, 3, "a", [attempt(1.0, 5)]);
    buffer.insert(&config, 4, "c", [attempt(0.0, 6)]);
    // "b" was seen least recently and goes first.
    assert!(buffer.queries.contains_key("a") && buffer.queries.contains_key("c"));
    assert!(!buffer.queries.contains_key("b"));
    assert_eq!(buffer.mean_reward("b"), None);
}

#[test]
fn buffer_picks_distinct_responses_of_the_wanted_outcome() {
    let config = R3Config::default();
    let mut buffer = ReplayBuffer::default();
    let attempts = (0..6).map(|i| attempt(if i % 2 == 0 { 1.0 } else { 0.0 }, i));
    buffer.insert(&config, 1, "q", attempts);
    let mut state = 7usize;
    let mut below = |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        (state >> 33) % n
    };
    let wins = buffer.pick(&config, "q", true, 2, &mut below);
    assert_eq!(wins.len(), 2);
    assert!(wins.iter().all(|a| a.reward == 1.0));
    assert_ne!(wins[0], wins[1]);
    let losses = buffer.pick(&config, "q", false, 5, &mut below);
    assert_eq!(losses.len(), 3, "only three failures are stored");
    assert!(buffer
        .pick(&config, "unseen", true, 2, &mut below)
        .is_empty());
}

#[test]
fn a_disabled_buffer_remembers_nothing() {
    let config = R3Config {
        buffer_per_query: 0,
        ..R3Config::default()
    };
    let mut buffer = ReplayBuffer::default();
    buffer.insert(&config, 1, "q", [attempt(1.0, 1)]);
    assert!(buffer.queries.is_empty());
}

#[test]
fn collapsed_groups_by_outcome() {
    assert_eq!(collapsed(&[0.0, 0.0], 1.0), Some(Collapsed::AllNegative));
    assert_eq!(collapsed(&[1.0, 1.0], 1.0), Some(Collapsed::AllPositive));
    assert_eq!(collapsed(&[0.0, 1.0], 1.0), None);
}

#[test]
fn out_of_range_knobs_name_their_key() {
    for (set, key) in [
        (
            (|c: &mut R3Config| c.alpha = 0.0) as fn(&mut R3Config),
            "method.select.r3.alpha",
        ),
        (|c| c.r_max = 1.0, "method.select.r3.r_max"),
        (|c| c.peak_ratio = 0.0, "method.select.r3.peak_ratio"),
        (|c| c.tau = 1.5, "method.select.r3.tau"),
        (|c| c.epoch_steps = 0, "method.select.r3.epoch_steps"),
    ] {
        let mut config = MethodConfig::default();
        config.select.replay = "r3".into();
        let mut r3 = R3Config::default();
        set(&mut r3);
        config.select.parts.put("r3", &r3).expect("serializes");
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn token_level_advantages_are_scaled_per_row() {
    let mut a = Advantages::Token(vec![vec![1.0, 2.0], vec![3.0]]);
    polopt_methods::select::scale_replayed(&mut a, &[false, true], 0.5);
    assert_eq!(a, Advantages::Token(vec![vec![1.0, 2.0], vec![1.5]]));
}
