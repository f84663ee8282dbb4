//! The baselines peers ship, as presets (grpo-family.md).
use super::{Family, Preset};
use crate::config::MethodConfig;
use crate::objective::{Aggregation, RatioLevel};

/// GRPO (DeepSeekMath): group-normalized advantages, symmetric clip 0.2, original
/// seq-mean-token-mean aggregation, k3 KL (coefficient set per run; 0 by default here).
pub const GRPO: Preset = Preset {
    name: "grpo",
    description: "GRPO: group-normalized advantage, clip 0.2, seq-mean-token-mean",
    spec: "grpo-family.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: MethodConfig::default,
};

pub const DR_GRPO: Preset = Preset {
    name: "dr_grpo",
    description: "Dr. GRPO: no std division, constant length normalizer (seq-mean-token-sum-norm)",
    spec: "grpo-family.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.estimator = "dr_grpo".into();
        m.objective.aggregation = Aggregation::SeqMeanTokenSumNorm;
        m
    },
};

pub const DAPO: Preset = Preset {
    name: "dapo",
    description: "DAPO: clip-higher (0.2/0.28), dynamic sampling, token-mean, overlong shaping",
    spec: "grpo-family.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.objective.clip_high = 0.28;
        m.objective.aggregation = Aggregation::TokenMean;
        m.select.dynamic_sampling = true;
        m.select.overlong_shaping = true;
        m
    },
};

pub const RLOO: Preset = Preset {
    name: "rloo",
    description: "RLOO: leave-one-out group baseline, token-mean",
    spec: "grpo-family.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.estimator = "rloo".into();
        m.objective.aggregation = Aggregation::TokenMean;
        m
    },
};

pub const REINFORCE_PP: Preset = Preset {
    name: "reinforce_pp",
    description: "REINFORCE++-baseline: group mean baseline whitened over batch tokens, token-mean",
    spec: "grpo-family.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.estimator = "reinforce_pp_baseline".into();
        m.objective.aggregation = Aggregation::TokenMean;
        m
    },
};

pub const GSPO: Preset = Preset {
    name: "gspo",
    description: "GSPO: sequence-level geometric-mean ratio, clip 3e-4/4e-4, one term per sequence",
    spec: "grpo-family.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.objective.ratio = RatioLevel::Sequence;
        m.objective.clip_low = 3e-4;
        m.objective.clip_high = 4e-4;
        m.objective.aggregation = Aggregation::SeqMeanTokenMean;
        m
    },
};
