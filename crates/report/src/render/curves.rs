//! The learning-curve section: which curves to draw, their file names under `plots/`, and a
//! warning instead of a plot where a curve has no data.

use super::{PlotEntry, ReportError, ReportOptions, PLOTS_DIR};
use crate::plots::{plot_learning_curves, PlotError};
use crate::runs::{PresetGroup, Run, STEP};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// Learning curves drawn when [`ReportOptions::curves`] is `None`, as `(x, y)`; each is drawn
/// only if some run logged its y metric. Text-task runs log the first group, control runs the
/// last two.
pub const DEFAULT_CURVES: &[(&str, &str)] = &[
    (STEP, "eval/pass@1"),
    (STEP, "reward_mean"),
    (STEP, "accuracy"),
    (STEP, "entropy"),
    (STEP, "kl"),
    (STEP, "clip_frac_low"),
    (STEP, "clip_frac_high"),
    (STEP, "response_len_mean"),
    ("env_steps", "episodic_return"),
    ("env_steps", "eval/return"),
];

/// One learning curve to draw: `y` against `x` (`"step"` or a logged field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurveSpec {
    pub x: String,
    pub y: String,
}

impl CurveSpec {
    pub fn new(x: &str, y: &str) -> Self {
        Self {
            x: x.to_string(),
            y: y.to_string(),
        }
    }

    pub fn vs_step(y: &str) -> Self {
        Self::new(STEP, y)
    }
}

/// Draws every requested curve into `plots_dir`; returns the plots with their SVG text, which
/// the HTML page inlines.
pub(super) fn draw_curves(
    runs: &[Run],
    groups: &[PresetGroup<'_>],
    opts: &ReportOptions,
    plots_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<(Vec<PlotEntry>, Vec<String>), ReportError> {
    let curves = match &opts.curves {
        Some(c) => c.clone(),
        None => DEFAULT_CURVES
            .iter()
            .filter(|(_, y)| runs.iter().any(|r| r.logs(y)))
            .map(|(x, y)| CurveSpec::new(x, y))
            .collect(),
    };
    let mut plots = Vec::new();
    let mut svgs = Vec::new();
    let mut used_stems = BTreeSet::new();
    for spec in &curves {
        let mut stem = if spec.x == STEP {
            slug(&spec.y)
        } else {
            format!("{}_vs_{}", slug(&spec.y), slug(&spec.x))
        };
        // Distinct names can share a slug ("a/b", "a_b"): keep both plots.
        let base = stem.clone();
        let mut k = 2;
        while !used_stems.insert(stem.clone()) {
            stem = format!("{base}_{k}");
            k += 1;
        }
        match plot_learning_curves(
            groups,
            &spec.x,
            &spec.y,
            &opts.curve,
            &plots_dir.join(&stem),
        ) {
            Ok(files) => {
                plots.push(PlotEntry {
                    x_metric: spec.x.clone(),
                    y_metric: spec.y.clone(),
                    png: Path::new(PLOTS_DIR).join(format!("{stem}.png")),
                    svg: Path::new(PLOTS_DIR).join(format!("{stem}.svg")),
                });
                svgs.push(files.svg_text);
            }
            // A curve nobody logged, or seeds with no common x range, is worth a note, not a
            // failed report.
            Err(PlotError::NoData { .. }) => warnings.push(format!(
                "no curve of {} against {}: no run logged both, or seeds share no {} range",
                spec.y, spec.x, spec.x
            )),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((plots, svgs))
}

/// A file-name-safe form of a metric name: `eval/pass@1` -> `eval_pass_at_1`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        match c {
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            '@' => out.push_str("_at_"),
            _ => out.push('_'),
        }
    }
    let mut collapsed = String::new();
    for c in out.chars() {
        if !(c == '_' && collapsed.ends_with('_')) {
            collapsed.push(c);
        }
    }
    let trimmed = collapsed.trim_matches('_');
    if trimmed.is_empty() {
        "metric".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("eval/pass@1"), "eval_pass_at_1");
        assert_eq!(slug("clip_frac_low"), "clip_frac_low");
        assert_eq!(slug("../x"), "x");
        assert_eq!(slug("///"), "metric");
    }
}
