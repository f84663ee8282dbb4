//! Draws bands to PNG and SVG: axes, a shaded interval with thin edges and a mean line per
//! preset, and the legend in its own column.

use super::figure::{write_figure, Figure};
use super::style::{clip_range, ensure_font, padded_range, styled_line, FONT_FAMILY};
use super::{format_tick, preset_color, preset_dash, Band, PlotError, PlotFiles, PlotSpec};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Draws `bands` per `spec` to `{out_stem}.png` and `{out_stem}.svg`.
pub fn write_band_plot(
    bands: &[Band],
    spec: &PlotSpec,
    out_stem: &Path,
) -> Result<PlotFiles, PlotError> {
    ensure_font()?;
    if bands.iter().all(|b| b.x.is_empty()) {
        return Err(PlotError::NoData {
            title: spec.title.clone(),
        });
    }
    write_figure(&BandFigure { bands, spec }, spec.size, out_stem)
}

struct BandFigure<'a> {
    bands: &'a [Band],
    spec: &'a PlotSpec,
}

impl Figure for BandFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        draw_bands(root, self.bands, self.spec)
    }
}

fn draw_bands<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    bands: &[Band],
    spec: &PlotSpec,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;

    let text_width = |text: &str, size: f64| {
        root.estimate_text_size(text, &TextStyle::from((FONT_FAMILY, size).into_font()))
            .map(|(w, _)| w)
            .unwrap_or(text.chars().count() as u32 * (size * 0.6) as u32)
    };
    // Shrinks text that would not fit `max_width` pixels, down to a still legible 11 px.
    let fit = |text: &str, size: f64, max_width: u32| {
        let width = text_width(text, size).max(1);
        if width <= max_width {
            size
        } else {
            (size * f64::from(max_width) / f64::from(width)).max(11.0)
        }
    };

    let note = "line: mean; shade and thin lines: 95% CI";
    let legend_size = 17.0;
    // Legend in its own column right of the chart, so it can never hide a curve; at most a
    // third of the width, with long preset names shortened to fit.
    let max_legend_text = (spec.size.0 / 3).saturating_sub(60);
    let legend_labels: Vec<String> = bands
        .iter()
        .map(|b| {
            let seeds = if b.n_seeds == 1 { "seed" } else { "seeds" };
            let suffix = format!(" ({} {seeds})", b.n_seeds);
            let mut name: String = b.label.clone();
            while !name.is_empty()
                && text_width(&format!("{name}…{suffix}"), legend_size) > max_legend_text
            {
                name.pop();
            }
            if name.len() < b.label.len() {
                format!("{name}…{suffix}")
            } else {
                format!("{name}{suffix}")
            }
        })
        .collect();
    let widest = legend_labels
        .iter()
        .map(|l| text_width(l, legend_size))
        .chain(std::iter::once(text_width(note, 14.0)))
        .max()
        .unwrap_or(100);
    let legend_width = (widest + 60).min(spec.size.0 / 3);
    let chart_width = spec.size.0.saturating_sub(legend_width);
    let (chart_area, legend_area) = root.split_horizontally(chart_width);

    let (x_lo, x_hi) = padded_range(bands.iter().flat_map(|b| b.x.iter().copied()), 0.0);
    let (y_lo, y_hi) = padded_range(
        bands
            .iter()
            .flat_map(|b| b.lower.iter().chain(&b.upper).copied()),
        0.05,
    );
    let (y_lo, y_hi) = clip_range((y_lo, y_hi), spec.y_bounds);
    let x_span = x_hi - x_lo;
    let y_span = y_hi - y_lo;
    // Room for the widest y tick label plus the rotated axis title, no more: a fixed width
    // leaves short labels ("200") floating far from the axis title.
    let tick_width = [y_lo, y_hi, (y_lo + y_hi) / 2.0]
        .iter()
        .map(|v| text_width(&format_tick(*v, y_span), 14.0))
        .max()
        .unwrap_or(40);
    let title_size = fit(&spec.title, 22.0, chart_width.saturating_sub(30));
    let plot_height = spec.size.1.saturating_sub(140);

    let mut chart = ChartBuilder::on(&chart_area)
        .caption(&spec.title, (FONT_FAMILY, title_size))
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(tick_width + 36)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .axis_desc_style((FONT_FAMILY, fit(&spec.y_label, 17.0, plot_height)))
        .label_style((FONT_FAMILY, 14))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| format_tick(*v, x_span))
        .y_label_formatter(&|v| format_tick(*v, y_span))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(e)?;

    // Bands first, all of them, so that no band's fill covers another preset's mean line.
    // Overlapping fills blend into one muddy shade, so each band also gets thin edges in its
    // preset's colour and pattern: a reader can follow where each interval ends.
    for (i, band) in bands.iter().enumerate() {
        let color = preset_color(i);
        if band.n_seeds > 1 && band.x.len() > 1 {
            let outline: Vec<(f64, f64)> = band
                .x
                .iter()
                .copied()
                .zip(band.upper.iter().copied())
                .chain(band.x.iter().copied().zip(band.lower.iter().copied()).rev())
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(outline, color.mix(0.12))))
                .map_err(e)?;
            for edge in [&band.lower, &band.upper] {
                let pts: Vec<(f64, f64)> = band.x.iter().copied().zip(edge.clone()).collect();
                styled_line(&mut chart, pts, i, color.mix(0.6).stroke_width(1)).map_err(e)?;
            }
        }
    }
    for (i, band) in bands.iter().enumerate() {
        let color = preset_color(i);
        let points: Vec<(f64, f64)> = band.x.iter().copied().zip(band.mean.clone()).collect();
        styled_line(&mut chart, points.clone(), i, color.stroke_width(3)).map_err(e)?;
        // Sparse curves (evaluations every N steps) are easier to read with their points shown.
        if points.len() <= 40 {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(e)?;
        }
    }

    let legend_font = (FONT_FAMILY, legend_size).into_font();
    draw_legend(&legend_area, &legend_labels, &legend_font, note).map_err(e)?;
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    font: &FontDesc,
    note: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    // Start below the caption so the first entry lines up with the top of the plot area.
    let top = 60;
    let row = 30;
    for (i, label) in labels.iter().enumerate() {
        let color = preset_color(i);
        let y = top + row * i as i32;
        match preset_dash(i) {
            None => area.draw(&PathElement::new(
                vec![(8, y), (40, y)],
                color.stroke_width(3),
            ))?,
            Some((dash, gap)) => area.draw(&DashedPathElement::new(
                vec![(8, y), (40, y)],
                dash,
                gap,
                color.stroke_width(3),
            ))?,
        }
        area.draw(&Circle::new((24, y), 4, color.filled()))?;
        area.draw(&Text::new(
            label.clone(),
            (48, y),
            font.clone()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    let y = top + row * labels.len() as i32 + 6;
    area.draw(&Text::new(
        note.to_string(),
        (8, y),
        (FONT_FAMILY, 14)
            .into_font()
            .color(&BLACK.mix(0.7))
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(())
}
