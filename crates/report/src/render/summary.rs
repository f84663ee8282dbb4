//! The report as data: what the tables, plots and run list show, also written to
//! `summary.json` so scripts and tests need not parse the pages.

use crate::paired::PairedResult;
use crate::runs::RunStatus;
use crate::stats::{BootstrapConfig, ConfidenceInterval};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One preset's row in a final-metric table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresetRow {
    pub preset: String,
    /// Finished runs that reported the metric (summed over tasks when there are several).
    pub n_seeds: usize,
    /// `None` when no run reported the metric.
    pub mean: Option<ConfidenceInterval>,
    pub iqm: Option<ConfidenceInterval>,
    pub median: Option<f64>,
}

/// The table of one final metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricTable {
    pub metric: String,
    pub higher_is_better: bool,
    pub rows: Vec<PresetRow>,
}

/// Probability that `preset` beats `baseline` on `metric`, with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Improvement {
    pub metric: String,
    pub preset: String,
    pub baseline: String,
    pub probability: ConfidenceInterval,
    /// The tasks (strata) both presets have finished runs on.
    pub tasks: Vec<String>,
}

/// The paired difference `preset - baseline` on `metric`, over the seeds both ran (same seed =
/// same warm start), matched within each task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    pub metric: String,
    pub preset: String,
    pub baseline: String,
    pub higher_is_better: bool,
    /// The tasks both presets have finished runs on, where either reported the metric.
    pub tasks: Vec<String>,
    /// Mean difference, CI, pairs, unmatched runs and verdict (flattened into this object in
    /// `summary.json`).
    #[serde(flatten)]
    pub result: PairedResult,
}

/// A plot written under `plots/`; paths are relative to the report directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlotEntry {
    pub x_metric: String,
    pub y_metric: String,
    pub png: PathBuf,
    pub svg: PathBuf,
}

/// A run as listed in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEntry {
    pub preset: String,
    pub task: String,
    pub seed: u64,
    pub status: RunStatus,
    pub dir: PathBuf,
}

/// Everything the report shows, as data; also written to `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub out_dir: PathBuf,
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub summary_json: PathBuf,
    pub baseline: String,
    pub presets: Vec<String>,
    pub tasks: Vec<String>,
    pub runs: Vec<RunEntry>,
    pub bootstrap: BootstrapConfig,
    pub tables: Vec<MetricTable>,
    pub improvements: Vec<Improvement>,
    /// Whether [`crate::ReportOptions::baseline`] named the baseline (else it is the first
    /// preset given). Absent from summaries written before paired differences existed.
    #[serde(default)]
    pub baseline_named: bool,
    /// Paired differences against the baseline, per metric and preset (metric-major).
    #[serde(default)]
    pub paired: Vec<PairedDifference>,
    pub plots: Vec<PlotEntry>,
    /// Things a reader should know: running runs left out of the tables, truncated metrics
    /// files, curves that could not be drawn.
    pub warnings: Vec<String>,
    /// Facts about how a number was measured that are not problems (how many runs reached a
    /// target, and how the others are counted). Absent from summaries written before notes.
    #[serde(default)]
    pub notes: Vec<String>,
}
