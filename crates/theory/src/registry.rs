//! Every theory solver by preset name. Adding one is a file and a line here (and its preset
//! line in `polopt_methods::presets::theory`, which `polopt list` and `compare` read).
use crate::{pg, subpo};
use crate::{Progress, RunSpec, Settings, TheoryError, TheoryRun};

pub type RunFn = fn(&RunSpec, &mut Settings, Progress) -> Result<TheoryRun, TheoryError>;

pub struct Solver {
    /// The preset name (`loop-riverswim`).
    pub name: &'static str,
    /// Environments it runs on; the first is the default (`theory.env`, `compare --task`).
    pub envs: &'static [&'static str],
    /// Default budget in the solver's step unit.
    pub default_steps: u64,
    /// What one step is (for the CLI's banner and the plots' x axis): "env steps", "episodes"...
    pub step_unit: &'static str,
    /// Final metrics where lower is better (regret, steps to completion, cost).
    pub lower_is_better: &'static [&'static str],
    /// Final metric that leads the CLI's summary and the compare table.
    pub headline: &'static str,
    pub run: RunFn,
}

pub const SOLVERS: &[Solver] = &[
    pg_solver("npg-igt-cartpole", pg::npg_igt::run_igt),
    pg_solver("nharpg-cartpole", pg::harpg::run_normalized),
    pg_solver("harpg-cartpole", pg::harpg::run_plain),
    pg_solver("vpg-cartpole", pg::vpg::run),
    pg_solver("npg-momentum-cartpole", pg::npg_igt::run_momentum),
    coverage_solver("subpo-coverage", subpo::run_subpo),
    coverage_solver("modular-rl-coverage", subpo::run_modular),
];

/// SubPO and its modular-reward baseline, scored by F(τ) (subpo.md).
const fn coverage_solver(name: &'static str, run: RunFn) -> Solver {
    Solver {
        name,
        envs: subpo::ENVS,
        default_steps: 5000,
        step_unit: "episodes",
        lower_is_better: &[],
        headline: "coverage",
        run,
    }
}

/// The policy-gradient presets share envs (CartPole first, the bandit second), budget and
/// measurement (npg-igt-harpg.md).
const fn pg_solver(name: &'static str, run: RunFn) -> Solver {
    Solver {
        name,
        envs: pg::tasks::ENVS,
        default_steps: 500,
        step_unit: "iterations",
        // The trajectories spent are a cost: fewer for the same return is better.
        lower_is_better: &["gap", "log10_gap", "trajectories"],
        headline: "return",
        run,
    }
}

pub fn solver(name: &str) -> Result<&'static Solver, TheoryError> {
    SOLVERS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| TheoryError::UnknownPreset {
            name: name.to_string(),
            known: SOLVERS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}
