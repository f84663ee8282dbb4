//! `polopt eval` on an off-policy run (seconds): a short TD3 run on Pendulum, then its run
//! directory evaluated with the run's own settings prints the final evaluation of `run.json`.
use std::process::Command;

fn value(text: &str, key: &str) -> f64 {
    let line = text.lines().find(|l| l.starts_with(key)).expect(key);
    line.split_whitespace()
        .nth(1)
        .expect("value")
        .parse()
        .expect("number")
}

#[test]
fn eval_of_an_offpolicy_run_prints_its_final_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let train = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .args(["train", "--preset", "td3-pendulum", "--quiet"])
        .args([
            "--set",
            &format!("run.out_dir={out}"),
            "--set",
            "run.name=t",
        ])
        .args([
            "--set",
            "algo.total_steps=300",
            "--set",
            "algo.learning_starts=100",
            "--set",
            "algo.train_freq=1",
            "--set",
            "algo.gradient_steps=1",
            "--set",
            "algo.log_every=100",
            "--set",
            "run.checkpoint_every=100",
            "--set",
            "model.hidden=[16, 16]",
            "--set",
            "eval.episodes=2",
        ])
        .output()
        .expect("polopt runs");
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("t/run.json")).unwrap())
            .unwrap();
    let eval = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .arg("eval")
        .arg(dir.path().join("t"))
        .output()
        .expect("polopt runs");
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    assert!(
        text.contains("Pendulum-v1 | 2 episodes | deterministic"),
        "{text}"
    );
    for key in ["eval/return_mean", "eval/return_min", "eval/return_max"] {
        let logged = run["final"][key].as_f64().expect(key);
        // Printed with 4 decimals.
        assert!((value(&text, key) - logged).abs() < 1e-4, "{key}: {text}");
    }
    // More episodes on request; a text-run flag is refused naming the right one.
    let more = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .arg("eval")
        .arg(dir.path().join("t"))
        .args(["--episodes", "3"])
        .output()
        .expect("polopt runs");
    assert!(String::from_utf8_lossy(&more.stdout).contains("| 3 episodes |"));
    let text_flag = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .arg("eval")
        .arg(dir.path().join("t"))
        .args(["--problems", "5"])
        .output()
        .expect("polopt runs");
    assert!(!text_flag.status.success());
    let refusal = String::from_utf8_lossy(&text_flag.stderr);
    assert!(
        refusal.contains("--episodes") && refusal.contains("off-policy"),
        "{refusal}"
    );
}
