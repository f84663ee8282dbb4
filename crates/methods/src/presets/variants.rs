//! GRPO variants as presets over the shared parts (README-llm-group.md). Each names the parts
//! it changes; everything else is GRPO's default (`baselines::GRPO`).
use super::{Family, Preset};
use crate::config::MethodConfig;
use crate::loops::RolloutKind;
use crate::objective::{Aggregation, Divergence, KlEstimator, PolicyKernel};

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
        m.objective.trust_region = "elastic".into();
        m.objective.parts.set("elastic", "alpha", 0.2);
        m.objective.parts.set("elastic", "beta", 0.5);
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
        m.credit.reweight = "adora".into();
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
        m.credit.global_advantage = "copo".into();
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
        m.select.downsample = "d3s".into();
        m.select.parts.set("d3s", "sample_frac_init", 0.25);
        m.select.parts.set("d3s", "token_frac_init", 0.2);
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

/// R³ on GRPO: replay k = 2 opposite outcomes into collapsed groups (α = 0.5), reflection
/// prompts for hard queries after the first 50 steps, SERR for truncated all-wrong groups.
pub const R3: Preset = Preset {
    name: "r3",
    description:
        "R3: per-query replay into zero-variance groups, reflection prompts, entropy-ranked truncations",
    spec: "r3.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.select.replay = "r3".into();
        m
    },
};

/// DCPO: GRPO + a REINFORCE term on correct responses under the old policy at T = 1.2 / 0.8,
/// weighted to hold the sampled-token NLL near H_0; clip 0.2/0.2, dual clip 3, token-mean.
pub const DCPO: Preset = Preset {
    name: "dcpo",
    description: "DCPO: GRPO mixed with a target-temperature REINFORCE term, entropy held near H_0",
    spec: "dcpo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.entropy_control = "dcpo".into();
        m.objective.dual_clip = Some(3.0);
        m.objective.aggregation = Aggregation::TokenMean;
        m
    },
};

/// HAPO on the DAPO base: token-level group average advantage, entropy-adaptive per-token clip
/// and advantage redistribution, adaptive sampling temperature; clip 0.2/0.2, dual clip 10.
pub const HAPO: Preset = Preset {
    name: "hapo",
    description:
        "HAPO: entropy-aware sampling temperature, token-level group average, per-token clip",
    spec: "hapo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = (super::baselines::DAPO.build)();
        m.credit.estimator = "token_group_mean".into();
        m.objective.clip_high = 0.2;
        m.objective.dual_clip = Some(10.0);
        m.objective.trust_region = "entropy_adaptive".into();
        m.objective.parts.set("hapo", "temperature_tau", 0.05);
        m
    },
};

/// T-PPO: truncated rollouts in windows, EGAE advantages from a critic, PPO clip-higher on the
/// new window's tokens, critic trained on finished responses only.
pub const TPPO: Preset = Preset {
    name: "tppo",
    description:
        "T-PPO: in-flight responses extended by 2-token windows, EGAE with a critic, clip-higher",
    spec: "tppo-egae.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.rollout.kind = RolloutKind::Truncated;
        // The spec's l = max_len / 4 for the default rl.max_new_tokens = 8.
        m.rollout.window = 2;
        m.credit.estimator = "egae".into();
        m.credit.gamma = 1.0;
        m.credit.gae_lambda = 0.95;
        m.objective.aggregation = Aggregation::TokenMean;
        m.objective.clip_high = 0.28;
        m
    },
};

/// Step-level DAPO: offline step dataset from the warm start, a frozen MC-trained critic, and
/// the squared log-ratio regression onto step advantages.
pub const DAPO_STEP: Preset = Preset {
    name: "dapo_step",
    description:
        "step-level DAPO: frozen MC critic, regress beta*log(pi/pi_ref) onto step advantages (offline)",
    spec: "dapo-step.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.rollout.kind = RolloutKind::OfflineStep;
        m
    },
};

/// The loss SPO trains with: PPO clip 0.2, masked token-mean, k3 KL 1e-4 to the reference.
fn spo(rollout: RolloutKind) -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.estimator = "spo".into();
    m.rollout.kind = rollout;
    m.objective.aggregation = Aggregation::TokenMean;
    m.objective.kl_coef = 1e-4;
    m.objective.kl_estimator = KlEstimator::K3;
    m
}

/// SPO-chain: M = 4 completions per cutpoint, a segment at every low-probability token.
pub const SPO_CHAIN: Preset = Preset {
    name: "spo_chain",
    description:
        "SPO-chain: segments cut before low-probability tokens, MC values V(c_k) - V(c_k-1)",
    spec: "spo-segment.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = spo(RolloutKind::SpoChain);
        m.credit.parts.set("spo", "interval", 1);
        m.credit.parts.set("spo", "mc_rollouts", 4);
        m
    },
};

/// SPO-tree: a (4, 2, 2) tree of 2-token segments per prompt: 16 leaves per prompt, 512 per
/// step at the default 32 prompts (the spec's 512 episodes from 32 prompts).
pub const SPO_TREE: Preset = Preset {
    name: "spo_tree",
    description: "SPO-tree: (4,2,2) sampling tree of short segments, edge A = V(child) - V(parent)",
    spec: "spo-segment.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = spo(RolloutKind::SpoTree);
        m.credit.parts.set("spo", "tree_branching", vec![4, 2, 2]);
        m.credit.parts.set("spo", "tree_segment_len", 2);
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
        m.credit.shaping = "aspo".into();
        m
    },
};
