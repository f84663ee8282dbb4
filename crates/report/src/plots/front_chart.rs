//! The Pareto-front figure of a multi-objective comparison: the true front as hollow black
//! circles joined by a line, and for each preset the points its archives found, marker size
//! growing with the share of seeds that found the point. Two objectives only.
use super::figure::{write_figure, Figure};
use super::style::{ensure_font, padded_range, FONT_FAMILY};
use super::{format_tick, preset_color, PlotError, PlotFiles};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One preset's found points: `(point, share of seeds that found it)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontSeries {
    pub label: String,
    pub points: Vec<([f64; 2], f64)>,
}

/// Axis titles and picture size of a front plot.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontSpec {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub size: (u32, u32),
}

/// Draws the fronts to `{out_stem}.png` and `{out_stem}.svg`.
pub fn write_front_plot(
    series: &[FrontSeries],
    truth: &[[f64; 2]],
    spec: &FrontSpec,
    out_stem: &Path,
) -> Result<PlotFiles, PlotError> {
    ensure_font()?;
    if truth.is_empty() && series.iter().all(|s| s.points.is_empty()) {
        return Err(PlotError::NoData {
            title: spec.title.clone(),
        });
    }
    write_figure(
        &FrontFigure {
            series,
            truth,
            spec,
        },
        spec.size,
        out_stem,
    )
}

struct FrontFigure<'a> {
    series: &'a [FrontSeries],
    truth: &'a [[f64; 2]],
    spec: &'a FrontSpec,
}

impl Figure for FrontFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self.series, self.truth, self.spec)
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[FrontSeries],
    truth: &[[f64; 2]],
    spec: &FrontSpec,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let all = || {
        truth
            .iter()
            .copied()
            .chain(series.iter().flat_map(|s| s.points.iter().map(|(p, _)| *p)))
    };
    let x_range = padded_range(all().map(|p| p[0]), 0.05);
    let y_range = padded_range(all().map(|p| p[1]), 0.08);
    let (x_span, y_span) = (x_range.1 - x_range.0, y_range.1 - y_range.0);
    let mut chart = ChartBuilder::on(root)
        .caption(&spec.title, (FONT_FAMILY, 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(spec.x_label.as_str())
        .y_desc(spec.y_label.as_str())
        .x_label_formatter(&|v| format_tick(*v, x_span))
        .y_label_formatter(&|v| format_tick(*v, y_span))
        .label_style((FONT_FAMILY, 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    let mut sorted = truth.to_vec();
    sorted.sort_by(|a, b| a[0].total_cmp(&b[0]));
    chart
        .draw_series(LineSeries::new(
            sorted.iter().map(|p| (p[0], p[1])),
            BLACK.mix(0.35).stroke_width(1),
        ))
        .map_err(e)?;
    chart
        .draw_series(
            sorted
                .iter()
                .map(|p| Circle::new((p[0], p[1]), 9, BLACK.stroke_width(1))),
        )
        .map_err(e)?
        .label("true front")
        .legend(|(x, y)| Circle::new((x, y), 6, BLACK.stroke_width(1)));
    for (k, s) in series.iter().enumerate() {
        let color = preset_color(k);
        // Presets side by side around the true point, so that none hides another.
        let shift = (k as f64 - (series.len() as f64 - 1.0) / 2.0) * x_span * 0.008;
        chart
            .draw_series(s.points.iter().map(|(p, share)| {
                let radius = (2.0 + 5.0 * share.clamp(0.0, 1.0)).round() as i32;
                Circle::new((p[0] + shift, p[1]), radius, color.filled())
            }))
            .map_err(e)?
            .label(s.label.as_str())
            .legend(move |(x, y)| Circle::new((x, y), 5, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT_FAMILY, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(e)?;
    Ok(())
}
