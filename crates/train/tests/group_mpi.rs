//! Data-parallel group RL over MPI (issue 18): `mpirun -n 2` training of the default model
//! equals one process with the same global batch (same prompts, same seeds), resume from a
//! 2-rank checkpoint is exact, a killed rank ends the job, and what the ranks cannot split is
//! refused naming the key.
//!
//! The ranks are this test binary started again under `mpirun` (the child runs only
//! `child_trains_one_rank`, configured through `POLOPT_MPI_CHILD`). Needs `--features mpi`;
//! skipped, with the reason printed, where `mpirun` is not installed.
#![cfg(feature = "mpi")]
mod common;

use std::path::Path;

use common::mpi::{
    child_spec, exit_on_error, kill_a_rank_mid_run, max_difference, mpirun, mpirun_available,
    run_mpi, text, CHILD,
};
use polopt_train::config::resolve;
use polopt_train::{train, RunConfig, TrainOptions};
use serde_json::Value;

/// The largest |a - b| / max(1, |a|) over all metrics of the run. Not 0: each rank sums its
/// rows' gradients in f32 and the all-reduce adds the partial sums.
const TOLERANCE: f64 = 1e-5;

/// The default run's model, task and batch (32 prompts x 8 samples, minibatches of 128), with a
/// short warm start and a few RL steps.
fn sets(dir: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let mut sets = vec![
        format!("run.name={name}"),
        format!("run.out_dir={:?}", dir.display().to_string()),
        "run.distributed=auto".into(),
        "run.threads=1".into(),
        "run.checkpoint_every=2".into(),
        "sft.steps=40".into(),
        "sft.target_pass1=0".into(),
        "rl.steps=4".into(),
        "rl.epochs=2".into(),
        "eval.every=2".into(),
        "eval.problems=32".into(),
        "eval.k=[1, 4]".into(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    sets
}

fn config(sets: &[String]) -> RunConfig {
    resolve(&toml::Table::new(), sets).expect("valid config")
}

/// One rank's run, as the parent asked (its `--set`s, then `stop_after=N` or `resume`).
#[test]
fn child_trains_one_rank() {
    let Some(child) = child_spec() else {
        return;
    };
    let options = TrainOptions {
        stop_after: child.stop_after,
        resume: child.resume,
        ..Default::default()
    };
    exit_on_error(train(&config(&child.sets), options));
}

fn metrics(run_dir: &Path) -> Vec<Value> {
    common::metric_rows(
        run_dir,
        &["step_time_s", "generation_s", "tokens_per_s", "comm_s"],
    )
}

#[test]
fn two_ranks_reproduce_the_one_process_run() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    train(
        &config(&sets(dir.path(), "one", &[])),
        TrainOptions::default(),
    )
    .expect("one-process run");
    run_mpi(2, &sets(dir.path(), "two", &[]));
    let (a, b) = (
        metrics(&dir.path().join("one")),
        metrics(&dir.path().join("two")),
    );
    assert_eq!(a.len(), 5, "warm start + 4 steps");
    let worst = max_difference(&a, &b);
    println!("max relative metric difference, 1 process vs 2 ranks: {worst:.3e}");
    assert!(worst <= TOLERANCE, "{worst}");
    // Both trained: the loss moved the policy (4 optimizer steps per RL step).
    for (ra, rb) in a.iter().zip(&b).skip(1) {
        for key in ["updates", "kept_groups", "accuracy", "reward_mean"] {
            assert_eq!(ra[key], rb[key], "{key}");
        }
        assert_eq!(ra["updates"], 4.0);
    }
}

#[test]
fn resume_from_a_two_rank_checkpoint_is_exact() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_mpi(2, &sets(dir.path(), "whole", &[]));
    let mut stopped = sets(dir.path(), "cut", &[]);
    stopped.push("stop_after=2".into());
    run_mpi(2, &stopped);
    assert_eq!(metrics(&dir.path().join("cut")).len(), 3);
    let mut resumed = sets(dir.path(), "cut", &[]);
    resumed.push("resume".into());
    run_mpi(2, &resumed);
    assert_eq!(
        metrics(&dir.path().join("whole")),
        metrics(&dir.path().join("cut"))
    );
}

#[test]
fn what_the_ranks_cannot_split_is_refused_naming_the_key() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        ("method.preset=tppo", "method.rollout.kind"),
        ("rl.agent_context=\"workspace\"", "rl.agent_context"),
        ("run.distributed=off", "run.distributed"),
    ] {
        let out = mpirun(2, &sets(dir.path(), "refused", &[extra]))
            .output()
            .expect("mpirun starts");
        let log = text(&out);
        assert!(!out.status.success(), "{log}");
        assert!(log.contains(key), "{extra}: {log}");
    }
}

#[test]
fn a_killed_rank_ends_the_job_with_an_error() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let long = sets(dir.path(), "killed", &["rl.steps=100000", "eval.every=0"]);
    // The warm start's row, then one RL step: both ranks are in the loop.
    kill_a_rank_mid_run(&long, &dir.path().join("killed/metrics.jsonl"), 2);
}
