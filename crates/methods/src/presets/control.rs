//! On-policy control presets (ppo-baseline.md, reinforce-ac-baseline.md, brrl-bpo-gbpo.md):
//! the method's choices over the shared parts (GAE in the credit registry, the clipped
//! objective). The environment, budget and loop sizes of each preset live with the control
//! trainer (`crates/train/configs/control/<preset>.toml`), because they are run settings.
use super::{Family, Preset};
use crate::config::MethodConfig;
use crate::objective::{Aggregation, Divergence, PolicyKernel};

/// GAE credit, token-mean aggregation (one "token" per environment step, so every
/// aggregation is the plain mean), symmetric clip, and the given discount, lambda and entropy.
fn control_method(gamma: f64, lambda: f64, clip: f64, entropy_coef: f64) -> MethodConfig {
    let mut m = MethodConfig::default();
    m.credit.estimator = "gae".into();
    m.credit.gamma = gamma;
    m.credit.gae_lambda = lambda;
    m.objective.clip_low = clip;
    m.objective.clip_high = clip;
    m.objective.aggregation = Aggregation::TokenMean;
    m.objective.entropy_coef = entropy_coef;
    m
}

/// CleanRL `ppo.py` classic-control defaults: gamma 0.99, lambda 0.95, clip 0.2, c_e 0.01.
fn ppo_classic() -> MethodConfig {
    control_method(0.99, 0.95, 0.2, 0.01)
}

/// A2C: lambda 1 over a 5-step rollout is the n-step return bootstrapped at the rollout end
/// (SB3's A2C does the same); no clip in its loss, the clip value is unused.
fn a2c_classic() -> MethodConfig {
    control_method(0.99, 1.0, 0.2, 0.01)
}

/// BPO: PPO's settings with the bounded-ratio kernel and its [RECON] squared divergence.
fn bpo_classic() -> MethodConfig {
    let mut m = ppo_classic();
    m.objective.kernel = PolicyKernel::BoundedRatio;
    m.objective.divergence = Divergence::Squared;
    m
}

pub const PPO_CARTPOLE: Preset = Preset {
    name: "ppo-cartpole",
    description:
        "PPO + GAE on CartPole-v1: 4x128 steps, 4 epochs x 4 minibatches, lr 2.5e-4 annealed",
    spec: "ppo-baseline.md",
    reconstructed: false,
    family: Family::Control,
    build: ppo_classic,
};

pub const PPO_ACROBOT: Preset = Preset {
    name: "ppo-acrobot",
    description: "PPO + GAE on Acrobot-v1, classic-control defaults, 500k steps",
    spec: "ppo-baseline.md",
    reconstructed: false,
    family: Family::Control,
    build: ppo_classic,
};

pub const PPO_PENDULUM: Preset = Preset {
    name: "ppo-pendulum",
    description:
        "PPO + GAE on Pendulum-v1: Gaussian policy, obs/reward normalisation, gamma 0.9 (SB3 zoo)",
    spec: "ppo-baseline.md",
    reconstructed: false,
    family: Family::Control,
    build: || control_method(0.9, 0.95, 0.2, 0.0),
};

pub const A2C_CARTPOLE: Preset = Preset {
    name: "a2c-cartpole",
    description: "A2C on CartPole-v1: 8 envs x 5 steps, one step per rollout, lr 7e-4",
    spec: "reinforce-ac-baseline.md",
    reconstructed: false,
    family: Family::Control,
    build: a2c_classic,
};

pub const A2C_ACROBOT: Preset = Preset {
    name: "a2c-acrobot",
    description: "A2C on Acrobot-v1: 8 envs x 5 steps, one step per rollout, lr 7e-4",
    spec: "reinforce-ac-baseline.md",
    reconstructed: false,
    family: Family::Control,
    build: a2c_classic,
};

pub const REINFORCE_CARTPOLE: Preset = Preset {
    name: "reinforce-cartpole",
    description:
        "REINFORCE with a learned baseline on CartPole-v1: 10 whole episodes per update, lr 1e-3",
    spec: "reinforce-ac-baseline.md",
    reconstructed: false,
    family: Family::Control,
    build: || control_method(0.99, 1.0, 0.2, 0.0),
};

pub const BPO_CARTPOLE: Preset = Preset {
    name: "bpo-cartpole",
    description: "BPO: |A - median| weighted squared pull of the ratio to 1 +- eps, on CartPole-v1",
    spec: "brrl-bpo-gbpo.md",
    reconstructed: true,
    family: Family::Control,
    build: bpo_classic,
};

pub const BPO_ACROBOT: Preset = Preset {
    name: "bpo-acrobot",
    description: "BPO: |A - median| weighted squared pull of the ratio to 1 +- eps, on Acrobot-v1",
    spec: "brrl-bpo-gbpo.md",
    reconstructed: true,
    family: Family::Control,
    build: bpo_classic,
};
