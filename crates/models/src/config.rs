//! `TransformerConfig`: the Hugging Face `config.json` of a Qwen2 or Llama decoder, with the same
//! field names so that a checkpoint directory written by either side loads in the other.
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ModelError;

/// `eos_token_id` is one id in Qwen2 configs and a list in Llama 3 configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    One(i64),
    Many(Vec<i64>),
}

impl TokenIds {
    pub fn ids(&self) -> Vec<i64> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

/// Hyperparameters of a decoder-only Llama/Qwen2 transformer, in `config.json` names.
///
/// Fields that Hugging Face writes but this crate does not use are kept in `extra` and written
/// back on save. Read configs with [`TransformerConfig::from_json`], which also fills the
/// defaults that Hugging Face fills (`num_key_value_heads` = heads, `rope_theta` from the
/// transformers-5 `rope_parameters`, `torch_dtype` from `dtype`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformerConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// `"qwen2"` or `"llama"`.
    pub model_type: String,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    /// Fewer than `num_attention_heads` means grouped-query attention.
    pub num_key_value_heads: i64,
    /// Per-head width; `None` means `hidden_size / num_attention_heads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<i64>,
    pub max_position_embeddings: i64,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Bias on the q/k/v projections (and, for Llama, on o_proj too, as in transformers).
    /// `None` means the model type's default: on for Qwen2, off for Llama.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_bias: Option<bool>,
    #[serde(default)]
    pub bos_token_id: Option<i64>,
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_token_id: Option<i64>,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// `"float32"`, `"bfloat16"`, ... (the dtype the weights were saved in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_hidden_act() -> String {
    "silu".to_string()
}

const MODEL_TYPES: [(&str, &str); 2] =
    [("qwen2", "Qwen2ForCausalLM"), ("llama", "LlamaForCausalLM")];

impl TransformerConfig {
    /// A small Llama-layout config for tiny char-level policies (no attention bias, so that
    /// transformers' `LlamaForCausalLM` loads it unchanged).
    #[allow(clippy::too_many_arguments)]
    pub fn small(
        vocab_size: i64,
        hidden_size: i64,
        intermediate_size: i64,
        num_hidden_layers: i64,
        num_attention_heads: i64,
        num_key_value_heads: i64,
        max_position_embeddings: i64,
        tie_word_embeddings: bool,
        rope_theta: f64,
        bos_token_id: i64,
        eos_token_id: i64,
        pad_token_id: i64,
    ) -> Self {
        TransformerConfig {
            architectures: vec!["LlamaForCausalLM".to_string()],
            model_type: "llama".to_string(),
            vocab_size,
            hidden_size,
            intermediate_size,
            num_hidden_layers,
            num_attention_heads,
            num_key_value_heads,
            head_dim: None,
            max_position_embeddings,
            rope_theta,
            rms_norm_eps: default_rms_norm_eps(),
            tie_word_embeddings,
            attention_bias: Some(false),
            bos_token_id: Some(bos_token_id),
            eos_token_id: Some(TokenIds::One(eos_token_id)),
            pad_token_id: Some(pad_token_id),
            hidden_act: default_hidden_act(),
            torch_dtype: Some("float32".to_string()),
            extra: serde_json::Map::new(),
        }
    }

