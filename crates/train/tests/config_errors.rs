//! Bad configuration gets an error that names the key and what is allowed.
use polopt_train::config::resolve;

fn error_of(sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    match resolve(&toml::Table::new(), &sets) {
        Ok(_) => panic!("{sets:?} should have been rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_embedded_default_resolves_to_grpo_on_addition() {
    let config = resolve(&toml::Table::new(), &[]).expect("default is valid");
    assert_eq!(config.method.preset, "grpo");
    assert_eq!(config.task.name, "addition");
    assert_eq!(config.method.credit.estimator, "grpo");
}

#[test]
fn a_preset_sets_its_parts_and_user_keys_win_over_it() {
    let config = resolve(
        &toml::Table::new(),
        &[
            "method.preset=dapo".into(),
            "method.objective.clip_high=0.3".into(),
        ],
    )
    .unwrap();
    assert!(config.method.select.dynamic_sampling);
    assert_eq!(config.method.objective.clip_high, 0.3);
}

#[test]
fn unknown_key_is_named() {
    let e = error_of(&["rl.lrr=0.1"]);
    assert!(e.contains("lrr") && e.contains("rl"), "{e}");
}

#[test]
fn unknown_preset_lists_the_known_ones() {
    let e = error_of(&["method.preset=grpoo"]);
    assert!(
        e.contains("grpoo") && e.contains("dr_grpo") && e.contains("method.preset"),
        "{e}"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let e = error_of(&["rl.steps=\"many\""]);
    assert!(e.contains("rl.steps") && e.contains("invalid type"), "{e}");
}

#[test]
fn out_of_range_value_names_the_key_and_range() {
    let e = error_of(&["rl.lr=5.0"]);
    assert!(e.contains("rl.lr") && e.contains("(0, 1)"), "{e}");
    let e = error_of(&["rl.group_size=1"]);
    assert!(e.contains("rl.group_size"), "{e}");
    let e = error_of(&["method.objective.clip_low=1.5"]);
    assert!(e.contains("method.objective.clip_low"), "{e}");
}

#[test]
fn unknown_estimator_and_bad_task_knob_are_named() {
    let e = error_of(&["method.credit.estimator=magic"]);
    assert!(e.contains("magic") && e.contains("rloo"), "{e}");
    let e = error_of(&["method.objective.aggregation=mean"]);
    assert!(e.contains("method.objective.aggregation"), "{e}");
}
