//! `polopt eval` on a control run (seconds): trains a few CartPole updates, then evaluates
//! the run's newest checkpoint over a chosen number of episodes and prints return statistics.
use std::process::Command;

#[test]
fn eval_prints_return_statistics_of_a_control_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let train = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .args(["train", "--preset", "ppo-cartpole", "--quiet"])
        .args([
            "--set",
            &format!("run.out_dir={out}"),
            "--set",
            "run.name=c",
        ])
        .args(["--set", "algo.total_steps=1024", "--set", "eval.episodes=2"])
        .output()
        .expect("polopt runs");
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let eval = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .arg("eval")
        .arg(dir.path().join("c"))
        .args(["--episodes", "5"])
        .output()
        .expect("polopt runs");
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    assert!(
        text.contains("CartPole-v1 | 5 episodes | deterministic"),
        "{text}"
    );
    for key in [
        "eval/return_mean",
        "eval/return_std",
        "eval/return_min",
        "eval/return_max",
    ] {
        let line = text.lines().find(|l| l.starts_with(key)).expect(key);
        let value: f64 = line
            .split_whitespace()
            .nth(1)
            .expect("value")
            .parse()
            .expect("number");
        assert!(value.is_finite() && value >= 0.0, "{line}");
    }
    let text_flag = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .arg("eval")
        .arg(dir.path().join("c"))
        .args(["--problems", "5"])
        .output()
        .expect("polopt runs");
    assert!(!text_flag.status.success());
    assert!(String::from_utf8_lossy(&text_flag.stderr).contains("--episodes"));
}
