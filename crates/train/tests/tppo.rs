//! T-PPO's loop: a short run with finite metrics and its own keys, a window covering the
//! whole response, and exact resume with responses in flight across the checkpoint.
mod common;

use common::dense;

use std::fs;
use std::path::Path;

use polopt_train::train;
use serde_json::Value;

fn metric_lines(run_dir: &Path) -> Vec<Value> {
    common::metric_rows(run_dir, &[])
}

/// Windows of 2 tokens against responses of up to 6: most responses live across steps.
const TPPO_OWN: [&str; 3] = [
    "method.preset=tppo",
    "method.rollout.window=2",
    "rl.max_new_tokens=6",
];

fn tppo_sets() -> Vec<&'static str> {
    [&TPPO_OWN[..], &common::TINY_CRITIC[..]].concat()
}

#[test]
fn short_run_has_finite_metrics_and_its_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "tppo", &tppo_sets());
    let summary = train(&config, dense()).expect("tppo run");
    assert_eq!(summary.steps_done, 6);
    let rows = metric_lines(&summary.run_dir);
    let mut finished = 0.0;
    let mut critic_rows = 0;
    for row in &rows[1..] {
        let obj = row.as_object().unwrap();
        for (k, v) in obj {
            if let Some(x) = v.as_f64() {
                assert!(x.is_finite(), "{k} = {x} in {row}");
            }
        }
        for key in [
            "tppo/finished",
            "tppo/window_tokens_mean",
            "critic/value_mean",
            "policy_loss",
        ] {
            assert!(obj.contains_key(key), "{key} missing in {row}");
        }
        assert!(row["tppo/window_tokens_mean"].as_f64().unwrap() <= 2.0);
        finished += row["tppo/finished"].as_f64().unwrap();
        critic_rows += obj.contains_key("critic/value_loss") as usize;
    }
    assert!(
        finished > 0.0,
        "some responses must finish within six steps"
    );
    assert!(critic_rows > 0, "the critic trains on finished responses");
    let ckpt = summary.run_dir.join("checkpoints");
    let last = fs::read_dir(&ckpt).unwrap().count();
    assert!(last > 0);
}

#[test]
fn a_window_covering_the_response_finishes_every_response_each_step() {
    // Window >= max length: every response ends inside its first window, so every advantage
    // is a finished response's plain GAE and no response is carried over.
    let dir = tempfile::tempdir().unwrap();
    let mut sets = tppo_sets();
    sets[1] = "method.rollout.window=6";
    sets.extend(["rl.steps=2", "eval.every=0"]);
    let config = common::tiny_config(dir.path(), "whole", &sets);
    let summary = train(&config, dense()).expect("tppo run");
    for row in &metric_lines(&summary.run_dir)[1..] {
        assert_eq!(row["tppo/finished"].as_f64(), Some(16.0), "{row}");
        assert_eq!(row["samples"], row["tppo/finished"], "{row}");
    }
    let state: Value = serde_json::from_str(
        &fs::read_to_string(
            summary
                .run_dir
                .join("checkpoints")
                .join("step-000002")
                .join("tppo_state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(state["slots"].as_array().map(Vec::len), Some(0));
}

#[test]
fn stop_and_resume_reproduces_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    common::straight_and_resumed(dir.path(), &tppo_sets(), 3, dense, |first| {
        let state: Value = serde_json::from_str(
            &fs::read_to_string(
                first
                    .run_dir
                    .join("checkpoints")
                    .join("step-000003")
                    .join("tppo_state.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let in_flight = state["slots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["response"].as_array().unwrap().is_empty())
            .count();
        assert!(in_flight > 0, "the checkpoint must carry partial responses");
    });
    let a = metric_lines(&dir.path().join("straight"));
    let b = metric_lines(&dir.path().join("split"));
    assert_eq!(a.len(), 7);
    assert_eq!(a, b, "resumed metrics differ from the uninterrupted run");
}
