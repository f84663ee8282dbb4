//! Multi-objective RL: C-MORL (spec `c-morl.md`) over a vector-reward environment, run as a
//! seeded solver through the same runner as the theory family (`crate::theory`): a run is
//! seconds of pure-Rust work, so it writes an ordinary run directory and no checkpoints.
//!
//! - [`tabular_ppo`]: PPO with a vector critic on a table (GAE per objective from the credit
//!   registry, the shared clipped objective, the log barrier of `polopt_methods`).
//! - [`c_morl`]: the preference-grid initialisation, the Pareto archive with crowding-distance
//!   selection, the constrained extension, and the linear-scalarisation baseline.
//!
//! The environments (Deep Sea Treasure) live in `polopt_envs::multi_objective`, the tensor-free
//! parts (archive, metrics, barrier) in `polopt_methods::multi_objective`.
pub mod c_morl;
pub mod tabular_ppo;

use polopt_theory::Solver;

/// Hypervolume, expected utility and the points found are higher-is-better; sparsity (the mean
/// squared gap between neighbours) is lower-is-better.
const LOWER: &[&str] = &["sparsity"];

pub const SOLVERS: &[Solver] = &[
    Solver {
        name: "c-morl-dst",
        envs: c_morl::ENVS,
        default_steps: 400_000,
        step_unit: "env steps",
        lower_is_better: LOWER,
        headline: "hypervolume",
        run: c_morl::run_c_morl,
    },
    Solver {
        name: "linear-morl-dst",
        envs: c_morl::ENVS,
        default_steps: 400_000,
        step_unit: "env steps",
        lower_is_better: LOWER,
        headline: "hypervolume",
        run: c_morl::run_linear,
    },
];
