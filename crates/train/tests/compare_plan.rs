//! `polopt compare`'s planning on fabricated run directories: which cells are skipped,
//! resumed or started fresh, and which requests are refused before anything runs.
use std::fs;
use std::path::Path;

use polopt_train::compare::{plan, validate_presets, Action, Cell, CompareError, CompareSpec};
use polopt_train::config::resolve;

fn spec(dir: &Path, presets: &[&str], sets: &[&str]) -> CompareSpec {
    CompareSpec {
        presets: presets.iter().map(|p| p.to_string()).collect(),
        task: Some("addition".into()),
        seeds: 2,
        steps: Some(6),
        sets: sets.iter().map(|s| s.to_string()).collect(),
        dir: dir.to_path_buf(),
        threads: 1,
    }
}

fn cell<'a>(cells: &'a [Cell], name: &str) -> &'a Cell {
    cells
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no cell {name}"))
}

fn run_json(dir: &Path, status: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("run.json"),
        format!(
            r#"{{"preset":"grpo","task":"addition","seed":0,"status":"{status}","final":{{}}}}"#
        ),
    )
    .unwrap();
}

#[test]
fn finished_runs_are_skipped_checkpointed_ones_resumed_and_the_rest_started_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(tmp.path(), &["grpo", "dapo"], &[]);
    let runs = tmp.path().join("runs");
    run_json(&runs.join("grpo-seed0"), "finished");
    run_json(&runs.join("grpo-seed1"), "running");
    let ckpt = runs.join("grpo-seed1/checkpoints/step-000002");
    fs::create_dir_all(&ckpt).unwrap();
    fs::write(ckpt.join("state.json"), "{}").unwrap();
    // Died in its warm start after writing metrics but before any checkpoint.
    fs::create_dir_all(runs.join("dapo-seed0")).unwrap();
    fs::write(runs.join("dapo-seed0/metrics.jsonl"), "{\"step\":0}\n").unwrap();

    let cells = plan(&s).expect("plan");
    let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["grpo-seed0", "grpo-seed1", "dapo-seed0", "dapo-seed1"]
    );
    assert_eq!(cell(&cells, "grpo-seed0").action, Action::Skip);
    assert_eq!(cell(&cells, "grpo-seed1").action, Action::Resume);
    assert_eq!(
        cell(&cells, "dapo-seed0").action,
        Action::Fresh { clear: true }
    );
    assert_eq!(
        cell(&cells, "dapo-seed1").action,
        Action::Fresh { clear: false }
    );

    let resume = cell(&cells, "grpo-seed1").train_args();
    assert_eq!(resume.last().map(String::as_str), Some("--resume"));
    assert!(!cell(&cells, "dapo-seed1")
        .train_args()
        .contains(&"--resume".to_string()));
    // Only a fresh text run trains (or reuses) a warm start; cells of one seed share it.
    assert!(cell(&cells, "grpo-seed1").warm_key.is_none());
    let key_name = |c: &Cell| {
        c.warm_key
            .as_ref()
            .and_then(|k| k.file_name())
            .map(|n| n.to_owned())
    };
    let elsewhere = tempfile::tempdir().unwrap();
    let grpo_seed0 = plan(&spec(elsewhere.path(), &["grpo"], &[])).unwrap()[0].clone();
    assert!(key_name(&grpo_seed0).is_some());
    assert_eq!(key_name(cell(&cells, "dapo-seed0")), key_name(&grpo_seed0));
    assert_ne!(
        cell(&cells, "dapo-seed0").warm_key,
        cell(&cells, "dapo-seed1").warm_key
    );
}

#[test]
fn each_cell_runs_its_preset_and_seed_in_its_own_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let cells = plan(&spec(tmp.path(), &["grpo", "dapo"], &["rl.lr=1e-4"])).unwrap();
    let c = cell(&cells, "dapo-seed1");
    assert_eq!(c.dir, tmp.path().join("runs").join("dapo-seed1"));
    let cfg = resolve(&toml::Table::new(), &c.sets).expect("cell config resolves");
    assert_eq!(cfg.method.preset, "dapo");
    assert_eq!(cfg.run.seed, 1);
    assert_eq!(cfg.run.name, "dapo-seed1");
    assert_eq!(cfg.run.threads, 1);
    assert_eq!(cfg.rl.steps, 6);
    assert_eq!(cfg.rl.lr, 1e-4);
    assert_eq!(cfg.task.name, "addition");
    assert_eq!(
        Path::new(&cfg.run.out_dir),
        tmp.path().join("runs").as_path()
    );
}

