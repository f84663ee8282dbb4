//! Cost-to-target tables in a rendered report: a preset that reaches the target in fewer
//! samples on every seed is `better` on the lower-is-better cost, and the note says how many
//! runs reached the target.

mod common;

use polopt_report::paired::Verdict;
use polopt_report::{render_report, ReportOptions};
use std::path::{Path, PathBuf};

/// Eval pass@1 of `preset`'s seed `seed`: rises by `rate` per step from a seed-dependent start;
/// 256 samples and 2 s per step.
fn run(root: &Path, preset: &str, seed: u64, rate: f64) -> PathBuf {
    let start = 0.1 + 0.03 * seed as f64;
    let pass = |step: u64| (start + rate * step as f64).min(1.0);
    let lines: Vec<_> = (0..=10u64)
        .map(|step| match step {
            0 => serde_json::json!({"step": 0, "eval/pass@1": pass(0)}),
            _ => serde_json::json!({
                "step": step, "samples": 256, "step_time_s": 2.0, "eval/pass@1": pass(step)
            }),
        })
        .collect();
    common::write_lines_run(
        root,
        preset,
        "addition",
        seed,
        &lines,
        &[("eval/pass@1", pass(10))],
    )
}

#[test]
fn fewer_samples_to_the_target_on_every_seed_is_better_and_the_note_counts_the_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for seed in 0..5 {
        dirs.push(run(tmp.path(), "grpo", seed, 0.03));
        dirs.push(run(tmp.path(), "fast", seed, 0.10));
    }
    let opts = ReportOptions {
        curves: Some(vec![]),
        final_metrics: Some(vec!["eval/pass@1".into()]),
        targets: vec!["eval/pass@1>=0.4".parse().unwrap()],
        ..ReportOptions::default()
    };
    let summary = render_report(&dirs, &tmp.path().join("report"), &opts).unwrap();
    let metric = "samples to eval/pass@1>=0.4";
    let table = summary.tables.iter().find(|t| t.metric == metric).unwrap();
    assert!(!table.higher_is_better);
    let paired = summary
        .paired
        .iter()
        .find(|p| p.metric == metric && p.preset == "fast")
        .unwrap();
    assert_eq!(paired.result.verdict, Verdict::Better);
    assert!(paired.result.mean.unwrap() < 0.0);
    let md = std::fs::read_to_string(&summary.markdown).unwrap();
    assert!(md.contains(metric), "{md}");
    // Seed 0 of grpo starts at 0.10 and reaches 0.40 at step 10, the last line: 5/5.
    assert!(md.contains("grpo 5/5, fast 5/5"), "{md}");
    // How the cost was counted is a note, not a warning: nothing is wrong with these runs.
    assert!(summary.notes.iter().any(|n| n.contains("grpo 5/5")));
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert!(
        md.contains("## Notes") && !md.contains("## Warnings"),
        "{md}"
    );
}
