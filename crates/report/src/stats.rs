//! Multi-seed statistics in the style of rliable (Agarwal et al., "Deep Reinforcement Learning at
//! the Edge of the Statistical Precipice", NeurIPS 2021).
//!
//! A *sample* is one score per seed (run). Scores may be split into *strata* (one per task):
//! bootstrap resampling then draws seeds with replacement *within* each stratum, so every
//! resample keeps the same number of runs per task. A single comparison on one task is the
//! one-stratum case, which is plain percentile bootstrap.
//!
//! Formulas (x sorted ascending, n values, strata s = 1..S):
//! - mean: `(1/n) Σ x_i`. Over strata, rliable's `aggregate_mean`: the mean of the per-stratum
//!   means (equal to the pooled mean when every stratum has the same number of runs).
//! - median: the pooled sample median, `x_{(n+1)/2}` for odd n and the mean of the two middle
//!   values for even n (numpy's `median`). Note this is *not* rliable's `aggregate_median`,
//!   which is the median of per-task means and would equal the mean on a single task.
//! - IQM (interquartile mean), rliable's `aggregate_iqm` = `scipy.stats.trim_mean(x, 0.25)`
//!   on the pooled sample: with `k = floor(0.25 n)`, the mean of `x_(k+1) .. x_(n-k)`.
//!   For n < 4, k = 0 and the IQM is the mean.
//! - probability of improvement, rliable's `probability_of_improvement`:
//!   `P(X > Y) = 1/(n_x n_y) Σ_i Σ_j ([x_i > y_j] + ½ [x_i = y_j])` (the Mann–Whitney U
//!   statistic divided by `n_x n_y`), averaged over strata.
//! - percentile bootstrap CI at level `c`: draw `B` resamples, compute the statistic on each,
//!   and report the `(1-c)/2` and `(1+c)/2` quantiles of those `B` values, with numpy's default
//!   linear interpolation (`q(p) = v_⌊h⌋ + (h-⌊h⌋)(v_⌊h⌋+1 - v_⌊h⌋)`, `h = (B-1)p`). The point
//!   estimate is the statistic on the original sample, as in `rliable.get_interval_estimates`.
//!   For P(X > Y), X and Y are resampled independently (rliable's
//!   `StratifiedIndependentBootstrap`).
//!
//! All randomness comes from a `ChaCha8Rng` seeded from [`BootstrapConfig::seed`], so a report
//! rendered twice from the same runs shows the same intervals.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    #[error("{what}: needs at least one value, got an empty sample")]
    Empty { what: &'static str },
    #[error(
        "{what}: value {value} at index {index} is not finite; drop or fix it before aggregating"
    )]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },
    #[error(
        "probability of improvement: X has {x} strata (tasks) but Y has {y}; pair them by task"
    )]
    StrataMismatch { x: usize, y: usize },
    #[error("bootstrap: {0}")]
    InvalidConfig(String),
}

/// A point statistic of a sample of seeds, by name, so reports and callers can choose one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    Mean,
    Median,
    Iqm,
}

impl Aggregate {
    /// Short name used in tables ("mean", "median", "IQM").
    pub fn label(self) -> &'static str {
        match self {
            Aggregate::Mean => "mean",
            Aggregate::Median => "median",
            Aggregate::Iqm => "IQM",
        }
    }

    /// The statistic of one sample (one stratum).
    pub fn of(self, sample: &[f64]) -> Result<f64, StatsError> {
        self.of_strata(&[sample])
    }

    /// The statistic over strata, as defined in the module docs (mean of stratum means for
    /// `Mean`, pooled for `Median` and `Iqm`).
    pub fn of_strata(self, strata: &[&[f64]]) -> Result<f64, StatsError> {
        validate_strata(self.label(), strata)?;
        let owned: Vec<Vec<f64>> = strata.iter().map(|s| s.to_vec()).collect();
        let mut scratch = Vec::new();
        Ok(self.of_valid_strata(&owned, &mut scratch))
    }

    /// Same as [`Aggregate::of_strata`] on already validated data; `scratch` avoids an
    /// allocation per bootstrap resample.
    fn of_valid_strata(self, strata: &[Vec<f64>], scratch: &mut Vec<f64>) -> f64 {
        match self {
            Aggregate::Mean => {
                let means: Vec<f64> = strata.iter().map(|s| mean_unchecked(s)).collect();
                mean_unchecked(&means)
            }
            Aggregate::Median => {
                pooled_sorted(strata, scratch);
                median_of_sorted(scratch)
            }
            Aggregate::Iqm => {
                pooled_sorted(strata, scratch);
                trimmed_mean_of_sorted(scratch, 0.25)
            }
        }
    }
}

