//! HAPO in the loop: it trains with finite metrics, its own keys and an adaptive sampling
//! temperature from the second step on; the entropy statistics survive stop + resume exactly;
//! and zero knobs with GRPO advantages are the DAPO run (same clip settings) bit for bit.
mod common;

use common::dense;

use std::path::Path;

use polopt_train::train;
use serde_json::Value;

fn rows(run_dir: &Path, drop_prefix: Option<&str>) -> Vec<Value> {
    common::metric_rows(run_dir, drop_prefix.as_slice())
}

#[test]
fn hapo_trains_with_finite_metrics_and_adapts_the_temperature() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "hapo", &["method.preset=hapo", "rl.steps=4"]);
    train(&config, dense()).expect("hapo run");
    let rows = rows(&dir.path().join("hapo"), None);
    for row in &rows[1..] {
        for (k, v) in row.as_object().unwrap() {
            assert!(v.as_f64().is_some_and(f64::is_finite), "{k} = {v} in {row}");
        }
        assert!(row.get("hapo/eps_high_mean").is_some(), "{row}");
    }
    assert!(
        rows[1].get("sampling_temperature_mean").is_none(),
        "first step: plain T0"
    );
    for row in &rows[2..] {
        let t = row["sampling_temperature_mean"]
            .as_f64()
            .expect("adaptive from step 2");
        assert!((0.95..=1.05).contains(&t) && t != 1.0, "{t}");
        let eps_high = row["hapo/eps_high_mean"].as_f64().unwrap();
        assert!(eps_high > 0.2 && eps_high <= 0.4, "{eps_high}");
    }
}

#[test]
fn hapo_stop_and_resume_reproduces_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    common::straight_and_resumed(dir.path(), &["method.preset=hapo"], 3, dense, |_| {});
    let (a, b) = (
        rows(&dir.path().join("straight"), None),
        rows(&dir.path().join("split"), None),
    );
    assert_eq!(a.len(), 7);
    // Step 4 is the first after the resume: lost statistics would sample it at plain T0.
    assert!(a[4].get("sampling_temperature_mean").is_some(), "{}", a[4]);
    assert_eq!(a, b, "resumed metrics differ from the uninterrupted run");
}

#[test]
fn zero_knobs_with_grpo_advantages_are_the_dapo_run_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let hapo = common::tiny_config(
        dir.path(),
        "hapo0",
        &[
            "method.preset=hapo",
            "method.credit.estimator=grpo",
            "method.objective.hapo.temperature_tau=0.0",
            "method.objective.hapo.clip_alpha=0.0",
            "method.objective.hapo.adv_beta=0.0",
        ],
    );
    train(&hapo, dense()).expect("hapo with zero knobs");
    let dapo = common::tiny_config(
        dir.path(),
        "dapo",
        &[
            "method.preset=dapo",
            "method.objective.clip_high=0.2",
            "method.objective.dual_clip=10.0",
        ],
    );
    train(&dapo, dense()).expect("dapo");
    let a = rows(&dir.path().join("hapo0"), Some("hapo/"));
    let b = rows(&dir.path().join("dapo"), Some("hapo/"));
    let updated = a[1..]
        .iter()
        .filter(|row| row["grad_norm"].as_f64().is_some_and(|g| g > 0.0))
        .count();
    assert!(updated >= 3, "the runs must make real updates");
    assert_eq!(a, b);
}
