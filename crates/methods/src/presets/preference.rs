//! Preference methods as presets over the preference rollout kinds and the losses of
//! [`crate::preference::PREFERENCE_LOSSES`] (README-agent-preference.md,
//! preference-baselines.md). Each names the pair source, the loss and the reference schedule.
use super::{Family, Preset};
use crate::config::MethodConfig;
use crate::loops::RolloutKind;
use crate::preference_config::ReferenceSchedule;

fn pairs(loss: &str) -> MethodConfig {
    let mut m = MethodConfig::default();
    m.rollout.kind = RolloutKind::Pairs;
    m.preference.loss = loss.into();
    m
}

/// Offline DPO; other TRL loss types by `method.preference.loss` (ipo, hinge, robust).
pub const DPO: Preset = Preset {
    name: "dpo",
    description: "DPO: offline pairs, -log sigmoid(beta * log-ratio margin), fixed reference",
    spec: "preference-baselines.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || pairs("sigmoid"),
};

pub const IPO: Preset = Preset {
    name: "ipo",
    description: "IPO: offline pairs, squared loss (h - 1/(2 tau))^2, fixed reference",
    spec: "preference-baselines.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || pairs("ipo"),
};

pub const SIMPO: Preset = Preset {
    name: "simpo",
    description: "SimPO: offline pairs, reference-free length-normalised margin loss",
    spec: "preference-baselines.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || pairs("simpo"),
};

pub const KTO: Preset = Preset {
    name: "kto",
    description: "KTO: unpaired desirable/undesirable examples (pairs are split), fixed reference",
    spec: "preference-baselines.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || pairs("kto"),
};

pub const ORPO: Preset = Preset {
    name: "orpo",
    description: "ORPO: NLL of the chosen response + odds-ratio term, no reference (follows TRL)",
    spec: "none (Hong et al. 2024; TRL ORPOTrainer)",
    reconstructed: false,
    family: Family::GroupRl,
    build: || pairs("orpo"),
};

pub const RM: Preset = Preset {
    name: "rm",
    description: "Bradley-Terry reward model: a scalar head on the transformer, offline pairs",
    spec: "preference-baselines.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || pairs("bt"),
};

/// Online DPO with the spec's recommended default reference pi_ref = pi_t.
pub const ONLINE_DPO: Preset = Preset {
    name: "online_dpo",
    description: "online DPO: G samples per prompt, best vs worst by the reward, pi_ref = pi_t",
    spec: "preference-baselines.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.rollout.kind = RolloutKind::OnlinePairs;
        m.preference.loss = "sigmoid".into();
        m.preference.reference = ReferenceSchedule::Iterate;
        m
    },
};

pub const RPO: Preset = Preset {
    name: "rpo",
    description: "RPO: DPO + eta * beta * NLL of the chosen response (partly reconstructed)",
    spec: "rpo.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || pairs("rpo"),
};

/// INPO: online pairs, the squared OMD loss against the fixed warm start and the iterate.
pub const INPO: Preset = Preset {
    name: "inpo",
    description: "INPO: online pairs, (h - 1/(2 eta))^2 with pi_ref and the previous iterate pi_t",
    spec: "inpo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.rollout.kind = RolloutKind::OnlinePairs;
        m.preference.loss = "inpo".into();
        m.preference.reference = ReferenceSchedule::Iterate;
        m
    },
};

/// SePPO: positives from the data, negatives sampled from a random past checkpoint.
pub const SEPPO: Preset = Preset {
    name: "seppo",
    description: "SePPO: solution vs a sample of a random past checkpoint, anchor-based flip",
    spec: "seppo.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.rollout.kind = RolloutKind::ReferencePairs;
        m.preference.loss = "seppo".into();
        m.preference.reference = ReferenceSchedule::Pool;
        m
    },
};

/// SPO self-play: GRPO on each response's win rate against its group under the oracle.
pub const SPO_SELFPLAY: Preset = Preset {
    name: "spo_selfplay",
    description: "SPO (self-play): group win rates under a preference oracle as GRPO rewards",
    spec: "spo-selfplay.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.credit.judge = "win_rate".into();
        m
    },
};

/// Demonstration-regularised RL: GRPO with KL to the behaviour-cloned policy (the warm start
/// is supervised on the task's demonstrations, so it is pi_BC).
pub const DEMO_REG: Preset = Preset {
    name: "demo_reg",
    description: "demo-regularised RL: GRPO + lambda * KL to the behaviour-cloned warm start",
    spec: "demo-regularized-rl.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || {
        let mut m = MethodConfig::default();
        m.objective.kl_coef = 0.1;
        m
    },
};

/// GRPO on a reward model that is fit, each step, to the preference oracle's labels on pairs
/// of the policy's own samples (the run's reward labels; the policy never sees it).
///
/// Credit is Dr. GRPO's (no division by the group's std): a reward model's scores start nearly
/// tied, and dividing by their tiny spread would turn its noise into full-size advantages.
fn learned_reward(hypergradient: bool) -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.estimator = "dr_grpo".into();
    m.learned_reward.enabled = true;
    m.learned_reward.hypergradient = hypergradient;
    m
}

/// Standard RLHF as PARL's baseline: the same loop with the reward fit to the labels only.
pub const RLHF_RM: Preset = Preset {
    name: "rlhf_rm",
    description: "online RLHF: a BT reward model fit to labels of current-policy pairs, GRPO on it",
    spec: "parl.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || learned_reward(false),
};

/// A-PARL with one warm-started inner step per outer step: the reward's hypergradient adds
/// the implicit term through the policy's samples (finite-difference directional derivatives,
/// a scaled-identity inverse Hessian).
pub const PARL: Preset = Preset {
    name: "parl",
    description:
        "A-PARL: rlhf_rm plus the implicit-differentiation term of the reward's hypergradient",
    spec: "parl.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || learned_reward(true),
};
