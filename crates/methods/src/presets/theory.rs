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

pub const NPG_IGT_CARTPOLE: Preset = theory(
    "npg-igt-cartpole",
    "N-PG-IGT: normalized PG with implicit-gradient-transport momentum (bandit too)",
    "npg-igt-harpg.md",
    true,
);
pub const NHARPG_CARTPOLE: Preset = theory(
    "nharpg-cartpole",
    "N-HARPG: normalized PG with Hessian-aided recursive momentum (bandit too)",
    "npg-igt-harpg.md",
    true,
);
pub const HARPG_CARTPOLE: Preset = theory(
    "harpg-cartpole",
    "HARPG: Hessian-aided recursive momentum PG with a constant step (bandit too)",
    "npg-igt-harpg.md",
    true,
);
pub const VPG_CARTPOLE: Preset = theory(
    "vpg-cartpole",
    "baseline: vanilla GPOMDP policy gradient with a constant step (bandit too)",
    "npg-igt-harpg.md",
    false,
);
pub const NPG_MOMENTUM_CARTPOLE: Preset = theory(
    "npg-momentum-cartpole",
    "baseline: normalized PG with momentum, N-PG-IGT without extrapolation (bandit too)",
    "npg-igt-harpg.md",
    false,
);
pub const SUBPO_COVERAGE: Preset = theory(
    "subpo-coverage",
    "SubPO: REINFORCE on marginal coverage gains, history-aware softmax policy, Adam",
    "subpo.md",
    true,
);
pub const MODULAR_RL_COVERAGE: Preset = theory(
    "modular-rl-coverage",
    "baseline: the same learner on the Markov reward |N_1(s)|, scored by coverage F",
    "subpo.md",
    false,
);

pub const LOOP_RIVERSWIM: Preset = theory(
    "loop-riverswim",
    "LOOP, tabular: L1 confidence sets, extended relative value iteration, replan when a count doubles",
    "loop.md",
    true,
);
pub const UCRL_RIVERSWIM: Preset = theory(
    "ucrl-riverswim",
    "LOOP's optimistic planner replanning after every step (non-lazy UCRL baseline)",
    "loop.md",
    false,
);
pub const QLEARNING_RIVERSWIM: Preset = theory(
    "qlearning-riverswim",
    "epsilon-greedy Q-learning, discount 0.99 (LOOP's undirected-exploration baseline)",
    "loop.md",
    false,
);
pub const GOSPRL_RIVERSWIM: Preset = theory(
    "gosprl-riverswim",
    "GOSPRL sample collector: optimistic SSP plans to under-sampled states, b(s,a) = 5",
    "gosprl.md",
    true,
);
pub const RANDOM_COLLECT_RIVERSWIM: Preset = theory(
    "random-collect-riverswim",
    "uniform random actions until every pair has b(s,a) samples (GOSPRL baseline)",
    "gosprl.md",
    false,
);
pub const LEAST_SAMPLED_RIVERSWIM: Preset = theory(
    "least-sampled-riverswim",
    "always the current state's least-sampled action until every pair has b(s,a) samples",
    "gosprl.md",
    false,
);
pub const AC_OPTIMAL_RIVERSWIM: Preset = theory(
    "ac-optimal-riverswim",
    "optimistic rare-switching actor-critic: LSVI critic with b/sqrt(N) bonus, NPG actor reset at switches",
    "ac-optimal.md",
    true,
);
pub const AC_NOOPTIMISM_RIVERSWIM: Preset = theory(
    "ac-nooptimism-riverswim",
    "the rare-switching actor-critic without optimism (bonus 0)",
    "ac-optimal.md",
    true,
);
pub const AC_VANILLA_RIVERSWIM: Preset = theory(
    "ac-vanilla-riverswim",
    "softmax actor-critic with an on-policy TD(0) critic (ac-optimal baseline)",
    "ac-optimal.md",
    false,
);

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
