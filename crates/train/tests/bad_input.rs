//! Non-finite rewards are counted and reported (or stop the run), and a checkpoint of another
//! architecture is refused with a message that names what differs.
mod common;

use polopt_envs::text::{Problem, Verdict};
use polopt_train::reward::RewardFn;
use polopt_train::{train, TrainError, TrainOptions};

/// Returns NaN for every completion that starts with an even digit, else the verifier's reward.
struct SometimesNan;

impl RewardFn for SometimesNan {
    fn name(&self) -> &str {
        "sometimes_nan"
    }
    fn score(&self, _problem: &Problem, completion: &str) -> Verdict {
        let even = completion
            .chars()
            .next()
            .and_then(|c| c.to_digit(10))
            .is_some_and(|d| d % 2 == 0);
        let reward = if even { f64::NAN } else { 0.0 };
        Verdict {
            reward,
            correct: false,
            well_formed: true,
        }
    }
}

#[test]
fn nan_rewards_are_counted_and_reported_under_skip() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(
        dir.path(),
        "nan",
        &["rl.steps=2", "eval.every=0", "run.on_nan=\"skip\""],
    );
    let summary = train(
        &config,
        TrainOptions {
            reward: Some(Box::new(SometimesNan)),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(summary.nan_events > 0, "NaN rewards must be counted");
    let metrics = std::fs::read_to_string(summary.run_dir.join("metrics.jsonl")).unwrap();
    assert!(
        metrics.contains("\"nan_reward_groups\""),
        "metrics must report NaN groups"
    );
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert!(last["nan_events"].as_f64().unwrap() > 0.0);
}

#[test]
fn nan_reward_stops_the_run_under_stop_and_names_the_reward() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(
        dir.path(),
        "nanstop",
        &["rl.steps=2", "eval.every=0", "run.on_nan=\"stop\""],
    );
    let err = train(
        &config,
        TrainOptions {
            reward: Some(Box::new(SometimesNan)),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { .. }), "{err}");
    assert!(err.to_string().contains("sometimes_nan"), "{err}");
}

#[test]
fn checkpoint_of_another_architecture_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "arch", &["rl.steps=1", "eval.every=0"]);
    let summary = train(&config, TrainOptions::default()).unwrap();
    let wider = common::tiny_config(
        dir.path(),
        "arch",
        &["model.hidden_size=48", "model.num_attention_heads=2"],
    );
    let checkpoint = summary.run_dir.join("checkpoints").join("step-000001");
    let err = polopt_train::group_rl::evaluate_checkpoint(&wider, &checkpoint)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hidden_size") || err.contains("shape"),
        "{err}"
    );
}
