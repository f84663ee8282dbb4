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

use crate::plots::{metric_label, plot_learning_curves, CurveOptions, PlotError};
use crate::runs::{group_by_preset, load_runs, PresetGroup, Run, RunError, RunStatus, STEP};
use crate::stats::{
    probability_of_improvement_ci, stratified_bootstrap_ci, Aggregate, BootstrapConfig,
    ConfidenceInterval, StatsError,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const REPORT_MD: &str = "report.md";
pub const REPORT_HTML: &str = "report.html";
pub const SUMMARY_JSON: &str = "summary.json";
pub const PLOTS_DIR: &str = "plots";

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
    #[error("{}: cannot write report: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

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
        }
    }
}

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
    pub plots: Vec<PlotEntry>,
    /// Things a reader should know: running runs left out of the tables, truncated metrics
    /// files, curves that could not be drawn.
    pub warnings: Vec<String>,
}

/// Loads `run_dirs` and renders the report into `out_dir` (created if needed).
pub fn render_report(
    run_dirs: &[PathBuf],
    out_dir: &Path,
    opts: &ReportOptions,
) -> Result<ReportSummary, ReportError> {
    if run_dirs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let runs = load_runs(run_dirs)?;
    render_report_from_runs(&runs, out_dir, opts)
}

/// Renders a report from runs already loaded (for callers that filter runs first).
pub fn render_report_from_runs(
    runs: &[Run],
    out_dir: &Path,
    opts: &ReportOptions,
) -> Result<ReportSummary, ReportError> {
    if runs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let mut groups = group_by_preset(runs);
    let presets: Vec<String> = groups.iter().map(|g| g.preset.clone()).collect();
    if let Some(baseline) = &opts.baseline {
        let Some(pos) = groups.iter().position(|g| &g.preset == baseline) else {
            return Err(ReportError::UnknownBaseline {
                baseline: baseline.clone(),
                presets,
            });
        };
        // The baseline leads every table and keeps the first colour.
        let base = groups.remove(pos);
        groups.insert(0, base);
    }
    let presets: Vec<String> = groups.iter().map(|g| g.preset.clone()).collect();
    let baseline = presets[0].clone();
    let tasks = first_seen(runs.iter().map(|r| r.info.task.as_str()));
    let mut warnings = run_warnings(runs);
    if tasks.len() > 1 {
        warnings.push(format!(
            "runs span {} tasks ({}): aggregates pool scores across tasks without normalisation \
             (bootstrap stratified by task), so compare only metrics on one scale",
            tasks.len(),
            tasks.join(", ")
        ));
    }

    let plots_dir = out_dir.join(PLOTS_DIR);
    std::fs::create_dir_all(&plots_dir).map_err(|source| ReportError::Io {
        path: plots_dir.clone(),
        source,
    })?;

    let finished: Vec<Run> = runs
        .iter()
        .filter(|r| r.info.status == RunStatus::Finished)
        .cloned()
        .collect();
    let finished_groups = order_like(group_by_preset(&finished), &presets);
    let metrics = match &opts.final_metrics {
        Some(m) => m.clone(),
        None => first_seen(
            finished
                .iter()
                .flat_map(|r| r.info.final_metrics.keys().map(String::as_str)),
        ),
    };
    let mut tables = Vec::new();
    let mut improvements = Vec::new();
    for metric in &metrics {
        let higher_is_better = !opts.lower_is_better.contains(metric);
        tables.push(metric_table(
            metric,
            higher_is_better,
            &presets,
            &finished_groups,
            &opts.bootstrap,
        )?);
        improvements.extend(improvements_over_baseline(
            metric,
            higher_is_better,
            &finished_groups,
            &opts.bootstrap,
            &mut warnings,
        )?);
    }

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
            &groups,
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

    let summary = ReportSummary {
        out_dir: out_dir.to_path_buf(),
        markdown: out_dir.join(REPORT_MD),
        html: out_dir.join(REPORT_HTML),
        summary_json: out_dir.join(SUMMARY_JSON),
        baseline,
        presets,
        tasks,
        runs: runs
            .iter()
            .map(|r| RunEntry {
                preset: r.info.preset.clone(),
                task: r.info.task.clone(),
                seed: r.info.seed,
                status: r.info.status.clone(),
                dir: r.dir.clone(),
            })
            .collect(),
        bootstrap: opts.bootstrap,
        tables,
        improvements,
        plots,
        warnings,
    };
    write(&summary.markdown, &markdown(&summary, &opts.title))?;
    write(&summary.html, &html(&summary, &opts.title, &svgs))?;
    let json = serde_json::to_string_pretty(&summary).map_err(|e| ReportError::Io {
        path: summary.summary_json.clone(),
        source: std::io::Error::other(e),
    })?;
    write(&summary.summary_json, &json)?;
    Ok(summary)
}

