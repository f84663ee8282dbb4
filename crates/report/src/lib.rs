//! polopt-report: multi-seed statistics, learning-curve plots and reports for polopt runs.
//!
//! The report layer (design/architecture.md, layer 5) reads run directories written by the
//! trainer and never trains; `polopt report RUN_DIR...` and `polopt compare` call
//! [`render_report`].
//!
//! Map of the crate, bottom up:
//! - [`stats`]: mean, median, IQM, probability of improvement, and percentile / stratified
//!   bootstrap confidence intervals (rliable's definitions), on plain slices with a seeded
//!   `ChaCha8Rng`. Checked against numpy/scipy/rliable fixtures in `tests/fixtures/`.
//! - [`paired`]: the paired comparison with the baseline: per-seed differences (same seed =
//!   same warm start), their mean with a bootstrap CI over seeds, and a verdict from the CI.
//! - [`runs`]: `run.json` + `metrics.jsonl` into typed [`Run`]s, grouped by preset; per-run
//!   curves and final values; errors name the file and line.
//! - [`plots`]: learning curves across seeds (mean line, 95% bootstrap band, one colour per
//!   preset) as PNG and SVG, with an embedded font so output does not depend on the machine.
//! - [`render`]: the report directory: final-metric tables (mean, IQM, their CIs), probability
//!   of improvement over the baseline preset, paired differences against it, plots, `report.md`, a self-contained
//!   `report.html` and `summary.json`.
//! - [`to_target`]: steps, samples and seconds until a metric first reaches a target, as
//!   lower-is-better final metrics (sample-efficiency claims).
//! - [`log_means`]: means of per-step log quantities (entropy, the share of groups with a
//!   learning signal, gradient-norm spread) over the end of a run, as final metrics.

pub mod log_means;
pub mod paired;
pub mod plots;
pub mod render;
pub mod runs;
pub mod stats;
pub mod to_target;

pub use paired::{
    compare_paired, paired_bootstrap_ci, paired_differences, paired_interval, PairedResult, Pairs,
    Verdict,
};
pub use plots::{
    aggregate_curves, metric_bounds, metric_label, plot_learning_curves, write_band_plot,
    write_front_plot, Band, CurveOptions, FrontSeries, FrontSpec, PlotError, PlotFiles, PlotSpec,
    Smoothing,
};
pub use render::{
    read_front, render_report, render_report_from_runs, write_front_figure, CurveSpec, FrontFile,
    Improvement, MetricTable, PairedDifference, PlotEntry, PresetRow, ReportError, ReportOptions,
    ReportSummary, RunEntry, DEFAULT_CURVES,
};
pub use runs::{
    group_by_preset, load_runs, Curve, MetricRecord, PresetGroup, Run, RunError, RunInfo, RunStatus,
};
pub use stats::{
    bootstrap_ci, iqm, mean, median, probability_of_improvement, probability_of_improvement_ci,
    stratified_bootstrap_ci, stratified_probability_of_improvement, Aggregate, BootstrapConfig,
    ConfidenceInterval, StatsError,
};
