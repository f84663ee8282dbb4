//! SPO-chain and SPO-tree end to end on the tiny run: finite metrics, their own metric keys,
//! sampling counts that match the rollout's structure, and exact resume.
mod common;

use common::dense;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use polopt_train::{train, TrainOptions};
use serde_json::Value;

/// RL rows (step >= 1) of a run, without the wall-clock fields.
fn rl_rows(run_dir: &Path) -> Vec<BTreeMap<String, f64>> {
    let text = fs::read_to_string(run_dir.join("metrics.jsonl")).expect("metrics written");
    text.lines()
        .map(|l| serde_json::from_str::<BTreeMap<String, Value>>(l).expect("json line"))
        .filter(|row| row["step"].as_u64().is_some_and(|s| s >= 1))
        .map(|row| {
            row.into_iter()
                .filter(|(k, _)| !common::TIMING.contains(&k.as_str()))
                .map(|(k, v)| {
                    let x = v.as_f64().unwrap_or(f64::NAN);
                    (k, x)
                })
                .collect()
        })
        .collect()
}

fn assert_trained_finite(rows: &[BTreeMap<String, f64>], keys: &[&str]) {
    assert!(!rows.is_empty());
    for row in rows {
        for (k, v) in row {
            assert!(v.is_finite(), "{k} = {v}");
        }
        for key in keys {
            assert!(row.contains_key(*key), "missing {key} in {row:?}");
        }
        assert_eq!(row["skipped_updates"], 0.0);
    }
    assert!(
        rows.iter().any(|r| r["grad_norm"] > 0.0),
        "the run must take real updates"
    );
}

#[test]
fn spo_chain_trains_and_counts_its_monte_carlo_rollouts() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(
        dir.path(),
        "chain",
        &["method.preset=spo_chain", "rl.steps=3", "eval.every=0"],
    );
    train(&config, dense()).expect("spo_chain run");
    let rows = rl_rows(&dir.path().join("chain"));
    assert_trained_finite(
        &rows,
        &[
            "spo/mc_rollouts",
            "spo/mc_tokens",
            "spo/cutpoints_per_response",
            "spo/token_keep_frac",
            "kl",
        ],
    );
    // M completions for each prompt's V(-1) and for each cutpoint past -1 of each response.
    let (prompts, group, m) = (4.0, 4.0, 4.0);
    for row in &rows {
        let extra_cuts = (row["spo/cutpoints_per_response"] - 1.0) * prompts * group;
        assert!(
            (row["spo/mc_rollouts"] - m * (prompts + extra_cuts)).abs() < 1e-9,
            "{row:?}"
        );
        let keep = row["spo/token_keep_frac"];
        assert!(keep > 0.0 && keep <= 1.0, "{keep}");
    }
}

#[test]
fn spo_tree_trains_on_its_edges() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(
        dir.path(),
        "tree",
        &[
            "method.preset=spo_tree",
            "method.credit.spo.prompts_per_step=3",
            "method.credit.spo.tree_branching=[3, 2]",
            "method.credit.spo.tree_segment_len=2",
            "rl.steps=3",
            "eval.every=0",
        ],
    );
    train(&config, dense()).expect("spo_tree run");
    let rows = rl_rows(&dir.path().join("tree"));
    assert_trained_finite(
        &rows,
        &[
            "spo/tree_nodes",
            "spo/leaves",
            "spo/edges",
            "spo/dropped_edges",
            "spo/token_keep_frac",
        ],
    );
    for row in &rows {
        // Every sampled segment is an edge, kept or dropped; 3 prompts x (3 + 3 * 2) at most.
        assert_eq!(
            row["spo/edges"] + row["spo/dropped_edges"],
            row["spo/tree_nodes"]
        );
        assert!(row["spo/tree_nodes"] <= 27.0 && row["spo/tree_nodes"] >= 9.0);
        // Leaves: at most 3 x 3 x 2 full-depth ones; at least one per prompt's first level.
        assert!(row["spo/leaves"] <= 18.0 && row["spo/leaves"] >= 9.0);
    }
}

#[test]
fn spo_chain_resume_reproduces_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let sets = ["method.preset=spo_chain", "rl.steps=4", "eval.every=0"];
    common::straight_and_resumed(dir.path(), &sets, 2, dense, |_| {});
    let a = rl_rows(&dir.path().join("straight"));
    assert_eq!(a.len(), 4);
    assert_eq!(a, rl_rows(&dir.path().join("split")));
}

/// NaN for completions whose digit share is above one half: some MC completions and responses.
struct NanWhenDigitHeavy;

impl polopt_train::reward::RewardFn for NanWhenDigitHeavy {
    fn name(&self) -> &str {
        "nan_when_digit_heavy"
    }
    fn score(
        &self,
        problem: &polopt_envs::text::Problem,
        completion: &str,
    ) -> polopt_envs::text::Verdict {
        let mut v = common::DigitShare.score(problem, completion);
        if v.reward > 0.5 {
            v.reward = f64::NAN;
        }
        v
    }
}

#[test]
fn nan_rewards_drop_whole_prompts_in_both_segment_rollouts() {
    for preset in ["spo_chain", "spo_tree"] {
        let dir = tempfile::tempdir().unwrap();
        let config = common::tiny_config(
            dir.path(),
            preset,
            &[
                &format!("method.preset={preset}"),
                "rl.steps=2",
                "eval.every=0",
                "run.on_nan=\"skip\"",
            ],
        );
        let options = TrainOptions {
            reward: Some(Box::new(NanWhenDigitHeavy)),
            ..Default::default()
        };
        let summary = train(&config, options).expect("skip keeps going");
        assert!(
            summary.nan_events > 0,
            "{preset}: NaN rewards must be counted"
        );
        for row in rl_rows(&dir.path().join(preset)) {
            for (k, v) in &row {
                assert!(v.is_finite(), "{preset}: {k} = {v}");
            }
            assert_eq!(
                row["kept_groups"] + row["nan_reward_groups"],
                4.0,
                "{preset}"
            );
        }

        let stop = common::tiny_config(
            dir.path(),
            &format!("{preset}-stop"),
            &[
                &format!("method.preset={preset}"),
                "rl.steps=2",
                "run.on_nan=\"stop\"",
            ],
        );
        let options = TrainOptions {
            reward: Some(Box::new(NanWhenDigitHeavy)),
            ..Default::default()
        };
        let err = train(&stop, options).unwrap_err().to_string();
        assert!(err.contains("nan_when_digit_heavy"), "{preset}: {err}");
    }
}
