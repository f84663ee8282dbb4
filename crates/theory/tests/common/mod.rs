//! Helpers shared by the solver tests: run a preset by name with settings.
#![allow(dead_code)]
use polopt_theory::{solver, RunSpec, Settings, TheoryError, TheoryRun};

/// Runs preset `name` on its default environment for `steps` from `seed` with
/// `[theory.settings]` given as TOML.
pub fn run(name: &str, seed: u64, steps: u64, settings: &str) -> Result<TheoryRun, TheoryError> {
    run_on(name, solver(name)?.envs[0], seed, steps, settings)
}

/// [`run`] on environment `env`.
pub fn run_on(
    name: &str,
    env: &str,
    seed: u64,
    steps: u64,
    settings: &str,
) -> Result<TheoryRun, TheoryError> {
    let solver = solver(name)?;
    let table: toml::Table = settings.parse().expect("test settings are valid TOML");
    let spec = RunSpec {
        seed,
        steps,
        env: env.to_string(),
    };
    (solver.run)(&spec, &mut Settings::new(table), &mut |_, _| {})
}

/// Same seed, same run; another seed, another run.
pub fn assert_deterministic(name: &str, steps: u64) {
    let a = run(name, 3, steps, "").unwrap();
    let b = run(name, 3, steps, "").unwrap();
    assert_eq!(a, b, "{name}: two runs of seed 3 differ");
    let c = run(name, 4, steps, "").unwrap();
    assert_ne!(a, c, "{name}: seeds 3 and 4 give the same run");
}

pub fn metric(run: &TheoryRun, key: &str) -> f64 {
    *run.final_metrics
        .get(key)
        .unwrap_or_else(|| panic!("no final metric `{key}`"))
}

pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}
