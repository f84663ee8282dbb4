//! Step-level DAPO's loop: a short run (offline phase, then actor steps) with finite metrics
//! and its own keys, and exact resume with the offline dataset in the checkpoint.
mod common;

use common::dense;

use std::path::Path;

use polopt_train::train;
use serde_json::Value;

fn metric_lines(run_dir: &Path) -> Vec<Value> {
    common::metric_rows(run_dir, &["dapo_step/offline_s"])
}

const DAPO_STEP_OWN: [&str; 6] = [
    "method.preset=dapo_step",
    "method.dapo_step.problems=6",
    "method.dapo_step.solutions=2",
    "method.dapo_step.mc_rollouts=3",
    "method.dapo_step.critic_steps=20",
    "method.dapo_step.critic_batch=8",
];

fn dapo_step_sets() -> Vec<&'static str> {
    [&DAPO_STEP_OWN[..], &common::TINY_CRITIC[..]].concat()
}

#[test]
fn short_run_has_finite_metrics_and_its_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "dapo_step", &dapo_step_sets());
    let summary = train(&config, dense()).expect("dapo_step run");
    let rows = metric_lines(&summary.run_dir);
    assert_eq!(rows.len(), 7);
    for row in &rows[1..] {
        let obj = row.as_object().unwrap();
        for (k, v) in obj {
            if let Some(x) = v.as_f64() {
                assert!(x.is_finite(), "{k} = {x} in {row}");
            }
        }
        for key in [
            "policy_loss",
            "dapo_step/log_ratio_mean",
            "advantage_abs_mean",
            "grad_norm",
        ] {
            assert!(obj.contains_key(key), "{key} missing in {row}");
        }
    }
    let first = &rows[1];
    assert!(
        first["dapo_step/dataset_steps"].as_f64().unwrap() >= 12.0,
        "{first}"
    );
    let (start, end) = (
        first["dapo_step/critic_loss_start"].as_f64().unwrap(),
        first["dapo_step/critic_loss_end"].as_f64().unwrap(),
    );
    assert!(
        end < start,
        "the critic must fit its MC labels: {start} -> {end}"
    );
    // The first actor step starts at pi = pi_ref: the log-ratio is 0.
    assert!(first["dapo_step/log_ratio_mean"].as_f64().unwrap().abs() < 1e-5);
    assert!(rows[1..]
        .iter()
        .any(|r| r["grad_norm"].as_f64().unwrap() > 0.0));
}

#[test]
fn stop_and_resume_reproduces_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    common::straight_and_resumed(dir.path(), &dapo_step_sets(), 3, dense, |_| {});
    let a = metric_lines(&dir.path().join("straight"));
    let b = metric_lines(&dir.path().join("split"));
    assert_eq!(a.len(), 7);
    assert_eq!(a, b, "resumed metrics differ from the uninterrupted run");
}

#[test]
fn mc_values_skip_the_critic_and_still_train() {
    let dir = tempfile::tempdir().unwrap();
    let mut sets = dapo_step_sets();
    sets.push("method.dapo_step.values=\"mc\"");
    let config = common::tiny_config(dir.path(), "dapo_step_mc", &sets);
    let summary = train(&config, dense()).expect("dapo_step run with MC values");
    let rows = metric_lines(&summary.run_dir);
    let first = &rows[1];
    // The labels are the values: the critic is neither fitted nor read.
    assert_eq!(
        first["dapo_step/critic_loss_start"], first["dapo_step/critic_loss_end"],
        "{first}"
    );
    assert!(
        first["advantage_abs_mean"].as_f64().unwrap().is_finite(),
        "{first}"
    );
    assert!(rows[1..]
        .iter()
        .any(|r| r["grad_norm"].as_f64().unwrap() > 0.0));
}
