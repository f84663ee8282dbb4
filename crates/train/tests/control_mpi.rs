//! Data-parallel control training over MPI (issue 18): `mpirun -n 2` equals one process with the
//! same global batch, resume from a 2-rank checkpoint is exact, a killed rank ends the job with
//! a clear error, and `run.distributed = "off"` refuses to run under a launcher.
//!
//! The ranks are this test binary started again under `mpirun` (the child runs only
//! `child_trains_one_rank`, configured through `POLOPT_MPI_CHILD`). Needs `--features mpi`;
//! skipped, with the reason printed, where `mpirun` is not installed. About 20 s.
#![cfg(feature = "mpi")]
mod common;

use common::mpi::{
    child_spec, exit_on_error, kill_a_rank_mid_run, max_difference, mpirun, mpirun_available,
    run_mpi, text, CHILD,
};

use std::path::Path;

use polopt_train::control::{resolve_control, train_control, ControlConfig, ControlOptions};
use serde_json::Value;

/// The largest |a - b| / max(1, |a|) allowed over all metrics of 5 updates. Measured: 1.4e-8.
/// Not 0: each rank sums its rows' gradients in f32 and the all-reduce adds the two partial sums,
/// where one process adds all rows in one sum.
const TOLERANCE: f64 = 1e-6;

fn sets(dir: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let mut sets = vec![
        "method.preset=ppo-cartpole".to_string(),
        format!("run.name={name}"),
        format!("run.out_dir={}", dir.display()),
        "run.distributed=auto".into(),
        "env.num_envs=4".into(),
        "algo.rollout_steps=32".into(),
        "algo.epochs=2".into(),
        "algo.minibatches=4".into(),
        "algo.total_steps=640".into(),
        "eval.episodes=3".into(),
        "eval.every=2".into(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    sets
}

fn config(sets: &[String]) -> ControlConfig {
    resolve_control(&toml::Table::new(), sets).expect("valid config")
}

/// One rank's run, as the parent asked (its `--set`s, then `stop_after=N` or `resume`).
#[test]
fn child_trains_one_rank() {
    let Some(child) = child_spec() else {
        return;
    };
    let options = ControlOptions {
        stop_after: child.stop_after,
        resume: child.resume,
        ..Default::default()
    };
    exit_on_error(train_control(&config(&child.sets), options));
}

fn metrics(run_dir: &Path) -> Vec<Value> {
    common::metric_rows(
        run_dir,
        &["rollout_s", "sps", "eval_time_s", "step_time_s", "comm_s"],
    )
}

#[test]
fn two_ranks_reproduce_the_one_process_run() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let one = sets(dir.path(), "one", &[]);
    train_control(&config(&one), ControlOptions::default()).expect("one-process run");
    run_mpi(2, &sets(dir.path(), "two", &[]));
    let (a, b) = (
        metrics(&dir.path().join("one")),
        metrics(&dir.path().join("two")),
    );
    assert_eq!(a.len(), 5);
    let worst = max_difference(&a, &b);
    println!("max relative metric difference, 1 process vs 2 ranks: {worst:.3e}");
    assert!(worst <= TOLERANCE, "{worst}");
    // The union of the shares is the one-process vector: same episodes, same env steps.
    for (ra, rb) in a.iter().zip(&b) {
        for key in ["env_steps", "episodes", "updates"] {
            assert_eq!(ra[key], rb[key], "{key}");
        }
    }
}

#[test]
fn two_ranks_reproduce_a_normalised_gaussian_run() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    // Pendulum: a Gaussian head, observation and reward normalisation over all environments
    // (gathered every step), 3 environments split 1 + 2.
    let dir = tempfile::tempdir().unwrap();
    let extra = [
        "method.preset=ppo-pendulum",
        "env.num_envs=3",
        "algo.rollout_steps=32",
        "algo.minibatches=4",
        "algo.total_steps=384",
    ];
    let one = sets(dir.path(), "one", &extra);
    train_control(&config(&one), ControlOptions::default()).expect("one-process run");
    run_mpi(2, &sets(dir.path(), "two", &extra));
    let (a, b) = (
        metrics(&dir.path().join("one")),
        metrics(&dir.path().join("two")),
    );
    assert_eq!(a.len(), 4);
    let worst = max_difference(&a, &b);
    println!("max relative metric difference, pendulum, 1 process vs 2 ranks: {worst:.3e}");
    assert!(worst <= TOLERANCE, "{worst}");
}

#[test]
fn resume_from_a_two_rank_checkpoint_is_exact() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let extra = ["run.checkpoint_every=100"];
    run_mpi(2, &sets(dir.path(), "whole", &extra));
    let mut stopped = sets(dir.path(), "cut", &extra);
    stopped.push("stop_after=2".into());
    run_mpi(2, &stopped);
    assert_eq!(metrics(&dir.path().join("cut")).len(), 2);
    let mut resumed = sets(dir.path(), "cut", &extra);
    resumed.push("resume".into());
    run_mpi(2, &resumed);
    assert_eq!(
        metrics(&dir.path().join("whole")),
        metrics(&dir.path().join("cut"))
    );
    // The checkpoint holds the whole world's state: it resumes in one process as well.
    let mut one = sets(dir.path(), "cut1", &extra);
    one.push("stop_after=2".into());
    run_mpi(2, &one);
    let options = ControlOptions {
        resume: true,
        ..Default::default()
    };
    train_control(&config(&sets(dir.path(), "cut1", &extra)), options).expect("resume in 1");
    let worst = max_difference(
        &metrics(&dir.path().join("whole")),
        &metrics(&dir.path().join("cut1")),
    );
    assert!(worst <= TOLERANCE, "{worst}");
}

#[test]
fn a_killed_rank_ends_the_job_with_an_error() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let long = sets(
        dir.path(),
        "killed",
        &["algo.total_steps=10000000", "eval.every=0"],
    );
    kill_a_rank_mid_run(&long, &dir.path().join("killed/metrics.jsonl"), 2);
}

#[test]
fn distributed_off_refuses_to_run_under_mpirun() {
    if std::env::var_os(CHILD).is_some() || !mpirun_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let off = sets(dir.path(), "off", &["run.distributed=off"]);
    let out = mpirun(2, &off).output().expect("mpirun starts");
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("run.distributed") && log.contains("OMPI_COMM_WORLD_SIZE"),
        "{log}"
    );
}
