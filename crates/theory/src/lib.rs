//! polopt-theory: the algorithms of the theory papers (issue 17) as solvers on the small MDPs of
//! `polopt_envs::tabular`, whose exact optima make regrets and sub-optimalities computed, not
//! estimated. No tensors: every policy here is a table or a linear softmax, and gradients and
//! Hessian-vector products are written out in closed form.
//!
//! A solver is one file named after its method with one `run` function, registered by preset
//! name in [`registry::SOLVERS`]. The train crate's `theory` runner gives it the run's seed,
//! budget and `[theory.settings]`, and writes what it returns as an ordinary run directory
//! (`metrics.jsonl`, `run.json`), so `polopt compare` and the report treat it like any run.
pub mod ac_optimal;
pub mod ac_vanilla;
pub mod adam;
pub mod dr_rpo;
pub mod gosprl;
pub mod loop_tabular;
pub mod optimism;
pub mod pg;
pub mod policy_class;
pub mod policy_enumeration;
pub mod qlearning;
pub mod registry;
pub mod regret;
pub mod return_dist;
mod settings;
pub mod spanning_capacity;
pub mod stock_dp;
pub mod subpo;
pub mod trajectory_tree;

use std::collections::BTreeMap;

use polopt_envs::tabular::TabularError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

pub use registry::{solver, Solver, SOLVERS};
pub use settings::Settings;

#[derive(Debug, Error)]
pub enum TheoryError {
    /// A `[theory.settings]` key or the run's budget/env is wrong; names the key.
    #[error("theory.{key}: {reason}")]
    Setting { key: String, reason: String },
    #[error("unknown theory preset `{name}`; known: {known}")]
    UnknownPreset { name: String, known: String },
    #[error(transparent)]
    Env(#[from] TabularError),
    /// A value the algorithm computed left the reals (a diverging step size, say).
    #[error("{what} became {value} at step {step}; lower the step size or check the settings")]
    NonFinite { what: String, value: f64, step: u64 },
}

/// What a solver is asked to do.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub seed: u64,
    /// The budget in the solver's own unit (environment steps, episodes, iterations, trees),
    /// which is also the x axis of its curve.
    pub steps: u64,
    /// The environment, for solvers that take more than one (`Solver::envs`).
    pub env: String,
}

/// One line of the solver's curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub step: u64,
    pub values: BTreeMap<String, f64>,
}

/// A finished run: the curve and the final measurements (`run.json`'s `final`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TheoryRun {
    pub curve: Vec<Point>,
    pub final_metrics: BTreeMap<String, f64>,
    /// Extra files for the run directory, by file name (a Pareto front as CSV, say): results
    /// that are not a curve or a number.
    pub files: BTreeMap<String, String>,
}

impl TheoryRun {
    /// Appends a curve point from `(name, value)` pairs.
    pub fn log(&mut self, step: u64, values: &[(&str, f64)]) {
        self.curve.push(Point {
            step,
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        });
    }
}

/// `softmax(logits)`, shifted by the maximum so that large logits do not overflow.
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|x| (x - top).exp()).collect();
    let z: f64 = e.iter().sum();
    e.into_iter().map(|x| x / z).collect()
}

/// `value` when finite, else [`TheoryError::NonFinite`] naming `what` at `step`.
pub fn finite(what: &str, value: f64, step: u64) -> Result<f64, TheoryError> {
    match value.is_finite() {
        true => Ok(value),
        false => Err(TheoryError::NonFinite {
            what: what.to_string(),
            value,
            step,
        }),
    }
}

/// Reports progress as `(done, total)` in the run's step unit.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The random stream of a run: ChaCha8 from the seed and a tag, so two streams of one run
/// (environment noise, policy sampling) never share draws.
pub fn rng(seed: u64, tag: &str) -> ChaCha8Rng {
    // FNV-1a over the tag, mixed into the seed: stable across platforms and releases.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tag.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(seed ^ h.rotate_left(17))
}

/// Points to log out of `steps`: about `n` evenly spaced, always including the last.
pub fn log_points(steps: u64, n: u64) -> impl Fn(u64) -> bool {
    let every = (steps / n.max(1)).max(1);
    move |t| t % every == 0 || t == steps
}
