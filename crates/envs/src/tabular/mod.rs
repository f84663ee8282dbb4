//! Small MDPs with known kernels, for the theory-driven solvers (issue 17): each environment is
//! a [`TabularMdp`] (or builds on one), so that optimal values, gains and regrets are computed
//! exactly by [`solve`] instead of estimated.
//!
//! - [`TabularMdp`]: a finite MDP with an explicit kernel P(s'|s,a), mean rewards r(s,a) and a
//!   start distribution; sampling for the online learners.
//! - [`solve`]: exact discounted, finite-horizon, average-reward and stochastic-shortest-path
//!   dynamic programming on a known kernel.
//! - [`riverswim`]: RiverSwim (loop.md), the chain the optimistic explorers are judged on.
//! - [`coverage`]: gridworld coverage with a submodular set-function score (subpo.md); its own
//!   type, since the score is not a sum of per-state rewards.
//! - [`linear_mdp`], [`robust`], [`risky_shortcut`]: d-rectangular linear MDPs, exact robust DP
//!   under TV uncertainty and the 2-state risky shortcut (dr-rpo.md).
//! - [`layered`]: layered MDPs with a generative model and the binary tree (agnostic-rl.md).
//! - [`outcome_mdp`], [`risky_grid`]: MDPs with finite-support random rewards, the 2-step bet
//!   and the 4×4 risky grid (distributional-dp.md).
pub mod coverage;
pub mod layered;
pub mod linear_mdp;
mod mdp;
pub mod outcome_mdp;
pub mod risky_grid;
pub mod risky_shortcut;
pub mod riverswim;
pub mod robust;
pub mod solve;

pub use mdp::{sample_index, TabularError, TabularMdp};
