//! "Bring your own model and data": every group-rollout preset trains a Hugging Face model
//! directory (the tiny Qwen2 fixture, byte-level BPE + chat template) on a dataset file with
//! registry rewards, writes checkpoints that are complete model directories, and resumes
//! exactly, data position included. JSONL and Parquet copies of one dataset train identically.
mod common;

use common::own_config;
use polopt_methods::presets::{Family, PRESETS};
use polopt_methods::RolloutKind;
use polopt_train::{train, TrainOptions};

fn group_presets() -> Vec<&'static str> {
    PRESETS
        .iter()
        .filter(|p| p.family == Family::GroupRl)
        .filter(|p| (p.build)().rollout.kind == RolloutKind::Group)
        // Turn-level estimators need an agent environment, not a dataset (agent_loop.rs).
        .filter(|p| {
            let estimator = (p.build)().credit.estimator;
            !polopt_methods::credit::ESTIMATORS
                .iter()
                .any(|e| e.name == estimator && e.turns)
        })
        .map(|p| p.name)
        .collect()
}

#[test]
fn every_group_preset_trains_a_hf_model_on_a_dataset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let presets = group_presets();
    assert!(presets.len() >= 15, "group presets: {presets:?}");
    for (i, preset) in presets.into_iter().enumerate() {
        // Half the presets read the Parquet copy of the dataset, half the JSON lines.
        let file = ["tiny_math.jsonl", "tiny_math.parquet"][i % 2];
        let cfg = own_config(
            dir.path(),
            preset,
            file,
            &[&format!("method.preset={preset}"), "rl.steps=2"],
        );
        let summary =
            train(&cfg, TrainOptions::default()).unwrap_or_else(|e| panic!("preset {preset}: {e}"));
        assert_eq!(summary.steps_done, 2, "{preset}");
        assert!(
            summary.final_metrics.contains_key("eval/pass@1"),
            "{preset}"
        );
        let rows = common::metric_rows(&summary.run_dir, &[]);
        assert_eq!(rows.len(), 3, "{preset}: warm-start row + 2 steps");
        for row in &rows[1..] {
            let reward = row["reward_mean"].as_f64().expect("reward_mean");
            assert!((0.0..=1.5).contains(&reward), "{preset}: reward {reward}");
        }
        // The last checkpoint is a complete Hugging Face directory: weights, config, tokenizer.
        let ckpt = summary.run_dir.join("checkpoints/step-000002");
        for file in ["config.json", "tokenizer.json", "chat_template.jinja"] {
            assert!(ckpt.join(file).is_file(), "{preset}: {file} missing");
        }
        // Under the seeded-draw lock: the model's random init must not shift the sampling
        // of a run in a concurrent test.
        polopt_train::seeds::with_torch_seed(0, "test-load", 0, || {
            polopt_models::hf::load(&ckpt, tch::Device::Cpu, None)
        })
        .unwrap_or_else(|e| panic!("{preset}: checkpoint does not load: {e}"));
    }
}

#[test]
fn resume_continues_at_the_same_dataset_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 3 prompts x 6 steps = 18 draws from 16 rows: the order crosses an epoch mid-batch.
    let sets = ["rl.prompts_per_step=3", "rl.steps=6", "rl.minibatch_size=6"];
    let straight = own_config(dir.path(), "straight", "tiny_math.jsonl", &sets);
    train(&straight, TrainOptions::default()).expect("uninterrupted");
    let split = own_config(dir.path(), "split", "tiny_math.jsonl", &sets);
    let first = train(
        &split,
        TrainOptions {
            stop_after: Some(3),
            ..Default::default()
        },
    )
    .expect("first part");
    let state = std::fs::read_to_string(first.run_dir.join("checkpoints/step-000003/state.json"))
        .expect("state.json");
    assert!(
        state.contains("data_order"),
        "the data cursor is checkpointed"
    );
    train(
        &split,
        TrainOptions {
            resume: true,
            ..Default::default()
        },
    )
    .expect("resumed");
    let a = common::metric_rows(&dir.path().join("straight"), &[]);
    let b = common::metric_rows(&dir.path().join("split"), &[]);
    assert_eq!(a, b);
}

