//! Paired comparison against a baseline: runs with the same seed share a warm start (the same
//! initial model), so the honest question is how much each seed gained, not how two clouds of
//! seeds differ.
//!
//! For every seed present on both sides, `d_s = method(s) - baseline(s)`; the report shows the
//! mean of the `d_s` with a percentile-bootstrap CI that resamples *seeds* (pairs) with
//! replacement, so both halves of a pair always move together. Seeds on one side only are left
//! out and counted; a seed that appears more than once on a side is ambiguous (which run is
//! its warm start?) and is left out too.
//!
//! With several tasks, pairs are matched within each task and the tasks are bootstrap strata,
//! as elsewhere in the crate: the statistic is the mean of the per-task mean differences
//! (rliable's `aggregate_mean`), resampling pairs within each task.
//!
//! Resampling follows [`crate::stats`]: a `ChaCha8Rng` seeded from [`BootstrapConfig::seed`]
//! draws, resample by resample and stratum by stratum, one `random_range(0..n)` per slot, so
//! [`paired_bootstrap_ci`] gives exactly `stratified_bootstrap_ci(d, Aggregate::Mean, cfg)`.
//! The indices can also be passed in ([`paired_interval`]), which is how the fixture test
//! compares the interval with numpy's exactly.
//!
//! The verdict comes from the interval, never from the sign of the mean: `better` when the
//! whole CI is on the improving side of 0, `worse` when it is on the other side, `inconclusive`
//! when it contains 0 or there are fewer than 2 pairs.

