//! The theory papers' solvers (issue 17) as presets, so that `polopt list`, `train` and
//! `compare` find them by name like any method. Their algorithms live in `polopt_theory` (one
//! file each, registered under the same name) and take no [`MethodConfig`] parts: the parts
//! are for the tensor loops; a tabular solver's knobs are its `[theory.settings]`.
use super::{Family, Preset};
use crate::config::MethodConfig;

const fn theory(
    name: &'static str,
    description: &'static str,
    spec: &'static str,
    reconstructed: bool,
) -> Preset {
    Preset {
        name,
        description,
        spec,
        reconstructed,
        family: Family::Theory,
        build: <MethodConfig as Default>::default,
    }
}

pub const DR_RPO_SHORTCUT: Preset = theory(
    "dr-rpo-shortcut",
    "DR-RPO: optimistic robust critic (TV d-rectangular dual, ridge + elliptical bonus) and KL mirror-descent actor; risky shortcut or linear MDP",
    "dr-rpo.md",
    true,
);
pub const RPO_SHORTCUT: Preset = theory(
    "rpo-shortcut",
    "non-robust baseline of DR-RPO (rho = 0: LSVI-UCB-style optimistic evaluation + mirror descent)",
    "dr-rpo.md",
    true,
);
pub const TRAJECTORY_TREE_BINARY: Preset = theory(
    "trajectory-tree-binary",
    "agnostic RL: TrajectoryTree ERM over an explicit policy class with a generative model (binary tree, H = 3)",
    "agnostic-rl.md",
    true,
);
pub const MC_EVAL_BINARY: Preset = theory(
    "mc-eval-binary",
    "baseline of TrajectoryTree: Monte-Carlo evaluation of each policy separately, then ERM",
    "agnostic-rl.md",
    true,
);
pub const STOCK_DP_TWOSTEP: Preset = theory(
    "stock-dp-twostep",
    "stock-augmented distributional DP (threshold probability, CVaR via c0 search) on the 2-step bet, against exact enumeration",
    "distributional-dp.md",
    true,
);
pub const STOCK_DP_GRID: Preset = theory(
    "stock-dp-grid",
    "stock-augmented distributional DP maximizing CVaR_0.1 (c0 search) on the 4x4 risky-shortcut grid",
    "distributional-dp.md",
    true,
);
pub const MEAN_DP_GRID: Preset = theory(
    "mean-dp-grid",
    "baseline of stock-augmented DP: risk-neutral backward induction on the 4x4 risky-shortcut grid",
    "distributional-dp.md",
    true,
);
