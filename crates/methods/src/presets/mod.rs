//! Named methods as presets over the parts (after AReaL's algorithm table): each is a
//! function from the default [`MethodConfig`] to the method's choices, plus a description
//! and the spec it follows. Adding a method is one file and one line in [`PRESETS`].
mod agents;
mod baselines;
mod control;
mod inventory;
mod multi_objective;
mod offpolicy;
mod preference;
mod theory;
mod variants;

use crate::config::MethodConfig;
use crate::error::{unknown, MethodError};

/// A registered preset.
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    /// Spec file under `shared/algorithms/`.
    pub spec: &'static str,
    /// True for specs rebuilt from an abstract (`CONFIDENCE: LOW` / `[RECON]`).
    pub reconstructed: bool,
    /// Which training loop runs it.
    pub family: Family,
    pub build: fn() -> MethodConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Group RL with verifiable rewards on text tasks.
    GroupRl,
    /// On-policy control on classic-control environments.
    Control,
    /// Exact solvers of the theory papers on small MDPs (`polopt_theory`).
    Theory,
    /// Multi-objective RL on vector-reward environments (C-MORL), run by the same seeded-solver
    /// runner as [`Family::Theory`].
    MultiObjective,
    /// Policy optimisation through inventory simulators (HDPO and its REINFORCE comparator).
    Inventory,
    /// Continuous-action off-policy control (TD3, SAC) over a replay buffer.
    OffPolicy,
}

impl Family {
    /// Families whose runs are seeded pure-Rust solvers (the `[theory]` runner, no checkpoints).
    pub fn is_solver(self) -> bool {
        matches!(self, Family::Theory | Family::MultiObjective)
    }
}

pub const PRESETS: &[Preset] = &[
    baselines::GRPO,
    baselines::DR_GRPO,
    baselines::DAPO,
    baselines::RLOO,
    baselines::REINFORCE_PP,
    baselines::GSPO,
    variants::ETR,
    variants::BNPO,
    variants::ADORA,
    variants::COPO,
    variants::GBPO,
    variants::D3S,
    variants::RISKPO,
    variants::R3,
    variants::DCPO,
    variants::HAPO,
    variants::TPPO,
    variants::DAPO_STEP,
    variants::SPO_CHAIN,
    variants::SPO_TREE,
    variants::ASPO,
    agents::GIGPO,
    agents::HGPO,
    agents::SALT,
    agents::IGPO,
    agents::EAPO,
    agents::HIPER,
    preference::DPO,
    preference::IPO,
    preference::SIMPO,
    preference::KTO,
    preference::ORPO,
    preference::RM,
    preference::ONLINE_DPO,
    preference::RPO,
    preference::INPO,
    preference::SEPPO,
    preference::SPO_SELFPLAY,
    preference::DEMO_REG,
    preference::RLHF_RM,
    preference::PARL,
    control::PPO_CARTPOLE,
    control::PPO_ACROBOT,
    control::PPO_PENDULUM,
    control::A2C_CARTPOLE,
    control::A2C_ACROBOT,
    control::REINFORCE_CARTPOLE,
    control::BPO_CARTPOLE,
    control::BPO_ACROBOT,
    offpolicy::TD3_PENDULUM,
    offpolicy::SAC_PENDULUM,
    offpolicy::TD3_MOUNTAINCAR_CONTINUOUS,
    offpolicy::SAC_MOUNTAINCAR_CONTINUOUS,
    offpolicy::EXPO_BANDIT,
    offpolicy::EXPO_BANDIT_BASE,
    offpolicy::EXPO_PENDULUM,
    offpolicy::EXPO_PENDULUM_BASE,
    offpolicy::TD3_BC_PENDULUM,
    offpolicy::A2PR_PENDULUM,
    theory::NPG_IGT_CARTPOLE,
    theory::NHARPG_CARTPOLE,
    theory::HARPG_CARTPOLE,
    theory::VPG_CARTPOLE,
    theory::NPG_MOMENTUM_CARTPOLE,
    theory::SUBPO_COVERAGE,
    theory::MODULAR_RL_COVERAGE,
    theory::LOOP_RIVERSWIM,
    theory::UCRL_RIVERSWIM,
    theory::QLEARNING_RIVERSWIM,
    theory::GOSPRL_RIVERSWIM,
    theory::RANDOM_COLLECT_RIVERSWIM,
    theory::LEAST_SAMPLED_RIVERSWIM,
    theory::AC_OPTIMAL_RIVERSWIM,
    theory::AC_NOOPTIMISM_RIVERSWIM,
    theory::AC_VANILLA_RIVERSWIM,
    theory::DR_RPO_SHORTCUT,
    theory::RPO_SHORTCUT,
    theory::TRAJECTORY_TREE_BINARY,
    theory::MC_EVAL_BINARY,
    theory::STOCK_DP_TWOSTEP,
    theory::STOCK_DP_GRID,
    theory::MEAN_DP_GRID,
    multi_objective::C_MORL_DST,
    multi_objective::LINEAR_MORL_DST,
    inventory::HDPO_BACKLOG,
    inventory::HDPO_BASESTOCK_BACKLOG,
    inventory::REINFORCE_BACKLOG,
    inventory::HDPO_LOST_SALES,
    inventory::HDPO_CAPPED_LOST_SALES,
    inventory::REINFORCE_LOST_SALES,
    inventory::HDPO_SERIAL,
    inventory::HDPO_WAREHOUSE,
];

pub fn preset(name: &str) -> Result<&'static Preset, MethodError> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        unknown("preset", name, &known)
    })
}
