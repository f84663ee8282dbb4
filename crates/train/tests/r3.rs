//! R³ in the loop: trains with finite metrics and its own metric keys, equals GRPO exactly
//! with its buffer and SERR disabled, and resumes exactly with the buffer restored.
mod common;

use std::path::Path;

use polopt_train::{train, TrainOptions};
use serde_json::Value;

/// A binary reward (does the completion start with a digit?) so that groups collapse to all
/// right or all wrong, the case R³ is about, even for a barely trained policy.
struct StartsWithDigit;

impl polopt_train::reward::RewardFn for StartsWithDigit {
    fn name(&self) -> &str {
        "starts_with_digit"
    }
    fn score(
        &self,
        _problem: &polopt_envs::text::Problem,
        completion: &str,
    ) -> polopt_envs::text::Verdict {
        let ok = completion
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit());
        polopt_envs::text::Verdict {
            reward: if ok { 1.0 } else { 0.0 },
            correct: ok,
            well_formed: true,
        }
    }
}

fn binary() -> TrainOptions {
    TrainOptions {
        reward: Some(Box::new(StartsWithDigit)),
        ..Default::default()
    }
}

/// A pool of 6 one-digit sums, so that every query recurs within a few steps.
const R3_RUN: [&str; 6] = [
    "method.preset=r3",
    "task.rl={d_min = 1, d_max = 1, p_carry_bias = 0.0}",
    "rl.pool_size=6",
    "rl.prompts_per_step=6",
    "method.select.r3.epoch_steps=2",
    "method.select.r3.tau=0.6",
];

fn metric_lines(run_dir: &Path, drop_prefix: Option<&str>) -> Vec<Value> {
    common::metric_rows(run_dir, drop_prefix.as_slice())
}

fn total(rows: &[Value], key: &str) -> f64 {
    rows.iter().filter_map(|r| r[key].as_f64()).sum()
}

#[test]
fn r3_trains_with_finite_metrics_replays_and_reflections() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "r3", &R3_RUN);
    train(&config, binary()).expect("r3 run");
    let rows = metric_lines(&dir.path().join("r3"), None);
    assert_eq!(rows.len(), 7);
    for row in &rows[1..] {
        for key in [
            "r3/replayed",
            "r3/reflect_prompts",
            "r3/serr_groups",
            "nonzero_adv_group_frac",
            "r3/collapsed_groups",
            "r3/buffer_queries",
        ] {
            assert!(row[key].as_f64().is_some(), "{key} missing in {row}");
        }
        for (k, v) in row.as_object().unwrap() {
            assert!(v.as_f64().is_some_and(f64::is_finite), "{k} = {v}");
        }
    }
    assert!(total(&rows, "r3/replayed") > 0.0, "replay never fired");
    assert!(
        total(&rows, "r3/reflect_prompts") > 0.0,
        "reflection never fired"
    );
    // The barely trained policy often runs out of tokens: SERR ranks those truncations.
    assert!(total(&rows, "r3/serr_groups") > 0.0, "SERR never fired");
    // Reflection waits for the second epoch (steps 1..=2 are the first).
    assert_eq!(rows[1]["r3/reflect_prompts"], 0.0);
    assert_eq!(rows[2]["r3/reflect_prompts"], 0.0);
    assert!(rows[6]["r3/buffer_queries"].as_f64().unwrap() <= 6.0);
}

#[test]
fn with_buffer_and_serr_disabled_r3_is_grpo_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let grpo = common::tiny_config(dir.path(), "grpo", &R3_RUN[1..]);
    train(&grpo, binary()).expect("grpo run");
    let mut sets = R3_RUN.to_vec();
    sets.extend([
        "method.select.r3.buffer_per_query=0",
        "method.select.r3.r_max=0.0",
    ]);
    let r3 = common::tiny_config(dir.path(), "r3", &sets);
    train(&r3, binary()).expect("r3 run");
    let a = metric_lines(&dir.path().join("grpo"), None);
    let b = metric_lines(&dir.path().join("r3"), Some("r3/"));
    let b_full = metric_lines(&dir.path().join("r3"), None);
    assert_eq!(total(&b_full, "r3/replayed"), 0.0);
    assert!(
        a[1..].iter().any(|r| r["grad_norm"].as_f64() > Some(0.0)),
        "the comparison must include real updates"
    );
    assert_eq!(a, b);
}

#[test]
fn stop_and_resume_restores_the_buffer_exactly() {
    let dir = tempfile::tempdir().unwrap();
    common::straight_and_resumed(dir.path(), &R3_RUN, 3, binary, |first| {
        let saved = first.run_dir.join("checkpoints/step-000003/r3_buffer.json");
        assert!(saved.exists(), "the checkpoint holds the buffer");
    });
    let a = metric_lines(&dir.path().join("straight"), None);
    let b = metric_lines(&dir.path().join("split"), None);
    let after_stop: f64 = a[4..]
        .iter()
        .filter_map(|r| r["r3/replayed"].as_f64())
        .sum::<f64>()
        + a[4..]
            .iter()
            .filter_map(|r| r["r3/reflect_prompts"].as_f64())
            .sum::<f64>();
    assert!(after_stop > 0.0, "the resumed half must read the buffer");
    assert_eq!(a, b, "resumed metrics differ from the uninterrupted run");
}