    /// Parses a `config.json` text, filling Hugging Face's defaults (call [`Self::validate`] next).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_value(Self::normalized(serde_json::from_str(text)?))
    }

    /// The JSON with the defaults transformers fills, under the names this struct reads.
    fn normalized(mut value: Value) -> Value {
        if let Value::Object(map) = &mut value {
            if !map.contains_key("num_key_value_heads") {
                if let Some(heads) = map.get("num_attention_heads").cloned() {
                    map.insert("num_key_value_heads".into(), heads);
                }
            }
            if !map.contains_key("rope_theta") {
                let theta = map
                    .get("rope_parameters")
                    .and_then(|p| p.get("rope_theta"))
                    .cloned();
                if let Some(theta) = theta {
                    map.insert("rope_theta".into(), theta);
                }
            }
            if !map.contains_key("torch_dtype") {
                if let Some(dtype) = map.get("dtype").cloned() {
                    map.insert("torch_dtype".into(), dtype);
                }
            }
            // A null head_dim is transformers' way of saying "derived".
            if map.get("head_dim") == Some(&Value::Null) {
                map.remove("head_dim");
            }
        }
        value
    }

    /// Reads and validates `path` (a `config.json`). A field of the wrong type or a missing one
    /// is named in the error ([`ModelError::ConfigField`]).
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let value: Value = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = serde_path_to_error::deserialize(Self::normalized(value)).map_err(
            |e: serde_path_to_error::Error<serde_json::Error>| {
                // A missing field is reported at the parent ("."), with its name in the message.
                let reason = e.inner().to_string();
                let field = match e.path().to_string().as_str() {
                    "." => reason.split('`').nth(1).unwrap_or(".").to_string(),
                    path => path.to_string(),
                };
                ModelError::ConfigField {
                    path: path.to_path_buf(),
                    field,
                    reason,
                }
            },
        )?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        // Serialising a struct of plain fields and a JSON map cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn head_dim(&self) -> i64 {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Whether q/k/v projections carry a bias.
    pub fn qkv_bias(&self) -> bool {
        self.attention_bias.unwrap_or(self.model_type == "qwen2")
    }

    /// Whether o_proj carries a bias (Llama's `attention_bias` covers it; Qwen2 never has one).
    pub fn o_bias(&self) -> bool {
        self.model_type == "llama" && self.qkv_bias()
    }

    /// Checks every field the model depends on; the error names the field.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !MODEL_TYPES.iter().any(|(t, _)| *t == self.model_type) {
            return Err(ModelError::UnknownArchitecture {
                what: format!("model_type {:?}", self.model_type),
            });
        }
        for arch in &self.architectures {
            if !MODEL_TYPES.iter().any(|(_, a)| a == arch) {
                return Err(ModelError::UnknownArchitecture {
                    what: format!("architecture {arch:?}"),
                });
            }
        }
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        for (field, value) in positive {
            if value <= 0 {
                return Err(ModelError::config(
                    field,
                    format!("must be positive, got {value}"),
                ));
            }
        }
        match self.head_dim {
            None if self.hidden_size % self.num_attention_heads != 0 => {
                return Err(ModelError::config(
                    "hidden_size",
                    format!(
                        "{} is not divisible by num_attention_heads = {}",
                        self.hidden_size, self.num_attention_heads
                    ),
                ))
            }
            Some(d) if d <= 0 => {
                return Err(ModelError::config(
                    "head_dim",
                    format!("must be positive, got {d}"),
                ))
            }
            _ => {}
        }
        if self.head_dim() % 2 != 0 {
            return Err(ModelError::config(
                "head_dim",
                format!(
                    "rotary embeddings need an even head dimension, got {}",
                    self.head_dim()
                ),
            ));
        }
        if self.num_attention_heads % self.num_key_value_heads != 0 {
            return Err(ModelError::config(
                "num_key_value_heads",
                format!(
                    "num_attention_heads = {} is not a multiple of num_key_value_heads = {}",
                    self.num_attention_heads, self.num_key_value_heads
                ),
            ));
        }
        for (field, value) in [
            ("rope_theta", self.rope_theta),
            ("rms_norm_eps", self.rms_norm_eps),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ModelError::config(
                    field,
                    format!("must be positive and finite, got {value}"),
                ));
            }
        }
        let eos = self
            .eos_token_id
            .as_ref()
            .map(TokenIds::ids)
            .unwrap_or_default();
        let ids = [
            ("bos_token_id", self.bos_token_id),
            ("pad_token_id", self.pad_token_id),
        ]
        .into_iter()
        .chain(eos.into_iter().map(|id| ("eos_token_id", Some(id))));
        for (field, id) in ids {
            if let Some(id) = id {
                if !(0..self.vocab_size).contains(&id) {
                    return Err(ModelError::config(
                        field,
                        format!("{id} is outside the vocabulary [0, {})", self.vocab_size),
                    ));
                }
            }
        }
        if self.hidden_act != "silu" {
            return Err(ModelError::config(
                "hidden_act",
                format!("only \"silu\" is supported, got {:?}", self.hidden_act),
            ));
        }
        if let Some(dtype) = &self.torch_dtype {
            if crate::checkpoint::kind_from_name(dtype).is_none() {
                return Err(ModelError::config(
                    "torch_dtype",
                    format!("unknown dtype {dtype:?}"),
                ));
            }
        }
        self.validate_unsupported_extras()
    }

    /// Features present in some Hugging Face configs that this implementation does not have:
    /// refuse them rather than load a model that computes something else.
    fn validate_unsupported_extras(&self) -> Result<(), ModelError> {
        let rope_type = |v: &Value| {
            v.get("rope_type")
                .or_else(|| v.get("type"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(scaling) = self.extra.get("rope_scaling").filter(|v| !v.is_null()) {
            if rope_type(scaling).as_deref() != Some("default") {
                return Err(ModelError::config(
                    "rope_scaling",
                    format!("only plain RoPE is supported, got {scaling}"),
                ));
            }
        }
        if let Some(params) = self.extra.get("rope_parameters").filter(|v| !v.is_null()) {
            if rope_type(params).is_some_and(|t| t != "default") {
                return Err(ModelError::config(
                    "rope_parameters",
                    format!("only plain RoPE is supported, got {params}"),
                ));
            }
        }
        for flag in ["use_sliding_window", "mlp_bias"] {
            if self.extra.get(flag).and_then(Value::as_bool) == Some(true) {
                return Err(ModelError::config(flag, "`true` is not supported"));
            }
        }
        Ok(())
    }

    /// Errors when `other` (a checkpoint's config) describes a different function than `self`
    /// (the model being loaded into). Token ids and the position limit may differ.
    pub fn check_same_architecture(&self, other: &TransformerConfig) -> Result<(), ModelError> {
        let fields: [(&'static str, String, String); 11] = [
            (
                "model_type",
                self.model_type.clone(),
                other.model_type.clone(),
            ),
            (
                "vocab_size",
                self.vocab_size.to_string(),
                other.vocab_size.to_string(),
            ),
            (
                "hidden_size",
                self.hidden_size.to_string(),
                other.hidden_size.to_string(),
            ),
            (
                "intermediate_size",
                self.intermediate_size.to_string(),
                other.intermediate_size.to_string(),
            ),
            (
                "num_hidden_layers",
                self.num_hidden_layers.to_string(),
                other.num_hidden_layers.to_string(),
            ),
            (
                "num_attention_heads",
                self.num_attention_heads.to_string(),
                other.num_attention_heads.to_string(),
            ),
            (
                "num_key_value_heads",
                self.num_key_value_heads.to_string(),
                other.num_key_value_heads.to_string(),
            ),
            (
                "head_dim",
                self.head_dim().to_string(),
                other.head_dim().to_string(),
            ),
            (
                "tie_word_embeddings",
                self.tie_word_embeddings.to_string(),
                other.tie_word_embeddings.to_string(),
            ),
            (
                "attention_bias",
                self.qkv_bias().to_string(),
                other.qkv_bias().to_string(),
            ),
            (
                "rope_theta",
                self.rope_theta.to_string(),
                other.rope_theta.to_string(),
            ),
        ];
        for (field, expected, found) in fields {
            if expected != found {
                return Err(ModelError::ConfigMismatch {
                    field,
                    expected,
                    found,
                });
            }
        }
        if self.rms_norm_eps != other.rms_norm_eps {
            return Err(ModelError::ConfigMismatch {
                field: "rms_norm_eps",
                expected: self.rms_norm_eps.to_string(),
                found: other.rms_norm_eps.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TransformerConfig {
        TransformerConfig::small(83, 128, 512, 4, 4, 2, 256, false, 10_000.0, 1, 2, 0)
    }

    fn field_of(config: &TransformerConfig) -> String {
        match config.validate() {
            Err(ModelError::InvalidConfig { field, .. }) => field.to_string(),
            Err(ModelError::UnknownArchitecture { what }) => format!("architecture: {what}"),
            other => panic!("expected an invalid config, got {other:?}"),
        }
    }

    #[test]
    fn validate_names_the_offending_field() {
        base().validate().unwrap();
        type Edit = fn(&mut TransformerConfig);
        let cases: [(&str, Edit); 10] = [
            ("hidden_size", |c| c.hidden_size = 130),
            ("num_key_value_heads", |c| c.num_key_value_heads = 3),
            ("vocab_size", |c| c.vocab_size = 0),
            ("head_dim", |c| c.head_dim = Some(7)),
            ("rms_norm_eps", |c| c.rms_norm_eps = 0.0),
            ("rope_theta", |c| c.rope_theta = f64::NAN),
            ("eos_token_id", |c| {
                c.eos_token_id = Some(TokenIds::Many(vec![2, 83]))
            }),
            ("hidden_act", |c| c.hidden_act = "gelu".into()),
            ("torch_dtype", |c| c.torch_dtype = Some("float8".into())),
            ("rope_scaling", |c| {
                c.extra.insert(
                    "rope_scaling".into(),
                    serde_json::json!({"rope_type": "llama3", "factor": 8.0}),
                );
            }),
        ];
        for (field, edit) in cases {
            let mut c = base();
            edit(&mut c);
            assert_eq!(field_of(&c), field);
        }
        let mut c = base();
        c.model_type = "mistral".into();
        assert!(field_of(&c).contains("mistral"));
    }

    #[test]
    fn reads_transformers_4_and_5_configs() {
        let v4 = r#"{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936,
            "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
            "num_key_value_heads": 2, "max_position_embeddings": 32768, "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "bos_token_id": 151643, "eos_token_id": 151643,
            "torch_dtype": "bfloat16", "sliding_window": 32768, "use_sliding_window": false, "rope_scaling": null}"#;
        let c = TransformerConfig::from_json(v4).unwrap();
        c.validate().unwrap();
        assert_eq!((c.head_dim(), c.qkv_bias(), c.o_bias()), (64, true, false));
        assert_eq!(c.torch_dtype.as_deref(), Some("bfloat16"));
        assert_eq!(c.extra["sliding_window"], 32768);

        let v5 = r#"{"model_type": "llama", "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192,
            "num_hidden_layers": 16, "num_attention_heads": 32, "max_position_embeddings": 8192,
            "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"}, "dtype": "float32",
            "eos_token_id": [128001, 128008], "bos_token_id": 128000, "head_dim": null}"#;
        let c = TransformerConfig::from_json(v5).unwrap();
        c.validate().unwrap();
        assert_eq!(
            (c.rope_theta, c.num_key_value_heads, c.head_dim()),
            (500000.0, 32, 64)
        );
        assert_eq!(
            c.eos_token_id.as_ref().map(TokenIds::ids),
            Some(vec![128001, 128008])
        );
        assert!(!c.qkv_bias() && !c.tie_word_embeddings);
        let again = TransformerConfig::from_json(&c.to_json()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn architecture_check_names_the_differing_field() {
        let mut other = base();
        other.num_key_value_heads = 4;
        match base().check_same_architecture(&other) {
            Err(ModelError::ConfigMismatch {
                field,
                expected,
                found,
            }) => {
                assert_eq!(
                    (field, expected.as_str(), found.as_str()),
                    ("num_key_value_heads", "2", "4")
                )
            }
            r => panic!("{r:?}"),
        }
        let mut ids_differ = base();
        ids_differ.bos_token_id = Some(5);
        ids_differ.max_position_embeddings = 1024;
        base().check_same_architecture(&ids_differ).unwrap();
    }
}
