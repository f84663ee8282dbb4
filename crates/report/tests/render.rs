//! Rendering a report from synthetic run directories: the files appear, the numbers in the
//! tables are the statistics of the runs' final values, and the HTML stands alone.

mod common;

use polopt_report::render::{format_interval, format_value};
use polopt_report::stats::{bootstrap_ci, probability_of_improvement_ci, Aggregate};
use polopt_report::{render_report, ReportError, ReportOptions, ReportSummary};
use std::path::{Path, PathBuf};

/// Two presets x 5 seeds with hand-picked final pass@1 values, so the table can be checked by
/// hand: grpo mean 0.38, IQM (middle three of five) 0.30; dapo mean 0.52, IQM 0.50.
const GRPO: [f64; 5] = [0.1, 0.2, 0.3, 0.4, 0.9];
const DAPO: [f64; 5] = [0.4, 0.5, 0.55, 0.45, 0.7];

fn synthetic_runs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for (preset, finals) in [("grpo", GRPO), ("dapo", DAPO)] {
        for (seed, value) in finals.iter().enumerate() {
            let dir = common::write_text_run(root, preset, 0.5, seed as u64, 60);
            // Replace the generated finals with the hand-picked ones.
            common::write_run_json(
                &dir,
                preset,
                "addition",
                seed as u64,
                "finished",
                &[
                    ("eval/pass@1", *value),
                    ("eval/pass@4", (value * 1.5).min(1.0)),
                ],
            );
            dirs.push(dir);
        }
    }
    dirs
}

fn render(root: &Path, dirs: &[PathBuf], opts: &ReportOptions) -> ReportSummary {
    render_report(dirs, &root.join("report"), opts).expect("report renders")
}

#[test]
fn report_writes_markdown_html_json_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = synthetic_runs(&tmp.path().join("runs"));
    let summary = render(tmp.path(), &dirs, &ReportOptions::default());
    let out = tmp.path().join("report");
    for file in ["report.md", "report.html", "summary.json"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let plotted: Vec<&str> = summary.plots.iter().map(|p| p.y_metric.as_str()).collect();
    assert_eq!(
        plotted,
        [
            "eval/pass@1",
            "reward_mean",
            "accuracy",
            "entropy",
            "kl",
            "clip_frac_low",
            "clip_frac_high",
            "response_len_mean"
        ]
    );
    for plot in &summary.plots {
        let png = std::fs::read(out.join(&plot.png)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{:?}", plot.png);
        assert!(png.len() > 10_000, "{:?} is suspiciously small", plot.png);
        let svg = std::fs::read_to_string(out.join(&plot.svg)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("grpo (5 seeds)"));
    }
    assert_eq!(
        summary.plots[0].png,
        Path::new("plots").join("eval_pass_at_1.png")
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("![eval/pass@1 vs step](plots/eval_pass_at_1.png)"));
    let json: ReportSummary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json, summary);
}

#[test]
fn tables_hold_the_statistics_of_the_final_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = synthetic_runs(&tmp.path().join("runs"));
    let opts = ReportOptions::default();
    let summary = render(tmp.path(), &dirs, &opts);
    assert_eq!(summary.baseline, "grpo");
    let table = &summary.tables[0];
    assert_eq!(table.metric, "eval/pass@1");
    let grpo = &table.rows[0];
    let dapo = &table.rows[1];
    assert_eq!((grpo.preset.as_str(), grpo.n_seeds), ("grpo", 5));
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    let (grpo_mean, grpo_iqm) = (grpo.mean.unwrap(), grpo.iqm.unwrap());
    assert!(close(grpo_mean.estimate, 0.38) && close(grpo_iqm.estimate, 0.30));
    assert!(close(dapo.mean.unwrap().estimate, 0.52) && close(dapo.iqm.unwrap().estimate, 0.50));
    // Intervals are the library's, with the report's bootstrap settings.
    assert_eq!(
        grpo_iqm,
        bootstrap_ci(&GRPO, Aggregate::Iqm, &opts.bootstrap).unwrap()
    );

    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    let row = format!(
        "| grpo | 5 | 0.3800 | {} | 0.3000 | {} |",
        format_interval(&grpo_mean),
        format_interval(&grpo_iqm)
    );
    assert!(md.contains(&row), "missing row {row} in\n{md}");

    // Of the 25 (dapo, grpo) pairs, dapo wins 19, ties one (0.4 vs 0.4) and loses five (to
    // 0.9): (19 + 0.5) / 25 = 0.78.
    let imp = &summary.improvements[0];
    assert_eq!(
        (imp.preset.as_str(), imp.metric.as_str()),
        ("dapo", "eval/pass@1")
    );
    assert!(close(imp.probability.estimate, 0.78));
    assert_eq!(
        imp.probability,
        probability_of_improvement_ci(&[&DAPO], &[&GRPO], &opts.bootstrap).unwrap()
    );
    let p_row = format!(
        "| eval/pass@1 | P(dapo > grpo) | {} | {} |",
        format_value(0.78),
        format_interval(&imp.probability)
    );
    assert!(md.contains(&p_row), "missing {p_row}");
}

