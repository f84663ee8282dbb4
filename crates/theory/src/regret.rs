//! Reading a cumulative-regret curve against √T-style references: the log-log slope of
//! `R(t)` (1/2 for √T regret, 1 for linear regret, about 0 once it has stopped growing).

/// Least-squares slope of `ln max(R(t), 1)` against `ln t` over `points` log-spaced times in
/// the second half of the log-log curve, `t ∈ [√T, T]` (`regret[t-1] = R(t)`, `T =
/// regret.len()`). The floor at 1 keeps the logarithm defined when the realised regret of a
/// near-optimal learner dips to or below zero (it is a sum of `J* − r_t`, not of gaps).
pub fn loglog_slope(regret: &[f64], points: usize) -> f64 {
    let horizon = regret.len();
    if horizon < 4 || points < 2 {
        return f64::NAN;
    }
    let (lo, hi) = ((horizon as f64).sqrt().ln(), (horizon as f64).ln());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_power_laws() {
        let sqrt: Vec<f64> = (1..=10_000).map(|t| 10.0 * (t as f64).sqrt()).collect();
        assert!((loglog_slope(&sqrt, 50) - 0.5).abs() < 1e-3);
        let linear: Vec<f64> = (1..=10_000).map(|t| 2.0 * t as f64).collect();
        assert!((loglog_slope(&linear, 50) - 1.0).abs() < 1e-3);
        let flat = vec![50.0; 10_000];
        assert!(loglog_slope(&flat, 50).abs() < 1e-9);
    }
}
