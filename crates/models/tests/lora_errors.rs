//! LoRA configs and PEFT adapter files that polopt refuses, and what the errors say.
mod common;

use std::path::{Path, PathBuf};

use common::rng_lock;
use polopt_models::checkpoint::{self, LoadedModel};
use polopt_models::lora::peft;
use polopt_models::{Lora, LoraConfig};
use tch::Device;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn base() -> LoadedModel {
    checkpoint::load(&fixture("qwen2_gqa_bias"), Device::Cpu).expect("base fixture loads")
}

fn config_error(edit: impl FnOnce(&mut LoraConfig)) -> String {
    let mut config = LoraConfig::default();
    edit(&mut config);
    match config.validate() {
        Ok(()) => panic!("{config:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

type Edit = fn(&mut LoraConfig);

#[test]
fn invalid_configs_name_the_field() {
    assert!(LoraConfig::default().validate().is_ok());
    let cases: [(Edit, &str); 6] = [
        (|c| c.rank = 0, "lora.rank"),
        (|c| c.alpha = -1.0, "lora.alpha"),
        (|c| c.dropout = 1.0, "lora.dropout"),
        (|c| c.target_modules.clear(), "lora.target_modules"),
        (|c| c.target_modules.push("q_proj".into()), "listed twice"),
        (|c| c.target_modules = vec!["qkv_proj".into()], "qkv_proj"),
    ];
    for (edit, needle) in cases {
        let err = config_error(edit);
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
    let err = config_error(|c| c.target_modules = vec!["lm_head".into()]);
    assert!(
        err.contains("valid names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"),
        "{err}"
    );
}

#[test]
fn config_parses_with_defaults_and_rejects_unknown_keys() {
    let c: LoraConfig = serde_json::from_str(r#"{"rank": 16, "target_modules": ["q_proj"]}"#)
        .expect("partial config parses");
    assert_eq!((c.rank, c.alpha, c.dropout), (16, 16.0, 0.0));
    assert_eq!(c.scale(), 1.0);
    let err = serde_json::from_str::<LoraConfig>(r#"{"rank": 4, "alpah": 8}"#)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("alpah"), "{err}");
}

#[test]
fn attach_refuses_a_second_adapter_and_bad_configs_leave_the_model_plain() {
    let _rng = rng_lock();
    let mut m = base();
    let bad = LoraConfig {
        rank: 0,
        ..LoraConfig::default()
    };
    assert!(Lora::attach(&mut m.model, &mut m.vs, &bad).is_err());
    assert!(!m.model.has_adapters());
    let _lora = Lora::attach(&mut m.model, &mut m.vs, &LoraConfig::default()).unwrap();
    let err = Lora::attach(&mut m.model, &mut m.vs, &LoraConfig::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("already has LoRA adapters"), "{err}");
}

/// A copy of the PEFT fixture with `adapter_config.json` edited by `edit`.
fn edited_adapter(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("lora_qwen2");
    std::fs::copy(
        src.join(peft::ADAPTER_WEIGHTS_FILE),
        dir.path().join(peft::ADAPTER_WEIGHTS_FILE),
    )
    .unwrap();
    let text = std::fs::read_to_string(src.join(peft::ADAPTER_CONFIG_FILE)).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut json);
    std::fs::write(dir.path().join(peft::ADAPTER_CONFIG_FILE), json.to_string()).unwrap();
    dir
}

fn load_error(dir: &Path) -> String {
    let mut m = base();
    let err = Lora::load_peft(dir, &mut m.model, &mut m.vs)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("{} loaded", dir.display()));
    assert!(!m.model.has_adapters(), "a failed load attached adapters");
    err
}

#[test]
fn unsupported_peft_configs_name_the_file_and_field() {
    let cases: [(&str, serde_json::Value, &str); 6] = [
        ("use_rslora", true.into(), "plain LoRA"),
        ("use_dora", true.into(), "plain LoRA"),
        ("bias", "all".into(), "no biases"),
        ("target_modules", ".*proj".into(), "regular expression"),
        ("rank_pattern", serde_json::json!({"q_proj": 8}), "one rank"),
        ("peft_type", "IA3".into(), "LORA"),
    ];
    for (field, value, needle) in cases {
        let dir = edited_adapter(|j| j[field] = value);
        let err = load_error(dir.path());
        assert!(err.contains(peft::ADAPTER_CONFIG_FILE), "{err}");
        assert!(err.contains(&format!("field `{field}`")), "{err}");
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
    let dir = edited_adapter(|j| j["target_modules"] = serde_json::json!(["q_proj", "lm_head"]));
    let err = load_error(dir.path());
    assert!(
        err.contains("lm_head") && err.contains("valid names"),
        "{err}"
    );
}

#[test]
fn tensor_problems_name_the_file_and_tensor() {
    // A rank that disagrees with the stored tensors.
    let dir = edited_adapter(|j| j["r"] = 2.into());
    let err = load_error(dir.path());
    assert!(
        err.contains("layers.0.mlp.down_proj.lora_A.weight")
            && err.contains("shape [4, 40], expected [2, 40]"),
        "{err}"
    );
    // A target with no tensors in the file.
    let dir = edited_adapter(|j| {
        j["target_modules"] = serde_json::json!([
            "q_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "down_proj",
            "up_proj"
        ])
    });
    let err = load_error(dir.path());
    assert!(
        err.contains("up_proj.lora_A.weight` is missing from")
            && err.contains(peft::ADAPTER_WEIGHTS_FILE),
        "{err}"
    );
    // Tensors for a target the config does not list.
    let dir = edited_adapter(|j| {
        j["target_modules"] = serde_json::json!(["q_proj", "v_proj", "o_proj", "gate_proj"])
    });
    let err = load_error(dir.path());
    assert!(
        err.contains("down_proj") && err.contains("not a parameter"),
        "{err}"
    );
    // No weights file at all.
    let dir = edited_adapter(|_| {});
    std::fs::remove_file(dir.path().join(peft::ADAPTER_WEIGHTS_FILE)).unwrap();
    assert!(load_error(dir.path()).contains(peft::ADAPTER_WEIGHTS_FILE));
}

#[test]
fn resuming_into_adapters_of_another_shape_is_refused() {
    let _rng = rng_lock();
    let mut m = base();
    let config = LoraConfig {
        rank: 4,
        alpha: 16.0,
        ..LoraConfig::default()
    };
    let mut lora = Lora::attach(&mut m.model, &mut m.vs, &config).unwrap();
    let err = lora
        .load_peft_weights(&fixture("lora_qwen2"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("`lora_alpha`"), "{err}");
}