use crate::stats::{
    mean_unchecked, percentile_interval, validate, BootstrapConfig, ConfidenceInterval, StatsError,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The differences of the seeds present on both sides, in ascending seed order.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairs {
    pub seeds: Vec<u64>,
    /// `method - baseline`, one per entry of `seeds`.
    pub differences: Vec<f64>,
    /// Values left out: seeds on one side only, and every value of a seed repeated on a side.
    pub n_unmatched: usize,
}

/// Pairs `method` and `baseline` values by seed. Input order does not matter.
pub fn paired_differences(method: &[(u64, f64)], baseline: &[(u64, f64)]) -> Pairs {
    let index = |side: &[(u64, f64)]| {
        let mut by_seed: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for &(seed, v) in side {
            by_seed.entry(seed).or_default().push(v);
        }
        by_seed
    };
    let (m, b) = (index(method), index(baseline));
    let mut pairs = Pairs {
        seeds: Vec::new(),
        differences: Vec::new(),
        n_unmatched: 0,
    };
    for (seed, mv) in &m {
        match b.get(seed) {
            Some(bv) if mv.len() == 1 && bv.len() == 1 => {
                pairs.seeds.push(*seed);
                pairs.differences.push(mv[0] - bv[0]);
            }
            Some(bv) => pairs.n_unmatched += mv.len() + bv.len(),
            None => pairs.n_unmatched += mv.len(),
        }
    }
    pairs.n_unmatched += b
        .iter()
        .filter(|(seed, _)| !m.contains_key(seed))
        .map(|(_, v)| v.len())
        .sum::<usize>();
    pairs
}

/// One bootstrap resample: for each stratum, indices (with replacement) into its differences.
pub type Resample = Vec<Vec<usize>>;

/// `config.resamples` resamples of strata of sizes `sizes`, drawn as the crate's bootstrap
/// draws them (resample, then stratum, then slot; one `random_range(0..n)` per slot).
pub fn draw_resamples(sizes: &[usize], config: &BootstrapConfig) -> Vec<Resample> {
    let mut rng = config.rng();
    (0..config.resamples)
        .map(|_| {
            sizes
                .iter()
                .map(|&n| (0..n).map(|_| rng.random_range(0..n)).collect())
                .collect()
        })
        .collect()
}

/// Percentile interval of the mean paired difference (mean of per-stratum means) over the
/// given resamples; the estimate is the statistic on the original differences.
pub fn paired_interval(
    strata: &[&[f64]],
    resamples: &[Resample],
    confidence: f64,
) -> Result<ConfidenceInterval, StatsError> {
    const WHAT: &str = "paired difference";
    if strata.is_empty() {
        return Err(StatsError::Empty { what: WHAT });
    }
    strata.iter().try_for_each(|s| validate(WHAT, s))?;
    if resamples.is_empty() {
        return Err(StatsError::InvalidConfig("no resamples given".into()));
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(StatsError::InvalidConfig(format!(
            "confidence {confidence} must be in (0, 1), e.g. 0.95"
        )));
    }
    let means: Vec<f64> = strata.iter().map(|d| mean_unchecked(d)).collect();
    let estimate = mean_unchecked(&means);
    let (mut picked, mut means) = (Vec::new(), vec![0.0; strata.len()]);
    let mut values = Vec::with_capacity(resamples.len());
    for (b, resample) in resamples.iter().enumerate() {
        if resample.len() != strata.len() {
            return Err(StatsError::InvalidConfig(format!(
                "resample {b} has {} strata, the differences {}",
                resample.len(),
                strata.len()
            )));
        }
        for (s, (d, idx)) in strata.iter().zip(resample).enumerate() {
            picked.clear();
            for &i in idx {
                picked.push(*d.get(i).ok_or_else(|| {
                    StatsError::InvalidConfig(format!(
                        "resample {b}, stratum {s}: index {i} out of range for {} pairs",
                        d.len()
                    ))
                })?);
            }
            if picked.is_empty() {
                return Err(StatsError::InvalidConfig(format!(
                    "resample {b}, stratum {s} draws no index"
                )));
            }
            means[s] = mean_unchecked(&picked);
        }
        values.push(mean_unchecked(&means));
    }
    Ok(percentile_interval(estimate, values, confidence))
}

/// Percentile-bootstrap CI of the mean paired difference, resampling pairs within each
/// stratum with the crate's seeded RNG.
pub fn paired_bootstrap_ci(
    strata: &[&[f64]],
    config: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError> {
    config.validate()?;
    let sizes: Vec<usize> = strata.iter().map(|s| s.len()).collect();
    paired_interval(strata, &draw_resamples(&sizes, config), config.confidence)
}

/// What the paired interval says about the method against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Better,
    Worse,
    Inconclusive,
}

impl Verdict {
    /// From the CI only: `better` when the whole interval is on the improving side of 0.
    pub fn of_interval(ci: &ConfidenceInterval, higher_is_better: bool) -> Verdict {
        let (gain, loss) = if higher_is_better {
            (ci.lower > 0.0, ci.upper < 0.0)
        } else {
            (ci.upper < 0.0, ci.lower > 0.0)
        };
        match (gain, loss) {
            (true, _) => Verdict::Better,
            (_, true) => Verdict::Worse,
            _ => Verdict::Inconclusive,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Fewer pairs than this give no interval.
pub const MIN_PAIRS: usize = 2;

/// The note shown instead of an interval below [`MIN_PAIRS`].
pub const TOO_FEW_PAIRS: &str = "too few paired seeds";

/// The paired comparison of one method with the baseline on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedResult {
    /// Mean of the differences (mean of per-task means); `None` without any pair.
    pub mean: Option<f64>,
    /// `None` with fewer than [`MIN_PAIRS`] pairs.
    pub ci: Option<ConfidenceInterval>,
    pub n_pairs: usize,
    pub n_unmatched: usize,
    pub verdict: Verdict,
    /// Why there is no interval, if there is none.
    pub note: Option<String>,
}

/// `(seed, final value)` of one preset's runs on one task.
pub type SeedValues = Vec<(u64, f64)>;

/// Pairs each stratum (task) by seed and bootstraps the mean difference.
/// `strata[t] = (method values, baseline values)` of task `t`.
pub fn compare_paired(
    strata: &[(SeedValues, SeedValues)],
    higher_is_better: bool,
    config: &BootstrapConfig,
) -> Result<PairedResult, StatsError> {
    let pairs: Vec<Pairs> = strata
        .iter()
        .map(|(m, b)| paired_differences(m, b))
        .collect();
    let n_unmatched = pairs.iter().map(|p| p.n_unmatched).sum();
    let diffs: Vec<&[f64]> = pairs
        .iter()
        .map(|p| p.differences.as_slice())
        .filter(|d| !d.is_empty())
        .collect();
    let n_pairs = diffs.iter().map(|d| d.len()).sum();
    let mut result = PairedResult {
        mean: None,
        ci: None,
        n_pairs,
        n_unmatched,
        verdict: Verdict::Inconclusive,
        note: Some(TOO_FEW_PAIRS.to_string()),
    };
    if n_pairs == 0 {
        return Ok(result);
    }
    let means: Vec<f64> = diffs.iter().map(|d| mean_unchecked(d)).collect();
    result.mean = Some(mean_unchecked(&means));
    if n_pairs >= MIN_PAIRS {
        let ci = paired_bootstrap_ci(&diffs, config)?;
        result.verdict = Verdict::of_interval(&ci, higher_is_better);
        result.ci = Some(ci);
        result.note = None;
    }
    Ok(result)
}
