//! The paired-difference section of a rendered report: a method that beats the baseline on
//! every seed reads `better`, one with mixed signs `inconclusive`, in report.md, report.html
//! and summary.json.

mod common;

use polopt_report::paired::{compare_paired, Verdict};
use polopt_report::render::{format_interval, format_value};
use polopt_report::{render_report, ReportOptions, ReportSummary};
use serde_json::Value;
use std::path::{Path, PathBuf};

const METRIC: &str = "eval/pass@1";
/// Seed-to-seed spread (the warm start) much larger than the gain of `dapo`, so only pairing
/// sees that dapo wins on every seed.
const GRPO: [f64; 6] = [0.20, 0.45, 0.30, 0.60, 0.25, 0.50];
const DAPO_GAIN: [f64; 6] = [0.05, 0.06, 0.04, 0.05, 0.07, 0.05];
const MIXED_DELTA: [f64; 6] = [0.08, -0.06, 0.10, -0.07, 0.02, -0.03];

fn run(root: &Path, preset: &str, seed: u64, value: f64) -> PathBuf {
    let dir = common::write_text_run(root, preset, 0.5, seed, 30);
    common::write_run_json(
        &dir,
        preset,
        "addition",
        seed,
        "finished",
        &[(METRIC, value)],
    );
    dir
}

/// grpo (seeds 0..6), dapo = grpo + gain (seeds 0..6), mixed = grpo + delta (seeds 0..6) plus
/// a seed 9 that grpo never ran.
fn grid(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for (seed, &g) in GRPO.iter().enumerate() {
        dirs.push(run(root, "grpo", seed as u64, g));
    }
    for (seed, (&g, &d)) in GRPO.iter().zip(&DAPO_GAIN).enumerate() {
        dirs.push(run(root, "dapo", seed as u64, g + d));
    }
    for (seed, (&g, &d)) in GRPO.iter().zip(&MIXED_DELTA).enumerate() {
        dirs.push(run(root, "mixed", seed as u64, g + d));
    }
    dirs.push(run(root, "mixed", 9, 0.99));
    dirs
}

fn opts() -> ReportOptions {
    ReportOptions {
        curves: Some(vec![]),
        ..ReportOptions::default()
    }
}

fn render(root: &Path, opts: &ReportOptions) -> ReportSummary {
    let dirs = grid(&root.join("runs"));
    render_report(&dirs, &root.join("report"), opts).expect("report renders")
}

