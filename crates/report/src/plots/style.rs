//! Shared by every figure: the embedded font, one colour and dash pattern per preset, axis
//! ranges and tick text.
//!
//! Text is laid out with the DejaVu Sans font embedded in the crate (`assets/`), so the PNGs
//! look the same on any machine, with no system font or fontconfig needed.

use super::PlotError;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::sync::OnceLock;

/// DejaVu Sans 2.37 from Debian's fonts-dejavu-core; licence in `assets/DejaVuSans-LICENSE.txt`.
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
pub(super) const FONT_FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters once per process; every text element of a figure uses
/// `FONT_FAMILY`, which resolves to it.
pub(super) fn ensure_font() -> Result<(), PlotError> {
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
pub(super) fn styled_line<DB, CT>(
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

/// `(min, max)` of finite values, widened by `pad` of the span on each side; a flat range is
/// widened so the axis is still drawable.
pub(super) fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
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
pub(super) fn clip_range(range: (f64, f64), bounds: (Option<f64>, Option<f64>)) -> (f64, f64) {
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
    use crate::plots::metric_bounds;

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
}
