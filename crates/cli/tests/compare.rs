//! `polopt compare` end to end on a tiny config (seconds): a 2 x 2 grid finishes and writes a
//! report; running the same command again runs only what is missing; `polopt report`
//! re-renders it without training.
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The tiny model and budget of crates/train/tests/common (`tiny_config`), as `--set`s.
const TINY: &[&str] = &[
    "model.hidden_size=32",
    "model.intermediate_size=64",
    "model.num_hidden_layers=1",
    "model.num_attention_heads=2",
    "model.num_key_value_heads=1",
    "sft.steps=10",
    "sft.batch_size=16",
    "sft.pool_size=64",
    "rl.prompts_per_step=4",
    "rl.group_size=4",
    "rl.minibatch_size=8",
    "eval.every=3",
    "eval.problems=8",
    "eval.k=[1, 2]",
    "run.checkpoint_every=2",
];

fn compare(out: &Path) -> Output {
    compare_with(out, &[])
}

fn compare_with(out: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_polopt"));
    cmd.args(["compare", "--presets", "grpo,dapo", "--task", "addition"])
        .args(["--seeds", "2", "--steps", "4", "--jobs", "2", "--quiet"])
        .arg("--out")
        .arg(out)
        .args(["--name", "tiny"]);
    for s in TINY {
        cmd.args(["--set", s]);
    }
    cmd.args(extra);
    cmd.output().expect("polopt runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn started(o: &Output) -> Vec<String> {
    let mut names: Vec<String> = stderr(o)
        .lines()
        .filter_map(|l| l.strip_prefix("started "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn a_grid_finishes_reports_and_a_rerun_runs_only_the_missing_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let first = compare(tmp.path());
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        started(&first),
        ["dapo-seed0", "dapo-seed1", "grpo-seed0", "grpo-seed1"]
    );
    let dir = tmp.path().join("tiny");
    let report = dir.join("report");
    for f in [
        "report.md",
        "report.html",
        "summary.json",
        "plots/eval_pass_at_1.png",
        "plots/entropy.svg",
    ] {
        assert!(report.join(f).is_file(), "missing {f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["baseline"], "grpo");
    assert_eq!(summary["tables"][0]["metric"], "eval/pass@1");
    assert_eq!(summary["tables"][0]["rows"][1]["n_seeds"], 2);
    assert_eq!(summary["improvements"][0]["preset"], "dapo");

    // Nothing missing: nothing runs.
    let again = compare(tmp.path());
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(started(&again).is_empty(), "{}", stderr(&again));
    assert!(stderr(&again).contains("4 of 4 runs already finished"));

    // As if interrupted: one cell after a checkpoint, one before it started.
    let runs = dir.join("runs");
    let info = runs.join("grpo-seed1/run.json");
    let text = fs::read_to_string(&info).unwrap();
    fs::write(&info, text.replace("\"finished\"", "\"running\"")).unwrap();
    fs::remove_dir_all(runs.join("dapo-seed0")).unwrap();

    // A dry run tells each cell's fate and writes nothing: the deleted cell starts over from
    // seed 0's warm start, which grpo-seed0 stored in the cache.
    let dry = compare_with(tmp.path(), &["--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let plan = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(plan.contains("grpo-seed0: skip (finished)"), "{plan}");
    assert!(
        plan.contains("grpo-seed1: resume from its newest checkpoint"),
        "{plan}"
    );
    let fresh = plan
        .lines()
        .find(|l| l.contains("dapo-seed0: fresh; warm start "))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(fresh.ends_with("(cached)"), "{fresh}");
    let key = fresh.split("warm start ").nth(1).unwrap();
    let key = Path::new(key.trim_end_matches(" (cached)"));
    assert!(key.join("sft.json").is_file(), "{}", key.display());
    assert!(started(&dry).is_empty(), "{}", stderr(&dry));
    assert!(!runs.join("dapo-seed0").exists());

    let resumed = compare(tmp.path());
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(started(&resumed), ["dapo-seed0", "grpo-seed1"]);
    assert!(stderr(&resumed).contains("started  grpo-seed1 (resumed"));
    assert!(runs.join("dapo-seed0/log.txt").is_file());

    // Re-render from the comparison directory, without training.
    let out = tmp.path().join("rerendered");
    let report = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .arg("report")
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", stderr(&report));
    let md = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Baseline: **grpo**"), "{md}");
    assert!(md.contains("plots/eval_pass_at_1.png"));

    // Cost to a target: the warm start's own evaluation already reaches pass@1 >= 0, so every
    // run spends 0 steps; a malformed target names itself.
    let target = |t: &str| {
        Command::new(env!("CARGO_BIN_EXE_polopt"))
            .args(["report", "--target", t, "--out"])
            .arg(tmp.path().join("targeted"))
            .arg(&dir)
            .output()
            .unwrap()
    };
    let targeted = target("eval/pass@1>=0");
    assert!(targeted.status.success(), "{}", stderr(&targeted));
    let summary: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(tmp.path().join("targeted/summary.json")).unwrap(),
    )
    .unwrap();
    let steps = summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == "steps to eval/pass@1>=0")
        .expect("a steps-to-target table");
    assert_eq!(steps["higher_is_better"], false);
    assert_eq!(steps["rows"][0]["mean"]["estimate"], 0.0);
    let bad = target("eval/pass@1>>0.5");
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("eval/pass@1>>0.5"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_failed_cell_is_reported_with_its_log_while_the_others_finish() {
    let tmp = tempfile::tempdir().unwrap();
    // A damaged checkpoint: the cell is resumed from it, and the trainer fails to load it.
    let cell = tmp.path().join("tiny/runs/dapo-seed1");
    let ckpt = cell.join("checkpoints/step-000002");
    fs::create_dir_all(&ckpt).unwrap();
    fs::write(ckpt.join("state.json"), "damaged").unwrap();
    let out = compare(tmp.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    let log = cell.join("log.txt");
    assert!(
        err.contains("FAILED   dapo-seed1") && err.contains(&log.display().to_string()),
        "{err}"
    );
    assert!(err.contains("1 of 4 runs failed"), "{err}");
    assert!(fs::read_to_string(&log).unwrap().contains("--resume"));
    // The other cells finished and the report was still written from them.
    for name in ["grpo-seed0", "grpo-seed1", "dapo-seed0"] {
        let info = fs::read_to_string(tmp.path().join("tiny/runs").join(name).join("run.json"));
        assert!(info.unwrap().contains("finished"), "{name}");
    }
    assert!(tmp.path().join("tiny/report/report.md").is_file());
}

#[test]
fn a_control_comparison_reports_the_evaluation_return_against_environment_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .args(["compare", "--presets", "ppo-cartpole,a2c-cartpole"])
        .args(["--seeds", "2", "--steps", "1024", "--jobs", "2", "--quiet"])
        .args(["--set", "eval.episodes=3", "--set", "eval.every=2"])
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = tmp.path().join("ppo-cartpole-a2c-cartpole/report");
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["tables"].as_array().map(Vec::len), Some(1));
    assert_eq!(summary["tables"][0]["metric"], "eval/return_mean");
    assert_eq!(summary["tables"][0]["rows"][0]["n_seeds"], 2);
    assert!(report
        .join("plots/eval_return_mean_vs_env_steps.png")
        .is_file());
}

#[test]
fn a_theory_comparison_tabulates_the_solvers_measurements_with_their_direction() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .args(["compare", "--presets", "qlearning-riverswim,loop-riverswim"])
        .args(["--seeds", "2", "--steps", "3000", "--jobs", "2", "--quiet"])
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = tmp.path().join("qlearning-riverswim-loop-riverswim/report");
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(report.join("summary.json")).unwrap()).unwrap();
    let tables = summary["tables"].as_array().expect("tables");
    // The headline leads, and regret is a cost: lower is better.
    assert_eq!(tables[0]["metric"], "regret");
    assert_eq!(tables[0]["higher_is_better"], false, "{}", tables[0]);
    assert_eq!(tables[0]["rows"][0]["n_seeds"], 2);
    // Curves are drawn against the solver's own unit.
    assert!(report.join("plots/regret_vs_env_steps.png").is_file());
}

#[test]
fn a_multi_objective_comparison_draws_the_fronts_the_runs_found() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_polopt"))
        .args(["compare", "--presets", "linear-morl-dst,c-morl-dst"])
        .args(["--seeds", "2", "--steps", "20000", "--jobs", "2", "--quiet"])
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = tmp.path().join("linear-morl-dst-c-morl-dst/report");
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["tables"][0]["metric"], "hypervolume");
    assert_eq!(summary["tables"][0]["higher_is_better"], true);
    let sparsity = summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == "sparsity")
        .expect("sparsity table");
    assert_eq!(sparsity["higher_is_better"], false);
    assert!(report.join("plots/pareto_front.png").is_file());
    let md = fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("![Pareto front](plots/pareto_front.png)"),
        "{md}"
    );
}