#[test]
fn a_method_better_on_every_seed_is_better_and_mixed_signs_are_inconclusive() {
    let tmp = tempfile::tempdir().unwrap();
    let summary = render(tmp.path(), &opts());
    assert_eq!(summary.paired.len(), 2);
    let dapo = &summary.paired[0];
    let mixed = &summary.paired[1];
    assert_eq!(
        (dapo.preset.as_str(), dapo.baseline.as_str()),
        ("dapo", "grpo")
    );
    assert_eq!(dapo.metric, METRIC);
    assert_eq!((dapo.result.n_pairs, dapo.result.n_unmatched), (6, 0));
    assert_eq!(dapo.result.verdict, Verdict::Better);
    let mean_gain = DAPO_GAIN.iter().sum::<f64>() / 6.0;
    assert!((dapo.result.mean.unwrap() - mean_gain).abs() < 1e-12);
    // The unpaired intervals overlap heavily: the spread between seeds hides the gain.
    let rows = &summary.tables[0].rows;
    assert!(rows[1].mean.unwrap().lower < rows[0].mean.unwrap().upper);

    assert_eq!(mixed.preset, "mixed");
    assert_eq!((mixed.result.n_pairs, mixed.result.n_unmatched), (6, 1));
    assert!(
        mixed.result.mean.unwrap() > 0.0,
        "positive mean, mixed signs"
    );
    assert_eq!(mixed.result.verdict, Verdict::Inconclusive);

    // The numbers are the library's with the report's bootstrap settings.
    let strata = [(
        (0..6).map(|s| (s as u64, GRPO[s] + DAPO_GAIN[s])).collect(),
        (0..6).map(|s| (s as u64, GRPO[s])).collect(),
    )];
    let direct = compare_paired(&strata, true, &opts().bootstrap).unwrap();
    assert_eq!(dapo.result, direct);

    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains("## Paired difference against the baseline (same seed = same warm start)"));
    assert!(md.contains("Baseline: grpo (no baseline was named, so the first preset given)"));
    let row = format!(
        "| {METRIC} | dapo − grpo (↑ better) | {} | {} | 6 | better |",
        format_value(mean_gain),
        format_interval(&dapo.result.ci.unwrap())
    );
    assert!(md.contains(&row), "missing {row} in\n{md}");
    assert!(md.contains("| 6 (1 unmatched) | inconclusive |"), "{md}");
    // After the final-metric tables, before probability of improvement.
    let at = |s: &str| md.find(s).unwrap();
    assert!(at("## Final metrics") < at("## Paired") && at("## Paired") < at("## Probability"));

    let html = std::fs::read_to_string(&summary.html).unwrap();
    assert!(html.contains("<h2>Paired difference against the baseline"));
    assert!(html.contains("<td>dapo − grpo (↑ better)</td>"));
    assert!(html.contains("<td class=\"num\">6</td><td>better</td>"));
    assert!(html.contains("<td class=\"num\">6 (1 unmatched)</td><td>inconclusive</td>"));

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary.summary_json).unwrap()).unwrap();
    let p = &json["paired"];
    assert_eq!(p[0]["preset"], "dapo");
    assert_eq!(p[0]["verdict"], "better");
    assert_eq!(p[0]["n_pairs"], 6);
    assert!(p[0]["ci"]["lower"].as_f64().unwrap() > 0.0);
    assert_eq!(p[1]["verdict"], "inconclusive");
    assert_eq!(p[1]["n_unmatched"], 1);
    assert_eq!(json["baseline_named"], false);
    // Fields old consumers read are still there.
    for key in ["baseline", "presets", "tables", "improvements", "warnings"] {
        assert!(json.get(key).is_some(), "{key} missing");
    }
    let back: ReportSummary = serde_json::from_value(json).unwrap();
    assert_eq!(back, summary);
}

#[test]
fn a_named_lower_is_better_baseline_flips_the_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = ReportOptions {
        baseline: Some("dapo".into()),
        lower_is_better: vec![METRIC.into()],
        ..opts()
    };
    let summary = render(tmp.path(), &opts);
    let grpo = summary.paired.iter().find(|p| p.preset == "grpo").unwrap();
    // grpo - dapo < 0 on every seed, and lower is better: grpo is better.
    assert!(grpo.result.mean.unwrap() < 0.0);
    assert_eq!(grpo.result.verdict, Verdict::Better);
    assert!(summary.baseline_named);
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains("Baseline: dapo (named as the baseline)"));
    assert!(md.contains("| grpo − dapo (↓ better) |"));
}

#[test]
fn one_shared_seed_is_too_few_for_an_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    let dirs = vec![
        run(&root, "grpo", 0, 0.3),
        run(&root, "grpo", 1, 0.4),
        run(&root, "dapo", 1, 0.6),
        run(&root, "dapo", 2, 0.7),
    ];
    let summary = render_report(&dirs, &tmp.path().join("report"), &opts()).unwrap();
    let r = &summary.paired[0].result;
    assert_eq!((r.n_pairs, r.n_unmatched, r.ci), (1, 2, None));
    assert_eq!(r.verdict, Verdict::Inconclusive);
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(
        md.contains("| 1 (2 unmatched) | inconclusive (too few paired seeds) |"),
        "{md}"
    );
}

#[test]
fn a_summary_without_paired_fields_still_loads() {
    // summary.json written before this section existed.
    let tmp = tempfile::tempdir().unwrap();
    let summary = render(tmp.path(), &opts());
    let mut json = serde_json::to_value(&summary).unwrap();
    let obj = json.as_object_mut().unwrap();
    obj.remove("paired");
    obj.remove("baseline_named");
    let old: ReportSummary = serde_json::from_value(json).unwrap();
    assert!(old.paired.is_empty() && !old.baseline_named);
}
