//! Statistics against reference values from numpy/scipy/rliable
//! (`bench/stats_fixtures/make_fixtures.py` wrote `tests/fixtures/stats_fixtures.json`).
//!
//! Deterministic quantities (mean, median, IQM, probability of improvement) must agree to
//! 1e-12 relative to max(1, |value|): both sides compute the same formula, and only the
//! summation order differs.
//!
//! Bootstrap intervals cannot agree exactly: rliable draws from numpy's Mersenne Twister and we
//! draw from ChaCha8. Each endpoint is a 2.5% or 97.5% quantile estimated from B resamples; its
//! Monte-Carlo standard error is about sqrt(p(1-p)/B) / φ(1.96) ≈ 2.67 σ_b / sqrt(B), where
//! σ_b ≈ width / 3.92 is the bootstrap standard deviation, i.e. ≈ 0.68 · width / sqrt(B). With
//! B = 50 000 on both sides, the difference of two estimates has a standard deviation near
//! 0.0043 · width. We allow 0.04 · width (about 9 standard deviations), widened to one lattice
//! step for statistics that take few distinct values (P(X > Y) on n_x n_y pairs moves in steps
//! of 1/(n_x n_y)), where both sides may land on neighbouring atoms of the distribution.

use polopt_report::stats::{
    bootstrap_ci, iqm, mean, median, probability_of_improvement, probability_of_improvement_ci,
    stratified_bootstrap_ci, stratified_probability_of_improvement, Aggregate, BootstrapConfig,
    ConfidenceInterval,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    bootstrap: FixtureBootstrap,
    single: Vec<Single>,
    pairs: Vec<Pair>,
    stratified: Stratified,
}

#[derive(Deserialize)]
struct FixtureBootstrap {
    resamples: usize,
    confidence: f64,
}

#[derive(Deserialize)]
struct Interval {
    estimate: f64,
    lower: f64,
    upper: f64,
}

#[derive(Deserialize)]
struct Single {
    name: String,
    values: Vec<f64>,
    mean: f64,
    median: f64,
    iqm: f64,
    iqm_scipy_trim_mean: f64,
    mean_ci: Interval,
    iqm_ci: Interval,
}

#[derive(Deserialize)]
struct Pair {
    x: String,
    y: String,
    x_values: Vec<f64>,
    y_values: Vec<f64>,
    probability_of_improvement: f64,
    probability_of_improvement_ci: Interval,
}

#[derive(Deserialize)]
struct Stratified {
    x_strata: Vec<Vec<f64>>,
    y_strata: Vec<Vec<f64>>,
    mean: f64,
    iqm: f64,
    probability_of_improvement: f64,
    mean_ci: Interval,
    iqm_ci: Interval,
    probability_of_improvement_ci: Interval,
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/stats_fixtures.json");
    serde_json::from_str(text).expect("fixture JSON matches the test's schema")
}

fn config(f: &Fixture) -> BootstrapConfig {
    BootstrapConfig {
        resamples: f.bootstrap.resamples,
        confidence: f.bootstrap.confidence,
        seed: 2024,
    }
}

fn assert_exact(what: &str, got: f64, want: f64) {
    let tol = 1e-12 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.17}, reference {want:.17}"
    );
}

fn assert_interval(what: &str, got: &ConfidenceInterval, want: &Interval, lattice: f64) {
    assert_exact(&format!("{what} estimate"), got.estimate, want.estimate);
    let tol = (0.04 * (want.upper - want.lower)).max(lattice);
    for (end, g, w) in [
        ("lower", got.lower, want.lower),
        ("upper", got.upper, want.upper),
    ] {
        assert!(
            (g - w).abs() <= tol,
            "{what} {end}: got {g}, rliable {w}, tolerance {tol}"
        );
    }
}

#[test]
fn point_statistics_match_numpy_scipy_and_rliable_to_1e_12() {
    let f = fixture();
    for s in &f.single {
        let iqm_value = iqm(&s.values).unwrap();
        assert_exact(
            &format!("{} mean", s.name),
            mean(&s.values).unwrap(),
            s.mean,
        );
        assert_exact(
            &format!("{} median", s.name),
            median(&s.values).unwrap(),
            s.median,
        );
        assert_exact(&format!("{} IQM", s.name), iqm_value, s.iqm);
        assert_exact(
            &format!("{} trim_mean", s.name),
            iqm_value,
            s.iqm_scipy_trim_mean,
        );
    }
}

#[test]
fn probability_of_improvement_matches_rliable_to_1e_12() {
    let f = fixture();
    for p in &f.pairs {
        assert_exact(
            &format!("P({} > {})", p.x, p.y),
            probability_of_improvement(&p.x_values, &p.y_values).unwrap(),
            p.probability_of_improvement,
        );
    }
    let s = &f.stratified;
    let x: Vec<&[f64]> = s.x_strata.iter().map(Vec::as_slice).collect();
    let y: Vec<&[f64]> = s.y_strata.iter().map(Vec::as_slice).collect();
    assert_exact(
        "stratified P(X > Y)",
        stratified_probability_of_improvement(&x, &y).unwrap(),
        s.probability_of_improvement,
    );
    assert_exact(
        "stratified mean",
        Aggregate::Mean.of_strata(&x).unwrap(),
        s.mean,
    );
    assert_exact(
        "stratified IQM",
        Aggregate::Iqm.of_strata(&x).unwrap(),
        s.iqm,
    );
}

#[test]
fn bootstrap_intervals_match_rliable_within_monte_carlo_error() {
    let f = fixture();
    let cfg = config(&f);
    for s in &f.single {
        let mean_ci = bootstrap_ci(&s.values, Aggregate::Mean, &cfg).unwrap();
        let iqm_ci = bootstrap_ci(&s.values, Aggregate::Iqm, &cfg).unwrap();
        assert_interval(&format!("{} mean CI", s.name), &mean_ci, &s.mean_ci, 0.0);
        assert_interval(&format!("{} IQM CI", s.name), &iqm_ci, &s.iqm_ci, 0.0);
    }
    for p in &f.pairs {
        let got = probability_of_improvement_ci(&[&p.x_values], &[&p.y_values], &cfg).unwrap();
        let lattice = 1.0 / (p.x_values.len() * p.y_values.len()) as f64;
        assert_interval(
            &format!("P({} > {}) CI", p.x, p.y),
            &got,
            &p.probability_of_improvement_ci,
            lattice,
        );
    }
}

#[test]
fn stratified_intervals_match_rliable_within_monte_carlo_error() {
    let f = fixture();
    let cfg = config(&f);
    let s = &f.stratified;
    let x: Vec<&[f64]> = s.x_strata.iter().map(Vec::as_slice).collect();
    let y: Vec<&[f64]> = s.y_strata.iter().map(Vec::as_slice).collect();
    assert_interval(
        "stratified mean CI",
        &stratified_bootstrap_ci(&x, Aggregate::Mean, &cfg).unwrap(),
        &s.mean_ci,
        0.0,
    );
    assert_interval(
        "stratified IQM CI",
        &stratified_bootstrap_ci(&x, Aggregate::Iqm, &cfg).unwrap(),
        &s.iqm_ci,
        0.0,
    );
    // Averaged over 3 tasks, P moves in steps of 1/(3 n_x n_y).
    let lattice = 1.0 / (3 * x[0].len() * y[0].len()) as f64;
    assert_interval(
        "stratified P(X > Y) CI",
        &probability_of_improvement_ci(&x, &y, &cfg).unwrap(),
        &s.probability_of_improvement_ci,
        lattice,
    );
}
