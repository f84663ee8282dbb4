//! DCPO in the loop: it trains with finite metrics and its own keys, its entropy controller
//! survives stop + resume exactly, and alpha = 0 (alpha_cap = 0) is the GRPO run bit for bit.
mod common;

use common::dense;

use std::fs;
use std::path::Path;

use polopt_train::train;
use serde_json::Value;

fn metric_lines(run_dir: &Path) -> Vec<Value> {
    common::metric_rows(run_dir, &["dcpo/"])
}

#[test]
fn dcpo_trains_with_finite_metrics_and_an_active_controller() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "dcpo", &["method.preset=dcpo", "rl.steps=4"]);
    train(&config, dense()).expect("dcpo run");
    let text = fs::read_to_string(dir.path().join("dcpo/metrics.jsonl")).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for row in &rows[1..] {
        for (k, v) in row.as_object().unwrap() {
            assert!(v.as_f64().is_some_and(f64::is_finite), "{k} = {v} in {row}");
        }
        assert!(row.get("dcpo/alpha").is_some(), "{row}");
    }
    assert_eq!(
        rows[1]["dcpo/alpha"].as_f64(),
        Some(0.0),
        "first step: no H yet"
    );
    let later = &rows[2];
    assert!(later["dcpo/alpha"].as_f64().unwrap() > 0.0, "{later}");
    assert!(later["dcpo/rho_mean"].as_f64().unwrap() > 0.0, "{later}");
    let t = later["dcpo/temperature"].as_f64().unwrap();
    assert!(t == 0.8 || t == 1.2, "{t}");
}

#[test]
fn dcpo_stop_and_resume_reproduces_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    common::straight_and_resumed(dir.path(), &["method.preset=dcpo"], 3, dense, |_| {});
    let rows = |name: &str| common::metric_rows(&dir.path().join(name), &[]);
    let (a, b) = (rows("straight"), rows("split"));
    assert_eq!(a.len(), 7);
    // Step 4 is the first after the resume: a lost H would give alpha = 0 there.
    assert!(a[4]["dcpo/alpha"].as_f64().unwrap() > 0.0, "{}", a[4]);
    assert_eq!(a, b, "resumed metrics differ from the uninterrupted run");
}

#[test]
fn alpha_cap_zero_is_the_grpo_run_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let dcpo = common::tiny_config(
        dir.path(),
        "dcpo0",
        &["method.preset=dcpo", "method.credit.dcpo.alpha_cap=0.0"],
    );
    train(&dcpo, dense()).expect("dcpo alpha = 0");
    let grpo = common::tiny_config(
        dir.path(),
        "grpo",
        &[
            "method.objective.dual_clip=3.0",
            "method.objective.aggregation=\"token-mean\"",
        ],
    );
    train(&grpo, dense()).expect("grpo");
    let (a, b) = (
        metric_lines(&dir.path().join("dcpo0")),
        metric_lines(&dir.path().join("grpo")),
    );
    let updated = a[1..]
        .iter()
        .filter(|row| row["grad_norm"].as_f64().is_some_and(|g| g > 0.0))
        .count();
    assert!(updated >= 3, "the runs must make real updates");
    assert_eq!(a, b);
}
