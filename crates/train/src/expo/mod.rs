//! EXPO, Expressive Policy Optimization (Dong, Li, Sadigh, Finn, arXiv 2507.07986; spec
//! `algorithms/expo.md`): the value gradient never flows through the expressive policy.
//!
//! - [`ddpm`]: the base policy μ_ψ, a small DDPM (T = 10, ε-prediction, VP schedule) trained
//!   only by imitation, with an EMA copy ψ̄; `sample(s, n)` and `imitation_loss`.
//! - [`edit`]: the Gaussian edit policy π_φ(δ | s, a), δ = tanh(u), and the log-prob of the
//!   scaled edit βδ: log π_φ(δ) − k log β.
//! - [`otf`]: the on-the-fly policy: argmax of min-ensemble Q over N base samples and n_e edited
//!   ones, for acting and for TD backups.
//! - [`critic`]: the Q ensemble with target copies.
//! - [`bandit_check`]: the spec's "Small CPU check" on the bimodal bandit, as a standalone run.
pub mod bandit_check;
pub mod critic;
pub mod ddpm;
pub mod edit;
pub mod otf;
mod params;
