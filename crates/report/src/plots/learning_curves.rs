//! The learning-curve figure of one metric: every preset's runs aggregated into bands, with
//! titles, axis labels and bounds chosen from the metric names.

use super::{
    aggregate_curves, metric_bounds, metric_label, write_band_plot, CurveOptions, PlotError,
    PlotFiles, PlotSpec,
};
use crate::runs::{Curve, PresetGroup};
use std::path::Path;

/// The learning curve of `y_metric` against `x_metric` for every preset, written to
/// `{out_stem}.png` and `{out_stem}.svg`. Presets with no data for the metric are left out;
/// [`PlotError::NoData`] if none has any.
pub fn plot_learning_curves(
    groups: &[PresetGroup<'_>],
    x_metric: &str,
    y_metric: &str,
    options: &CurveOptions,
    out_stem: &Path,
) -> Result<PlotFiles, PlotError> {
    let per_group: Vec<Vec<Curve>> = groups
        .iter()
        .map(|g| g.runs.iter().map(|r| r.curve(x_metric, y_metric)).collect())
        .collect();
    let longest = per_group
        .iter()
        .flatten()
        .map(Curve::len)
        .max()
        .unwrap_or(0);
    let window = options.smoothing.window(longest);
    let mut bands = Vec::new();
    for (group, curves) in groups.iter().zip(&per_group) {
        if let Some(band) = aggregate_curves(&group.preset, curves, window, options)? {
            bands.push(band);
        }
    }
    let smoothing = if window > 1 {
        format!(", smoothed over {window} points")
    } else {
        String::new()
    };
    let spec = PlotSpec {
        title: format!(
            "{y_metric}: mean over seeds, {:.0}% bootstrap CI{smoothing}",
            options.bootstrap.confidence * 100.0
        ),
        x_label: metric_label(x_metric),
        y_label: metric_label(y_metric),
        size: (1100, 620),
        y_bounds: metric_bounds(y_metric),
    };
    write_band_plot(&bands, &spec, out_stem)
}
