//! Reading and checking PEFT's `adapter_config.json` (see [`super::peft`]).
use std::path::Path;

use serde_json::Value;

use super::peft::ADAPTER_CONFIG_FILE;
use super::LoraConfig;
use crate::error::ModelError;

/// What polopt reads from an `adapter_config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct PeftAdapterConfig {
    pub lora: LoraConfig,
    /// The base model the adapter was trained on, as its writer named it (a Hub id or a path).
    pub base_model_name_or_path: Option<String>,
}

/// Fields that must be false (or absent): each changes what the adapter computes.
const MUST_BE_FALSE: [&str; 5] = [
    "use_rslora",
    "use_dora",
    "fan_in_fan_out",
    "lora_bias",
    "use_qalora",
];

/// Fields that must be null, empty or absent: per-layer exceptions and extra trained modules.
const MUST_BE_EMPTY: [&str; 9] = [
    "rank_pattern",
    "alpha_pattern",
    "modules_to_save",
    "layers_to_transform",
    "layer_replication",
    "trainable_token_indices",
    "target_parameters",
    "exclude_modules",
    "alora_invocation_tokens",
];

/// Reads and checks `dir/adapter_config.json`; errors name the file and PEFT's field.
pub fn read_peft_config(dir: &Path) -> Result<PeftAdapterConfig, ModelError> {
    let path = dir.join(ADAPTER_CONFIG_FILE);
    if !path.is_file() {
        return Err(ModelError::MissingFile {
            path,
            hint: format!("a PEFT adapter directory needs {ADAPTER_CONFIG_FILE}"),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|e| ModelError::io(&path, e))?;
    let map: serde_json::Map<String, Value> =
        serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: path.clone(),
            source,
        })?;
    let bad = |field: &str, reason: String| ModelError::ConfigField {
        path: path.clone(),
        field: field.to_string(),
        reason,
    };
    // null counts as absent, as in PEFT's dataclass defaults.
    let get = |field: &str| map.get(field).filter(|v| !v.is_null());
    match get("peft_type").and_then(Value::as_str) {
        Some("LORA") => {}
        other => return Err(bad("peft_type", format!("must be \"LORA\", got {other:?}"))),
    }
    let rank = get("r")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("r", "must be a positive integer (the LoRA rank)".into()))?;
    let number = |field: &str, default: f64| match get(field) {
        None => Ok(default),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| bad(field, format!("must be a number, got {v}"))),
    };
    // PEFT's defaults for absent fields.
    let alpha = number("lora_alpha", 8.0)?;
    let dropout = number("lora_dropout", 0.0)?;
    let target_modules = match get("target_modules") {
        Some(Value::Array(names)) => names
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    bad("target_modules", format!("must list module names, got {v}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::String(pattern)) => {
            return Err(bad(
                "target_modules",
                format!(
                "is a regular expression ({pattern:?}); polopt reads a list of projection names"
            ),
            ))
        }
        _ => {
            return Err(bad(
                "target_modules",
                "must be a list of projection names".into(),
            ))
        }
    };
    match get("bias").and_then(Value::as_str) {
        None | Some("none") => {}
        Some(other) => {
            return Err(bad(
                "bias",
                format!("is {other:?}; polopt trains no biases (\"none\")"),
            ))
        }
    }
    for field in MUST_BE_FALSE {
        if let Some(v) = get(field).filter(|v| v.as_bool() != Some(false)) {
            return Err(bad(
                field,
                format!("is {v}; polopt supports plain LoRA only"),
            ));
        }
    }
    for field in MUST_BE_EMPTY {
        let empty = |v: &Value| match v {
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        };
        if let Some(v) = get(field).filter(|v| !empty(v)) {
            return Err(bad(
                field,
                format!("is {v}; polopt supports one rank and alpha for all targeted projections and nothing else trained"),
            ));
        }
    }
    let lora = LoraConfig {
        rank,
        alpha,
        dropout,
        target_modules,
    };
    lora.check().map_err(|(field, reason)| {
        let field = match field {
            "lora.rank" => "r",
            "lora.alpha" => "lora_alpha",
            "lora.dropout" => "lora_dropout",
            _ => "target_modules",
        };
        bad(field, reason)
    })?;
    Ok(PeftAdapterConfig {
        lora,
        base_model_name_or_path: get("base_model_name_or_path")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}
