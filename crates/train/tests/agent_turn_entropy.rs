//! `agent/entropy_turn{k}`: the step's entropy split by turn index. With one minibatch and one
//! epoch it is the same forward's entropy as the step's `entropy`, so one turn per episode
//! gives exactly `entropy`, and several turns give values whose token-weighted mean is
//! `entropy` (it lies between the smallest and the largest).
mod common;

fn run(name: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let sets: Vec<&str> = [
        "task.name=corridor",
        "sft.steps=20",
        "rl.steps=2",
        "rl.epochs=1",
        "rl.minibatch_size=64",
        "eval.every=0",
        "eval.problems=4",
    ]
    .iter()
    .chain(extra)
    .copied()
    .collect();
    let config = common::tiny_config(dir.path(), name, &sets);
    let summary = polopt_train::train(&config, polopt_train::TrainOptions::default()).unwrap();
    common::metric_rows(&summary.run_dir, &[])
        .into_iter()
        .filter(|row| row.get("entropy").is_some())
        .collect()
}

fn turn_values(row: &serde_json::Value) -> Vec<(String, f64)> {
    row.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("agent/entropy_turn"))
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect()
}

#[test]
fn one_turn_episodes_have_the_steps_entropy_at_turn_zero() {
    let rows = run("one-turn", &["task.rl.horizon=1"]);
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["agent/turns"].as_f64().unwrap(), 1.0);
        let turns = turn_values(row);
        assert_eq!(turns.len(), 1, "{turns:?}");
        let entropy = row["entropy"].as_f64().unwrap();
        assert_eq!(turns[0].0, "agent/entropy_turn0");
        assert!(
            (turns[0].1 - entropy).abs() < 1e-6 * entropy.max(1.0),
            "{row}"
        );
    }
}

#[test]
fn turn_entropies_bracket_the_steps_entropy() {
    let rows = run("turns", &[]);
    for row in &rows {
        let turns = turn_values(row);
        assert!(turns.len() >= 2, "episodes of several turns: {turns:?}");
        let entropy = row["entropy"].as_f64().unwrap();
        let lo = turns.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
        let hi = turns.iter().map(|t| t.1).fold(f64::NEG_INFINITY, f64::max);
        assert!(lo.is_finite() && hi.is_finite());
        assert!(
            lo - 1e-6 <= entropy && entropy <= hi + 1e-6,
            "{entropy} {turns:?}"
        );
        assert!(hi > lo, "turns differ: {turns:?}");
    }
}
