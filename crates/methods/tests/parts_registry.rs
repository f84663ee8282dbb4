//! The parts registry: every registered part builds alone on GRPO, its resolved table round
//! trips, bad settings name their key, and a setting the chosen rollout kind would ignore is an
//! error that names it (issue 20).
use polopt_methods::loops::RolloutKind;
use polopt_methods::parts::{PartKind, PARTS};
use polopt_methods::plan::MethodRuntime;
use polopt_methods::presets::preset;
use polopt_methods::MethodConfig;

fn with_part(name: &str) -> MethodConfig {
    let entry = PARTS.iter().find(|e| e.name == name).expect("registered");
    let mut m = MethodConfig::default();
    let slot = match entry.kind {
        PartKind::Judge => &mut m.credit.judge,
        PartKind::Replay => &mut m.select.replay,
        PartKind::Shaping => &mut m.credit.shaping,
        PartKind::Reweight => &mut m.credit.reweight,
        PartKind::Controller => &mut m.credit.entropy_control,
        PartKind::TrustRegion => &mut m.objective.trust_region,
        PartKind::GlobalAdvantage => &mut m.credit.global_advantage,
        PartKind::Selector => &mut m.select.downsample,
    };
    *slot = name.to_string();
    m
}

fn error_of(m: &MethodConfig) -> String {
    m.validate().expect_err("rejected").to_string()
}

#[test]
fn every_part_builds_alone_and_its_resolved_table_round_trips() {
    for entry in PARTS {
        let m = with_part(entry.name);
        MethodRuntime::new(&m).unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        let resolved = m.with_resolved_parts().expect("resolves");
        assert_ne!(
            resolved, m,
            "{}: the resolved table shows its defaults",
            entry.name
        );
        assert_eq!(
            resolved.with_resolved_parts().expect("resolves"),
            resolved,
            "{}: resolving twice changes nothing",
            entry.name
        );
        assert_eq!(
            m.enabled_parts()
                .unwrap()
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>(),
            vec![entry.name]
        );
    }
}

#[test]
fn names_are_unique_within_a_kind() {
    for (i, a) in PARTS.iter().enumerate() {
        for b in &PARTS[i + 1..] {
            assert!(
                a.kind != b.kind || a.name != b.name,
                "{} registered twice",
                a.name
            );
            assert!(
                a.kind.section() != b.kind.section() || a.table != b.table,
                "{} and {} share the table {}",
                a.name,
                b.name,
                a.table
            );
        }
    }
}

#[test]
fn unknown_parts_tables_and_values_name_their_key() {
    let mut m = MethodConfig::default();
    m.credit.reweight = "adorra".into();
    let e = error_of(&m);
    assert!(
        e.contains("method.credit.reweight") && e.contains("adora"),
        "{e}"
    );

    let mut m = MethodConfig::default();
    m.credit.parts.set("adorra", "weight_tds", 1.0);
    let e = error_of(&m);
    assert!(e.contains("method.credit.adorra"), "{e}");

    let mut m = with_part("adora");
    m.credit.parts.set("adora", "weight_tds", "high");
    let e = error_of(&m);
    assert!(e.contains("method.credit.adora.weight_tds"), "{e}");

    let mut m = with_part("adora");
    m.credit.parts.set("adora", "weigth_tds", 1.0);
    let e = error_of(&m);
    assert!(e.contains("weigth_tds"), "{e}");
}

#[test]
fn a_table_of_a_part_that_is_off_is_still_range_checked() {
    let mut m = MethodConfig::default();
    m.credit.parts.set("adora", "weight_tds", -1.0);
    let e = error_of(&m);
    assert!(e.contains("method.credit.adora.weight_tds"), "{e}");
    // In range, it is accepted (a comparison grid passes one --set to every preset).
    m.credit.parts.set("adora", "weight_tds", 1.0);
    m.validate()
        .expect("an in-range table of a part that is off is fine");
}

#[test]
fn settings_a_rollout_kind_does_not_run_are_errors_naming_them() {
    let tppo = (preset("tppo").unwrap().build)();
    tppo.validate().expect("the preset is valid");

    let mut m = tppo.clone();
    m.credit.reweight = "adora".into();
    let e = error_of(&m);
    assert!(
        e.contains("method.credit.reweight") && e.contains("truncated"),
        "{e}"
    );

    let mut m = tppo.clone();
    m.credit.estimator = "grpo".into();
    let e = error_of(&m);
    assert!(
        e.contains("method.credit.estimator") && e.contains("egae"),
        "{e}"
    );

    let mut m = tppo;
    m.select.dynamic_sampling = true;
    assert!(error_of(&m).contains("method.select.dynamic_sampling"));

    let mut m = (preset("dapo_step").unwrap().build)();
    m.validate().expect("the preset is valid");
    m.credit.estimator = "rloo".into();
    assert!(error_of(&m).contains("method.credit.estimator"));
    let mut m = (preset("dapo_step").unwrap().build)();
    m.objective.trust_region = "elastic".into();
    assert!(error_of(&m).contains("method.objective.trust_region"));

    // The group rollout cannot make the values the segment estimator reads.
    let mut m = MethodConfig::default();
    m.credit.estimator = "spo".into();
    assert_eq!(m.rollout.kind, RolloutKind::Group);
    assert!(error_of(&m).contains("method.credit.estimator"));
}
