//! ASPO on the calculator task through the real loop: a warm start that teaches the tool, then
//! a few RL steps. Tool output must stay out of the loss, the tool metrics must be logged, and
//! everything must stay finite; resume must be exact with tool rounds in the rollout.
mod common;

use std::fs;
use std::path::Path;

use polopt_train::{train, TrainOptions};
use serde_json::Value;

const CALC: [&str; 9] = [
    "task.name=calc",
    "method.preset=aspo",
    "sft.steps=150",
    "sft.lr=5e-3",
    "sft.pool_size=0",
    "model.hidden_size=48",
    "rl.max_new_tokens=72",
    "rl.steps=4",
    "eval.every=2",
];

fn rows(run_dir: &Path) -> Vec<Value> {
    fs::read_to_string(run_dir.join("metrics.jsonl"))
        .expect("metrics written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn aspo_on_calc_masks_tool_output_and_logs_tool_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "aspo-calc", &CALC);
    assert_eq!(config.task.name, "calc");
    assert_eq!(
        config.method.select.overlong_max_len, 96,
        "the calc task layer applies"
    );
    let summary = train(&config, TrainOptions::default()).expect("run");
    let rows = rows(&summary.run_dir);
    assert_eq!(rows.len(), 5);
    for row in &rows {
        for (k, v) in row.as_object().unwrap() {
            if let Some(x) = v.as_f64() {
                assert!(x.is_finite(), "{k} = {x}");
            }
        }
    }
    let rl = &rows[1..];
    for row in rl {
        for key in [
            "tool/calls_per_response",
            "tool/call_frac",
            "tool/errors_per_response",
            "tool/env_tokens_per_response",
        ] {
            assert!(row[key].as_f64().is_some(), "missing {key}: {row}");
        }
    }
    // The warm start taught the tool: calls happen, tool output reaches the trained batch...
    let calls: f64 = rl
        .iter()
        .map(|r| r["tool/call_frac"].as_f64().unwrap())
        .sum();
    assert!(calls > 0.0, "no tool call in any step");
    assert!(rl
        .iter()
        .any(|r| r["tool/first_call_pos"].as_f64().is_some()));
    let trained = rl
        .iter()
        .filter_map(|r| r["tool/env_tokens_trained"].as_f64())
        .sum::<f64>();
    assert!(trained > 0.0, "no tool output in any trained batch");
    // ...and none of it carries loss weight.
    for r in rl {
        if let Some(w) = r["tool/env_tokens_in_loss"].as_f64() {
            assert_eq!(w, 0.0, "{r}");
        }
    }
    assert!(rl
        .iter()
        .any(|r| r["aspo/eligible_frac"].as_f64().is_some()));
    assert!(rows[0]["eval/tool/call_frac"].as_f64().unwrap() > 0.0);
}
