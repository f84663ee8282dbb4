//! Reading a cumulative-regret curve against √T-style references: the log-log slope of
//! `R(t)` (1/2 for √T regret, 1 for linear regret, about 0 once it has stopped growing).
use std::collections::BTreeMap;

/// Least-squares slope of `ln max(R(t), 1)` against `ln t` over `points` log-spaced times in
/// `[from, T]` (`regret[t-1] = R(t)`, `T = regret.len()`). The floor at 1 keeps the logarithm
/// defined when the realised regret of a near-optimal learner dips to or below zero (it is a
/// sum of `J* − r_t`, not of gaps).
pub fn loglog_slope(regret: &[f64], from: usize, points: usize) -> f64 {
    let horizon = regret.len();
    let from = from.max(1);
    if from >= horizon || points < 2 {
        return f64::NAN;
    }
    let (lo, hi) = ((from as f64).ln(), (horizon as f64).ln());
    let mut times: Vec<usize> = (0..points)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / (points - 1) as f64;
            (x.exp().round() as usize).clamp(1, horizon)
        })
        .collect();
    times.dedup();
    let xs: Vec<f64> = times.iter().map(|&t| (t as f64).ln()).collect();
    let ys: Vec<f64> = times.iter().map(|&t| regret[t - 1].max(1.0).ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    cov / var
}

/// The two slopes every regret solver reports: `regret_slope` over the second half of the
/// log-log curve, `t ∈ [√T, T]`, and `regret_slope_last_decade` over `t ∈ [T/10, T]`, which
/// leaves out the early exploration burst and reads the late growth rate.
pub fn insert_slopes(metrics: &mut BTreeMap<String, f64>, regret: &[f64]) {
    let horizon = regret.len();
    let sqrt = (horizon as f64).sqrt().round() as usize;
    metrics.insert("regret_slope".into(), loglog_slope(regret, sqrt, 50));
    metrics.insert(
        "regret_slope_last_decade".into(),
        loglog_slope(regret, horizon / 10, 50),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_power_laws() {
        let sqrt: Vec<f64> = (1..=10_000).map(|t| 10.0 * (t as f64).sqrt()).collect();
        assert!((loglog_slope(&sqrt, 100, 50) - 0.5).abs() < 1e-3);
        let linear: Vec<f64> = (1..=10_000).map(|t| 2.0 * t as f64).collect();
        assert!((loglog_slope(&linear, 1000, 50) - 1.0).abs() < 1e-3);
        let flat = vec![50.0; 10_000];
        assert!(loglog_slope(&flat, 100, 50).abs() < 1e-9);
    }

    #[test]
    fn the_two_windows_see_a_burst_differently() {
        // Linear until t = 1000, flat after: the late window sees no growth.
        let burst: Vec<f64> = (1..=10_000).map(|t| t.min(1000) as f64).collect();
        let mut m = BTreeMap::new();
        insert_slopes(&mut m, &burst);
        assert!(m["regret_slope"] > 0.3, "{m:?}");
        assert!(m["regret_slope_last_decade"].abs() < 1e-9, "{m:?}");
    }
}
