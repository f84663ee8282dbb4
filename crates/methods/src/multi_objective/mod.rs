//! The pure-f64 parts of C-MORL (Liu et al. 2025, "C-MORL: Multi-Objective Reinforcement
//! Learning through Efficient Discovery of Pareto Front", arXiv 2410.02236; spec
//! `algorithms/c-morl.md`): everything of the method that is not a PPO update.
//!
//! - [`pareto`]: dominance, the non-dominated filter, crowding distance, the Pareto archive
//!   trimmed by crowding distance, the selection of sparse-region policies, the preference grid
//!   and policy assignment for a new preference.
//! - [`metrics`]: hypervolume (exact, any number of objectives), expected utility, sparsity.
//! - [`barrier`]: the interior-point log-barrier term of the extension stage, as a scalar over
//!   slices (the reference a tensor version of the loss is checked against).
//!
//! Objective vectors are slices of f64, larger is better in every objective.
pub mod barrier;
pub mod metrics;
pub mod pareto;

pub use barrier::{
    constrained, log_barrier, log_barrier_terms, log_barrier_with_thresholds, paper_thresholds,
    sign_safe_thresholds, BarrierConfig, BarrierTerms,
};
pub use metrics::{
    eu_weights, expected_utility, hypervolume, hypervolume_2d, hypervolume_by_slicing, sparsity,
};
pub use pareto::{
    assign_policy, crowding_distance, dominates, non_dominated, preference_grid,
    select_by_crowding, ArchiveEntry, ParetoArchive,
};

use crate::MethodError;

const PART: &str = "c_morl";

/// Checks that every point has `m` finite objectives; `what` names the argument in errors.
pub(crate) fn check_points<P: AsRef<[f64]>>(
    points: &[P],
    m: usize,
    what: &'static str,
) -> Result<(), MethodError> {
    for (k, p) in points.iter().enumerate() {
        let p = p.as_ref();
        if p.len() != m {
            return Err(MethodError::Shape {
                part: PART,
                detail: format!("{what}[{k}] has {} objectives, expected {m}", p.len()),
            });
        }
        if let Some((i, &v)) = p.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(MethodError::NonFinite {
                part: PART,
                what,
                index: k * m + i,
                value: v,
            });
        }
    }
    Ok(())
}
