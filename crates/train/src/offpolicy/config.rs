//! The off-policy trainer's run config: the same layering as the control trainer's
//! (`control::config`), later wins: embedded defaults (`configs/offpolicy/default.toml`) <- the
//! preset's run settings (`configs/offpolicy/<preset>.toml`) <- the user's file <- each `--set`.
//! Unknown keys, wrong types and out-of-range values are errors that name the key. The `[run]`
//! and `[eval]` sections are the control trainer's types; here `run.checkpoint_every` and
//! `eval.every` count environment steps (one update per step is the common case).
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use polopt_methods::presets::Family;

use crate::config::{
    check, check_widths, deserialize_named, merge, preset_for_loop, read_user_file,
    user_and_defaults,
};
use crate::control::config::{merge_run_settings, EvalSection, RunSection};
use crate::error::TrainError;

pub const OFFPOLICY_DEFAULTS: &str = include_str!("../../configs/offpolicy/default.toml");

const PRESET_OVERLAYS: &[(&str, &str)] = &[
    (
        "td3-pendulum",
        include_str!("../../configs/offpolicy/td3-pendulum.toml"),
    ),
    (
        "sac-pendulum",
        include_str!("../../configs/offpolicy/sac-pendulum.toml"),
    ),
    (
        "td3-mountaincar-continuous",
        include_str!("../../configs/offpolicy/td3-mountaincar-continuous.toml"),
    ),
    (
        "sac-mountaincar-continuous",
        include_str!("../../configs/offpolicy/sac-mountaincar-continuous.toml"),
    ),
    (
        "expo-bandit",
        include_str!("../../configs/offpolicy/expo-bandit.toml"),
    ),
    (
        "expo-bandit-base",
        include_str!("../../configs/offpolicy/expo-bandit-base.toml"),
    ),
    (
        "expo-pendulum",
        include_str!("../../configs/offpolicy/expo-pendulum.toml"),
    ),
    (
        "expo-pendulum-base",
        include_str!("../../configs/offpolicy/expo-pendulum-base.toml"),
    ),
    (
        "td3-bc-pendulum",
        include_str!("../../configs/offpolicy/td3-bc-pendulum.toml"),
    ),
    (
        "a2pr-pendulum",
        include_str!("../../configs/offpolicy/a2pr-pendulum.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffPolicyConfig {
    pub run: RunSection,
    pub env: EnvSection,
    pub algo: AlgoSection,
    pub model: ModelSection,
    pub eval: EvalSection,
    pub offline: OfflineSection,
    pub method: MethodSection,
    pub expo: ExpoSection,
}

/// EXPO's settings (`algorithms/expo.md`), read only when `algo.kind = "expo"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpoSection {
    pub base_samples: i64,
    pub edited_samples: i64,
    pub beta: f64,
    pub denoise_steps: usize,
    pub base_hidden: Vec<i64>,
    pub base_ema: f64,
    pub base_only: bool,
    pub offline_data: String,
    pub offline_transitions: usize,
    pub offline_ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineSection {
    pub dataset: String,
    pub normalize_states: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSection {
    pub id: String,
    pub max_episode_steps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgoKind {
    /// Deterministic tanh actor, clipped double-Q with target policy smoothing, delayed actor.
    Td3,
    /// Squashed-Gaussian actor, soft clipped double-Q, (auto-tuned) entropy temperature.
    Sac,
    /// DDPM base policy, Gaussian edit policy, on-the-fly argmax-Q (`[expo]` section).
    Expo,
    /// Offline: TD3 with the behaviour-cloning term `(pi(s) - a)^2` (Fujimoto & Gu, 2021).
    Td3Bc,
    /// Offline: TD3+BC with an advantage-filtered VAE and advantage-selected BC target.
    A2pr,
}

impl AlgoKind {
    /// Methods that learn from `offline.dataset` only.
    pub fn is_offline(self) -> bool {
        matches!(self, AlgoKind::Td3Bc | AlgoKind::A2pr)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgoSection {
    pub kind: AlgoKind,
    pub total_steps: u64,
    pub learning_starts: u64,
    pub buffer_size: usize,
    pub batch_size: usize,
    pub gamma: f64,
    pub tau: f64,
    pub actor_lr: f64,
    pub critic_lr: f64,
    pub train_freq: u64,
    pub gradient_steps: usize,
    pub policy_delay: usize,
    pub exploration_noise: f64,
    pub target_policy_noise: f64,
    pub target_noise_clip: f64,
    pub ent_coef: f64,
    pub autotune: bool,
    pub target_entropy: f64,
    pub max_grad_norm: f64,
    pub bc_alpha: f64,
    pub bc_mask: f64,
    pub vae_weight: f64,
    pub vae_lr: f64,
    pub value_lr: f64,
    pub adv_threshold: f64,
    pub log_every: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub hidden: Vec<i64>,
    pub vae_hidden: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSection {
    pub preset: String,
}

/// Builds the config from the defaults, the preset, an optional file and `--set`s.
pub fn load_offpolicy_config(
    file: Option<&std::path::Path>,
    sets: &[String],
) -> Result<OffPolicyConfig, TrainError> {
    resolve_offpolicy(&read_user_file(file)?, sets)
}

pub fn resolve_offpolicy(user: &Table, sets: &[String]) -> Result<OffPolicyConfig, TrainError> {
    let (overlay, mut base) = user_and_defaults(
        user.clone(),
        sets,
        OFFPOLICY_DEFAULTS,
        "embedded off-policy defaults",
    )?;
    let (name, _) = preset_for_loop(&overlay, &base, Family::OffPolicy)?;
    merge(
        &mut base,
        &Table::from_iter([(
            "method".to_string(),
            Value::Table(Table::from_iter([(
                "preset".to_string(),
                Value::String(name.clone()),
            )])),
        )]),
    );
    merge_run_settings(&mut base, PRESET_OVERLAYS, &name, &overlay)?;
    let mut config: OffPolicyConfig = deserialize_named(base)?;
    if config.run.name.is_empty() {
        config.run.name = format!("{name}-s{}", config.run.seed);
    }
    config.validate()?;
    Ok(config)
}

impl OffPolicyConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        let r = &self.run;
        r.validate()?;
        check(
            "run.distributed",
            r.distributed == crate::control::config::Distributed::Off,
            "\"off\" (data-parallel training is implemented for the control loop only)",
            format!("{:?}", r.distributed).to_lowercase(),
        )?;
        let e = &self.env;
        let spec = polopt_envs::classic::spec(&e.id)
            .map_err(|err| TrainError::Config(format!("config key `env.id`: {err}")))?;
        let continuous = polopt_envs::classic::make(&e.id)
            .map(|env| matches!(env.action_space(), polopt_envs::classic::Space::Box { .. }))
            .unwrap_or(false);
        check(
            "env.id",
            continuous,
            "an environment with continuous actions (Pendulum-v1, MountainCarContinuous-v0)",
            spec.id,
        )?;
        let a = &self.algo;
        check(
            "algo.total_steps",
            a.total_steps >= 1,
            ">= 1",
            a.total_steps,
        )?;
        check(
            "algo.buffer_size",
            a.buffer_size >= 1,
            ">= 1",
            a.buffer_size,
        )?;
        check(
            "algo.batch_size",
            (1..=1 << 20).contains(&a.batch_size),
            "1..=1048576",
            a.batch_size,
        )?;
        check(
            "algo.gamma",
            (0.0..=1.0).contains(&a.gamma),
            "in [0, 1]",
            a.gamma,
        )?;
        check("algo.tau", a.tau > 0.0 && a.tau <= 1.0, "in (0, 1]", a.tau)?;
        for (key, lr) in [
            ("algo.actor_lr", a.actor_lr),
            ("algo.critic_lr", a.critic_lr),
        ] {
            check(key, lr > 0.0 && lr < 1.0, "in (0, 1)", lr)?;
        }
        check("algo.train_freq", a.train_freq >= 1, ">= 1", a.train_freq)?;
        check(
            "algo.gradient_steps",
            a.gradient_steps >= 1,
            ">= 1",
            a.gradient_steps,
        )?;
        check(
            "algo.policy_delay",
            a.policy_delay >= 1,
            ">= 1",
            a.policy_delay,
        )?;
        for (key, v) in [
            ("algo.exploration_noise", a.exploration_noise),
            ("algo.target_policy_noise", a.target_policy_noise),
            ("algo.target_noise_clip", a.target_noise_clip),
            ("algo.max_grad_norm", a.max_grad_norm),
        ] {
            check(key, v >= 0.0, ">= 0", v)?;
        }
        check("algo.ent_coef", a.ent_coef > 0.0, "> 0", a.ent_coef)?;
        check(
            "algo.target_entropy",
            a.target_entropy <= 0.0 || a.autotune,
            "0 unless algo.autotune",
            a.target_entropy,
        )?;
        for (key, v) in [
            ("algo.bc_alpha", a.bc_alpha),
            ("algo.bc_mask", a.bc_mask),
            ("algo.vae_weight", a.vae_weight),
        ] {
            check(key, v >= 0.0, ">= 0", v)?;
        }
        for (key, lr) in [("algo.vae_lr", a.vae_lr), ("algo.value_lr", a.value_lr)] {
            check(key, lr > 0.0 && lr < 1.0, "in (0, 1)", lr)?;
        }
        check(
            "offline.dataset",
            a.kind.is_offline() != self.offline.dataset.is_empty(),
            "a dataset file for algo.kind td3_bc / a2pr, and \"\" for td3 / sac",
            format!("{:?}", self.offline.dataset),
        )?;
        check("algo.log_every", a.log_every >= 1, ">= 1", a.log_every)?;
        check(
            "run.checkpoint_every",
            r.checkpoint_every >= 1 && (r.checkpoint_every as u64).is_multiple_of(a.log_every),
            "a positive multiple of algo.log_every (checkpoints fall on metric rows)",
            r.checkpoint_every,
        )?;
        let m = &self.model;
        check_widths("model.hidden", &m.hidden)?;
        check_widths("model.vae_hidden", &m.vae_hidden)?;
        check(
            "eval.episodes",
            self.eval.episodes >= 1,
            ">= 1",
            self.eval.episodes,
        )?;
        let x = &self.expo;
        check(
            "expo.base_samples",
            (1..=1024).contains(&x.base_samples),
            "1..=1024",
            x.base_samples,
        )?;
        check(
            "expo.edited_samples",
            (0..=x.base_samples).contains(&x.edited_samples),
            "0..=expo.base_samples",
            x.edited_samples,
        )?;
        check(
            "expo.beta",
            x.beta > 0.0 && x.beta <= 2.0,
            "in (0, 2]",
            x.beta,
        )?;
        check(
            "expo.denoise_steps",
            (1..=1000).contains(&x.denoise_steps),
            "1..=1000",
            x.denoise_steps,
        )?;
        check_widths("expo.base_hidden", &x.base_hidden)?;
        check(
            "expo.base_ema",
            x.base_ema > 0.0 && x.base_ema <= 1.0,
            "in (0, 1]",
            x.base_ema,
        )?;
        check(
            "expo.offline_ratio",
            (0.0..=1.0).contains(&x.offline_ratio),
            "in [0, 1]",
            x.offline_ratio,
        )?;
        check(
            "expo.offline_transitions",
            x.offline_transitions >= 1,
            ">= 1",
            x.offline_transitions,
        )?;
        Ok(())
    }

    pub fn to_toml(&self) -> Result<String, TrainError> {
        toml::to_string_pretty(self)
            .map_err(|e| TrainError::Config(format!("config does not serialize: {e}")))
    }

    /// SAC's entropy target: `algo.target_entropy`, or `-action_dim` when it is 0.
    pub fn target_entropy(&self, action_dim: usize) -> f64 {
        if self.algo.target_entropy == 0.0 {
            -(action_dim as f64)
        } else {
            self.algo.target_entropy
        }
    }
}
