//! N steps uninterrupted and N/2 + stop + resume N/2 give identical metrics on the CPU.
mod common;

use std::fs;
use std::path::Path;

use polopt_train::{train, TrainOptions};
use serde_json::Value;

fn metric_lines(run_dir: &Path) -> Vec<Value> {
    common::metric_rows(run_dir, &[])
}

#[test]
fn stop_and_resume_reproduces_the_uninterrupted_run() {
    assert_resume_is_exact(&[]);
}

/// RiskPO's quantile tracker carries over steps; without it in the checkpoint the resumed
/// half would restart the tracker and its advantages would differ.
#[test]
fn resume_restores_the_riskpo_quantile_tracker() {
    assert_resume_is_exact(&[
        "method.preset=\"riskpo\"",
        "method.credit.riskpo.bundle_size=2",
    ]);
}

/// The data-parallel layout in one process (one sampling stream per group, gathered old
/// log-probs, the all-reduce path of the update) resumes exactly too.
#[test]
fn resume_is_exact_in_the_data_parallel_layout() {
    assert_resume_is_exact(&["run.distributed=auto"]);
}

fn assert_resume_is_exact(sets: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let straight = common::tiny_config(dir.path(), "straight", sets);
    let dense = || TrainOptions {
        reward: Some(Box::new(common::DigitShare)),
        ..Default::default()
    };
    train(&straight, dense()).expect("uninterrupted run");

    let split = common::tiny_config(dir.path(), "split", sets);
    let first = train(
        &split,
        TrainOptions {
            stop_after: Some(3),
            ..dense()
        },
    )
    .expect("first half");
    assert_eq!(first.steps_done, 3);
    // A kill after the checkpoint may leave later lines behind; resume must drop them.
    let path = first.run_dir.join("metrics.jsonl");
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str("{\"step\": 4, \"reward_mean\": 123.0}\n{\"step\": 5, \"rew");
    fs::write(&path, text).unwrap();
    train(
        &split,
        TrainOptions {
            resume: true,
            ..dense()
        },
    )
    .expect("resumed half");

    let a = metric_lines(&dir.path().join("straight"));
    let b = metric_lines(&dir.path().join("split"));
    assert_eq!(a.len(), 7, "step 0 (warm start) and six RL steps");
    let updated = a[1..]
        .iter()
        .filter(|row| row["grad_norm"].as_f64().is_some_and(|g| g > 0.0))
        .count();
    assert!(
        updated >= 3,
        "the test must exercise real updates, not zero-advantage steps"
    );
    assert_eq!(a, b, "resumed metrics differ from the uninterrupted run");
}

#[test]
fn a_second_run_in_the_same_directory_is_refused_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "once", &["rl.steps=1", "eval.every=0"]);
    train(&config, TrainOptions::default()).unwrap();
    let err = train(&config, TrainOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--resume"), "{err}");
}

#[test]
fn a_cached_warm_start_gives_the_same_run_as_training_it() {
    let dir = tempfile::tempdir().unwrap();
    let dense = || TrainOptions {
        reward: Some(Box::new(common::DigitShare)),
        ..Default::default()
    };
    let fresh = common::tiny_config(
        dir.path(),
        "fresh",
        &["rl.steps=2", "sft.reuse_cache=false"],
    );
    train(&fresh, dense()).unwrap();
    assert!(
        !dir.path().join(".warmstart").exists(),
        "reuse_cache=false must not write the cache"
    );
    for name in ["stores", "reuses"] {
        let config = common::tiny_config(dir.path(), name, &["rl.steps=2"]);
        train(&config, dense()).unwrap();
    }
    let entries = std::fs::read_dir(dir.path().join(".warmstart"))
        .unwrap()
        .count();
    assert_eq!(entries, 1, "one warm start, stored once");
    let fresh = metric_lines(&dir.path().join("fresh"));
    assert_eq!(fresh, metric_lines(&dir.path().join("stores")));
    assert_eq!(fresh, metric_lines(&dir.path().join("reuses")));
}
