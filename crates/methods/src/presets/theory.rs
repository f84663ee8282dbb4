//! The theory papers' solvers (issue 17) as presets, so that `polopt list`, `train` and
//! `compare` find them by name like any method. Their algorithms live in `polopt_theory` (one
//! file each, registered under the same name) and take no [`MethodConfig`] parts: the parts
//! are for the tensor loops; a tabular solver's knobs are its `[theory.settings]`.
use super::{Family, Preset};
use crate::config::MethodConfig;

const fn theory(
    name: &'static str,
    description: &'static str,
    spec: &'static str,
    reconstructed: bool,
) -> Preset {
    Preset {
        name,
        description,
        spec,
        reconstructed,
        family: Family::Theory,
        build: <MethodConfig as Default>::default,
    }
}

pub const NPG_IGT_CARTPOLE: Preset = theory(
    "npg-igt-cartpole",
    "N-PG-IGT: normalized PG with implicit-gradient-transport momentum (bandit too)",
    "npg-igt-harpg.md",
    true,
);
pub const NHARPG_CARTPOLE: Preset = theory(
    "nharpg-cartpole",
    "N-HARPG: normalized PG with Hessian-aided recursive momentum (bandit too)",
    "npg-igt-harpg.md",
    true,
);
pub const HARPG_CARTPOLE: Preset = theory(
    "harpg-cartpole",
    "HARPG: Hessian-aided recursive momentum PG with a constant step (bandit too)",
    "npg-igt-harpg.md",
    true,
);
pub const VPG_CARTPOLE: Preset = theory(
    "vpg-cartpole",
    "baseline: vanilla GPOMDP policy gradient with a constant step (bandit too)",
    "npg-igt-harpg.md",
    false,
);
pub const NPG_MOMENTUM_CARTPOLE: Preset = theory(
    "npg-momentum-cartpole",
    "baseline: normalized PG with momentum, N-PG-IGT without extrapolation (bandit too)",
    "npg-igt-harpg.md",
    false,
);
pub const SUBPO_COVERAGE: Preset = theory(
    "subpo-coverage",
    "SubPO: REINFORCE on marginal coverage gains, history-aware softmax policy, Adam",
    "subpo.md",
    true,
);
pub const MODULAR_RL_COVERAGE: Preset = theory(
    "modular-rl-coverage",
    "baseline: the same learner on the Markov reward |N_1(s)|, scored by coverage F",
    "subpo.md",
    false,
);
