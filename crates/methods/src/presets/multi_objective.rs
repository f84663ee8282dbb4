//! Multi-objective presets (issue 16): C-MORL and the linear-scalarisation baseline it is judged
//! against. Their learner lives in `polopt_train::multi_objective` and reads its knobs from
//! `[theory.settings]`; the tensor-free parts (Pareto archive, crowding distance, log barrier,
//! HV / EU / sparsity) are `crate::multi_objective`.
use super::{Family, Preset};
use crate::config::MethodConfig;

const fn multi_objective(name: &'static str, description: &'static str) -> Preset {
    Preset {
        name,
        description,
        spec: "c-morl.md",
        reconstructed: false,
        family: Family::MultiObjective,
        build: <MethodConfig as Default>::default,
    }
}

pub const C_MORL_DST: Preset = multi_objective(
    "c-morl-dst",
    "C-MORL: preference-grid PPO, then crowding-distance selection and log-barrier constrained extension (Deep Sea Treasure)",
);
pub const LINEAR_MORL_DST: Preset = multi_objective(
    "linear-morl-dst",
    "Linear scalarisation: one PPO policy per preference of the grid, the whole budget (C-MORL's stage 1 alone)",
);
