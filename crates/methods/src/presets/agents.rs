//! Multi-turn agent methods (README-agent-preference.md): turn-level credit over the episodes
//! of an agent environment (`task.name = texthouse | minishop | searchqa | corridor`).
//!
//! Each preset is GRPO's objective with its paper's estimator, so that a comparison against
//! `grpo` on the same environment (episode-level GRPO: one advantage per episode, broadcast to
//! every action token) isolates the credit assignment the paper is about. The environment's
//! replies are masked out of the loss by the rollout for every preset alike.
use super::{Family, Preset};
use crate::config::MethodConfig;

fn with_estimator(name: &str) -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.estimator = name.into();
    m
}

pub const GIGPO: Preset = Preset {
    name: "gigpo",
    description: "GiGPO: episode advantage + step advantage over anchor-state groups (agents)",
    spec: "gigpo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || with_estimator("gigpo"),
};

pub const HGPO: Preset = Preset {
    name: "hgpo",
    description: "HGPO: GiGPO with nested history-context groups, weights (k+1)^alpha (agents)",
    spec: "hgpo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || with_estimator("hgpo"),
};

pub const SALT: Preset = Preset {
    name: "salt",
    description: "SALT: each step gets the mean GRPO advantage of the episodes through its edge",
    spec: "salt.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || with_estimator("salt"),
};

pub const IGPO: Preset = Preset {
    name: "igpo",
    description:
        "IGPO: information-gain turn rewards from the policy's belief in the gold answer (agents)",
    spec: "igpo.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || with_estimator("igpo"),
};

pub const EAPO: Preset = Preset {
    name: "eapo",
    description:
        "EAPO (IterResearch): per-turn gamma^(T-t) R_T, z-scored over the group's turns (agents)",
    spec: "eapo-iterresearch.md",
    reconstructed: true,
    family: Family::GroupRl,
    build: || with_estimator("eapo"),
};

pub const HIPER: Preset = Preset {
    name: "hiper",
    description: "HiPER: plan-execute turns, two-time-scale GAE with a three-head critic (agents; \
                  set task.rl.plan_execute and task.sft.plan_execute)",
    spec: "hiper-hae.md",
    reconstructed: false,
    family: Family::GroupRl,
    build: || with_estimator("hiper"),
};