#[test]
fn html_is_self_contained() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = synthetic_runs(&tmp.path().join("runs"));
    let summary = render(tmp.path(), &dirs, &ReportOptions::default());
    let html = std::fs::read_to_string(&summary.html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), summary.plots.len());
    for external in ["src=", "href=", "<link", "<script", "url("] {
        assert!(!html.contains(external), "HTML references {external}");
    }
    assert!(html.contains("<td>grpo</td><td class=\"num\">5</td><td class=\"num\">0.3800</td>"));
}

#[test]
fn running_runs_are_plotted_but_left_out_of_tables_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = synthetic_runs(&tmp.path().join("runs"));
    let running = common::write_text_run(&tmp.path().join("runs"), "dapo", 0.5, 9, 30);
    common::write_run_json(
        &running,
        "dapo",
        "addition",
        9,
        "running",
        &[("eval/pass@1", 0.0)],
    );
    dirs.push(running);
    let summary = render(tmp.path(), &dirs, &ReportOptions::default());
    assert_eq!(summary.tables[0].rows[1].n_seeds, 5);
    assert!(summary.warnings.iter().any(|w| w.contains("still running")));
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains("## Warnings") && md.contains("dapo/addition/seed 9"));
    // The running run is in the curves: dapo's curve now has 6 seeds.
    let svg = std::fs::read_to_string(summary.out_dir.join(&summary.plots[1].svg)).unwrap();
    assert!(
        svg.contains("dapo (6 seeds)"),
        "reward curve should include the running seed"
    );
}

#[test]
fn a_named_baseline_leads_and_lower_is_better_flips_the_comparison() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = synthetic_runs(&tmp.path().join("runs"));
    let opts = ReportOptions {
        baseline: Some("dapo".into()),
        final_metrics: Some(vec!["eval/pass@1".into()]),
        lower_is_better: vec!["eval/pass@1".into()],
        curves: Some(vec![]),
        ..ReportOptions::default()
    };
    let summary = render(tmp.path(), &dirs, &opts);
    assert_eq!(summary.presets, ["dapo", "grpo"]);
    assert_eq!(summary.tables.len(), 1);
    assert!(summary.plots.is_empty());
    let imp = &summary.improvements[0];
    // P(grpo < dapo) = P(dapo > grpo) = 0.78.
    assert_eq!(imp.preset, "grpo");
    assert!((imp.probability.estimate - 0.78).abs() < 1e-12);
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains("P(grpo < dapo)"));
    assert!(md.contains(
        "### eval/pass@1: eval pass@1, greedy (fraction of problems solved); lower is better"
    ));

    let unknown = ReportOptions {
        baseline: Some("ppo".into()),
        ..ReportOptions::default()
    };
    let err = render_report(&dirs, &tmp.path().join("r2"), &unknown).unwrap_err();
    assert!(matches!(err, ReportError::UnknownBaseline { .. }), "{err}");
}

#[test]
fn control_runs_plot_return_against_env_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = [("ppo", 480.0), ("ppo-no-gae", 300.0)]
        .iter()
        .flat_map(|&(p, skill)| {
            let root = tmp.path().join("runs");
            (0..3).map(move |s| common::write_control_run(&root, p, skill, s))
        })
        .collect();
    let summary = render(tmp.path(), &dirs, &ReportOptions::default());
    let plotted: Vec<(&str, &str)> = summary
        .plots
        .iter()
        .map(|p| (p.x_metric.as_str(), p.y_metric.as_str()))
        .collect();
    assert_eq!(
        plotted,
        [
            ("env_steps", "episodic_return"),
            ("env_steps", "eval/return")
        ]
    );
    assert_eq!(
        summary.plots[0].png,
        Path::new("plots").join("episodic_return_vs_env_steps.png")
    );
    assert_eq!(summary.tables[0].metric, "eval/return");
}

#[test]
fn no_runs_is_an_error_and_a_bad_run_dir_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        render_report(&[], tmp.path(), &ReportOptions::default()),
        Err(ReportError::NoRuns)
    ));
    let err = render_report(
        &[tmp.path().join("nope")],
        &tmp.path().join("r"),
        &ReportOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