/// Arithmetic mean.
pub fn mean(sample: &[f64]) -> Result<f64, StatsError> {
    validate("mean", sample)?;
    Ok(mean_unchecked(sample))
}

/// Sample median (numpy's `median`: the mean of the two middle values for even n).
pub fn median(sample: &[f64]) -> Result<f64, StatsError> {
    validate("median", sample)?;
    let mut sorted = sample.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(median_of_sorted(&sorted))
}

/// Interquartile mean: `trimmed_mean(sample, 0.25)`, rliable's IQM.
pub fn iqm(sample: &[f64]) -> Result<f64, StatsError> {
    trimmed_mean(sample, 0.25)
}

/// `scipy.stats.trim_mean(sample, proportion)`: cut `floor(proportion * n)` values from each
/// end of the sorted sample and average the rest. `proportion` must be in `[0, 0.5)`.
pub fn trimmed_mean(sample: &[f64], proportion: f64) -> Result<f64, StatsError> {
    validate("trimmed mean", sample)?;
    if !(0.0..0.5).contains(&proportion) {
        return Err(StatsError::InvalidConfig(format!(
            "trim proportion {proportion} must be in [0, 0.5)"
        )));
    }
    let mut sorted = sample.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(trimmed_mean_of_sorted(&sorted, proportion))
}

/// Quantile `p` in `[0, 1]` with numpy's default linear interpolation.
pub fn quantile(sample: &[f64], p: f64) -> Result<f64, StatsError> {
    validate("quantile", sample)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(StatsError::InvalidConfig(format!(
            "quantile {p} must be in [0, 1]"
        )));
    }
    let mut sorted = sample.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(quantile_of_sorted(&sorted, p))
}

/// `P(X > Y)` for one task: the Mann–Whitney U statistic of X over Y divided by `n_x n_y`,
/// counting ties as one half.
pub fn probability_of_improvement(x: &[f64], y: &[f64]) -> Result<f64, StatsError> {
    stratified_probability_of_improvement(&[x], &[y])
}

/// `P(X > Y)` averaged over strata (tasks); `x[s]` and `y[s]` are the seeds of task `s`.
pub fn stratified_probability_of_improvement(
    x: &[&[f64]],
    y: &[&[f64]],
) -> Result<f64, StatsError> {
    validate_pair(x, y)?;
    let per_stratum: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(xs, ys)| mann_whitney_fraction(xs, ys))
        .collect();
    Ok(mean_unchecked(&per_stratum))
}

/// How to draw bootstrap intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples `B`. 10 000 keeps the Monte-Carlo error of a 95% percentile
    /// endpoint near 3% of the bootstrap standard deviation; rliable defaults to 50 000.
    pub resamples: usize,
    /// Coverage of the interval, in (0, 1); 0.95 for 95% intervals.
    pub confidence: f64,
    /// Seed of the `ChaCha8Rng` that draws the resamples.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: 10_000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

impl BootstrapConfig {
    pub(crate) fn validate(&self) -> Result<(), StatsError> {
        if self.resamples == 0 {
            return Err(StatsError::InvalidConfig(
                "resamples must be at least 1".into(),
            ));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(StatsError::InvalidConfig(format!(
                "confidence {} must be in (0, 1), e.g. 0.95",
                self.confidence
            )));
        }
        Ok(())
    }

    pub(crate) fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed)
    }
}

/// A point estimate with a percentile-bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// The statistic on the original sample.
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    /// Coverage the interval was drawn for (0.95 for 95%).
    pub confidence: f64,
}

impl ConfidenceInterval {
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }

    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }
}

