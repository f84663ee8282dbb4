//! Every theory solver by preset name. Adding one is a file and a line here (and its preset
//! line in `polopt_methods::presets::theory`, which `polopt list` and `compare` read).
use crate::{
    ac_optimal, ac_vanilla, dr_rpo, gosprl, loop_tabular, pg, qlearning, stock_dp, subpo,
    trajectory_tree,
};
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

const REGRET: &[&str] = &[
    "regret",
    "regret_slope",
    "regret_slope_last_decade",
    "switches",
    "replans",
];

const COLLECT: &[&str] = &["steps_to_complete", "replans"];

const TREE_LOWER: &[&str] = &[
    "queries_to_eps_optimal",
    "trees_to_eps_optimal",
    "queries",
    "queries_per_tree",
    "suboptimality",
    "max_value_error",
    "censored",
];

pub const SOLVERS: &[Solver] = &[
    pg_solver("npg-igt-cartpole", pg::npg_igt::run_igt),
    pg_solver("nharpg-cartpole", pg::harpg::run_normalized),
    pg_solver("harpg-cartpole", pg::harpg::run_plain),
    pg_solver("vpg-cartpole", pg::vpg::run),
    pg_solver("npg-momentum-cartpole", pg::npg_igt::run_momentum),
    coverage_solver("subpo-coverage", subpo::run_subpo),
    coverage_solver("modular-rl-coverage", subpo::run_modular),
    Solver {
        name: "loop-riverswim",
        envs: &["riverswim"],
        default_steps: 100_000,
        step_unit: "env steps",
        lower_is_better: REGRET,
        headline: "regret",
        run: loop_tabular::run_lazy,
    },
    Solver {
        name: "ucrl-riverswim",
        envs: &["riverswim"],
        default_steps: 100_000,
        step_unit: "env steps",
        lower_is_better: REGRET,
        headline: "regret",
        run: loop_tabular::run_every_step,
    },
    Solver {
        name: "qlearning-riverswim",
        envs: &["riverswim"],
        default_steps: 100_000,
        step_unit: "env steps",
        lower_is_better: REGRET,
        headline: "regret",
        run: qlearning::run,
    },
    Solver {
        name: "gosprl-riverswim",
        envs: &["riverswim"],
        default_steps: 20_000,
        step_unit: "env steps",
        lower_is_better: COLLECT,
        headline: "steps_to_complete",
        run: gosprl::run_gosprl,
    },
    Solver {
        name: "random-collect-riverswim",
        envs: &["riverswim"],
        default_steps: 20_000,
        step_unit: "env steps",
        lower_is_better: COLLECT,
        headline: "steps_to_complete",
        run: gosprl::run_random,
    },
    Solver {
        name: "least-sampled-riverswim",
        envs: &["riverswim"],
        default_steps: 20_000,
        step_unit: "env steps",
        lower_is_better: COLLECT,
        headline: "steps_to_complete",
        run: gosprl::run_least_sampled,
    },
    Solver {
        name: "ac-optimal-riverswim",
        envs: &["riverswim"],
        default_steps: 2000,
        step_unit: "episodes",
        lower_is_better: REGRET,
        headline: "regret",
        run: ac_optimal::run_optimistic,
    },
    Solver {
        name: "ac-nooptimism-riverswim",
        envs: &["riverswim"],
        default_steps: 2000,
        step_unit: "episodes",
        lower_is_better: REGRET,
        headline: "regret",
        run: ac_optimal::run_no_optimism,
    },
    Solver {
        name: "ac-vanilla-riverswim",
        envs: &["riverswim"],
        default_steps: 2000,
        step_unit: "episodes",
        lower_is_better: REGRET,
        headline: "regret",
        run: ac_vanilla::run,
    },
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
