//! HDPO and its comparators on the inventory benchmarks (`algorithms/hdpo.md`, issue 16). The
//! trainer is `polopt_train::hdpo`; each preset is a layer of its `[inventory]` and `[train]`
//! settings there (the problem, the policy, the gradient estimator), not [`MethodConfig`]
//! parts: a pathwise gradient through a simulator has no advantage or clipping to configure.
use super::{Family, Preset};
use crate::config::MethodConfig;

const fn inventory(name: &'static str, description: &'static str) -> Preset {
    Preset {
        name,
        description,
        spec: "hdpo.md",
        reconstructed: false,
        family: Family::Inventory,
        build: <MethodConfig as Default>::default,
    }
}

pub const HDPO_BACKLOG: Preset = inventory(
    "hdpo-backlog",
    "HDPO: 3x32 ELU net, pathwise gradient (BPTT) through the backlogged store, L=4 p=9",
);
pub const HDPO_BASESTOCK_BACKLOG: Preset = inventory(
    "hdpo-basestock-backlog",
    "HDPO training the 1-parameter base-stock policy (S init 10, lr 0.5) on the backlogged store",
);
pub const REINFORCE_BACKLOG: Preset = inventory(
    "reinforce-backlog",
    "baseline of HDPO: the same net made Gaussian before the softplus, score-function gradient with a per-period baseline",
);
pub const HDPO_LOST_SALES: Preset = inventory(
    "hdpo-lost-sales",
    "HDPO: 3x32 ELU net on the lost-sales store, Poisson(5), L=1 p=4 (DP optimum 4.041)",
);
pub const HDPO_CAPPED_LOST_SALES: Preset = inventory(
    "hdpo-capped-lost-sales",
    "HDPO training the capped base-stock policy (S, cap) on the lost-sales store",
);
pub const REINFORCE_LOST_SALES: Preset = inventory(
    "reinforce-lost-sales",
    "baseline of HDPO on the lost-sales store: score-function gradient, Gaussian pre-softplus",
);
pub const HDPO_SERIAL: Preset = inventory(
    "hdpo-serial",
    "HDPO training the 4-level echelon-stock policy of the serial 4-echelon system",
);
pub const HDPO_WAREHOUSE: Preset = inventory(
    "hdpo-warehouse",
    "HDPO: symmetry-aware net (shared store net + context) for one warehouse and 3 stores",
);
