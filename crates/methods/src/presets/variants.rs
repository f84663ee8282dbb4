//! GRPO variants as presets over the shared parts (README-llm-group.md). Each names the parts
//! it changes; everything else is GRPO's default (`baselines::GRPO`).
use super::{Family, Preset};
use crate::config::MethodConfig;
use crate::objective::{Aggregation, Divergence, PolicyKernel};
use crate::plan::{Downsample, GlobalAdvantage, Reweight, Shaping, TrustRegion};

/// ETR: GRPO with per-sample elastic clip bounds (token-mean, as the spec's base).
pub const ETR: Preset = Preset {
    name: "etr",
    description:
        "ETR: per-sample elastic clip range from |A| and group reward variance, token-mean",
    spec: "etr.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.objective.aggregation = Aggregation::TokenMean;
        m.objective.trust_region = TrustRegion::Elastic;
        m.objective.elastic.alpha = 0.2;
        m.objective.elastic.beta = 0.5;
        m
    },
};

/// BNPO: the run script's loss (clip 0.2/0.28, dual clip 10, seq-mean-token-sum, no KL).
pub const BNPO: Preset = Preset {
    name: "bnpo",
    description: "BNPO: Beta-density advantage normalization fitted per batch, clip 0.2/0.28",
    spec: "bnpo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.estimator = "bnpo".into();
        m.objective.clip_high = 0.28;
        m.objective.dual_clip = Some(10.0);
        m.objective.aggregation = Aggregation::SeqMeanTokenSum;
        m
    },
};

/// ADORA: GRPO advantages attenuated (x0.1) on groups failing the Length-Advantage test.
pub const ADORA: Preset = Preset {
    name: "adora",
    description:
        "ADORA: GRPO with per-group weights from the Length-Advantage criterion (TDS x0.1)",
    spec: "adora.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.reweight = Reweight::Adora;
        m
    },
};

/// COPO: GRPO's local loss blended with a batch-level consistency advantage, token-mean.
pub const COPO: Preset = Preset {
    name: "copo",
    description:
        "COPO: local GRPO + global pass-rate advantage, blended per prompt by outcome entropy",
    spec: "copo.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.global_advantage = GlobalAdvantage::Copo;
        m.objective.aggregation = Aggregation::TokenMean;
        m
    },
};

/// GBPO: median group baseline and the squared bounded-ratio kernel, token-mean.
pub const GBPO: Preset = Preset {
    name: "gbpo",
    description: "GBPO: R - median(R), |A| (r - (1 +- eps))^2 / 2 pulls ratios to the BRRL target",
    spec: "brrl-bpo-gbpo.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.estimator = "gbpo".into();
        m.objective.kernel = PolicyKernel::BoundedRatio;
        m.objective.divergence = Divergence::Squared;
        m.objective.aggregation = Aggregation::TokenMean;
        m
    },
};

/// D3S on GRPO: 25% of responses and 20% of their tokens early, all of both by the end.
pub const D3S: Preset = Preset {
    name: "d3s",
    description: "D3S: max-variance responses + top |A|*entropy tokens, relaxed linearly to all",
    spec: "d3s.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.select.downsample = Downsample::D3s;
        m.select.d3s.sample_frac_init = 0.25;
        m.select.d3s.token_frac_init = 0.2;
        m.objective.aggregation = Aggregation::TokenMean;
        m
    },
};

/// RiskPO: mixed VaR on bundles of 5 prompts with tracked quantiles, token-mean, clip 0.2.
pub const RISKPO: Preset = Preset {
    name: "riskpo",
    description:
        "RiskPO: mixed VaR (CVaR + range-VaR) advantages on bundles of 5 prompts, tracked quantiles",
    spec: "riskpo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.estimator = "riskpo".into();
        m.objective.aggregation = Aggregation::TokenMean;
        m
    },
};

/// ASPO: DAPO with a bounded bias towards earlier first tool calls among correct responses.
pub const ASPO: Preset = Preset {
    name: "aspo",
    description:
        "ASPO: DAPO + clip(delta (p - mean p) / mean L, +-k|A|) for correct tool-using responses",
    spec: "aspo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = (super::baselines::DAPO.build)();
        m.credit.shaping = Shaping::Aspo;
        m
    },
};
