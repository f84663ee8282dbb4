//! Text shared by the Markdown and HTML pages: numbers, intervals, the method note, metric
//! directions and table cells, so both pages always print the same values.

use super::{Improvement, MetricTable, PairedDifference, PresetRow, ReportSummary};
use crate::plots::metric_label;
use crate::stats::ConfidenceInterval;

/// How numbers appear in tables: 4 decimals for values below 10 (fractions such as pass@k),
/// fewer for large values (returns, lengths).
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    let abs = v.abs();
    if abs >= 100.0 {
        format!("{v:.1}")
    } else if abs >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// `[lower, upper]` with [`format_value`].
pub fn format_interval(ci: &ConfidenceInterval) -> String {
    format!("[{}, {}]", format_value(ci.lower), format_value(ci.upper))
}

pub(super) fn method_note(s: &ReportSummary) -> String {
    format!(
        "Intervals are {:.0}% percentile-bootstrap confidence intervals over seeds \
         ({} resamples, ChaCha8 seed {}), resampling seeds within each task. IQM is the \
         interquartile mean (25% trimmed mean). Tables use finished runs only; \
         intervals from fewer than 3 seeds are not informative.",
        s.bootstrap.confidence * 100.0,
        s.bootstrap.resamples,
        s.bootstrap.seed
    )
}

/// "higher is better", preceded by what the metric is when [`metric_label`] knows it, so a
/// reader need not guess that `eval/pass@1` is greedy.
pub(super) fn direction(table: &MetricTable) -> String {
    let dir = if table.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    let label = metric_label(&table.metric);
    if label == table.metric {
        dir.to_string()
    } else {
        format!("{label}; {dir}")
    }
}

pub(super) fn comparison(imp: &Improvement, higher_is_better: bool) -> String {
    let op = if higher_is_better { ">" } else { "<" };
    format!("P({} {op} {})", imp.preset, imp.baseline)
}

pub(super) fn table_cells(row: &PresetRow) -> [String; 6] {
    let fmt_est = |ci: &Option<ConfidenceInterval>| {
        ci.map(|c| format_value(c.estimate))
            .unwrap_or_else(|| "—".into())
    };
    let fmt_ci = |ci: &Option<ConfidenceInterval>| {
        ci.map(|c| format_interval(&c))
            .unwrap_or_else(|| "—".into())
    };
    [
        row.preset.clone(),
        row.n_seeds.to_string(),
        fmt_est(&row.mean),
        fmt_ci(&row.mean),
        fmt_est(&row.iqm),
        fmt_ci(&row.iqm),
    ]
}

pub(super) const TABLE_HEADER: [&str; 6] = [
    "preset",
    "seeds",
    "mean",
    "95% CI of mean",
    "IQM",
    "95% CI of IQM",
];

pub(super) const PAIRED_TITLE: &str =
    "Paired difference against the baseline (same seed = same warm start)";

pub(super) fn paired_caption(s: &ReportSummary) -> String {
    let source = if s.baseline_named {
        "named as the baseline"
    } else {
        "no baseline was named, so the first preset given"
    };
    format!(
        "Baseline: {} ({source}). For each seed run by both the preset and the baseline \
         (matched within each task), d = preset − baseline on the final metric; the table shows \
         the mean of d and its {:.0}% percentile-bootstrap CI, resampling seeds so that both \
         runs of a pair move together (same number of resamples and ChaCha8 seed as above). \
         The verdict comes from the CI, not from the sign of the mean: better if the whole CI \
         lies on the metric's improving side of 0, worse if on the other side, inconclusive \
         otherwise or with fewer than 2 pairs. Unmatched runs (a seed on one side only) are left out.",
        s.baseline,
        s.bootstrap.confidence * 100.0
    )
}

pub(super) const PAIRED_HEADER: [&str; 6] = [
    "metric",
    "difference",
    "mean difference",
    "95% CI",
    "pairs",
    "verdict",
];

pub(super) fn paired_cells(p: &PairedDifference) -> [String; 6] {
    let r = &p.result;
    let pairs = match r.n_unmatched {
        0 => r.n_pairs.to_string(),
        u => format!("{} ({u} unmatched)", r.n_pairs),
    };
    let verdict = match &r.note {
        Some(note) => format!("{} ({note})", r.verdict.label()),
        None => r.verdict.label().to_string(),
    };
    let dir = if p.higher_is_better { "↑" } else { "↓" };
    [
        p.metric.clone(),
        format!("{} − {} ({dir} better)", p.preset, p.baseline),
        r.mean.map_or_else(|| "—".into(), format_value),
        r.ci.map_or_else(|| "—".into(), |c| format_interval(&c)),
        pairs,
        verdict,
    ]
}

pub(super) fn higher_is_better(s: &ReportSummary, metric: &str) -> bool {
    s.tables
        .iter()
        .find(|t| t.metric == metric)
        .is_none_or(|t| t.higher_is_better)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_formatted_by_magnitude() {
        assert_eq!(format_value(0.41), "0.4100");
        assert_eq!(format_value(480.2), "480.2");
        assert_eq!(format_value(12.345), "12.35");
        assert_eq!(format_value(f64::NAN), "—");
    }
}
