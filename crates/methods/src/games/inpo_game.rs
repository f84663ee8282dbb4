//! INPO's small-scale game check (Zhang et al. 2024, "Iterative Nash Policy Optimization",
//! arXiv 2407.00617; inpo.md "Small-scale check"): a softmax policy over a few items, one
//! INPO iteration = minimise the INPO loss on sampled, oracle-labelled pairs from `π_t`.
//!
//! With `η` the *inverse* OMD step (inpo.md, "Ambiguities") and, for a pair,
//!
//! `h_t(π; y, y') = log π(y)/π(y') − (τ/η) log π_ref(y)/π_ref(y') − (1 − τ/η) log π_t(y)/π_t(y')`,
//!
//! the loss is `L_t(π) = mean over labelled pairs (y_w, y_l) of (h_t(π; y_w, y_l) − 1/(2η))²`.
//! Its population minimiser is the OMD iterate
//! `π_{t+1}(y) ∝ π_ref(y)^{τ/η} π_t(y)^{1−τ/η} exp(P(y ≻ π_t)/η)` ([`omd_step`]), whose fixed
//! point for `τ > 0` is the regularised Nash equilibrium `π ∝ π_ref exp(P(y ≻ π)/τ)`
//! ([`regularised_nash`]).
//!
//! This is a plain-f64 stand-in for the tensor loss (done elsewhere): for a softmax policy
//! `log π(y) − log π(y') = θ_y − θ_{y'}`, so the loss is a quadratic in the logits and its
//! gradient is exact.
use super::oracle::PreferenceOracle;
use super::selfplay::win_probabilities;
use crate::error::{check_range, MethodError};

/// `h_t(π; y_w, y_l)` from the six sequence log-probs (policy, previous iterate `π_t`,
/// reference), with inverse step `eta` and KL weight `tau`.
#[allow(clippy::too_many_arguments)]
pub fn inpo_h(
    logp_w: f64,
    logp_l: f64,
    logp_t_w: f64,
    logp_t_l: f64,
    logp_ref_w: f64,
    logp_ref_l: f64,
    eta: f64,
    tau: f64,
) -> f64 {
    let mix = tau / eta;
    (logp_w - logp_l) - mix * (logp_ref_w - logp_ref_l) - (1.0 - mix) * (logp_t_w - logp_t_l)
}

/// One pair's INPO loss `(h_t − 1/(2η))²`; arguments as in [`inpo_h`].
#[allow(clippy::too_many_arguments)]
pub fn inpo_pair_loss(
    logp_w: f64,
    logp_l: f64,
    logp_t_w: f64,
    logp_t_l: f64,
    logp_ref_w: f64,
    logp_ref_l: f64,
    eta: f64,
    tau: f64,
) -> f64 {
    let h = inpo_h(
        logp_w, logp_l, logp_t_w, logp_t_l, logp_ref_w, logp_ref_l, eta, tau,
    );
    (h - 1.0 / (2.0 * eta)).powi(2)
}

/// A labelled pair: `winner ≻ loser` by the oracle, with a weight (1 for a sampled pair; the
/// pair's probability for a population loss). Ties are not pairs: for `y = y'` every term of
/// `h` is 0, so a tie adds a constant to the loss and is skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreferencePair {
    pub winner: usize,
    pub loser: usize,
    pub weight: f64,
}

/// INPO's constants and the inner optimiser (Adam over the logits, from `π_t`).
#[derive(Debug, Clone, PartialEq)]
pub struct InpoGameConfig {
    /// Inverse OMD step `η > 0`; the loss's target margin is `1/(2η)`.
    pub eta: f64,
    /// KL weight to `π_ref`, `0 ≤ τ ≤ η` (`τ = η` drops `π_t`, `τ = 0` is pure OMD).
    pub tau: f64,
    /// Adam steps per iteration (the spec's 200).
    pub steps: usize,
    /// Adam learning rate.
    pub lr: f64,
}

impl InpoGameConfig {
    pub fn validate(&self) -> Result<(), MethodError> {
        check_range("inpo.eta", self.eta, self.eta > 0.0, "> 0")?;
        check_range(
            "inpo.tau",
            self.tau,
            self.tau >= 0.0 && self.tau <= self.eta,
            "in [0, eta]",
        )?;
        check_range("inpo.lr", self.lr, self.lr > 0.0, "> 0")
    }
}

/// `log softmax(logits)`, so that returned logits are normalised log-probs.
pub fn log_softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_z = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
    logits.iter().map(|l| l - log_z).collect()
}