fn metric_table(
    metric: &str,
    higher_is_better: bool,
    presets: &[String],
    groups: &[PresetGroup<'_>],
    config: &BootstrapConfig,
) -> Result<MetricTable, StatsError> {
    let mut rows = Vec::new();
    for preset in presets {
        let empty = PresetRow {
            preset: preset.clone(),
            n_seeds: 0,
            mean: None,
            iqm: None,
            median: None,
        };
        let Some(group) = groups.iter().find(|g| &g.preset == preset) else {
            rows.push(empty);
            continue;
        };
        let strata: Vec<Vec<f64>> = group
            .final_values_by_task(metric, &group.tasks())
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if strata.is_empty() {
            rows.push(empty);
            continue;
        }
        let strata: Vec<&[f64]> = strata.iter().map(Vec::as_slice).collect();
        rows.push(PresetRow {
            preset: preset.clone(),
            n_seeds: strata.iter().map(|s| s.len()).sum(),
            mean: Some(stratified_bootstrap_ci(&strata, Aggregate::Mean, config)?),
            iqm: Some(stratified_bootstrap_ci(&strata, Aggregate::Iqm, config)?),
            median: Some(Aggregate::Median.of_strata(&strata)?),
        });
    }
    Ok(MetricTable {
        metric: metric.to_string(),
        higher_is_better,
        rows,
    })
}

fn improvements_over_baseline(
    metric: &str,
    higher_is_better: bool,
    groups: &[PresetGroup<'_>],
    config: &BootstrapConfig,
    warnings: &mut Vec<String>,
) -> Result<Vec<Improvement>, StatsError> {
    let Some((base, others)) = groups.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for other in others {
        // Strata are the tasks where both presets have at least one value.
        let candidate_tasks: Vec<&str> = other
            .tasks()
            .into_iter()
            .filter(|t| base.tasks().contains(t))
            .collect();
        let xs = other.final_values_by_task(metric, &candidate_tasks);
        let ys = base.final_values_by_task(metric, &candidate_tasks);
        let mut tasks = Vec::new();
        let mut x_strata = Vec::new();
        let mut y_strata = Vec::new();
        for ((task, x), y) in candidate_tasks.iter().zip(xs).zip(ys) {
            if !x.is_empty() && !y.is_empty() {
                tasks.push(task.to_string());
                // Lower is better: P(x < y) = P(-x > -y).
                let sign = if higher_is_better { 1.0 } else { -1.0 };
                x_strata.push(x.iter().map(|v| sign * v).collect::<Vec<f64>>());
                y_strata.push(y.iter().map(|v| sign * v).collect::<Vec<f64>>());
            }
        }
        if tasks.is_empty() {
            warnings.push(format!(
                "no probability of improvement of {} over {} on {metric}: no task where both \
                 have finished runs reporting it",
                other.preset, base.preset
            ));
            continue;
        }
        let x_refs: Vec<&[f64]> = x_strata.iter().map(Vec::as_slice).collect();
        let y_refs: Vec<&[f64]> = y_strata.iter().map(Vec::as_slice).collect();
        out.push(Improvement {
            metric: metric.to_string(),
            preset: other.preset.clone(),
            baseline: base.preset.clone(),
            probability: probability_of_improvement_ci(&x_refs, &y_refs, config)?,
            tasks,
        });
    }
    Ok(out)
}

fn run_warnings(runs: &[Run]) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut seen = BTreeSet::new();
    for run in runs {
        if run.info.status == RunStatus::Running {
            warnings.push(format!(
                "{} ({}) is still running: left out of the final-metric tables, shown in the curves",
                run.label(),
                run.dir.display()
            ));
        }
        if run.skipped_last_line {
            warnings.push(format!(
                "{}: skipped an incomplete last line of metrics.jsonl (run killed mid-write?)",
                run.dir.display()
            ));
        }
        if !seen.insert((&run.info.preset, &run.info.task, run.info.seed)) {
            warnings.push(format!(
                "{} appears more than once ({}): it is counted twice",
                run.label(),
                run.dir.display()
            ));
        }
    }
    warnings
}

fn order_like<'a>(groups: Vec<PresetGroup<'a>>, presets: &[String]) -> Vec<PresetGroup<'a>> {
    let mut ordered: Vec<PresetGroup<'a>> = Vec::with_capacity(groups.len());
    for p in presets {
        if let Some(g) = groups.iter().find(|g| &g.preset == p) {
            ordered.push(g.clone());
        }
    }
    ordered
}

fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.iter().any(|o| o == item) {
            out.push(item.to_string());
        }
    }
    out
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

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn method_note(s: &ReportSummary) -> String {
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
fn direction(table: &MetricTable) -> String {
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

fn comparison(imp: &Improvement, higher_is_better: bool) -> String {
    let op = if higher_is_better { ">" } else { "<" };
    format!("P({} {op} {})", imp.preset, imp.baseline)
}

fn table_cells(row: &PresetRow) -> [String; 6] {
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

const TABLE_HEADER: [&str; 6] = [
    "preset",
    "seeds",
    "mean",
    "95% CI of mean",
    "IQM",
    "95% CI of IQM",
];

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn markdown(s: &ReportSummary, title: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {title}\n");
    let _ = writeln!(
        md,
        "{} runs of {} preset(s) ({}) on {} task(s) ({}). Baseline: **{}**.\n",
        s.runs.len(),
        s.presets.len(),
        s.presets.join(", "),
        s.tasks.len(),
        s.tasks.join(", "),
        s.baseline
    );
    let _ = writeln!(md, "{}\n", method_note(s));

    if !s.warnings.is_empty() {
        let _ = writeln!(md, "## Warnings\n");
        for w in &s.warnings {
            let _ = writeln!(md, "- {w}");
        }
        md.push('\n');
    }

    let _ = writeln!(md, "## Final metrics\n");
    if s.tables.is_empty() {
        let _ = writeln!(md, "No finished run reported final metrics.\n");
    }
    for table in &s.tables {
        let _ = writeln!(md, "### {}: {}\n", table.metric, direction(table));
        let _ = writeln!(md, "| {} |", TABLE_HEADER.join(" | "));
        let _ = writeln!(md, "|---|---:|---:|:---:|---:|:---:|");
        for row in &table.rows {
            let cells: Vec<String> = table_cells(row).iter().map(|c| md_cell(c)).collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        md.push('\n');
    }

    if !s.improvements.is_empty() {
        let _ = writeln!(md, "## Probability of improvement over {}\n", s.baseline);
        let _ = writeln!(
            md,
            "Probability that a run of the preset beats a run of the baseline (ties count \
             one half), averaged over tasks.\n"
        );
        let _ = writeln!(md, "| metric | comparison | probability | 95% CI |");
        let _ = writeln!(md, "|---|---|---:|:---:|");
        for imp in &s.improvements {
            let hib = higher_is_better(s, &imp.metric);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                md_cell(&imp.metric),
                md_cell(&comparison(imp, hib)),
                format_value(imp.probability.estimate),
                format_interval(&imp.probability)
            );
        }
        md.push('\n');
    }

    if !s.plots.is_empty() {
        let _ = writeln!(md, "## Learning curves\n");
        for plot in &s.plots {
            let _ = writeln!(
                md,
                "### {} vs {}\n\n![{} vs {}]({})\n\n[SVG]({})\n",
                plot.y_metric,
                plot.x_metric,
                plot.y_metric,
                plot.x_metric,
                link(&plot.png),
                link(&plot.svg)
            );
        }
    }

    let _ = writeln!(md, "## Runs\n");
    let _ = writeln!(md, "| preset | task | seed | status | directory |");
    let _ = writeln!(md, "|---|---|---:|---|---|");
    for r in &s.runs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | `{}` |",
            md_cell(&r.preset),
            md_cell(&r.task),
            r.seed,
            r.status,
            md_cell(&r.dir.display().to_string())
        );
    }
    md
}

fn higher_is_better(s: &ReportSummary, metric: &str) -> bool {
    s.tables
        .iter()
        .find(|t| t.metric == metric)
        .is_none_or(|t| t.higher_is_better)
}

/// Relative links with forward slashes, whatever the platform.
fn link(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font-family:'DejaVu Sans',system-ui,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:4px 10px}th{background:#f3f3f3}\
td.num{text-align:right;font-variant-numeric:tabular-nums}\
.warn{background:#fff6e0;border-left:4px solid #e69f00;padding:0.5em 1em}\
figure{margin:1em 0 2em}svg{max-width:100%;height:auto}\
code{font-size:90%}";

fn html(s: &ReportSummary, title: &str, svgs: &[String]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );
    let _ = writeln!(
        h,
        "<p>{} runs of {} preset(s) ({}) on {} task(s) ({}). Baseline: <b>{}</b>.</p>\n<p>{}</p>",
        s.runs.len(),
        s.presets.len(),
        esc(&s.presets.join(", ")),
        s.tasks.len(),
        esc(&s.tasks.join(", ")),
        esc(&s.baseline),
        esc(&method_note(s))
    );
    if !s.warnings.is_empty() {
        let _ = writeln!(h, "<div class=\"warn\"><b>Warnings</b><ul>");
        for w in &s.warnings {
            let _ = writeln!(h, "<li>{}</li>", esc(w));
        }
        let _ = writeln!(h, "</ul></div>");
    }

    let _ = writeln!(h, "<h2>Final metrics</h2>");
    if s.tables.is_empty() {
        let _ = writeln!(h, "<p>No finished run reported final metrics.</p>");
    }
    for table in &s.tables {
        let _ = writeln!(
            h,
            "<h3>{}: {}</h3>\n<table><tr>{}</tr>",
            esc(&table.metric),
            direction(table),
            TABLE_HEADER
                .iter()
                .map(|c| format!("<th>{}</th>", esc(c)))
                .collect::<String>()
        );
        for row in &table.rows {
            let cells = table_cells(row);
            let tds: String = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let class = if i == 0 { "" } else { " class=\"num\"" };
                    format!("<td{class}>{}</td>", esc(c))
                })
                .collect();
            let _ = writeln!(h, "<tr>{tds}</tr>");
        }
        let _ = writeln!(h, "</table>");
    }

    if !s.improvements.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Probability of improvement over {}</h2>\n<p>Probability that a run of the \
             preset beats a run of the baseline (ties count one half), averaged over tasks.</p>\n\
             <table><tr><th>metric</th><th>comparison</th><th>probability</th><th>95% CI</th></tr>",
            esc(&s.baseline)
        );
        for imp in &s.improvements {
            let hib = higher_is_better(s, &imp.metric);
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&imp.metric),
                esc(&comparison(imp, hib)),
                format_value(imp.probability.estimate),
                format_interval(&imp.probability)
            );
        }
        let _ = writeln!(h, "</table>");
    }

    if !s.plots.is_empty() {
        let _ = writeln!(h, "<h2>Learning curves</h2>");
        for (plot, svg) in s.plots.iter().zip(svgs) {
            let _ = writeln!(
                h,
                "<figure><figcaption><b>{} vs {}</b></figcaption>\n{}\n</figure>",
                esc(&plot.y_metric),
                esc(&plot.x_metric),
                inline_svg(svg)
            );
        }
    }

    let _ = writeln!(
        h,
        "<h2>Runs</h2>\n<table><tr><th>preset</th><th>task</th><th>seed</th><th>status</th><th>directory</th></tr>"
    );
    for r in &s.runs {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&r.preset),
            esc(&r.task),
            r.seed,
            r.status,
            esc(&r.dir.display().to_string())
        );
    }
    let _ = writeln!(h, "</table>\n</body></html>");
    h
}

/// An SVG document as an element inside HTML: drop any XML prolog, which is only valid at the
/// start of a standalone file.
fn inline_svg(svg: &str) -> &str {
    let svg = svg.trim_start();
    if svg.starts_with("<?xml") {
        if let Some(end) = svg.find("?>") {
            return svg[end + 2..].trim_start();
        }
    }
    svg
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

    #[test]
    fn values_are_formatted_by_magnitude() {
        assert_eq!(format_value(0.41), "0.4100");
        assert_eq!(format_value(480.2), "480.2");
        assert_eq!(format_value(12.345), "12.35");
        assert_eq!(format_value(f64::NAN), "—");
    }

    #[test]
    fn inline_svg_drops_the_xml_prolog() {
        assert_eq!(inline_svg("<?xml version=\"1.0\"?>\n<svg/>"), "<svg/>");
        assert_eq!(inline_svg("<svg/>"), "<svg/>");
    }
}
