//! Log summaries in a rendered report: a preset whose gradient norms spread less on every seed
//! is `better` on the lower-is-better summary, and one whose late entropy is higher on every
//! seed is `better` on the higher-is-better one.

mod common;

use polopt_report::log_means::LogMean;
use polopt_report::paired::Verdict;
use polopt_report::{render_report, ReportOptions};
use std::path::{Path, PathBuf};

/// Ten steps; entropy decays from 1 to `1 - 0.9 * collapse` and grad_norm_std is `spread`
/// plus a seed-dependent offset.
fn run(root: &Path, preset: &str, seed: u64, collapse: f64, spread: f64) -> PathBuf {
    let mut lines = vec![serde_json::json!({"step": 0, "eval/pass@1": 0.2})];
    for step in 1..=10u64 {
        let entropy = 1.0 - collapse * 0.09 * step as f64 + 0.01 * seed as f64;
        let std = spread + 0.02 * seed as f64 + 0.001 * step as f64;
        lines.push(serde_json::json!({"step": step, "entropy": entropy, "grad_norm_std": std}));
    }
    common::write_lines_run(
        root,
        preset,
        "countdown",
        seed,
        &lines,
        &[("eval/pass@1", 0.3)],
    )
}

#[test]
fn log_summaries_are_paired_with_their_own_direction() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for seed in 0..5 {
        dirs.push(run(tmp.path(), "grpo", seed, 1.0, 0.3));
        dirs.push(run(tmp.path(), "steady", seed, 0.5, 0.1));
    }
    let opts = ReportOptions {
        curves: Some(vec![]),
        final_metrics: Some(vec!["eval/pass@1".into()]),
        log_means: vec![
            LogMean::new("entropy", 0.2, true),
            LogMean::new("grad_norm_std", 1.0, false),
        ],
        ..ReportOptions::default()
    };
    let summary = render_report(&dirs, &tmp.path().join("report"), &opts).unwrap();
    for (metric, higher) in [
        ("entropy, mean of the last 20% of steps", true),
        ("grad_norm_std, mean over all steps", false),
    ] {
        let table = summary.tables.iter().find(|t| t.metric == metric).unwrap();
        assert_eq!(table.higher_is_better, higher, "{metric}");
        let paired = summary
            .paired
            .iter()
            .find(|p| p.metric == metric && p.preset == "steady")
            .unwrap();
        assert_eq!(paired.result.verdict, Verdict::Better, "{metric}");
    }
    // Entropy of the last 2 of 10 steps, seed 0: grpo 1 - 0.09 * 9.5 = 0.145.
    let grpo = summary.tables[1]
        .rows
        .iter()
        .find(|r| r.preset == "grpo")
        .unwrap();
    let expected = (0..5).map(|s| 0.145 + 0.01 * s as f64).sum::<f64>() / 5.0;
    assert!((grpo.mean.unwrap().estimate - expected).abs() < 1e-9);
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains("grad_norm_std, mean over all steps"), "{md}");
}