/// Percentile-bootstrap CI of `aggregate` over one sample of seeds.
pub fn bootstrap_ci(
    sample: &[f64],
    aggregate: Aggregate,
    config: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError> {
    stratified_bootstrap_ci(&[sample], aggregate, config)
}

/// Stratified percentile-bootstrap CI of `aggregate`: seeds are resampled with replacement
/// within each stratum (task), rliable's `StratifiedBootstrap`.
pub fn stratified_bootstrap_ci(
    strata: &[&[f64]],
    aggregate: Aggregate,
    config: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError> {
    stratified_bootstrap_ci_with(strata, config, |resample, scratch| {
        aggregate.of_valid_strata(resample, scratch)
    })
    .map_err(|e| match e {
        StatsError::Empty { .. } => StatsError::Empty {
            what: aggregate.label(),
        },
        other => other,
    })
}

/// Stratified percentile bootstrap of any statistic. `statistic(resample, scratch)` receives
/// one resampled vector per stratum and a scratch buffer it may use freely.
pub fn stratified_bootstrap_ci_with<F>(
    strata: &[&[f64]],
    config: &BootstrapConfig,
    mut statistic: F,
) -> Result<ConfidenceInterval, StatsError>
where
    F: FnMut(&[Vec<f64>], &mut Vec<f64>) -> f64,
{
    validate_strata("bootstrap", strata)?;
    config.validate()?;
    let original: Vec<Vec<f64>> = strata.iter().map(|s| s.to_vec()).collect();
    let mut scratch = Vec::new();
    let estimate = statistic(&original, &mut scratch);

    let mut rng = config.rng();
    let mut resample = original.clone();
    let mut values = Vec::with_capacity(config.resamples);
    for _ in 0..config.resamples {
        for (target, source) in resample.iter_mut().zip(&original) {
            resample_into(&mut rng, source, target);
        }
        values.push(statistic(&resample, &mut scratch));
    }
    Ok(percentile_interval(estimate, values, config.confidence))
}

/// Bootstrap CI of `P(X > Y)` averaged over strata, with X and Y resampled independently
/// within each stratum (rliable's `StratifiedIndependentBootstrap`).
pub fn probability_of_improvement_ci(
    x: &[&[f64]],
    y: &[&[f64]],
    config: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError> {
    validate_pair(x, y)?;
    config.validate()?;
    let estimate = stratified_probability_of_improvement(x, y)?;
    let mut rng = config.rng();
    let mut xr: Vec<Vec<f64>> = x.iter().map(|s| s.to_vec()).collect();
    let mut yr: Vec<Vec<f64>> = y.iter().map(|s| s.to_vec()).collect();
    let mut per_stratum = vec![0.0; x.len()];
    let mut values = Vec::with_capacity(config.resamples);
    for _ in 0..config.resamples {
        // X first, then Y, stratum by stratum: the draw order is part of the reproducibility
        // contract, so keep it stable.
        for (target, source) in xr.iter_mut().zip(x) {
            resample_into(&mut rng, source, target);
        }
        for (target, source) in yr.iter_mut().zip(y) {
            resample_into(&mut rng, source, target);
        }
        for (p, (xs, ys)) in per_stratum.iter_mut().zip(xr.iter().zip(&yr)) {
            *p = mann_whitney_fraction(xs, ys);
        }
        values.push(mean_unchecked(&per_stratum));
    }
    Ok(percentile_interval(estimate, values, config.confidence))
}

fn resample_into(rng: &mut ChaCha8Rng, source: &[f64], target: &mut [f64]) {
    let n = source.len();
    for slot in target.iter_mut() {
        *slot = source[rng.random_range(0..n)];
    }
}

pub(crate) fn percentile_interval(
    estimate: f64,
    mut values: Vec<f64>,
    confidence: f64,
) -> ConfidenceInterval {
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    ConfidenceInterval {
        estimate,
        lower: quantile_of_sorted(&values, tail),
        upper: quantile_of_sorted(&values, 1.0 - tail),
        confidence,
    }
}

fn mann_whitney_fraction(x: &[f64], y: &[f64]) -> f64 {
    // O(n_x n_y) is fine: samples are seeds, rarely more than a few dozen.
    let mut wins = 0.0;
    for &xi in x {
        for &yj in y {
            if xi > yj {
                wins += 1.0;
            } else if xi == yj {
                wins += 0.5;
            }
        }
    }
    wins / (x.len() as f64 * y.len() as f64)
}

/// Neumaier-compensated mean: seeds' scores can be large returns (hundreds) and the fixtures
/// compare against numpy at 1e-12, so avoid naive summation's accumulated rounding.
pub(crate) fn mean_unchecked(values: &[f64]) -> f64 {
    let mut sum = 0.0f64;
    let mut compensation = 0.0f64;
    for &v in values {
        let t = sum + v;
        if sum.abs() >= v.abs() {
            compensation += (sum - t) + v;
        } else {
            compensation += (v - t) + sum;
        }
        sum = t;
    }
    (sum + compensation) / values.len() as f64
}

fn pooled_sorted(strata: &[Vec<f64>], out: &mut Vec<f64>) {
    out.clear();
    for s in strata {
        out.extend_from_slice(s);
    }
    out.sort_by(f64::total_cmp);
}

fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn trimmed_mean_of_sorted(sorted: &[f64], proportion: f64) -> f64 {
    // scipy: lowercut = int(proportiontocut * nobs), i.e. truncation toward zero.
    let cut = (proportion * sorted.len() as f64) as usize;
    mean_unchecked(&sorted[cut..sorted.len() - cut])
}

fn quantile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

pub(crate) fn validate(what: &'static str, sample: &[f64]) -> Result<(), StatsError> {
    if sample.is_empty() {
        return Err(StatsError::Empty { what });
    }
    if let Some((index, &value)) = sample.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(StatsError::NonFinite { what, index, value });
    }
    Ok(())
}

fn validate_strata(what: &'static str, strata: &[&[f64]]) -> Result<(), StatsError> {
    if strata.is_empty() {
        return Err(StatsError::Empty { what });
    }
    strata.iter().try_for_each(|s| validate(what, s))
}

fn validate_pair(x: &[&[f64]], y: &[&[f64]]) -> Result<(), StatsError> {
    const WHAT: &str = "probability of improvement";
    if x.len() != y.len() {
        return Err(StatsError::StrataMismatch {
            x: x.len(),
            y: y.len(),
        });
    }
    validate_strata(WHAT, x)?;
    validate_strata(WHAT, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iqm_trims_a_quarter_from_each_end_by_truncation() {
        // n = 10: cut = 2, mean of sorted[2..8].
        let x = [9.0, 1.0, 8.0, 2.0, 7.0, 3.0, 6.0, 4.0, 5.0, 100.0];
        assert_eq!(iqm(&x), Ok((3.0 + 4.0 + 5.0 + 6.0 + 7.0 + 8.0) / 6.0));
        // n = 3: cut = 0, the IQM is the mean.
        assert_eq!(iqm(&[1.0, 2.0, 6.0]), Ok(3.0));
    }

    #[test]
    fn median_averages_the_two_middle_values_for_even_n() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Ok(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Ok(3.0));
    }

    #[test]
    fn probability_of_improvement_counts_ties_as_half() {
        assert_eq!(probability_of_improvement(&[1.0], &[1.0]), Ok(0.5));
        assert_eq!(probability_of_improvement(&[2.0, 3.0], &[1.0]), Ok(1.0));
        // pairs: (1,1)=.5 (1,2)=0 (3,1)=1 (3,2)=1 -> 2.5/4
        assert_eq!(
            probability_of_improvement(&[1.0, 3.0], &[1.0, 2.0]),
            Ok(0.625)
        );
    }

    #[test]
    fn empty_and_non_finite_samples_are_typed_errors() {
        assert!(matches!(mean(&[]), Err(StatsError::Empty { .. })));
        assert!(matches!(
            iqm(&[1.0, f64::NAN]),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            stratified_probability_of_improvement(&[&[1.0]], &[&[1.0], &[2.0]]),
            Err(StatsError::StrataMismatch { x: 1, y: 2 })
        ));
        let bad = BootstrapConfig {
            confidence: 1.5,
            ..Default::default()
        };
        assert!(matches!(
            bootstrap_ci(&[1.0, 2.0], Aggregate::Mean, &bad),
            Err(StatsError::InvalidConfig(_))
        ));
    }

    #[test]
    fn quantile_interpolates_linearly_like_numpy() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&x, 0.0), Ok(1.0));
        assert_eq!(quantile(&x, 1.0), Ok(4.0));
        // h = 3 * 0.25 = 0.75
        assert_eq!(quantile(&x, 0.25), Ok(1.75));
    }

    #[test]
    fn one_seed_gives_a_degenerate_interval() {
        let ci = bootstrap_ci(&[0.3], Aggregate::Iqm, &BootstrapConfig::default());
        assert_eq!(
            ci.map(|c| (c.lower, c.estimate, c.upper)),
            Ok((0.3, 0.3, 0.3))
        );
    }

    #[test]
    fn stratified_mean_is_the_mean_of_stratum_means() {
        let a: &[f64] = &[1.0, 1.0, 1.0];
        let b: &[f64] = &[3.0];
        assert_eq!(Aggregate::Mean.of_strata(&[a, b]), Ok(2.0));
    }
}
