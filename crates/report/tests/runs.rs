//! Loading run directories: the trainer's contract, and the ways a killed or damaged run can
//! look on disk.

mod common;

use polopt_report::runs::{group_by_preset, load_runs, Run, RunError, RunStatus};
use std::path::PathBuf;

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn loads_run_json_and_metrics_into_typed_structs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("grpo-s0");
    write(
        &dir,
        "run.json",
        r#"{"preset":"grpo","task":"addition","seed":0,"status":"finished","final":{"eval/pass@1":0.41,"eval/pass@4":0.6}}"#,
    );
    write(
        &dir,
        "metrics.jsonl",
        "{\"step\":0,\"reward_mean\":0.1,\"entropy\":1.2}\n\
         {\"step\":1,\"reward_mean\":0.2}\n\
         {\"step\":2,\"reward_mean\":0.3,\"entropy\":1.0,\"eval/pass@1\":0.35}\n",
    );
    let run = Run::load(&dir).unwrap();
    assert_eq!(run.info.preset, "grpo");
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.final_value("eval/pass@1"), Some(0.41));
    assert_eq!(run.final_value("eval/return"), None);
    assert_eq!(run.metrics.len(), 3);
    assert!(!run.skipped_last_line);
    // A field missing on some lines gives a curve over the lines that have it.
    let entropy = run.curve("step", "entropy");
    assert_eq!((entropy.x, entropy.y), (vec![0.0, 2.0], vec![1.2, 1.0]));
    let eval = run.curve("step", "eval/pass@1");
    assert_eq!((eval.x, eval.y), (vec![2.0], vec![0.35]));
}

#[test]
fn a_truncated_last_line_is_skipped_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("killed");
    common::write_run_json(&dir, "grpo", "addition", 3, "running", &[]);
    write(
        &dir,
        "metrics.jsonl",
        "{\"step\":0,\"reward_mean\":0.1}\n{\"step\":1,\"reward_mean\":0.2}\n{\"step\":2,\"rew",
    );
    let run = Run::load(&dir).unwrap();
    assert_eq!(run.metrics.len(), 2);
    assert!(run.skipped_last_line);
    assert_eq!(run.info.status, RunStatus::Running);
    assert!(run.info.final_metrics.is_empty());
}

#[test]
fn a_malformed_middle_line_is_an_error_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("damaged");
    common::write_run_json(&dir, "grpo", "addition", 0, "finished", &[]);
    write(
        &dir,
        "metrics.jsonl",
        "{\"step\":0,\"reward_mean\":0.1}\n{\"step\":1,\"reward_mean\":}\n{\"step\":2}\n",
    );
    let err = Run::load(&dir).unwrap_err();
    let RunError::MetricsLine { path, line, .. } = &err else {
        panic!("expected a metrics line error, got {err}");
    };
    assert_eq!(*line, 2);
    assert_eq!(path, &dir.join("metrics.jsonl"));
    let message = err.to_string();
    assert!(
        message.contains(&format!("{}:2:", dir.join("metrics.jsonl").display())),
        "{message}"
    );
}

#[test]
fn a_directory_without_run_json_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Run::load(tmp.path()).unwrap_err();
    assert!(matches!(err, RunError::NotARunDir { .. }));
    assert!(err.to_string().contains("not a run directory"), "{err}");
}

#[test]
fn an_invalid_run_json_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "run.json", r#"{"preset":"grpo","seed":"zero"}"#);
    let err = Run::load(tmp.path()).unwrap_err();
    assert!(matches!(err, RunError::RunJson { .. }));
    assert!(err.to_string().contains("run.json"), "{err}");
}

#[test]
fn a_run_without_metrics_file_has_an_empty_history() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_run_json(tmp.path(), "grpo", "addition", 0, "running", &[]);
    let run = Run::load(tmp.path()).unwrap();
    assert!(run.metrics.is_empty());
    assert!(run.curve("step", "reward_mean").is_empty());
}

#[test]
fn runs_group_by_preset_in_first_seen_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = [
        ("dapo", 0),
        ("grpo", 0),
        ("dapo", 1),
        ("grpo", 1),
        ("dapo", 2),
    ]
    .iter()
    .map(|(p, s)| common::write_text_run(tmp.path(), p, 0.5, *s, 10))
    .collect();
    let runs = load_runs(&dirs).unwrap();
    let groups = group_by_preset(&runs);
    let summary: Vec<(&str, usize)> = groups
        .iter()
        .map(|g| (g.preset.as_str(), g.runs.len()))
        .collect();
    assert_eq!(summary, vec![("dapo", 3), ("grpo", 2)]);
    assert_eq!(groups[0].tasks(), vec!["addition"]);
}

#[test]
fn control_runs_give_curves_against_env_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::write_control_run(tmp.path(), "ppo", 480.0, 0);
    let run = Run::load(&dir).unwrap();
    let curve = run.curve("env_steps", "episodic_return");
    assert_eq!(curve.len(), 120);
    assert!(curve.x.windows(2).all(|w| w[0] < w[1]));
    assert!(run.final_value("eval/return").is_some());
}
