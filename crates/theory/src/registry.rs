//! Every theory solver by preset name. Adding one is a file and a line here (and its preset
//! line in `polopt_methods::presets::theory`, which `polopt list` and `compare` read).
use crate::{
    dr_rpo, stock_dp, trajectory_tree, Progress, RunSpec, Settings, TheoryError, TheoryRun,
};

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
    Solver {
        name: "dr-rpo-shortcut",
        envs: dr_rpo::ENVS,
        default_steps: 2000,
        step_unit: "episodes",
        lower_is_better: &["robust_gap"],
        headline: "robust_return",
        run: dr_rpo::run_dr_rpo,
    },
    Solver {
        name: "rpo-shortcut",
        envs: dr_rpo::ENVS,
        default_steps: 2000,
        step_unit: "episodes",
        lower_is_better: &["robust_gap"],
        headline: "robust_return",
        run: dr_rpo::run_rpo,
    },
    Solver {
        name: "trajectory-tree-binary",
        envs: trajectory_tree::ENVS,
        default_steps: 1016,
        step_unit: "trees",
        lower_is_better: TREE_LOWER,
        headline: "queries_to_eps_optimal",
        run: trajectory_tree::run_tree,
    },
    Solver {
        name: "mc-eval-binary",
        envs: trajectory_tree::ENVS,
        default_steps: 1016,
        step_unit: "rounds (one rollout per policy)",
        lower_is_better: TREE_LOWER,
        headline: "queries_to_eps_optimal",
        run: trajectory_tree::run_monte_carlo,
    },
    Solver {
        name: "stock-dp-twostep",
        envs: stock_dp::ENVS_TWOSTEP,
        default_steps: 2,
        step_unit: "horizon",
        lower_is_better: &["icy_steps"],
        headline: "threshold_prob",
        run: stock_dp::run_stock,
    },
    Solver {
        name: "stock-dp-grid",
        envs: stock_dp::ENVS_GRID,
        default_steps: 10,
        step_unit: "horizon",
        lower_is_better: &["icy_steps"],
        headline: "cvar",
        run: stock_dp::run_stock,
    },
    Solver {
        name: "mean-dp-grid",
        envs: stock_dp::ENVS_GRID,
        default_steps: 10,
        step_unit: "horizon",
        lower_is_better: &["icy_steps"],
        headline: "cvar",
        run: stock_dp::run_mean,
    },
];

const TREE_LOWER: &[&str] = &[
    "queries_to_eps_optimal",
    "trees_to_eps_optimal",
    "queries",
    "queries_per_tree",
    "suboptimality",
    "max_value_error",
    "censored",
];

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
