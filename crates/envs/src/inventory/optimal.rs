//! Known optima of the benchmarks (spec, "Benchmark environments").
//!
//! Backlogged store: base-stock is optimal, with `S* = F^{-1}_{D(L+1)}(p / (p + h))` for the
//! sum of `L + 1` demands, `D(L+1) ~ N(mu (L+1), sigma^2 (L+1))`, and long-run cost per period
//! `(p + h) sigma_{L+1} phi(z*)` (the newsvendor on lead-time-plus-one demand; clipping of the
//! demand at 0 is ignored, P(d < 0) ~ 0.1% for N(5, 1.6^2)).
use super::store::{DemandModel, StoreProblem};

/// `S*` and the optimal cost per period of a backlogged store with normal demand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaseStockOptimum {
    pub level: f64,
    pub cost: f64,
}

/// The closed form; `None` unless the store is backlogged with normal demand.
pub fn backlogged_optimum(p: &StoreProblem) -> Option<BaseStockOptimum> {
    let DemandModel::Normal { mean, std } = p.demand else {
        return None;
    };
    if p.lost_sales {
        return None;
    }
    let periods = (p.lead_time + 1) as f64;
    let sigma = std * periods.sqrt();
    let z = inverse_normal_cdf(p.underage / (p.underage + p.holding));
    Some(BaseStockOptimum {
        level: mean * periods + sigma * z,
        cost: (p.underage + p.holding) * sigma * normal_pdf(z),
    })
}

/// Zipkin's (2008) optimal average costs of the lost-sales store, Poisson(5), h = 1: rows
/// p in {4, 9, 19, 39}, columns L in {1, 2, 3, 4}. The L <= 2, p in {4, 9} entries are checked
/// by the exact DP ([`super::lost_sales_dp`]); the others are quoted, not verified.
pub const ZIPKIN_LOST_SALES: [(f64, [f64; 4]); 4] = [
    (4.0, [4.04, 4.40, 4.60, 4.73]),
    (9.0, [5.44, 6.09, 6.53, 6.84]),
    (19.0, [6.68, 7.66, 8.36, 8.89]),
    (39.0, [7.84, 9.11, 10.04, 10.79]),
];

/// The known optimal cost of a lost-sales store from Zipkin's table, if it lists it.
pub fn lost_sales_table(p: &StoreProblem) -> Option<f64> {
    let DemandModel::Poisson { mean } = p.demand else {
        return None;
    };
    if !p.lost_sales || mean != 5.0 || p.holding != 1.0 || !(1..=4).contains(&p.lead_time) {
        return None;
    }
    ZIPKIN_LOST_SALES
        .iter()
        .find(|(under, _)| *under == p.underage)
        .map(|(_, row)| row[p.lead_time - 1])
}

pub fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// `Phi^{-1}(p)` by Acklam's rational approximation (relative error < 1.2e-9), enough for
/// four decimals of `S*`.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_matches_every_spec_value() {
        // (L, p, S*, cost) from the spec.
        let cases = [
            (4, 9.0, 29.5850, 6.2788),
            (1, 9.0, 12.8998, 3.9711),
            (4, 4.0, 28.0111, 5.0081),
            (4, 19.0, 30.8848, 7.3798),
            (4, 39.0, 32.0122, 8.3640),
        ];
        for (l, p, s, c) in cases {
            let opt = backlogged_optimum(&StoreProblem::backlogged(l, p)).unwrap();
            assert!(
                (opt.level - s).abs() < 6e-5,
                "L={l} p={p}: S* {}",
                opt.level
            );
            assert!(
                (opt.cost - c).abs() < 6e-5,
                "L={l} p={p}: cost {}",
                opt.cost
            );
        }
    }

    #[test]
    fn inverse_cdf_of_known_quantiles() {
        assert!((inverse_normal_cdf(0.9) - 1.2815515655).abs() < 1e-8);
        assert!((inverse_normal_cdf(0.975) - 1.9599639845).abs() < 1e-8);
        assert!((inverse_normal_cdf(0.5)).abs() < 1e-12);
        assert!((inverse_normal_cdf(0.01) + 2.3263478740).abs() < 1e-8);
    }

    #[test]
    fn lost_sales_table_lookup() {
        assert_eq!(
            lost_sales_table(&StoreProblem::lost_sales(1, 4.0)),
            Some(4.04)
        );
        assert_eq!(
            lost_sales_table(&StoreProblem::lost_sales(3, 39.0)),
            Some(10.04)
        );
        assert_eq!(lost_sales_table(&StoreProblem::lost_sales(5, 4.0)), None);
        assert_eq!(lost_sales_table(&StoreProblem::backlogged(1, 4.0)), None);
    }
}
