//! The theory runner: every theory preset has a solver and the other way round, a run writes an
//! ordinary run directory that is identical for the same seed, and bad settings, environments
//! and preset families are errors that name the key.
use std::path::Path;

use polopt_methods::presets::{Family, PRESETS};
use polopt_train::compare::{plan, CompareSpec};
use polopt_train::theory::{load_theory_config, train_theory};

fn sets(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut s = vec![format!("run.out_dir={:?}", out.display().to_string())];
    s.extend(extra.iter().map(|x| x.to_string()));
    s
}

#[test]
fn every_theory_preset_has_a_solver_and_every_solver_a_preset() {
    let presets: Vec<&str> = PRESETS
        .iter()
        .filter(|p| p.family == Family::Theory)
        .map(|p| p.name)
        .collect();
    let solvers: Vec<&str> = polopt_theory::SOLVERS.iter().map(|s| s.name).collect();
    assert!(!presets.is_empty());
    for p in &presets {
        assert!(solvers.contains(p), "preset {p} has no solver");
    }
    for s in &solvers {
        assert!(presets.contains(s), "solver {s} has no preset");
    }
    for s in polopt_theory::SOLVERS {
        assert!(!s.envs.is_empty() && s.default_steps > 0, "{}", s.name);
    }
}

#[test]
fn a_theory_run_writes_a_run_directory_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: u64| {
        let cfg = load_theory_config(
            None,
            &sets(
                dir.path(),
                &[
                    "method.preset=subpo-coverage",
                    "theory.steps=200",
                    &format!("run.seed={seed}"),
                    &format!("run.name={name}"),
                ],
            ),
        )
        .expect("config");
        assert_eq!(
            cfg.theory.env, "coverage",
            "the solver's default environment"
        );
        train_theory(&cfg, false).expect("runs")
    };
    let a = run("a", 3);
    let b = run("b", 3);
    let c = run("c", 4);
    assert_eq!(a.final_metrics, b.final_metrics);
    assert_ne!(
        a.final_metrics, c.final_metrics,
        "another seed, another run"
    );
    let metrics =
        |name: &str| std::fs::read_to_string(dir.path().join(name).join("metrics.jsonl")).unwrap();
    assert_eq!(metrics("a"), metrics("b"));
    let first: serde_json::Value =
        serde_json::from_str(metrics("a").lines().next().unwrap()).unwrap();
    assert_eq!(
        first["episodes"].as_f64(),
        first["step"].as_f64(),
        "the x axis in the solver's unit"
    );
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("a").join("run.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(info["status"], "finished");
    assert_eq!(info["task"], "coverage");
    assert!(info["final"]["coverage"].as_f64().is_some(), "{info}");
}

#[test]
fn bad_theory_settings_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_theory_config(
        None,
        &sets(
            dir.path(),
            &["method.preset=subpo-coverage", "theory.env=cartpole"],
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("theory.env") && err.contains("coverage"),
        "{err}"
    );
    let cfg = load_theory_config(
        None,
        &sets(
            dir.path(),
            &[
                "method.preset=subpo-coverage",
                "theory.settings.no_such_knob=1",
            ],
        ),
    )
    .unwrap();
    let err = train_theory(&cfg, false).unwrap_err().to_string();
    assert!(err.contains("theory.settings.no_such_knob"), "{err}");
    let err = load_theory_config(None, &sets(dir.path(), &["method.preset=grpo"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("method.preset") && err.contains("theory"),
        "{err}"
    );
}

#[test]
fn compare_plans_theory_cells_with_their_budget_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CompareSpec {
        presets: vec!["modular-rl-coverage".into(), "subpo-coverage".into()],
        task: Some("coverage-r0".into()),
        seeds: 2,
        steps: Some(50),
        sets: vec![],
        dir: dir.path().to_path_buf(),
        threads: 1,
    };
    let cells = plan(&spec).expect("plans");
    assert_eq!(cells.len(), 4);
    for cell in &cells {
        assert!(
            cell.sets
                .contains(&"theory.env=\"coverage-r0\"".to_string()),
            "{:?}",
            cell.sets
        );
        assert!(
            cell.sets.contains(&"theory.steps=50".to_string()),
            "{:?}",
            cell.sets
        );
    }
    let mixed = CompareSpec {
        presets: vec!["grpo".into(), "subpo-coverage".into()],
        ..spec
    };
    assert!(plan(&mixed)
        .unwrap_err()
        .to_string()
        .contains("mixes families"));
}
