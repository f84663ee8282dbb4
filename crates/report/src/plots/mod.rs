//! Learning curves across seeds: one line per preset (the mean over seeds) with a shaded 95%
//! bootstrap band, written as PNG and SVG.
//!
//! Each file does one stage of the figure, so the statistics can be read apart from the drawing:
//! - `aggregate`: per-seed curves into one [`Band`] per preset (smoothing, seed alignment,
//!   bootstrap band).
//! - `learning_curves`: the learning-curve figure of one metric across presets.
//! - `band_chart`: drawing bands to PNG and SVG (axes, shaded intervals, mean lines, legend).
//! - `figure`: one figure to PNG and SVG, shared by the charts.
//! - `front_chart`: a two-objective Pareto-front figure (multi-objective comparisons).
//! - `labels`: axis titles and axis bounds per metric name.
//! - `style`: shared by every figure: the embedded font, preset colours and dashes, axis
//!   ranges and tick text.

mod aggregate;
mod band_chart;
mod figure;
mod front_chart;
mod labels;
mod learning_curves;
mod style;

pub use aggregate::{aggregate_curves, Band, CurveOptions, Smoothing};
pub use band_chart::write_band_plot;
pub use front_chart::{write_front_plot, FrontSeries, FrontSpec};
pub use labels::{metric_bounds, metric_label};
pub use learning_curves::plot_learning_curves;
pub use style::{format_tick, preset_color, preset_dash};

use crate::stats::StatsError;
use std::path::PathBuf;
use thiserror::Error;

/// Why a plot could not be drawn or written.
#[derive(Debug, Error)]
pub enum PlotError {
    #[error("embedded font could not be loaded by plotters (assets/DejaVuSans.ttf is damaged)")]
    Font,
    #[error("{}: cannot draw plot: {message}", path.display())]
    Draw { path: PathBuf, message: String },
    #[error("{}: cannot write plot: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plot {title:?}: no data to draw")]
    NoData { title: String },
    #[error(transparent)]
    Stats(#[from] StatsError),
}

/// Titles and axis labels of one plot.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Pixels, for the PNG; the SVG uses the same size.
    pub size: (u32, u32),
    /// `(floor, ceiling)` of the y axis ([`metric_bounds`]); `(None, None)` fits the data.
    pub y_bounds: (Option<f64>, Option<f64>),
}

/// Files written for one plot; `svg` is also returned inline for HTML reports.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotFiles {
    pub png: PathBuf,
    pub svg: PathBuf,
    pub svg_text: String,
}
