//! The preference rollout kinds end to end on the tiny built-in model: every preference
//! preset trains without a non-finite value and resumes exactly, DPO learns the synthetic
//! preference, and bad settings are errors naming the key.
mod common;

use polopt_train::{train, TrainOptions};

/// Small synthetic sets and snapshots every two steps, so that a 6-step run refreshes its
/// iterate and grows SePPO's pool across the resume point.
const SMALL: [&str; 5] = [
    "method.preference.synthetic_pairs=64",
    "method.preference.eval_pairs=16",
    "method.preference.pairs_per_step=4",
    "method.preference.refresh_every=2",
    "rl.micro_batch_size=2",
];

fn sets(preset: &str) -> Vec<String> {
    let mut s: Vec<String> = SMALL.iter().map(|s| s.to_string()).collect();
    s.push(format!("method.preset=\"{preset}\""));
    s
}

fn assert_trains_and_resumes(preset: &str, dense: bool) {
    let dir = tempfile::tempdir().unwrap();
    let owned = sets(preset);
    let sets: Vec<&str> = owned.iter().map(String::as_str).collect();
    let options = || match dense {
        true => common::dense(),
        false => TrainOptions::default(),
    };
    common::straight_and_resumed(dir.path(), &sets, 3, options, |_| {});
    let straight = common::metric_rows(&dir.path().join("straight"), &[]);
    let split = common::metric_rows(&dir.path().join("split"), &[]);
    assert_eq!(straight.len(), 7, "{preset}: warm start + 6 steps");
    assert_eq!(straight, split, "{preset}: the resumed run differs");
    for row in &straight[1..] {
        assert_eq!(row["nan_events"], 0.0, "{preset}: {row}");
        if row["pairs"].as_f64().unwrap_or(0.0) > 0.0 {
            assert_eq!(row["updates"], 1.0, "{preset}: {row}");
            let loss = row["loss"].as_f64().expect("loss logged");
            assert!(loss.is_finite(), "{preset}: loss {loss}");
        }
    }
    let last = straight.last().unwrap();
    for key in [
        "eval/pref_accuracy",
        "eval/logp_accuracy",
        "eval/implicit_kl",
    ] {
        assert!(
            last[key].as_f64().is_some_and(f64::is_finite),
            "{preset}: {key} in {last}"
        );
    }
}

#[test]
fn offline_presets_train_and_resume_exactly() {
    for preset in ["dpo", "ipo", "simpo", "kto", "orpo", "rpo", "rm"] {
        assert_trains_and_resumes(preset, false);
    }
}

#[test]
fn online_presets_train_and_resume_exactly() {
    // A dense reward gives the tiny policy's groups unequal rewards, hence pairs.
    for preset in ["online_dpo", "inpo", "seppo"] {
        assert_trains_and_resumes(preset, true);
    }
}

#[test]
fn dpo_learns_the_synthetic_preference() {
    let dir = tempfile::tempdir().unwrap();
    let mut owned = sets("dpo");
    owned.extend(
        [
            "rl.steps=40",
            "eval.every=0",
            "rl.lr=0.003",
            // Held-out wrong-digit pairs need the sum, which a 10-step warm start does not
            // know; a repeated answer is a preference the tiny model can learn and generalise.
            "method.preference.synthetic_rejected=\"long\"",
            "method.preference.pairs_per_step=16",
        ]
        .map(String::from),
    );
    let sets: Vec<&str> = owned.iter().map(String::as_str).collect();
    let config = common::tiny_config(dir.path(), "dpo", &sets);
    let summary = train(&config, TrainOptions::default()).expect("dpo run");
    let before = summary.warmstart["eval/pref_accuracy"];
    let after = summary.final_metrics["eval/pref_accuracy"];
    // Before any step the policy is its own reference: every margin is 0, accuracy chance.
    assert_eq!(before, 0.5);
    assert!(
        after > 0.8,
        "held-out preference accuracy {after} after 40 DPO steps"
    );
    assert!(summary.final_metrics["eval/implicit_kl"] > 0.0);
}

