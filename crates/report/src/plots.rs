//! Learning curves across seeds: one line per preset (the mean over seeds) with a shaded 95%
//! bootstrap band, written as PNG and SVG.
//!
//! Long, noisy per-step curves are smoothed per seed first ([`Smoothing`]). Seeds are then
//! aligned on a common x grid before averaging: when every seed logged the same x
//! values those are used as they are; otherwise the grid is restricted to the x range that all
//! seeds cover (a mean over a changing set of seeds would jump where one seed stops) and each
//! seed is linearly interpolated onto it. Long grids are thinned to `max_points` evenly spaced
//! x values.
//!
//! The band at every x comes from the same resampled sets of seeds (one `ChaCha8Rng` seed for
//! the whole curve), so it is a bootstrap over whole curves rather than independent per-step
//! intervals.
//!
//! Text is laid out with the DejaVu Sans font embedded in the crate (`assets/`), so the PNGs
//! look the same on any machine, with no system font or fontconfig needed.

use crate::runs::{Curve, PresetGroup, STEP};
use crate::stats::{bootstrap_ci, Aggregate, BootstrapConfig, StatsError};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use thiserror::Error;

/// DejaVu Sans 2.37 from Debian's fonts-dejavu-core; licence in `assets/DejaVuSans-LICENSE.txt`.
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FONT_FAMILY: &str = "sans-serif";

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

/// Registers the embedded font with plotters once per process; every text element below uses
/// `FONT_FAMILY`, which resolves to it.
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// A human label with units for a metric name, e.g. `entropy` -> "policy entropy (nats/token)".
/// Unknown names are returned unchanged so any logged field can be plotted.
pub fn metric_label(name: &str) -> String {
    // The trainer's eval/pass@1 is greedy decoding; pass@k (k > 1) and sampled_pass@1 are
    // unbiased estimates from samples at the eval temperature.
    if name == "eval/pass@1" {
        return "eval pass@1, greedy (fraction of problems solved)".to_string();
    }
    if let Some(k) = name.strip_prefix("eval/pass@") {
        return format!("eval pass@{k}, sampled (fraction of problems solved)");
    }
    if let Some(k) = name.strip_prefix("eval/sampled_pass@") {
        return format!("eval pass@{k}, sampled (fraction of problems solved)");
    }
    let known = match name {
        STEP => "RL step (one rollout batch and its updates)",
        "env_steps" => "environment steps (transitions)",
        "reward_mean" => "mean reward per response",
        "accuracy" => "training accuracy (fraction correct)",
        "entropy" => "policy entropy (nats/token)",
        "kl" => "KL to reference policy (nats/token)",
        "approx_kl" => "approx. KL to the rollout policy (nats/token)",
        "clip_frac_low" => "clipped fraction, low side (fraction of tokens)",
        "clip_frac_high" => "clipped fraction, high side (fraction of tokens)",
        "response_len_mean" => "mean response length (tokens)",
        "grad_norm" => "gradient norm (L2, before clipping)",
        "tokens_per_s" => "throughput (tokens/s)",
        "step_time_s" => "step time (s)",
        "episodic_return" => "episodic return (sum of rewards)",
        "eval/return" => "evaluation return (sum of rewards)",
        "eval/return_mean" => "evaluation return (mean over episodes)",
        "episode_return_mean" => "training episodic return (sum of rewards)",
        "eval/response_len" => "eval response length (tokens)",
        "truncated_frac" => "truncated responses (fraction)",
        _ => return name.to_string(),
    };
    known.to_string()
}

/// The range a metric cannot leave, `(floor, ceiling)`: the y axis is clipped to it, so a
/// fraction near 0 is not drawn on an axis running to -1, and a length never shows negative
/// ticks. Unknown metrics are unbounded.
pub fn metric_bounds(name: &str) -> (Option<f64>, Option<f64>) {
    let fraction = name.starts_with("eval/pass@")
        || name.starts_with("eval/sampled_pass@")
        || name.starts_with("clip_frac")
        || matches!(name, "accuracy" | "truncated_frac");
    let non_negative = matches!(
        name,
        "entropy"
            | "kl"
            | "approx_kl"
            | "response_len_mean"
            | "eval/response_len"
            | "grad_norm"
            | "tokens_per_s"
            | "step_time_s"
            | "env_steps"
            | STEP
    );
    if fraction {
        (Some(0.0), Some(1.0))
    } else if non_negative {
        (Some(0.0), None)
    } else {
        (None, None)
    }
}

