//! User rewards and LoRA in whole runs: a Python function and an external command each train
//! a run; a raising function and a hanging command stop it with a clear error; a LoRA run
//! trains only its adapters and checkpoints them in PEFT's layout.
mod common;

use common::{own_config, own_config_with, root};
use polopt_train::{train, TrainOptions};

fn fixture(name: &str) -> String {
    root()
        .join("crates/train/tests/fixtures/rewards")
        .join(name)
        .display()
        .to_string()
}

/// Rows after the warm-start row; every one must have moved the weights at least once.
fn assert_trained(run_dir: &std::path::Path) {
    let rows = common::metric_rows(run_dir, &[]);
    assert!(rows.len() > 1);
    let moved = rows[1..]
        .iter()
        .any(|r| r["grad_norm"].as_f64().is_some_and(|g| g > 0.0));
    let rewarded = rows[1..]
        .iter()
        .any(|r| r["reward_mean"].as_f64().is_some_and(|x| x > 0.0));
    assert!(moved && rewarded, "no learning signal: {rows:?}");
}

/// A run with `rewards` (TOML `[[reward]]` text) on the tiny model and dataset.
fn run_with(name: &str, rewards: &str) -> Result<polopt_train::TrainSummary, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = own_config_with(dir.path(), name, "tiny_math.jsonl", rewards, &[]);
    let result = train(&cfg, TrainOptions::default()).map_err(|e| e.to_string());
    if let Ok(summary) = &result {
        assert_trained(&summary.run_dir);
    }
    result
}

#[test]
fn a_python_reward_trains_a_run() {
    let function = format!("{}:digit_share", fixture("train_rewards.py"));
    let rewards = format!("[[reward]]\nname = \"python\"\nfunction = {function:?}\n");
    run_with("py", &rewards).expect("python-reward run");
}

#[test]
fn a_command_reward_trains_a_run() {
    let script = fixture("digit_share.py");
    let rewards = format!(
        "[[reward]]\nname = \"command\"\ncommand = [\"python3\", {script:?}]\ntimeout_s = 30\n"
    );
    run_with("cmd", &rewards).expect("command-reward run");
}

#[test]
fn a_raising_python_reward_stops_the_run_with_its_exception() {
    let function = format!("{}:raises", fixture("train_rewards.py"));
    let rewards = format!("[[reward]]\nname = \"python\"\nfunction = {function:?}\n");
    let err = run_with("raise", &rewards).expect_err("the reward raises");
    assert!(
        err.contains("ValueError") && err.contains("reward exploded on purpose"),
        "{err}"
    );
}

#[test]
fn a_hanging_command_reward_times_out_with_a_clear_error() {
    let script = fixture("hang.sh");
    let rewards =
        format!("[[reward]]\nname = \"command\"\ncommand = [\"sh\", {script:?}]\ntimeout_s = 1\n");
    let started = std::time::Instant::now();
    let err = run_with("hang", &rewards).expect_err("the command never answers");
    assert!(
        err.contains("hang.sh") && err.contains("timeout_s = 1"),
        "{err}"
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "the timeout did not stop the run"
    );
}

#[test]
fn a_lora_run_trains_only_its_adapters_and_saves_them_as_peft() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lora = "model.lora={ rank = 2, alpha = 4.0, target_modules = [\"q_proj\", \"v_proj\", \"down_proj\"] }";
    let cfg = own_config(
        dir.path(),
        "lora",
        "tiny_math.jsonl",
        &[lora, "method.objective.kl_coef=0.05", "rl.steps=2"],
    );
    let summary = train(&cfg, TrainOptions::default()).expect("LoRA run");
    assert_trained(&summary.run_dir);
    let ckpt = summary.run_dir.join("checkpoints/step-000002");
    assert!(ckpt.join("adapter_config.json").is_file());
    assert!(ckpt.join("adapter_model.safetensors").is_file());
    assert!(
        !ckpt.join("model.safetensors").exists(),
        "no copy of the base weights"
    );
    // Adam's two moments for each of A and B, on 3 projections x 2 layers, and nothing else.
    let moments = polopt_models::checkpoint::load_tensors(
        &ckpt.join("optimizer.safetensors"),
        tch::Device::Cpu,
    )
    .expect("optimizer state");
    assert_eq!(moments.len(), 2 * 2 * 3 * 2, "{:?}", moments.keys());
    assert!(moments
        .keys()
        .all(|k| k.contains("lora_A") || k.contains("lora_B")));
    // With kl_coef > 0 the reference (adapters off) is in the loss: the KL is logged.
    let rows = common::metric_rows(&summary.run_dir, &[]);
    assert!(rows[1..].iter().all(|r| r["kl"].as_f64().is_some()));
    // The adapter checkpoint evaluates on its base model.
    let metrics = polopt_train::group_rl::evaluate_weights(&cfg, &ckpt, None).expect("eval");
    assert!(metrics.contains_key("eval/pass@1"));
}
