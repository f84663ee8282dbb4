//! ASPO on the calculator task through the real loop: a warm start that teaches the tool, then
//! a few RL steps. Tool output must stay out of the loss, the tool metrics must be logged, and
//! everything must stay finite; resume must be exact with tool rounds in the rollout.
mod common;

use std::fs;
use std::path::Path;

use polopt_envs::text::{Problem, Verdict};
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

/// Rewards a completion that got a tool reply: a tiny model rarely gets the sum right, and the
/// test needs correct tool-using responses (ASPO's eligible set) in mixed groups.
struct UsedTool;

impl polopt_train::reward::RewardFn for UsedTool {
    fn name(&self) -> &str {
        "used_tool"
    }
    fn score(&self, _problem: &Problem, completion: &str) -> Verdict {
        let correct = completion.contains("</result>");
        Verdict {
            reward: correct as u8 as f64,
            correct,
            well_formed: true,
        }
    }
}

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
    let options = TrainOptions {
        reward: Some(Box::new(UsedTool)),
        ..Default::default()
    };
    let summary = train(&config, options).expect("run");
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

fn without_timing(mut rows: Vec<Value>) -> Vec<Value> {
    for row in &mut rows {
        if let Some(obj) = row.as_object_mut() {
            for key in common::TIMING {
                obj.remove(key);
            }
        }
    }
    rows
}

#[test]
fn resume_is_exact_with_tool_rounds_in_the_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let options = || TrainOptions {
        reward: Some(Box::new(UsedTool)),
        ..Default::default()
    };
    common::straight_and_resumed(dir.path(), &CALC, 2, options, |_| {});
    let a = without_timing(rows(&dir.path().join("straight")));
    let b = without_timing(rows(&dir.path().join("split")));
    assert_eq!(a.len(), 5);
    assert!(a[1..]
        .iter()
        .any(|r| r["tool/calls_per_response"].as_f64() > Some(0.0)));
    assert_eq!(a, b, "resumed metrics differ from the uninterrupted run");
}
