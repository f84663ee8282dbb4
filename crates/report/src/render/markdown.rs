//! `report.md`: the tables, probability of improvement, links to the plots and the run list
//! as GitHub-flavoured Markdown.

use super::format::{
    comparison, direction, format_interval, format_value, higher_is_better, method_note,
    paired_caption, paired_cells, table_cells, PAIRED_HEADER, PAIRED_TITLE, TABLE_HEADER,
};
use super::ReportSummary;
use std::fmt::Write as _;
use std::path::Path;

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A table: header, alignment row, one line per row of cells, then a blank line.
fn md_table<const N: usize>(
    md: &mut String,
    header: &[&str; N],
    align: &str,
    rows: impl Iterator<Item = [String; N]>,
) {
    let _ = writeln!(md, "| {} |\n{align}", header.join(" | "));
    for cells in rows {
        let cells: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
}

pub(super) fn markdown(s: &ReportSummary, title: &str) -> String {
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
    if !s.notes.is_empty() {
        let _ = writeln!(md, "## Notes\n");
        for n in &s.notes {
            let _ = writeln!(md, "- {n}");
        }
        md.push('\n');
    }

    let _ = writeln!(md, "## Final metrics\n");
    if s.tables.is_empty() {
        let _ = writeln!(md, "No finished run reported final metrics.\n");
    }
    for table in &s.tables {
        let _ = writeln!(md, "### {}: {}\n", table.metric, direction(table));
        let rows = table.rows.iter().map(table_cells);
        md_table(
            &mut md,
            &TABLE_HEADER,
            "|---|---:|---:|:---:|---:|:---:|",
            rows,
        );
    }

    if !s.paired.is_empty() {
        let _ = writeln!(md, "## {PAIRED_TITLE}\n");
        let _ = writeln!(md, "{}\n", paired_caption(s));
        let rows = s.paired.iter().map(paired_cells);
        md_table(
            &mut md,
            &PAIRED_HEADER,
            "|---|---|---:|:---:|---:|---|",
            rows,
        );
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

/// Relative links with forward slashes, whatever the platform.
fn link(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
