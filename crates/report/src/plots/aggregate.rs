//! The data of a learning curve: per-seed curves of one preset into a mean line and a
//! bootstrap band.
//!
//! Long, noisy per-step curves are smoothed per seed first ([`Smoothing`]). Seeds are then
//! aligned on a common x grid before averaging: when every seed logged the same x
//! values those are used as they are; otherwise the grid is restricted to the x range that all
//! seeds cover (a mean over a changing set of seeds would jump where one seed stops) and each
//! seed is linearly interpolated onto it. Long grids are thinned to `max_points` evenly spaced
//! x values.
//!
//! The band at every x comes from the same resampled sets of seeds (one `ChaCha8Rng` seed for
//! the whole curve), so it is a bootstrap over whole curves rather than independent per-step
//! intervals.

use super::PlotError;
use crate::runs::Curve;
use crate::stats::{bootstrap_ci, Aggregate, BootstrapConfig};
use serde::{Deserialize, Serialize};

/// How per-seed curves are smoothed before averaging seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Smoothing {
    /// Plot logged values as they are.
    Off,
    /// Per-step metrics logged at hundreds of steps are too noisy to read raw: curves longer
    /// than 60 points get a centred moving average over `ceil(points / 20)` points (the
    /// longest curve of the plot decides, so all presets are smoothed alike); sparse curves
    /// such as evaluations are left raw. A window of 1/20 of the run was chosen by looking at
    /// real 200-step runs: 1/60 left clip fractions and lengths a jagged band that hid the
    /// trend between presets.
    Auto,
    /// Centred moving average over this many logged points.
    Window(usize),
}

impl Smoothing {
    /// The window for a plot whose longest per-seed curve has `max_len` points.
    pub fn window(self, max_len: usize) -> usize {
        match self {
            Smoothing::Off => 1,
            Smoothing::Auto if max_len > 60 => max_len.div_ceil(20),
            Smoothing::Auto => 1,
            Smoothing::Window(w) => w.max(1),
        }
    }
}

/// How learning-curve bands are computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurveOptions {
    /// Resamples, confidence and seed of the per-x band. Fewer resamples than the final
    /// tables by default: a band is read by eye.
    pub bootstrap: BootstrapConfig,
    /// At most this many x values per curve.
    pub max_points: usize,
    pub smoothing: Smoothing,
}

impl Default for CurveOptions {
    fn default() -> Self {
        Self {
            bootstrap: BootstrapConfig {
                resamples: 1000,
                ..BootstrapConfig::default()
            },
            max_points: 400,
            smoothing: Smoothing::Auto,
        }
    }
}

/// One preset's curve across seeds: mean and band at each x.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub label: String,
    pub n_seeds: usize,
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

/// Smooths each seed's curve with a centred moving average of `smoothing_window` points,
/// aligns the seeds (see module docs) and computes the mean and bootstrap band. Returns `None`
/// when no seed has a point, or the seeds share no x range.
pub fn aggregate_curves(
    label: &str,
    curves: &[Curve],
    smoothing_window: usize,
    options: &CurveOptions,
) -> Result<Option<Band>, PlotError> {
    // Curves are public data: re-establish sorted, finite, one-point-per-x before indexing.
    let curves: Vec<Curve> = curves
        .iter()
        .map(|c| Curve::from_points(c.x.iter().copied().zip(c.y.iter().copied())))
        .filter(|c| !c.is_empty())
        .map(|c| smooth(&c, smoothing_window))
        .collect();
    let Some(grid) = common_grid(&curves, options.max_points.max(2)) else {
        return Ok(None);
    };
    let per_seed: Vec<Vec<f64>> = curves.iter().map(|c| interpolate(c, &grid)).collect();
    let mut band = Band {
        label: label.to_string(),
        n_seeds: curves.len(),
        x: grid,
        mean: Vec::new(),
        lower: Vec::new(),
        upper: Vec::new(),
    };
    let mut column = vec![0.0; curves.len()];
    for j in 0..band.x.len() {
        for (c, seed) in column.iter_mut().zip(&per_seed) {
            *c = seed[j];
        }
        let ci = bootstrap_ci(&column, Aggregate::Mean, &options.bootstrap)?;
        band.mean.push(ci.estimate);
        band.lower.push(ci.lower);
        band.upper.push(ci.upper);
    }
    Ok(Some(band))
}