fn error_of(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut owned = sets("dpo");
    owned.extend(extra.iter().map(|s| s.to_string()));
    let sets: Vec<String> = owned;
    let mut all: Vec<String> = [
        "run.threads=1",
        "model.hidden_size=32",
        "model.intermediate_size=64",
        "model.num_hidden_layers=1",
        "model.num_attention_heads=2",
        "model.num_key_value_heads=1",
    ]
    .map(String::from)
    .to_vec();
    all.push(format!(
        "run.out_dir={:?}",
        dir.path().display().to_string()
    ));
    all.extend(sets);
    match polopt_train::config::resolve(&toml::Table::new(), &all) {
        Err(e) => e.to_string(),
        Ok(config) => train(&config, TrainOptions::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn bad_preference_settings_name_their_key() {
    let e = error_of(&["method.preference.loss=\"dpo_typo\""]);
    assert!(
        e.contains("method.preference.loss") && e.contains("sigmoid"),
        "{e}"
    );
    let e = error_of(&["method.preference.ipo.beta=0.5"]);
    assert!(e.contains("method.preference.ipo"), "{e}");
    let e = error_of(&["method.preference.sigmoid.beta=-1.0"]);
    assert!(e.contains("beta"), "{e}");
    let e = error_of(&["method.preference.pairs_per_step=0"]);
    assert!(e.contains("method.preference.pairs_per_step"), "{e}");
    // The table on a group-RL preset would be ignored: an error instead.
    let e = error_of(&["method.preset=\"grpo\"", "method.preference.loss=\"ipo\""]);
    assert!(e.contains("method.preference"), "{e}");
}

/// A Hugging Face model (the tiny Qwen2 fixture with its chat template) trains under the
/// preference kinds: pairs from a preference file, online pairs scored by the registry
/// rewards, SePPO's reference samples; DPO also with LoRA, whose reference is the base model.
#[test]
fn preference_presets_train_a_hf_model() {
    let dir = tempfile::tempdir().unwrap();
    let small = [
        "method.preference.synthetic_pairs=8",
        "method.preference.eval_pairs=4",
        "method.preference.pairs_per_step=2",
        "method.preference.refresh_every=2",
    ];
    let lora = "model.lora={rank=4, alpha=8.0}";
    for (name, preset, extra) in [
        ("dpo", "dpo", None),
        ("dpo_lora", "dpo", Some(lora)),
        ("online_dpo", "online_dpo", None),
        ("seppo", "seppo", None),
        ("kto", "kto", None),
    ] {
        let mut sets: Vec<String> = small.iter().map(|s| s.to_string()).collect();
        sets.push(format!("method.preset=\"{preset}\""));
        sets.extend(extra.map(String::from));
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let mut cfg = common::own_config(dir.path(), name, "tiny_math.jsonl", &sets);
        if cfg.method.rollout.kind == polopt_methods::RolloutKind::Pairs {
            // A pairs run on [data] reads preference files (TRL's fields).
            let data = cfg.data.as_mut().expect("[data]");
            data.train = fixture("tiny_pairs.jsonl");
            data.eval = Some(fixture("tiny_pairs.jsonl"));
        }
        let summary =
            train(&cfg, TrainOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(summary.steps_done, 4, "{name}");
        assert_eq!(summary.nan_events, 0, "{name}");
        let last = &summary.final_metrics;
        assert!(
            last.contains_key("eval/pass@1") && last.contains_key("eval/pref_accuracy"),
            "{name}: {last:?}"
        );
        let ckpt = summary.run_dir.join("checkpoints/step-000004");
        let weights = if extra.is_some() {
            "adapter_model.safetensors"
        } else {
            "model.safetensors"
        };
        assert!(ckpt.join(weights).is_file(), "{name}: {weights} missing");
    }
}

fn fixture(name: &str) -> String {
    common::root()
        .join("crates/train/tests/fixtures/preference")
        .join(name)
        .display()
        .to_string()
}

/// Your own pairs: a JSONL file with text and chat rows (TRL's fields) trains the HF model
/// under DPO and KTO and resumes exactly at the same row of the file; an unpaired file trains
/// KTO; a paired loss on an unpaired file is an error naming the key.
#[test]
fn preference_files_train_and_resume_at_the_same_row() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = fixture("tiny_pairs.jsonl");
    for preset in ["dpo", "kto"] {
        let sets = [
            format!("method.preset=\"{preset}\""),
            "method.preference.pairs_per_step=3".into(),
            format!("data.eval={pairs:?}"),
        ];
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let straight = common::own_config(dir.path(), &format!("{preset}-straight"), "x", &sets);
        let mut straight = straight;
        straight.data.as_mut().unwrap().train = pairs.clone();
        train(&straight, TrainOptions::default()).unwrap_or_else(|e| panic!("{preset}: {e}"));
        let mut split = straight.clone();
        split.run.name = format!("{preset}-split");
        train(
            &split,
            TrainOptions {
                stop_after: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        train(
            &split,
            TrainOptions {
                resume: true,
                ..Default::default()
            },
        )
        .unwrap();
        let a = common::metric_rows(&dir.path().join(format!("{preset}-straight")), &[]);
        let b = common::metric_rows(&dir.path().join(format!("{preset}-split")), &[]);
        assert_eq!(a.len(), 5, "{preset}");
        assert_eq!(a, b, "{preset}: resumed run differs");
        // 16 rows at 3 per step: 4 steps read 12 rows, in the epoch order saved in state.json.
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!(
                "{preset}-split/checkpoints/step-000004/preference_state.json"
            )))
            .unwrap(),
        )
        .unwrap();
        assert!(state["order"].is_object(), "{preset}: {state}");
        assert!(a[4]["eval/pref_accuracy"].as_f64().is_some(), "{preset}");
    }
    let mut kto = common::own_config(dir.path(), "kto-unpaired", "x", &["method.preset=\"kto\""]);
    kto.data.as_mut().unwrap().train = fixture("tiny_unpaired.jsonl");
    kto.data.as_mut().unwrap().eval = None;
    train(&kto, TrainOptions::default()).expect("kto on an unpaired file");
    let mut dpo = kto.clone();
    dpo.run.name = "dpo-unpaired".into();
    dpo.method.preset = "dpo".into();
    dpo.method.preference.loss = "sigmoid".into();
    let e = train(&dpo, TrainOptions::default())
        .expect_err("pairs needed")
        .to_string();
    assert!(
        e.contains("method.preference.loss") && e.contains("unpaired"),
        "{e}"
    );
}
