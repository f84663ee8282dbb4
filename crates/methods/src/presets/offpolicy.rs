//! Continuous-action off-policy presets (issue 16 items 1 and 3): TD3 and SAC over the replay
//! buffer, and the offline TD3+BC and A2PR on a dataset split,
//! actors and twin critics of `polopt_train::offpolicy`. Like the control presets they take no
//! [`MethodConfig`] parts (those are the on-policy objective's); a preset's algorithm and
//! hyperparameters are run settings in `crates/train/configs/offpolicy/<preset>.toml`, taken
//! from rl-baselines3-zoo's tuned `td3.yml` / `sac.yml` and SB3's defaults.
use super::{Family, Preset};
use crate::config::MethodConfig;

const fn offpolicy(name: &'static str, description: &'static str, spec: &'static str) -> Preset {
    Preset {
        name,
        description,
        spec,
        reconstructed: false,
        family: Family::OffPolicy,
        build: <MethodConfig as Default>::default,
    }
}

pub const TD3_PENDULUM: Preset = offpolicy(
    "td3-pendulum",
    "TD3 on Pendulum-v1: rl-zoo tuned (400-300, lr 1e-3, gamma 0.98, 10k random steps, 20k)",
    "README-control-offline-theory.md",
);
pub const SAC_PENDULUM: Preset = offpolicy(
    "sac-pendulum",
    "SAC on Pendulum-v1: SB3 defaults + rl-zoo lr 1e-3, auto entropy, 20k steps",
    "README-control-offline-theory.md",
);
pub const TD3_MOUNTAINCAR_CONTINUOUS: Preset = offpolicy(
    "td3-mountaincar-continuous",
    "TD3 on MountainCarContinuous-v0: rl-zoo (400-300, noise 0.5 Gaussian for OU), 300k steps",
    "README-control-offline-theory.md",
);
pub const SAC_MOUNTAINCAR_CONTINUOUS: Preset = offpolicy(
    "sac-mountaincar-continuous",
    "SAC on MountainCarContinuous-v0: rl-zoo (64-64, ent 0.1, 32 steps x 32 updates), 50k",
    "README-control-offline-theory.md",
);
pub const EXPO_BANDIT: Preset = offpolicy(
    "expo-bandit",
    "EXPO on the bimodal bandit: DDPM base (T=10) + edit (beta 0.2) + argmax-Q over 8+8, 2000 offline actions 50/50",
    "algorithms/expo.md",
);
pub const EXPO_BANDIT_BASE: Preset = offpolicy(
    "expo-bandit-base",
    "EXPO's control on the bimodal bandit: acts with one sample of the imitation-only DDPM base",
    "algorithms/expo.md",
);
pub const EXPO_PENDULUM: Preset = offpolicy(
    "expo-pendulum",
    "EXPO on Pendulum-v1 with offline data: DDPM base + edit + argmax-Q over 8+8, medium split 50/50, 6k steps",
    "algorithms/expo.md",
);
pub const EXPO_PENDULUM_BASE: Preset = offpolicy(
    "expo-pendulum-base",
    "EXPO's control on Pendulum-v1: acts with one sample of the imitation-only DDPM base (same data)",
    "algorithms/expo.md",
);
pub const TD3_BC_PENDULUM: Preset = offpolicy(
    "td3-bc-pendulum",
    "TD3+BC (offline) on data/Pendulum-v1-medium-v0: alpha 2.5, normalised states, 20k updates",
    "a2pr.md",
);
pub const A2PR_PENDULUM: Preset = offpolicy(
    "a2pr-pendulum",
    "A2PR (offline): TD3+BC with an advantage-filtered VAE and advantage-selected BC target",
    "a2pr.md",
);