#[test]
fn a_run_made_with_other_settings_is_refused_naming_the_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let s = spec(tmp.path(), &["grpo"], &[]);
    let cells = plan(&s).unwrap();
    let mut sets = cells[0].sets.clone();
    sets.push("rl.steps=99".into());
    let other = resolve(&toml::Table::new(), &sets).unwrap();
    fs::create_dir_all(&cells[0].dir).unwrap();
    fs::write(cells[0].dir.join("config.toml"), other.to_toml().unwrap()).unwrap();
    let err = plan(&s).unwrap_err();
    assert!(
        matches!(&err, CompareError::ConfigMismatch { keys, .. } if keys == &["rl.steps"]),
        "{err}"
    );

    // Another thread count is the same experiment (resuming with other --jobs is fine), and
    // a knob that a newer polopt added with a default is not a different request.
    let mut sets = cells[0].sets.clone();
    sets.push("run.threads=3".into());
    let same = resolve(&toml::Table::new(), &sets).unwrap();
    let mut text = same.to_toml().unwrap();
    text = text.replacen("[rl]\n", "[rl]\nsome_knob_of_an_older_polopt = 3\n", 1);
    assert!(text.contains("some_knob"));
    fs::write(cells[0].dir.join("config.toml"), text).unwrap();
    assert!(plan(&s).is_ok());
}

#[test]
fn bad_requests_fail_before_any_run_with_errors_that_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let msg = |presets: &[&str], sets: &[&str]| {
        plan(&spec(tmp.path(), presets, sets))
            .unwrap_err()
            .to_string()
    };
    let unknown = msg(&["grpo", "nope"], &[]);
    assert!(
        unknown.contains("`nope`") && unknown.contains("dr_grpo"),
        "{unknown}"
    );
    assert!(msg(&["grpo", "ppo-cartpole"], &[]).contains("mixes families"));
    assert!(msg(&["grpo", "grpo"], &[]).contains("twice"));
    assert!(msg(&["grpo"], &["run.seed=4"]).contains("--seeds"));
    assert!(msg(&["grpo"], &["rl.nope=1"]).contains("rl.nope"));
    let mut s = spec(tmp.path(), &["grpo"], &[]);
    s.task = Some("sudoku".into());
    assert!(plan(&s).unwrap_err().to_string().contains("addition"));
    s.task = None;
    s.seeds = 0;
    assert!(matches!(plan(&s), Err(CompareError::NoSeeds)));
    assert!(validate_presets(&[]).is_err());
}

/// `polopt compare --task calc` resolves through the calc task layer: addition's task knobs are
/// replaced, the lengths fit the tool task, user sets still win, and the presets keep their parts.
#[test]
fn the_calc_task_layer_makes_compare_task_calc_resolve() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), &["grpo", "dapo", "aspo"], &[]);
    s.task = Some("calc".into());
    let cells = plan(&s).expect("grpo, dapo and aspo resolve on calc");
    assert_eq!(cells.len(), 6);
    let aspo = resolve(&toml::Table::new(), &cell(&cells, "aspo-seed0").sets).unwrap();
    assert_eq!(aspo.task.name, "calc");
    assert_eq!(
        aspo.task.sft.get("p_late").and_then(|v| v.as_float()),
        Some(0.7)
    );
    assert!(aspo.task.rl.is_empty());
    assert_eq!(
        (aspo.rl.max_new_tokens, aspo.model.max_position_embeddings),
        (96, 128)
    );
    assert_eq!(aspo.method.select.overlong_max_len, 96);
    assert!(aspo.method.select.dynamic_sampling);
    assert_eq!(aspo.method.credit.shaping, "aspo");
    let custom = resolve(
        &toml::Table::new(),
        &[
            "task.name=calc".into(),
            "rl.max_new_tokens=80".into(),
            "task.rl.max_calls=3".into(),
        ],
    )
    .unwrap();
    assert_eq!(custom.rl.max_new_tokens, 80);
    assert_eq!(
        custom.task.rl.get("max_calls").and_then(|v| v.as_integer()),
        Some(3)
    );
    // Addition, the default task, has no layer: its config is unchanged.
    let addition = resolve(&toml::Table::new(), &[]).unwrap();
    assert_eq!(addition.rl.max_new_tokens, 8);
}

/// `--set task.name=X` alone gives a runnable config for every built-in task and environment:
/// a task without a layer of its own would keep addition's knobs, which its generator refuses.
#[test]
fn every_builtin_task_resolves_and_builds_from_its_name_alone() {
    let names = polopt_envs::text::TASK_NAMES
        .iter()
        .chain(polopt_envs::agent::ENV_NAMES);
    for name in names {
        let cfg = resolve(&toml::Table::new(), &[format!("task.name={name}")])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (which, table) in [("rl", &cfg.task.rl), ("sft", &cfg.task.sft)] {
            polopt_train::group_rl::task_from(&cfg, which, table)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    let countdown = resolve(&toml::Table::new(), &["task.name=countdown".into()]).unwrap();
    assert_eq!(
        (
            countdown.rl.max_new_tokens,
            countdown.sft.target_pass1,
            countdown.rl.lr
        ),
        (24, 0.3, 1e-4)
    );
}
