//! The whole report directory: loads the runs, orders presets with the baseline first,
//! computes every section and writes `report.md`, `report.html` and `summary.json`.

use super::curves::draw_curves;
use super::html::html;
use super::markdown::markdown;
use super::tables::{improvements_over_baseline, metric_table, paired_against_baseline};
use super::{
    ReportError, ReportOptions, ReportSummary, RunEntry, PLOTS_DIR, REPORT_HTML, REPORT_MD,
    SUMMARY_JSON,
};
use crate::log_means::with_log_means;
use crate::runs::{group_by_preset, load_runs, PresetGroup, Run, RunStatus};
use crate::to_target::with_costs;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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
    // Cost-to-target and log-summary metrics go into copies of the runs; without either
    // nothing is copied.
    let derive = !(opts.targets.is_empty() && opts.log_means.is_empty());
    let (derived, cost_metrics, cost_notes, log_metrics) = match derive {
        false => (None, Vec::new(), Vec::new(), Vec::new()),
        true => {
            let (costed, costs, notes) = with_costs(runs, &opts.targets);
            let (summarized, logged) = with_log_means(&costed, &opts.log_means);
            (Some(summarized), costs, notes, logged)
        }
    };
    let runs = derived.as_deref().unwrap_or(runs);
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
        Some(m) => m
            .iter()
            .chain(log_metrics.iter().map(|(name, _)| name))
            .chain(&cost_metrics)
            .cloned()
            .collect(),
        None => first_seen(
            finished
                .iter()
                .flat_map(|r| r.info.final_metrics.keys().map(String::as_str)),
        ),
    };
    let mut tables = Vec::new();
    let mut improvements = Vec::new();
    let mut paired = Vec::new();
    for metric in &metrics {
        let logged_lower = log_metrics
            .iter()
            .any(|(name, higher)| name == metric && !higher);
        let higher_is_better = !(opts.lower_is_better.contains(metric)
            || cost_metrics.contains(metric)
            || logged_lower);
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
        paired.extend(paired_against_baseline(
            metric,
            higher_is_better,
            &baseline,
            &finished_groups,
            &opts.bootstrap,
        )?);
    }

    let (plots, svgs) = draw_curves(runs, &groups, opts, &plots_dir, &mut warnings)?;

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
        baseline_named: opts.baseline.is_some(),
        paired,
        plots,
        warnings,
        notes: cost_notes,
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

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}
