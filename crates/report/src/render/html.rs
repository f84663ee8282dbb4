//! `report.html`: the same content as `report.md` in one self-contained page, with the plots'
//! SVGs inlined and no external assets.

use super::format::{
    comparison, direction, format_interval, format_value, higher_is_better, method_note,
    paired_caption, paired_cells, table_cells, PAIRED_HEADER, PAIRED_TITLE, TABLE_HEADER,
};
use super::ReportSummary;
use std::fmt::Write as _;

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

pub(super) fn html(s: &ReportSummary, title: &str, svgs: &[String]) -> String {
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
    if !s.notes.is_empty() {
        let _ = writeln!(h, "<div><b>Notes</b><ul>");
        for n in &s.notes {
            let _ = writeln!(h, "<li>{}</li>", esc(n));
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

    if !s.paired.is_empty() {
        let _ = writeln!(
            h,
            "<h2>{}</h2>\n<p>{}</p>\n<table><tr>{}</tr>",
            esc(PAIRED_TITLE),
            esc(&paired_caption(s)),
            PAIRED_HEADER
                .iter()
                .map(|c| format!("<th>{}</th>", esc(c)))
                .collect::<String>()
        );
        for p in &s.paired {
            let tds: String = paired_cells(p)
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let class = if (2..=4).contains(&i) {
                        " class=\"num\""
                    } else {
                        ""
                    };
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
    fn inline_svg_drops_the_xml_prolog() {
        assert_eq!(inline_svg("<?xml version=\"1.0\"?>\n<svg/>"), "<svg/>");
        assert_eq!(inline_svg("<svg/>"), "<svg/>");
    }
}
