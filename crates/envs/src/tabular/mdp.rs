//! A finite MDP with a known kernel.
use rand::{Rng, RngExt};
use thiserror::Error;

/// Tolerance on a probability row's sum: rows are typed in as decimals in the specs.
const ROW_SUM_TOL: f64 = 1e-9;

#[derive(Debug, Error, PartialEq)]
pub enum TabularError {
    #[error("{what}: expected {expected} entries, got {got}")]
    Shape {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{what} row {row}: {reason}")]
    NotADistribution {
        what: &'static str,
        row: String,
        reason: String,
    },
    #[error("{what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}

/// `n_states` states, `n_actions` actions in every state, kernel `P(s'|s,a)`, mean reward
/// `r(s,a)` and start distribution. Rewards are the means the exact solvers use; an online
/// learner that should see noisy rewards draws them around these itself.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularMdp {
    n_states: usize,
    n_actions: usize,
    /// Row-major `[s][a][s']`.
    kernel: Vec<f64>,
    /// Row-major `[s][a]`.
    reward: Vec<f64>,
    start: Vec<f64>,
}

impl TabularMdp {
    /// Checks shapes, that every kernel row and the start distribution are probability
    /// vectors, and that rewards are finite.
    pub fn new(
        n_states: usize,
        n_actions: usize,
        kernel: Vec<f64>,
        reward: Vec<f64>,
        start: Vec<f64>,
    ) -> Result<Self, TabularError> {
        if n_states == 0 || n_actions == 0 {
            return Err(TabularError::Invalid {
                what: "mdp",
                reason: format!(
                    "needs at least one state and action, got {n_states} x {n_actions}"
                ),
            });
        }
        shape("kernel", n_states * n_actions * n_states, kernel.len())?;
        shape("reward", n_states * n_actions, reward.len())?;
        shape("start", n_states, start.len())?;
        for s in 0..n_states {
            for a in 0..n_actions {
                let row = &kernel[(s * n_actions + a) * n_states..][..n_states];
                distribution("kernel", || format!("(s={s}, a={a})"), row)?;
            }
        }
        distribution("start", || "0".into(), &start)?;
        if let Some(i) = reward.iter().position(|r| !r.is_finite()) {
            return Err(TabularError::Invalid {
                what: "reward",
                reason: format!(
                    "entry (s={}, a={}) is {}",
                    i / n_actions,
                    i % n_actions,
                    reward[i]
                ),
            });
        }
        Ok(Self {
            n_states,
            n_actions,
            kernel,
            reward,
            start,
        })
    }

    pub fn n_states(&self) -> usize {
        self.n_states
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    /// `P(·|s,a)`.
    pub fn p(&self, s: usize, a: usize) -> &[f64] {
        &self.kernel[(s * self.n_actions + a) * self.n_states..][..self.n_states]
    }

    /// Mean reward `r(s,a)`.
    pub fn r(&self, s: usize, a: usize) -> f64 {
        self.reward[s * self.n_actions + a]
    }

    pub fn start(&self) -> &[f64] {
        &self.start
    }

    /// The same MDP with another kernel (perturbed test kernels, optimistic models).
    pub fn with_kernel(&self, kernel: Vec<f64>) -> Result<Self, TabularError> {
        Self::new(
            self.n_states,
            self.n_actions,
            kernel,
            self.reward.clone(),
            self.start.clone(),
        )
    }

    /// The same MDP with another start distribution.
    pub fn with_start(&self, start: Vec<f64>) -> Result<Self, TabularError> {
        Self::new(
            self.n_states,
            self.n_actions,
            self.kernel.clone(),
            self.reward.clone(),
            start,
        )
    }

    pub fn sample_start(&self, rng: &mut impl Rng) -> usize {
        sample_index(&self.start, rng)
    }

    pub fn sample_next(&self, s: usize, a: usize, rng: &mut impl Rng) -> usize {
        sample_index(self.p(s, a), rng)
    }

    /// `Σ_s' P(s'|s,a) v(s')`.
    pub fn expect(&self, s: usize, a: usize, v: &[f64]) -> f64 {
        self.p(s, a).iter().zip(v).map(|(p, x)| p * x).sum()
    }
}

/// Inverse-CDF draw of an index from a probability vector; one uniform per draw, so streams
/// stay aligned across runs that take the same branches.
pub fn sample_index(probs: &[f64], rng: &mut impl Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    // Rounding can leave the cumulative sum a hair under 1: the last index with mass.
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

fn shape(what: &'static str, expected: usize, got: usize) -> Result<(), TabularError> {
    if expected == got {
        Ok(())
    } else {
        Err(TabularError::Shape {
            what,
            expected,
            got,
        })
    }
}

fn distribution(
    what: &'static str,
    row: impl Fn() -> String,
    p: &[f64],
) -> Result<(), TabularError> {
    if let Some(x) = p.iter().find(|x| !x.is_finite() || **x < 0.0) {
        return Err(TabularError::NotADistribution {
            what,
            row: row(),
            reason: format!("entry {x} is not a probability"),
        });
    }
    let sum: f64 = p.iter().sum();
    if (sum - 1.0).abs() > ROW_SUM_TOL {
        return Err(TabularError::NotADistribution {
            what,
            row: row(),
            reason: format!("sums to {sum}, not 1"),
        });
    }
    Ok(())
}
