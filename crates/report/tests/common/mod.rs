//! Synthetic run directories in the trainer's format (run.json + metrics.jsonl), shared by the
//! integration tests and `examples/synthetic_report.rs`.

#![allow(dead_code)] // each test binary uses a different subset

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Writes `dir/run.json` from its parts.
pub fn write_run_json(
    dir: &Path,
    preset: &str,
    task: &str,
    seed: u64,
    status: &str,
    finals: &[(&str, f64)],
) {
    std::fs::create_dir_all(dir).expect("create run dir");
    let finals: Map<String, Value> = finals
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let run =
        json!({"preset": preset, "task": task, "seed": seed, "status": status, "final": finals});
    std::fs::write(dir.join("run.json"), run.to_string()).expect("write run.json");
}

/// `root/{preset}-s{seed}` with `lines` (one JSON value per metrics line) and a finished
/// `run.json` holding `finals`. Returns the run directory.
pub fn write_lines_run(
    root: &Path,
    preset: &str,
    task: &str,
    seed: u64,
    lines: &[Value],
    finals: &[(&str, f64)],
) -> PathBuf {
    let dir = root.join(format!("{preset}-s{seed}"));
    let mut text = String::new();
    for line in lines {
        let _ = writeln!(text, "{line}");
    }
    std::fs::create_dir_all(&dir).expect("create run dir");
    std::fs::write(dir.join("metrics.jsonl"), text).expect("write metrics.jsonl");
    write_run_json(&dir, preset, task, seed, "finished", finals);
    dir
}

/// One text-task (group RL) run: a learning curve that rises towards `skill`, with per-seed
/// noise, evaluated every 20 steps. Returns the run directory.
pub fn write_text_run(root: &Path, preset: &str, skill: f64, seed: u64, steps: u64) -> PathBuf {
    let dir = root.join(format!("{preset}-s{seed}"));
    let mut rng = ChaCha8Rng::seed_from_u64(seed * 1000 + skill.to_bits() % 997);
    let seed_offset = rng.random_range(-0.04..0.04);
    let mut lines = String::new();
    let mut pass1 = 0.0;
    for step in 0..steps {
        let progress = 1.0 - (-(step as f64) / (steps as f64 / 3.0)).exp();
        let level = (0.1 + (skill - 0.1) * progress + seed_offset).clamp(0.0, 1.0);
        let noise = rng.random_range(-0.06..0.06);
        let mut line = json!({
            "step": step,
            "reward_mean": (level + noise).clamp(0.0, 1.0),
            "accuracy": (level + noise * 0.5).clamp(0.0, 1.0),
            "entropy": 1.2 * (1.0 - 0.6 * progress) + rng.random_range(-0.03..0.03),
            "kl": 0.02 * progress + rng.random_range(0.0..0.002),
            "clip_frac_low": 0.002 + rng.random_range(0.0..0.002),
            "clip_frac_high": 0.01 * (1.0 - progress) + rng.random_range(0.0..0.003),
            "response_len_mean": 120.0 + 80.0 * progress + rng.random_range(-8.0..8.0),
            "grad_norm": 0.5 + rng.random_range(0.0..0.2),
            "tokens_per_s": 2.0e4 + rng.random_range(-500.0..500.0),
            "step_time_s": 1.5 + rng.random_range(0.0..0.1),
        });
        if step % 20 == 0 || step + 1 == steps {
            pass1 = (level + rng.random_range(-0.02..0.02)).clamp(0.0, 1.0);
            line["eval/pass@1"] = json!(pass1);
            line["eval/pass@4"] = json!((pass1 * 1.4).min(1.0));
        }
        let _ = writeln!(lines, "{line}");
    }
    std::fs::create_dir_all(&dir).expect("create run dir");
    std::fs::write(dir.join("metrics.jsonl"), lines).expect("write metrics.jsonl");
    write_run_json(
        &dir,
        preset,
        "addition",
        seed,
        "finished",
        &[
            ("eval/pass@1", pass1),
            ("eval/pass@4", (pass1 * 1.4).min(1.0)),
        ],
    );
    dir
}

/// One control run: episodic return against env steps, where each seed logs at its own env
/// step counts (episodes end at different times), so curves need aligning.
pub fn write_control_run(root: &Path, preset: &str, skill: f64, seed: u64) -> PathBuf {
    let dir = root.join(format!("{preset}-cartpole-s{seed}"));
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 77 + skill as u64);
    let mut lines = String::new();
    let mut env_steps = 0u64;
    let mut ret = 0.0;
    for step in 0..120u64 {
        env_steps += 2048 + rng.random_range(0..300);
        let progress = 1.0 - (-(env_steps as f64) / 1.0e5).exp();
        ret = (20.0 + (skill - 20.0) * progress + rng.random_range(-25.0..25.0)).clamp(0.0, 500.0);
        let mut line = json!({"step": step, "env_steps": env_steps, "episodic_return": ret});
        if step % 10 == 9 {
            line["eval/return"] = json!(ret);
        }
        let _ = writeln!(lines, "{line}");
    }
    std::fs::create_dir_all(&dir).expect("create run dir");
    std::fs::write(dir.join("metrics.jsonl"), lines).expect("write metrics.jsonl");
    write_run_json(
        &dir,
        preset,
        "cartpole",
        seed,
        "finished",
        &[("eval/return", ret)],
    );
    dir
}
