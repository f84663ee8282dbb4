//! HiPER through the real loop on CorridorKeys with plan-execute turns: its three-head critic
//! trains and is part of the run's state, so a split run resumes to the same metrics.
//!
//! A test binary of its own: once, sharing a process with the other agent-loop tests on a
//! loaded machine, the resumed half diverged at its first step (it never has alone, nor in
//! the other full runs); keeping its exact-equality check away from concurrent runs in the
//! same process keeps CI honest while that is investigated (docs/agents.md).
mod common;

/// HiPER's critic is part of the run's state: a split run resumes to the same metrics, the
/// critic's loss included, and the critic moves.
#[test]
fn hiper_trains_its_plan_critic_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "task.name=corridor",
        "task.rl.plan_execute=true",
        "task.sft.plan_execute=true",
        "method.preset=hiper",
        "model.max_position_embeddings=512",
        "rl.max_new_tokens=448",
        "rl.max_turn_tokens=40",
        "sft.steps=150",
        "sft.lr=5e-3",
        "model.hidden_size=48",
        "rl.steps=4",
        "eval.every=2",
    ];
    common::straight_and_resumed(
        dir.path(),
        &sets,
        2,
        polopt_train::TrainOptions::default,
        |first| {
            let checkpoint = first
                .run_dir
                .join("checkpoints")
                .join(polopt_train::run_dir::checkpoint_name(2));
            assert!(checkpoint.join("critic.safetensors").exists());
            assert!(checkpoint.join("plan_critic.json").exists());
        },
    );
    let straight = common::metric_rows(&dir.path().join("straight"), &[]);
    let split = common::metric_rows(&dir.path().join("split"), &[]);
    assert_eq!(
        straight, split,
        "resume must continue exactly, the critic included"
    );
    let losses: Vec<f64> = straight[1..]
        .iter()
        .map(|r| r["plan_critic/loss"].as_f64().expect("critic loss logged"))
        .collect();
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[0] != losses[3], "the critic trains: {losses:?}");
}
