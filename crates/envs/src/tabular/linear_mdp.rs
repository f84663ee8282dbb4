//! d-rectangular linear MDPs (dr-rpo.md, "Method"): features `φ(s,a) ∈ R^d` with `φ_i ≥ 0`,
//! `Σ_i φ_i = 1`, and nominal factor distributions `μ_i` over next states, so that the nominal
//! kernel is the mixture `P⁰(·|s,a) = Σ_i φ_i(s,a) μ_i(·)`. A finite-horizon problem over
//! `horizon` steps with one kernel for every step; the robust adversary of [`super::robust`] may
//! still choose a different perturbation at every step (the sets `U_h^ρ` are per step).
//!
//! A tabular MDP is the special case `d = |S||A|` with one-hot features and `μ_(s,a) = P(·|s,a)`
//! ([`LinearMdp::one_hot`]); then the d-rectangular set is the (s,a)-rectangular TV ball.
use rand::{Rng, RngExt};

use super::{TabularError, TabularMdp};

/// Tolerance on a feature vector's sum.
const FEATURE_SUM_TOL: f64 = 1e-9;

#[derive(Debug, Clone, PartialEq)]
pub struct LinearMdp {
    /// The nominal kernel `Σ_i φ_i μ_i`, rewards and start distribution.
    nominal: TabularMdp,
    /// Row-major `[s][a][i]`.
    features: Vec<f64>,
    /// `factors[i][s']`: the nominal `μ_i`.
    factors: Vec<Vec<f64>>,
    horizon: usize,
}

impl LinearMdp {
    /// Checks that every feature vector is a probability vector over the `d = factors.len()`
    /// factors and every factor a distribution over the states; builds the nominal kernel.
    pub fn new(
        n_states: usize,
        n_actions: usize,
        features: Vec<f64>,
        factors: Vec<Vec<f64>>,
        reward: Vec<f64>,
        start: Vec<f64>,
        horizon: usize,
    ) -> Result<Self, TabularError> {
        let d = factors.len();
        if d == 0 || horizon == 0 {
            return Err(TabularError::Invalid {
                what: "linear mdp",
                reason: format!("needs d >= 1 and horizon >= 1, got d = {d}, H = {horizon}"),
            });
        }
        if features.len() != n_states * n_actions * d {
            return Err(TabularError::Shape {
                what: "features",
                expected: n_states * n_actions * d,
                got: features.len(),
            });
        }
        for (i, mu) in factors.iter().enumerate() {
            if mu.len() != n_states || mu.iter().any(|x| !x.is_finite() || *x < 0.0) {
                return Err(TabularError::NotADistribution {
                    what: "factor",
                    row: i.to_string(),
                    reason: format!("needs {n_states} non-negative entries"),
                });
            }
        }
        let mut kernel = vec![0.0; n_states * n_actions * n_states];
        for sa in 0..n_states * n_actions {
            let phi = &features[sa * d..][..d];
            let sum: f64 = phi.iter().sum();
            if phi.iter().any(|x| !x.is_finite() || *x < 0.0) || (sum - 1.0).abs() > FEATURE_SUM_TOL
            {
                return Err(TabularError::NotADistribution {
                    what: "features",
                    row: format!("(s={}, a={})", sa / n_actions, sa % n_actions),
                    reason: format!("φ must be non-negative and sum to 1, got {phi:?}"),
                });
            }
            for (w, mu) in phi.iter().zip(&factors) {
                for (t, p) in mu.iter().enumerate() {
                    kernel[sa * n_states + t] += w * p;
                }
            }
        }
        // The mixture of distributions is a distribution; TabularMdp re-checks the rows, which
        // also rejects factors that do not sum to 1.
        let nominal = TabularMdp::new(n_states, n_actions, kernel, reward, start)?;
        Ok(Self {
            nominal,
            features,
            factors,
            horizon,
        })
    }

    /// The tabular MDP as a linear one: `d = |S||A|`, one-hot `φ`, `μ_(s,a) = P(·|s,a)`.
    pub fn one_hot(mdp: &TabularMdp, horizon: usize) -> Result<Self, TabularError> {
        let (n, m) = (mdp.n_states(), mdp.n_actions());
        let d = n * m;
        let mut features = vec![0.0; n * m * d];
        let mut factors = Vec::with_capacity(d);
        let mut reward = Vec::with_capacity(d);
        for s in 0..n {
            for a in 0..m {
                let i = s * m + a;
                features[i * d + i] = 1.0;
                factors.push(mdp.p(s, a).to_vec());
                reward.push(mdp.r(s, a));
            }
        }
        Self::new(
            n,
            m,
            features,
            factors,
            reward,
            mdp.start().to_vec(),
            horizon,
        )
    }

    /// A random instance: `φ(s,a)` and every `μ_i` drawn from a flat Dirichlet, rewards
    /// `r = φᵀθ` with `θ_i ~ U[0,1]`, start in state 0.
    pub fn random(
        n_states: usize,
        n_actions: usize,
        d: usize,
        horizon: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, TabularError> {
        if n_states == 0 || n_actions == 0 || d == 0 {
            return Err(TabularError::Invalid {
                what: "linear mdp",
                reason: format!(
                    "needs positive sizes, got S = {n_states}, A = {n_actions}, d = {d}"
                ),
            });
        }
        let features: Vec<f64> = (0..n_states * n_actions)
            .flat_map(|_| flat_dirichlet(d, rng))
            .collect();
        let factors: Vec<Vec<f64>> = (0..d).map(|_| flat_dirichlet(n_states, rng)).collect();
        let theta: Vec<f64> = (0..d).map(|_| rng.random::<f64>()).collect();
        let reward = features
            .chunks(d)
            .map(|phi| phi.iter().zip(&theta).map(|(p, t)| p * t).sum())
            .collect();
        let mut start = vec![0.0; n_states];
        start[0] = 1.0;
        Self::new(
            n_states, n_actions, features, factors, reward, start, horizon,
        )
    }

    pub fn nominal(&self) -> &TabularMdp {
        &self.nominal
    }

    pub fn dim(&self) -> usize {
        self.factors.len()
    }

    pub fn horizon(&self) -> usize {
        self.horizon
    }

    /// `φ(s,a)`.
    pub fn phi(&self, s: usize, a: usize) -> &[f64] {
        let d = self.dim();
        &self.features[(s * self.nominal.n_actions() + a) * d..][..d]
    }

    /// The nominal `μ_i`.
    pub fn factor(&self, i: usize) -> &[f64] {
        &self.factors[i]
    }
}

/// A draw from the flat Dirichlet on `n` coordinates (normalized exponentials).
fn flat_dirichlet(n: usize, rng: &mut impl Rng) -> Vec<f64> {
    // 1 - u is in (0, 1], so the logarithm is finite.
    let x: Vec<f64> = (0..n).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
    let sum: f64 = x.iter().sum();
    if sum > 0.0 {
        x.into_iter().map(|v| v / sum).collect()
    } else {
        vec![1.0 / n as f64; n]
    }
}
