//! The interior-point (log-barrier) term of C-MORL's extension stage (spec
//! `algorithms/c-morl.md`, "Stage 2"): while maximising objective i, keep every other objective
//! j above a fraction β of its level.
//!
//! Exactly as `ipo_update` codes it, per sample s and constrained objective j ≠ i:
//!
//! `Ĵ_j = clip(ρ_s, 1−ε_c, 1+ε_c) · R̄_j`, `ε_j = β R̄_j`,
//! `hat_j = min(ε_j − Ĵ_j, −0.001)`, `barrier = −mean_{s, j≠i} log(−hat_j) / t`,
//!
//! with R̄_j the batch-mean return of objective j. The actor loss is `L_clip + barrier`. The
//! floor −0.001 keeps the log finite when a constraint is violated, which then costs the
//! maximal penalty `−log(0.001)/t`. This is the f64 reference a tensor version is checked
//! against; the paper's form, with ε_j fixed from the selected policy's evaluated return, is
//! [`log_barrier_with_thresholds`] over [`paper_thresholds`] (spec "Ambiguities").
use super::PART;
use crate::error::check_range;
use crate::MethodError;

/// `hat_j` never rises above this: the log's argument is at least 0.001.
pub const BARRIER_FLOOR: f64 = -1e-3;

/// The barrier's knobs, defaults from the C-MORL repository.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarrierConfig {
    /// Barrier sharpness: the penalty is divided by t (20).
    pub t: f64,
    /// Fraction of each constrained objective to keep (0.9).
    pub beta: f64,
    /// PPO's ratio clip ε_c (0.2).
    pub clip: f64,
}

impl Default for BarrierConfig {
    fn default() -> Self {
        BarrierConfig {
            t: 20.0,
            beta: 0.9,
            clip: 0.2,
        }
    }
}

impl BarrierConfig {
    pub fn validate(&self) -> Result<(), MethodError> {
        check_range("barrier_t", self.t, self.t > 0.0, "> 0")?;
        check_range(
            "beta",
            self.beta,
            self.beta > 0.0 && self.beta <= 1.0,
            "in (0, 1]",
        )?;
        check_range(
            "clip",
            self.clip,
            (0.0..1.0).contains(&self.clip),
            "in [0, 1)",
        )
    }
}

/// The code's barrier: thresholds `ε_j = β R̄_j` from the batch means themselves.
///
/// `ratios: [samples]` are the importance ratios π_θ/π_old; `batch_mean_returns: [m−1]` are the
/// batch-mean returns of the constrained objectives only (objective i left out, see
/// [`constrained`]). No constrained objective (m = 1) means no barrier: 0.
pub fn log_barrier(
    ratios: &[f64],
    batch_mean_returns: &[f64],
    config: &BarrierConfig,
) -> Result<f64, MethodError> {
    config.validate()?;
    let thresholds: Vec<f64> = batch_mean_returns.iter().map(|r| config.beta * r).collect();
    log_barrier_with_thresholds(
        ratios,
        batch_mean_returns,
        &thresholds,
        config.t,
        config.clip,
    )
}

/// The barrier with given thresholds ε_j (one per constrained objective).
pub fn log_barrier_with_thresholds(
    ratios: &[f64],
    batch_mean_returns: &[f64],
    thresholds: &[f64],
    t: f64,
    clip: f64,
) -> Result<f64, MethodError> {
    Ok(log_barrier_terms(ratios, batch_mean_returns, thresholds, t, clip)?.value)
}

/// The barrier's value and its derivative with respect to each sample's ratio, for a learner
/// that adds it to the policy loss and back-propagates by hand (the chain rule to the
/// log-prob is `d/d log π = ρ · d/dρ`).
#[derive(Debug, Clone, PartialEq)]
pub struct BarrierTerms {
    pub value: f64,
    /// `d barrier / d ρ_s`, one per ratio. Zero where the clip holds ρ_s or the floor holds
    /// `hat_j` (both are flat there), as autograd's clamp and minimum give.
    pub d_ratio: Vec<f64>,
}

/// [`log_barrier_with_thresholds`] with the derivatives; same checks and errors.
pub fn log_barrier_terms(
    ratios: &[f64],
    batch_mean_returns: &[f64],
    thresholds: &[f64],
    t: f64,
    clip: f64,
) -> Result<BarrierTerms, MethodError> {
    check_range("barrier_t", t, t > 0.0, "> 0")?;
    check_range("clip", clip, (0.0..1.0).contains(&clip), "in [0, 1)")?;
    if thresholds.len() != batch_mean_returns.len() {
        return Err(MethodError::Shape {
            part: PART,
            detail: format!(
                "{} thresholds for {} constrained objectives",
                thresholds.len(),
                batch_mean_returns.len()
            ),
        });
    }
    if ratios.is_empty() {
        return Err(MethodError::Shape {
            part: PART,
            detail: "log barrier over an empty batch of ratios".into(),
        });
    }
    for (what, values) in [
        ("ratios", ratios),
        ("batch_mean_returns", batch_mean_returns),
        ("thresholds", thresholds),
    ] {
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(MethodError::NonFinite {
                part: PART,
                what,
                index,
                value,
            });
        }
    }
    if batch_mean_returns.is_empty() {
        return Ok(BarrierTerms {
            value: 0.0,
            d_ratio: vec![0.0; ratios.len()],
        });
    }
    let count = (ratios.len() * batch_mean_returns.len()) as f64;
    let mut sum = 0.0;
    let mut d_ratio = Vec::with_capacity(ratios.len());
    for &rho in ratios {
        let clipped = rho.clamp(1.0 - clip, 1.0 + clip);
        let inside = (1.0 - clip..=1.0 + clip).contains(&rho);
        let mut d = 0.0;
        for (&r, &eps) in batch_mean_returns.iter().zip(thresholds) {
            let raw = eps - clipped * r;
            let hat = raw.min(BARRIER_FLOOR);
            sum += (-hat).ln();
            // d log(-hat)/dρ = r / (-hat) where neither the clip nor the floor holds.
            if inside && raw < BARRIER_FLOOR {
                d += r / (-hat);
            }
        }
        d_ratio.push(-d / count / t);
    }
    Ok(BarrierTerms {
        value: -sum / count / t,
        d_ratio,
    })
}

/// The paper's thresholds `ε_j = β J_j(π_r)` from the selected policy's evaluated returns.
/// With negative objectives (costs) βJ > J and the constraint is always violated; see
/// [`sign_safe_thresholds`].
pub fn paper_thresholds(reference_returns: &[f64], beta: f64) -> Vec<f64> {
    reference_returns.iter().map(|j| beta * j).collect()
}

/// `ε_j = J_j − (1−β)|J_j|`: allows the same fraction of slack below J_j whatever its sign
/// (spec "Ambiguities", for cost objectives).
pub fn sign_safe_thresholds(reference_returns: &[f64], beta: f64) -> Vec<f64> {
    reference_returns
        .iter()
        .map(|j| j - (1.0 - beta) * j.abs())
        .collect()
}

/// The entries of `per_objective` other than `objective`: the constrained objectives when
/// maximising `objective`.
pub fn constrained(per_objective: &[f64], objective: usize) -> Vec<f64> {
    per_objective
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != objective)
        .map(|(_, &v)| v)
        .collect()
}