/// Centred moving average: point i averages the points within `window / 2` on each side
/// (fewer at the ends). Centred rather than trailing so smoothing does not shift curves right.
fn smooth(curve: &Curve, window: usize) -> Curve {
    if window <= 1 {
        return curve.clone();
    }
    let half = window / 2;
    let mut prefix = Vec::with_capacity(curve.len() + 1);
    prefix.push(0.0);
    for &v in &curve.y {
        prefix.push(prefix[prefix.len() - 1] + v);
    }
    let y = (0..curve.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(curve.len());
            (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect();
    Curve {
        x: curve.x.clone(),
        y,
    }
}

fn common_grid(curves: &[Curve], max_points: usize) -> Option<Vec<f64>> {
    let first = curves.first()?;
    let grid = if curves.iter().all(|c| c.x == first.x) {
        first.x.clone()
    } else {
        let lo = curves.iter().map(|c| c.x[0]).fold(f64::MIN, f64::max);
        let hi = curves
            .iter()
            .map(|c| c.x[c.len() - 1])
            .fold(f64::MAX, f64::min);
        if lo > hi {
            return None;
        }
        let mut xs: Vec<f64> = curves
            .iter()
            .flat_map(|c| c.x.iter().copied())
            .filter(|&x| lo <= x && x <= hi)
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    };
    if grid.len() <= max_points {
        return Some(grid);
    }
    let (lo, hi) = (grid[0], grid[grid.len() - 1]);
    let last = (max_points - 1) as f64;
    Some(
        (0..max_points)
            .map(|i| lo + (hi - lo) * i as f64 / last)
            .collect(),
    )
}

/// Linear interpolation of `curve` at each `x` (all within the curve's range by construction;
/// outside it the nearest end value is used).
fn interpolate(curve: &Curve, grid: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(grid.len());
    let mut k = 0;
    for &x in grid {
        while k + 1 < curve.len() && curve.x[k + 1] <= x {
            k += 1;
        }
        let y = if k + 1 >= curve.len() || x <= curve.x[k] {
            curve.y[k]
        } else {
            let t = (x - curve.x[k]) / (curve.x[k + 1] - curve.x[k]);
            curve.y[k] + t * (curve.y[k + 1] - curve.y[k])
        };
        out.push(y);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_with_different_steps_are_interpolated_on_their_common_range() {
        let a = Curve {
            x: vec![0.0, 10.0, 20.0],
            y: vec![0.0, 1.0, 2.0],
        };
        let b = Curve {
            x: vec![5.0, 15.0, 30.0],
            y: vec![5.0, 5.0, 5.0],
        };
        let band = aggregate_curves("p", &[a, b], 1, &CurveOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(band.x, vec![5.0, 10.0, 15.0, 20.0]);
        assert_eq!(band.mean, vec![2.75, 3.0, 3.25, 3.5]);
        assert!(band
            .lower
            .iter()
            .zip(&band.mean)
            .zip(&band.upper)
            .all(|((l, m), u)| l <= m && m <= u));
    }

    #[test]
    fn seeds_without_overlap_give_no_band() {
        let a = Curve {
            x: vec![0.0, 1.0],
            y: vec![0.0, 1.0],
        };
        let b = Curve {
            x: vec![2.0, 3.0],
            y: vec![0.0, 1.0],
        };
        assert!(aggregate_curves("p", &[a, b], 1, &CurveOptions::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn long_curves_are_thinned_to_max_points() {
        let c = Curve {
            x: (0..1000).map(f64::from).collect(),
            y: (0..1000).map(f64::from).collect(),
        };
        let options = CurveOptions {
            max_points: 11,
            ..Default::default()
        };
        let band = aggregate_curves("p", &[c], 1, &options).unwrap().unwrap();
        assert_eq!(band.x.len(), 11);
        assert_eq!(band.x[10], 999.0);
        assert_eq!(band.mean[10], 999.0);
    }

    #[test]
    fn smoothing_is_a_centred_moving_average_that_shrinks_at_the_ends() {
        let c = Curve {
            x: vec![0.0, 1.0, 2.0, 3.0],
            y: vec![0.0, 3.0, 6.0, 9.0],
        };
        assert_eq!(smooth(&c, 3).y, vec![1.5, 3.0, 6.0, 7.5]);
        assert_eq!(smooth(&c, 1).y, c.y);
    }

    #[test]
    fn auto_smoothing_only_touches_long_curves() {
        assert_eq!(Smoothing::Auto.window(21), 1);
        assert_eq!(Smoothing::Auto.window(300), 15);
        assert_eq!(Smoothing::Off.window(5000), 1);
        assert_eq!(Smoothing::Window(0).window(10), 1);
    }
}
