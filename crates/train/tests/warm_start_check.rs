//! `sft.target_pass1`: the warm start stops at the first check whose greedy pass@1 on the
//! warm-start slice reaches the target, and trains every step when none does.
mod common;

use polopt_envs::text::{Problem, Verdict};
use polopt_train::group_rl::{train, TrainOptions};
use polopt_train::reward::RewardFn;

/// Calls every completion correct, so the first check passes.
struct AlwaysCorrect;

impl RewardFn for AlwaysCorrect {
    fn name(&self) -> &str {
        "always_correct"
    }
    fn score(&self, _problem: &Problem, _completion: &str) -> Verdict {
        Verdict {
            reward: 1.0,
            correct: true,
            well_formed: true,
        }
    }
}

fn warm_start_of(name: &str, reward: Box<dyn RewardFn>) -> std::collections::BTreeMap<String, f64> {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(
        dir.path(),
        name,
        &[
            "sft.steps=10",
            "sft.target_pass1=0.5",
            "sft.check_every=4",
            "sft.check_problems=8",
            "rl.steps=1",
            "eval.every=0",
        ],
    );
    let options = TrainOptions {
        reward: Some(reward),
        ..Default::default()
    };
    train(&config, options).unwrap().warmstart
}

#[test]
fn warm_start_stops_at_the_first_check_that_reaches_the_target() {
    let metrics = warm_start_of("stops", Box::new(AlwaysCorrect));
    assert_eq!(metrics["sft/steps_run"], 4.0, "{metrics:?}");
    assert_eq!(metrics["sft/slice_pass@1"], 1.0, "{metrics:?}");
}

#[test]
fn warm_start_runs_every_step_when_no_check_reaches_the_target() {
    let metrics = warm_start_of("runs_on", Box::new(common::DigitShare));
    assert_eq!(metrics["sft/steps_run"], 10.0, "{metrics:?}");
    assert_eq!(metrics["sft/slice_pass@1"], 0.0, "{metrics:?}");
}