/// The INPO loss `L_t` and its gradient in the logits, at `logits`, with `π_t` and `π_ref`
/// given as log-probs. The weighted mean over pairs; no pairs is loss 0 with gradient 0.
pub fn inpo_loss_and_grad(
    logits: &[f64],
    log_pi_t: &[f64],
    log_ref: &[f64],
    pairs: &[PreferencePair],
    eta: f64,
    tau: f64,
) -> (f64, Vec<f64>) {
    let mut grad = vec![0.0; logits.len()];
    let total: f64 = pairs.iter().map(|p| p.weight).sum();
    if total <= 0.0 {
        return (0.0, grad);
    }
    let target = 1.0 / (2.0 * eta);
    let mut loss = 0.0;
    for p in pairs {
        let (w, l) = (p.winner, p.loser);
        let h = inpo_h(
            logits[w],
            logits[l],
            log_pi_t[w],
            log_pi_t[l],
            log_ref[w],
            log_ref[l],
            eta,
            tau,
        );
        let residual = h - target;
        loss += p.weight * residual * residual;
        // dh/dθ = e_w − e_l, since the softmax normaliser cancels in log π(w) − log π(l).
        grad[w] += p.weight * 2.0 * residual;
        grad[l] -= p.weight * 2.0 * residual;
    }
    for g in &mut grad {
        *g /= total;
    }
    (loss / total, grad)
}

/// One INPO iteration: from `π_t` (log-probs `log_pi_t`), minimise `L_t` on `pairs` by
/// `config.steps` Adam steps (β = 0.9, 0.999, ε = 1e-8, as torch's defaults) and return
/// `π_{t+1}` as log-probs.
///
/// Starting at `π_t` matters: directions the pairs do not constrain (an item never sampled)
/// keep `π_t`'s value, as the spec's "initialise π ← π_t" does for an LLM.
pub fn inpo_game_iteration(
    log_pi_t: &[f64],
    log_ref: &[f64],
    pairs: &[PreferencePair],
    config: &InpoGameConfig,
) -> Result<Vec<f64>, MethodError> {
    config.validate()?;
    let n = log_pi_t.len();
    if log_ref.len() != n {
        return Err(MethodError::Shape {
            part: "inpo_game",
            detail: format!("log_pi_t has {n} items, log_ref {}", log_ref.len()),
        });
    }
    if let Some(p) = pairs.iter().find(|p| p.winner >= n || p.loser >= n) {
        return Err(MethodError::Shape {
            part: "inpo_game",
            detail: format!("pair ({}, {}) outside {n} items", p.winner, p.loser),
        });
    }
    let (beta1, beta2, eps) = (0.9, 0.999, 1e-8);
    let mut theta = log_pi_t.to_vec();
    let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
    for step in 1..=config.steps {
        let (_, grad) =
            inpo_loss_and_grad(&theta, log_pi_t, log_ref, pairs, config.eta, config.tau);
        let (c1, c2) = (1.0 - powi(beta1, step), 1.0 - powi(beta2, step));
        for i in 0..n {
            m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
            v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
            theta[i] -= config.lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
        }
    }
    Ok(log_softmax(&theta))
}

fn powi(base: f64, step: usize) -> f64 {
    base.powi(step.min(i32::MAX as usize) as i32)
}

/// The exact OMD iterate that `L_t`'s population minimiser equals (inpo.md "Method"):
/// `log π_{t+1} = (τ/η) log π_ref + (1 − τ/η) log π_t + P(y ≻ π_t)/η`, normalised.
pub fn omd_step(
    log_pi_t: &[f64],
    log_ref: &[f64],
    oracle: &dyn PreferenceOracle,
    eta: f64,
    tau: f64,
) -> Vec<f64> {
    let pi_t: Vec<f64> = log_pi_t.iter().map(|l| l.exp()).collect();
    let wins = win_probabilities(&pi_t, oracle, log_pi_t.len());
    let mix = tau / eta;
    let logits: Vec<f64> = (0..log_pi_t.len())
        .map(|y| mix * log_ref[y] + (1.0 - mix) * log_pi_t[y] + wins[y] / eta)
        .collect();
    log_softmax(&logits)
}

/// The regularised Nash equilibrium `π ∝ π_ref exp(P(y ≻ π)/τ)` of the KL-regularised game
/// (`τ > 0`), as the fixed point of exact [`omd_step`]s. The solver's inverse step is
/// `η = 2(1 + τ²)/τ`: a preference game's payoff `P − 1/2` is skew-symmetric, so the linearised
/// step rotates by `~1/η` while the KL term shrinks by `1 − τ/η`, which contracts once
/// `η > (1 + τ²)/(2τ)`; twice that leaves a margin. Returns the log-probs and the last step's
/// max change in them, for the caller to judge convergence (about `η/τ` steps per e-fold).
pub fn regularised_nash(
    log_ref: &[f64],
    oracle: &dyn PreferenceOracle,
    tau: f64,
    iterations: usize,
) -> (Vec<f64>, f64) {
    let eta = 2.0 * (1.0 + tau * tau) / tau;
    let mut log_pi = log_softmax(log_ref);
    let mut change = f64::INFINITY;
    for _ in 0..iterations {
        let next = omd_step(&log_pi, log_ref, oracle, eta, tau);
        change = next
            .iter()
            .zip(&log_pi)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        log_pi = next;
    }
    (log_pi, change)
}
