//! A report directory from run directories:
//!
//! ```text
//! OUT/report.md      tables + links to the plots
//! OUT/report.html    the same, self-contained (SVGs inlined, no external assets)
//! OUT/summary.json   every number in the tables, for scripts and tests
//! OUT/plots/*.png, *.svg
//! ```
//!
//! Choices that shape the numbers:
//! - Final-metric tables use the `final` block of `run.json` of *finished* runs only: a running
//!   run's numbers are provisional. Running runs still appear in the learning curves.
//! - Intervals are stratified by task (rliable): with one task this is the plain percentile
//!   bootstrap over seeds. With several tasks, scores are pooled without normalisation, so
//!   they should be on one scale (pass@k fractions are); a note in the report says so.
//! - The baseline is the first preset in the order the run directories were given, unless
//!   [`ReportOptions::baseline`] names one. Probability of improvement compares each other
//!   preset with it on the tasks both ran.
//! - Paired differences (`crate::paired`) match each preset's runs with the baseline's by
//!   seed within a task, since the same seed starts from the same model: the mean of
//!   `preset - baseline` over those seeds, a bootstrap CI over seeds and a verdict from the CI.
//!
//! Each file renders one part, so the page formats and the statistics can be read apart:
//! - `report`: loads the runs, computes every section and writes the files.
//! - `tables`: the numbers of the final-metric tables, probability of improvement and the
//!   paired differences.
//! - `curves`: the learning-curve plots under `plots/`.
//! - `markdown`, `html`: the two pages, from the same [`ReportSummary`].
//! - `format`: number and label text shared by both pages.
//! - `summary`: the report as data, also written to `summary.json`.

mod curves;
mod format;
mod front;
mod html;
mod markdown;
mod report;
mod summary;
mod tables;

pub use curves::{slug, CurveSpec, DEFAULT_CURVES};
pub use format::{format_interval, format_value};
pub use front::{read_front, write_front_figure, FrontFile, FRONT_FILE};
pub use report::{render_report, render_report_from_runs};
pub use summary::{
    Improvement, MetricTable, PairedDifference, PlotEntry, PresetRow, ReportSummary, RunEntry,
};

use crate::plots::{CurveOptions, PlotError};
use crate::runs::RunError;
use crate::stats::{BootstrapConfig, StatsError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use thiserror::Error;

pub const REPORT_MD: &str = "report.md";
pub const REPORT_HTML: &str = "report.html";
pub const SUMMARY_JSON: &str = "summary.json";
pub const PLOTS_DIR: &str = "plots";

/// Why a report could not be rendered.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error("no run directories given")]
    NoRuns,
    #[error(transparent)]
    Runs(#[from] RunError),
    #[error(transparent)]
    Stats(#[from] StatsError),
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("baseline preset {baseline:?} is not among the runs (presets: {})", presets.join(", "))]
    UnknownBaseline {
        baseline: String,
        presets: Vec<String>,
    },
    /// A run's Pareto-front file could not be read or drawn; names the file (and line).
    #[error("pareto front: {0}")]
    Front(String),
    #[error("{}: cannot write report: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What to put in the report. `Default` gives every final metric, the default curves, 95%
/// intervals from 10 000 resamples with seed 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    pub title: String,
    /// Final metrics to tabulate, in order; `None`: every metric in any run's `final`.
    pub final_metrics: Option<Vec<String>>,
    /// Curves to draw; `None`: [`DEFAULT_CURVES`] that have data.
    pub curves: Option<Vec<CurveSpec>>,
    /// Intervals of the final-metric tables and probability of improvement.
    pub bootstrap: BootstrapConfig,
    /// Bands of the learning curves.
    pub curve: CurveOptions,
    /// Final metrics where smaller is better (a loss, a length budget): probability of
    /// improvement then counts `x < y`.
    pub lower_is_better: Vec<String>,
    /// Preset to compare against; `None`: the first preset given.
    pub baseline: Option<String>,
    /// Cost-to-target tables ([`crate::to_target`]): steps, samples and seconds until each
    /// target is first reached, as lower-is-better final metrics.
    #[serde(default)]
    pub targets: Vec<crate::to_target::Target>,
    /// Means of per-step log quantities over the end of each run ([`crate::log_means`]), as
    /// final metrics (the entropy, zero-advantage and stability claims).
    #[serde(default)]
    pub log_means: Vec<crate::log_means::LogMean>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            title: "polopt report".to_string(),
            final_metrics: None,
            curves: None,
            bootstrap: BootstrapConfig::default(),
            curve: CurveOptions::default(),
            lower_is_better: Vec::new(),
            baseline: None,
            targets: Vec::new(),
            log_means: Vec::new(),
        }
    }
}