#[test]
fn parquet_and_jsonl_copies_of_a_dataset_train_identically() {
    let dir = tempfile::tempdir().expect("temp dir");
    let jsonl = own_config(dir.path(), "jsonl", "tiny_math.jsonl", &["rl.steps=2"]);
    let parquet = own_config(dir.path(), "parquet", "tiny_math.parquet", &["rl.steps=2"]);
    train(&jsonl, TrainOptions::default()).expect("jsonl run");
    train(&parquet, TrainOptions::default()).expect("parquet run");
    let a = common::metric_rows(&dir.path().join("jsonl"), &[]);
    let b = common::metric_rows(&dir.path().join("parquet"), &[]);
    assert_eq!(a, b);
}

#[test]
fn micro_batches_accumulate_to_the_minibatch_update() {
    // Same run with whole minibatches and with 1-sequence micro-batches: one optimizer step
    // per minibatch either way, the gradient equal up to float summation order.
    let dir = tempfile::tempdir().expect("temp dir");
    let whole = own_config(dir.path(), "whole", "tiny_math.jsonl", &["rl.steps=2"]);
    let micro = own_config(
        dir.path(),
        "micro",
        "tiny_math.jsonl",
        &["rl.steps=2", "rl.micro_batch_size=1"],
    );
    train(&whole, TrainOptions::default()).expect("whole");
    train(&micro, TrainOptions::default()).expect("micro");
    let a = common::metric_rows(&dir.path().join("whole"), &[]);
    let b = common::metric_rows(&dir.path().join("micro"), &[]);
    assert_eq!(a.len(), b.len());
    for (ra, rb) in a.iter().zip(&b).skip(1) {
        assert_eq!(
            ra["updates"], rb["updates"],
            "one optimizer step per minibatch"
        );
        for key in ["loss", "grad_norm", "reward_mean"] {
            let (x, y) = (ra[key].as_f64().unwrap(), rb[key].as_f64().unwrap());
            assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{key}: {x} vs {y}");
        }
    }
}

#[test]
fn a_long_prompt_is_refused_naming_the_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = own_config(
        dir.path(),
        "long",
        "tiny_math.jsonl",
        &["data.max_prompt_tokens=3"],
    );
    let err = train(&cfg, TrainOptions::default())
        .expect_err("a 3-token limit refuses every chat prompt")
        .to_string();
    assert!(
        err.contains("tiny_math.jsonl") && err.contains("max_prompt_tokens"),
        "{err}"
    );
    let cfg = own_config(
        dir.path(),
        "truncated",
        "tiny_math.jsonl",
        &[
            "data.max_prompt_tokens=8",
            "data.on_long_prompt=\"truncate_left\"",
            "rl.steps=1",
        ],
    );
    train(&cfg, TrainOptions::default()).expect("truncated prompts train");
}

#[test]
fn value_model_presets_train_a_hf_model_on_a_dataset() {
    // T-PPO and step-level DAPO train a critic of their own over the model's vocabulary.
    let dir = tempfile::tempdir().expect("temp dir");
    for preset in ["tppo", "dapo_step"] {
        let mut sets = vec![format!("method.preset={preset}"), "rl.steps=2".to_string()];
        sets.extend(common::TINY_CRITIC.iter().map(|s| s.to_string()));
        if preset == "dapo_step" {
            sets.extend(
                [
                    "method.dapo_step.problems=2",
                    "method.dapo_step.solutions=2",
                ]
                .iter()
                .map(|s| s.to_string()),
            );
        }
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let cfg = own_config(dir.path(), preset, "tiny_math.parquet", &sets);
        let summary =
            train(&cfg, TrainOptions::default()).unwrap_or_else(|e| panic!("preset {preset}: {e}"));
        assert_eq!(summary.steps_done, 2, "{preset}");
        assert!(summary
            .run_dir
            .join("checkpoints/step-000002/tokenizer.json")
            .is_file());
    }
}

#[test]
fn completion_budget_is_bounded_by_the_models_own_positions() {
    // The fixture has 128 positions, the built-in default 64: 70 new tokens (after a 56-token
    // chat prompt) are valid here.
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = own_config(
        dir.path(),
        "long",
        "tiny_math.jsonl",
        &["rl.max_new_tokens=70", "rl.steps=1", "eval.problems=1"],
    );
    train(&cfg, TrainOptions::default()).expect("56 + 70 of 128 positions");
    let cfg = own_config(
        dir.path(),
        "too-long",
        "tiny_math.jsonl",
        &["rl.max_new_tokens=200"],
    );
    let err = train(&cfg, TrainOptions::default())
        .expect_err("200 new tokens exceed 128 positions")
        .to_string();
    assert!(
        err.contains("rl.max_new_tokens") && err.contains("128"),
        "{err}"
    );
}