/// How per-seed curves are smoothed before averaging seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Smoothing {
    /// Plot logged values as they are.
    Off,
    /// Per-step metrics logged at hundreds of steps are too noisy to read raw: curves longer
    /// than 60 points get a centred moving average over `ceil(points / 20)` points (the
    /// longest curve of the plot decides, so all presets are smoothed alike); sparse curves
    /// such as evaluations are left raw. A window of 1/20 of the run was chosen by looking at
    /// real 200-step runs: 1/60 left clip fractions and lengths a jagged band that hid the
    /// trend between presets.
    Auto,
    /// Centred moving average over this many logged points.
    Window(usize),
}

impl Smoothing {
    /// The window for a plot whose longest per-seed curve has `max_len` points.
    pub fn window(self, max_len: usize) -> usize {
        match self {
            Smoothing::Off => 1,
            Smoothing::Auto if max_len > 60 => max_len.div_ceil(20),
            Smoothing::Auto => 1,
            Smoothing::Window(w) => w.max(1),
        }
    }
}

/// How learning-curve bands are computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurveOptions {
    /// Resamples, confidence and seed of the per-x band. Fewer resamples than the final
    /// tables by default: a band is read by eye.
    pub bootstrap: BootstrapConfig,
    /// At most this many x values per curve.
    pub max_points: usize,
    pub smoothing: Smoothing,
}

impl Default for CurveOptions {
    fn default() -> Self {
        Self {
            bootstrap: BootstrapConfig {
                resamples: 1000,
                ..BootstrapConfig::default()
            },
            max_points: 400,
            smoothing: Smoothing::Auto,
        }
    }
}

/// One preset's curve across seeds: mean and band at each x.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub label: String,
    pub n_seeds: usize,
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

/// Smooths each seed's curve with a centred moving average of `smoothing_window` points,
/// aligns the seeds (see module docs) and computes the mean and bootstrap band. Returns `None`
/// when no seed has a point, or the seeds share no x range.
pub fn aggregate_curves(
    label: &str,
    curves: &[Curve],
    smoothing_window: usize,
    options: &CurveOptions,
) -> Result<Option<Band>, PlotError> {
    // Curves are public data: re-establish sorted, finite, one-point-per-x before indexing.
    let curves: Vec<Curve> = curves
        .iter()
        .map(|c| Curve::from_points(c.x.iter().copied().zip(c.y.iter().copied())))
        .filter(|c| !c.is_empty())
        .map(|c| smooth(&c, smoothing_window))
        .collect();
    let Some(grid) = common_grid(&curves, options.max_points.max(2)) else {
        return Ok(None);
    };
    let per_seed: Vec<Vec<f64>> = curves.iter().map(|c| interpolate(c, &grid)).collect();
    let mut band = Band {
        label: label.to_string(),
        n_seeds: curves.len(),
        x: grid,
        mean: Vec::new(),
        lower: Vec::new(),
        upper: Vec::new(),
    };
    let mut column = vec![0.0; curves.len()];
    for j in 0..band.x.len() {
        for (c, seed) in column.iter_mut().zip(&per_seed) {
            *c = seed[j];
        }
        let ci = bootstrap_ci(&column, Aggregate::Mean, &options.bootstrap)?;
        band.mean.push(ci.estimate);
        band.lower.push(ci.lower);
        band.upper.push(ci.upper);
    }
    Ok(Some(band))
}

/// Centred moving average: point i averages the points within `window / 2` on each side
/// (fewer at the ends). Centred rather than trailing so smoothing does not shift curves right.
fn smooth(curve: &Curve, window: usize) -> Curve {
    if window <= 1 {
        return curve.clone();
    }
    let half = window / 2;
    let mut prefix = Vec::with_capacity(curve.len() + 1);
    prefix.push(0.0);
    for &v in &curve.y {
        prefix.push(prefix[prefix.len() - 1] + v);
    }
    let y = (0..curve.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(curve.len());
            (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect();
    Curve {
        x: curve.x.clone(),
        y,
    }
}

fn common_grid(curves: &[Curve], max_points: usize) -> Option<Vec<f64>> {
    let first = curves.first()?;
    let grid = if curves.iter().all(|c| c.x == first.x) {
        first.x.clone()
    } else {
        let lo = curves.iter().map(|c| c.x[0]).fold(f64::MIN, f64::max);
        let hi = curves
            .iter()
            .map(|c| c.x[c.len() - 1])
            .fold(f64::MAX, f64::min);
        if lo > hi {
            return None;
        }
        let mut xs: Vec<f64> = curves
            .iter()
            .flat_map(|c| c.x.iter().copied())
            .filter(|&x| lo <= x && x <= hi)
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    };
    if grid.len() <= max_points {
        return Some(grid);
    }
    let (lo, hi) = (grid[0], grid[grid.len() - 1]);
    let last = (max_points - 1) as f64;
    Some(
        (0..max_points)
            .map(|i| lo + (hi - lo) * i as f64 / last)
            .collect(),
    )
}

/// Linear interpolation of `curve` at each `x` (all within the curve's range by construction;
/// outside it the nearest end value is used).
fn interpolate(curve: &Curve, grid: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(grid.len());
    let mut k = 0;
    for &x in grid {
        while k + 1 < curve.len() && curve.x[k + 1] <= x {
            k += 1;
        }
        let y = if k + 1 >= curve.len() || x <= curve.x[k] {
            curve.y[k]
        } else {
            let t = (x - curve.x[k]) / (curve.x[k + 1] - curve.x[k]);
            curve.y[k] + t * (curve.y[k + 1] - curve.y[k])
        };
        out.push(y);
    }
    out
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
    let png = out_stem.with_extension("png");
    let svg = out_stem.with_extension("svg");
    let draw_err = |path: &Path| {
        let path = path.to_path_buf();
        move |message: String| PlotError::Draw { path, message }
    };

    {
        let root = BitMapBackend::new(&png, spec.size).into_drawing_area();
        draw_bands(&root, bands, spec).map_err(draw_err(&png))?;
        root.present()
            .map_err(|e| e.to_string())
            .map_err(draw_err(&png))?;
    }
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, spec.size).into_drawing_area();
        draw_bands(&root, bands, spec).map_err(draw_err(&svg))?;
        root.present()
            .map_err(|e| e.to_string())
            .map_err(draw_err(&svg))?;
    }
    std::fs::write(&svg, &svg_text).map_err(|source| PlotError::Io {
        path: svg.clone(),
        source,
    })?;
    Ok(PlotFiles { png, svg, svg_text })
}

/// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. Yellow is
/// left out: it vanishes on white. Dark red, grey and dark green follow, so that a comparison
/// of up to ten presets (issue 4 compares eight) never gives two presets one colour.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(153, 0, 0),
    RGBColor(110, 110, 110),
    RGBColor(0, 90, 50),
];

pub fn preset_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Dash pattern `(dash, gap)` in pixels of the preset at `index`: solid, dashed, dotted in
/// turn. Presets that end up close (GRPO and Dr. GRPO from one warm start) otherwise draw one
/// line over the other and the first disappears; with patterns both stay visible, also in
/// greyscale.
pub fn preset_dash(index: usize) -> Option<(u32, u32)> {
    match index % 3 {
        0 => None,
        1 => Some((12, 6)),
        _ => Some((3, 5)),
    }
}

/// A polyline in the preset's colour and dash pattern.
fn styled_line<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: Vec<(f64, f64)>,
    index: usize,
    style: ShapeStyle,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    match preset_dash(index) {
        None => chart
            .draw_series(LineSeries::new(points, style))
            .map(|_| ()),
        Some((dash, gap)) => chart
            .draw_series(DashedLineSeries::new(points, dash, gap, style))
            .map(|_| ()),
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

/// `(min, max)` of finite values, widened by `pad` of the span on each side; a flat range is
/// widened so the axis is still drawable.
fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= 0.0 {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    (lo - span * pad, hi + span * pad)
}

/// `range` clipped to `bounds`; a range squeezed to nothing against a bound (a fraction that
/// stayed 0) is reopened on the inside of that bound.
fn clip_range(range: (f64, f64), bounds: (Option<f64>, Option<f64>)) -> (f64, f64) {
    let (mut lo, mut hi) = range;
    let span = hi - lo;
    if let Some(floor) = bounds.0 {
        lo = lo.max(floor);
    }
    if let Some(ceiling) = bounds.1 {
        hi = hi.min(ceiling);
    }
    if hi > lo {
        return (lo, hi);
    }
    match bounds {
        (Some(f), Some(c)) if lo >= c => ((c - span.max(0.1)).max(f), c),
        (Some(f), Some(c)) => (f, (f + span.max(0.1)).min(c)),
        (Some(f), None) => (f, f + span.max(1.0)),
        (None, Some(c)) => (c - span.max(1.0), c),
        (None, None) => (lo, hi),
    }
}

/// Tick text with as few decimals as the tick needs, and k/M suffixes for large counts
/// (env steps), so labels stay short and never overlap.
pub fn format_tick(value: f64, span: f64) -> String {
    let abs = value.abs();
    if abs >= 1e6 && span >= 1e5 {
        return format!("{}M", trim_zeros(&format!("{:.2}", value / 1e6)));
    }
    if abs >= 1e4 && span >= 1e3 {
        return format!("{}k", trim_zeros(&format!("{:.1}", value / 1e3)));
    }
    // The fewest decimals that show the tick exactly (to a millionth of the axis span):
    // ticks sit on round values, so "0.25" keeps two decimals and "0.2" one.
    let resolution = if span > 0.0 && span.is_finite() {
        span * 1e-6
    } else {
        1e-9
    };
    let decimals = (0..8usize)
        .find(|&d| {
            let scale = 10f64.powi(d as i32);
            ((value * scale).round() / scale - value).abs() <= resolution
        })
        .unwrap_or(8);
    let text = format!("{value:.decimals$}");
    // "-0.00" reads as a bug.
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        return text.trim_start_matches('-').to_string();
    }
    text
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_labels_carry_units() {
        assert_eq!(
            metric_label("eval/pass@4"),
            "eval pass@4, sampled (fraction of problems solved)"
        );
        assert!(metric_label("eval/pass@1").contains("greedy"));
        assert!(metric_label("entropy").contains("nats/token"));
        assert_eq!(metric_label("my_custom_metric"), "my_custom_metric");
    }

    #[test]
    fn axes_of_bounded_metrics_stay_inside_their_bounds() {
        let fraction = metric_bounds("eval/pass@1");
        assert_eq!(fraction, (Some(0.0), Some(1.0)));
        // Padded around data near the bounds: clipped.
        assert_eq!(clip_range((-0.02, 1.03), fraction), (0.0, 1.0));
        // A fraction that stayed 0: [0, 0.1] (at least), not [-1, 1].
        assert_eq!(clip_range((-1.0, 1.0), fraction), (0.0, 1.0));
        assert_eq!(clip_range((-0.001, 0.0), fraction), (0.0, 0.1));
        assert_eq!(clip_range((1.0, 1.05), fraction), (0.9, 1.0));
        assert_eq!(
            clip_range((-0.5, 3.0), metric_bounds("entropy")),
            (0.0, 3.0)
        );
        assert_eq!(
            clip_range((-0.5, 3.0), metric_bounds("reward_mean")),
            (-0.5, 3.0)
        );
    }

    #[test]
    fn ticks_use_suffixes_for_large_counts_and_enough_decimals_for_fractions() {
        assert_eq!(format_tick(1_500_000.0, 2e6), "1.5M");
        assert_eq!(format_tick(200_000.0, 1e6), "200k");
        assert_eq!(format_tick(0.25, 1.0), "0.25");
        assert_eq!(format_tick(100.0, 1000.0), "100");
        assert_eq!(format_tick(0.2, 1.0), "0.2");
        assert_eq!(format_tick(0.0035, 0.002), "0.0035");
        assert_eq!(format_tick(-0.0, 0.5), "0");
    }

    #[test]
    fn seeds_with_different_steps_are_interpolated_on_their_common_range() {
        let a = Curve {
            x: vec![0.0, 10.0, 20.0],
            y: vec![0.0, 1.0, 2.0],
        };
        let b = Curve {
            x: vec![5.0, 15.0, 30.0],
            y: vec![5.0, 5.0, 5.0],
        };
        let band = aggregate_curves("p", &[a, b], 1, &CurveOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(band.x, vec![5.0, 10.0, 15.0, 20.0]);
        assert_eq!(band.mean, vec![2.75, 3.0, 3.25, 3.5]);
        assert!(band
            .lower
            .iter()
            .zip(&band.mean)
            .zip(&band.upper)
            .all(|((l, m), u)| l <= m && m <= u));
    }

    #[test]
    fn seeds_without_overlap_give_no_band() {
        let a = Curve {
            x: vec![0.0, 1.0],
            y: vec![0.0, 1.0],
        };
        let b = Curve {
            x: vec![2.0, 3.0],
            y: vec![0.0, 1.0],
        };
        assert!(aggregate_curves("p", &[a, b], 1, &CurveOptions::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn long_curves_are_thinned_to_max_points() {
        let c = Curve {
            x: (0..1000).map(f64::from).collect(),
            y: (0..1000).map(f64::from).collect(),
        };
        let options = CurveOptions {
            max_points: 11,
            ..Default::default()
        };
        let band = aggregate_curves("p", &[c], 1, &options).unwrap().unwrap();
        assert_eq!(band.x.len(), 11);
        assert_eq!(band.x[10], 999.0);
        assert_eq!(band.mean[10], 999.0);
    }

    #[test]
    fn smoothing_is_a_centred_moving_average_that_shrinks_at_the_ends() {
        let c = Curve {
            x: vec![0.0, 1.0, 2.0, 3.0],
            y: vec![0.0, 3.0, 6.0, 9.0],
        };
        assert_eq!(smooth(&c, 3).y, vec![1.5, 3.0, 6.0, 7.5]);
        assert_eq!(smooth(&c, 1).y, c.y);
    }

    #[test]
    fn auto_smoothing_only_touches_long_curves() {
        assert_eq!(Smoothing::Auto.window(21), 1);
        assert_eq!(Smoothing::Auto.window(300), 15);
        assert_eq!(Smoothing::Off.window(5000), 1);
        assert_eq!(Smoothing::Window(0).window(10), 1);
    }
}
