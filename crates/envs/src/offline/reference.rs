//! Reference returns for the normalised score (`envs/offline-data.md` §1-§2), recomputed in
//! Rust with the §2 protocol and frozen here: 100 episodes with reset seeds 10000..10099; the
//! deterministic scripted expert; the uniform-random policy drawing from
//! `ChaCha8Rng::seed_from_u64(0)` (our stand-in for `action_space.seed(0)`).
//!
//! Our resets draw Gymnasium's distributions from a different stream than NumPy's (classic
//! spec §0.7), so the numbers agree with the Gymnasium table within sampling error, not
//! exactly; `tests/offline_data.rs` checks both facts.
use super::behaviour::Behaviour;
use super::error::OfflineError;
use super::rollout::{evaluate, mean_std, Seeds};

/// Reset seeds and policy seed of the reference protocol.
pub const REFERENCE_SEEDS: Seeds = Seeds {
    reset_seed_base: 10_000,
    policy_seed: 0,
};
pub const REFERENCE_EPISODES: usize = 100;

/// Frozen reference returns of one environment, with the Gymnasium 1.4.0 numbers of §2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceReturns {
    pub env_id: &'static str,
    /// Mean return of the uniform-random policy (R_random).
    pub random: f64,
    pub random_std: f64,
    /// Mean return of the deterministic scripted expert (R_expert).
    pub expert: f64,
    pub expert_std: f64,
    /// §2 table, Gymnasium 1.4.0: (expert mean, sd, random mean, sd).
    pub gymnasium: (f64, f64, f64, f64),
}

/// Recomputed with [`measure_reference`] and frozen (test `reference_returns_are_frozen`).
pub const REFERENCE_RETURNS: [ReferenceReturns; 5] = [
    ReferenceReturns {
        env_id: "CartPole-v1",
        random: 22.98,
        random_std: 11.02722086475101,
        expert: 500.0,
        expert_std: 0.0,
        gymnasium: (500.0, 0.0, 21.4, 9.8),
    },
    ReferenceReturns {
        env_id: "Acrobot-v1",
        random: -499.1,
        random_std: 6.524568951279486,
        expert: -96.95,
        expert_std: 49.06798854650557,
        gymnasium: (-84.5, 26.5, -497.5, 16.6),
    },
    ReferenceReturns {
        env_id: "MountainCar-v0",
        random: -200.0,
        random_std: 0.0,
        expert: -119.95,
        expert_std: 3.536594407053204,
        gymnasium: (-119.5, 4.0, -200.0, 0.0),
    },
    ReferenceReturns {
        env_id: "MountainCarContinuous-v0",
        random: -33.141957782486244,
        random_std: 1.012062587055224,
        expert: 89.37099999999995,
        expert_std: 0.13061010680648055,
        gymnasium: (89.3, 0.1, -33.3, 0.9),
    },
    ReferenceReturns {
        env_id: "Pendulum-v1",
        random: -1214.4903965526116,
        random_std: 278.8859419894098,
        expert: -141.8653176683545,
        expert_std: 87.59276305247873,
        gymnasium: (-137.3, 93.3, -1166.4, 256.1),
    },
];

/// The frozen reference returns of `env_id`.
pub fn reference(env_id: &str) -> Result<&'static ReferenceReturns, OfflineError> {
    REFERENCE_RETURNS
        .iter()
        .find(|r| r.env_id == env_id)
        .ok_or_else(|| OfflineError::Unsupported(format!("no reference returns for {env_id:?}")))
}

/// `100 · (R − R_random) / (R_expert − R_random)` with the frozen references.
pub fn normalized_score(env_id: &str, episode_return: f64) -> Result<f64, OfflineError> {
    let r = reference(env_id)?;
    Ok(100.0 * (episode_return - r.random) / (r.expert - r.random))
}

/// Mean and standard deviation of episode returns.
pub type MeanStd = (f64, f64);

/// Runs the §2 protocol: (random, expert).
pub fn measure_reference(env_id: &str) -> Result<(MeanStd, MeanStd), OfflineError> {
    let random = evaluate(
        env_id,
        &Behaviour::new(env_id, 1.0)?,
        REFERENCE_EPISODES,
        REFERENCE_SEEDS,
    )?;
    let expert = evaluate(
        env_id,
        &Behaviour::deterministic_expert(env_id)?,
        REFERENCE_EPISODES,
        REFERENCE_SEEDS,
    )?;
    Ok((mean_std(&random), mean_std(&expert)))
}
