//! Small MDPs with known kernels, for the theory-driven solvers (issue 17): each environment is
//! a [`TabularMdp`] (or builds on one), so that optimal values, gains and regrets are computed
//! exactly by [`solve`] instead of estimated.
//!
//! - [`TabularMdp`]: a finite MDP with an explicit kernel P(s'|s,a), mean rewards r(s,a) and a
//!   start distribution; sampling for the online learners.
//! - [`solve`]: exact discounted, finite-horizon, average-reward and stochastic-shortest-path
//!   dynamic programming on a known kernel.
//! - [`riverswim`]: RiverSwim (loop.md), the chain the optimistic explorers are judged on.
mod mdp;
pub mod riverswim;
pub mod solve;

pub use mdp::{sample_index, TabularError, TabularMdp};
