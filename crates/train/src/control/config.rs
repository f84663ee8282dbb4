//! The control trainer's run config: one TOML document with the same layering as the group-RL
//! config (architecture.md, "Configuration"), later wins:
//! embedded defaults (`configs/control/default.toml`) <- the preset (its [`MethodConfig`]
//! choices, then `configs/control/<preset>.toml`) <- the user's file <- each `--set`.
//! Unknown keys, wrong types and out-of-range values are errors that name the key.
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use polopt_methods::presets::Family;
use polopt_methods::{CreditConfig, MethodConfig, ObjectiveConfig, SelectConfig};

use crate::config::{
    apply_set, check, check_widths, deserialize_named, lookup, merge, preset_for_loop,
    read_user_file, user_and_defaults,
};
use crate::error::TrainError;

pub const CONTROL_DEFAULTS: &str = include_str!("../../configs/control/default.toml");

/// Each control preset's run settings (environment, budget, loop sizes).
const PRESET_OVERLAYS: &[(&str, &str)] = &[
    (
        "ppo-cartpole",
        include_str!("../../configs/control/ppo-cartpole.toml"),
    ),
    (
        "ppo-acrobot",
        include_str!("../../configs/control/ppo-acrobot.toml"),
    ),
    (
        "ppo-pendulum",
        include_str!("../../configs/control/ppo-pendulum.toml"),
    ),
    (
        "a2c-cartpole",
        include_str!("../../configs/control/a2c-cartpole.toml"),
    ),
    (
        "a2c-acrobot",
        include_str!("../../configs/control/a2c-acrobot.toml"),
    ),
    (
        "reinforce-cartpole",
        include_str!("../../configs/control/reinforce-cartpole.toml"),
    ),
    (
        "bpo-cartpole",
        include_str!("../../configs/control/bpo-cartpole.toml"),
    ),
    (
        "bpo-acrobot",
        include_str!("../../configs/control/bpo-acrobot.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    pub run: RunSection,
    pub env: EnvSection,
    pub algo: AlgoSection,
    pub model: ModelSection,
    pub eval: EvalSection,
    pub method: MethodSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub name: String,
    pub seed: u64,
    pub out_dir: String,
    pub threads: usize,
    pub checkpoint_every: usize,
    pub distributed: Distributed,
}

pub use crate::world::Distributed;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSection {
    pub id: String,
    pub num_envs: usize,
    pub max_episode_steps: u32,
    pub norm_obs: bool,
    pub norm_reward: bool,
    pub obs_clip: f64,
    pub reward_clip: f64,
}

/// The loop and policy-loss family. BPO is `ppo` with the bounded-ratio kernel
/// (`method.objective.kernel`) and median-centred advantages (`algo.median_advantage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgoKind {
    /// Minibatch epochs over the shared policy objective (clip or bounded-ratio kernel).
    Ppo,
    /// One step of `-log pi A` per rollout.
    A2c,
    /// A2C's loss on whole episodes, with the baseline on its own learning rate.
    Reinforce,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgoSection {
    pub kind: AlgoKind,
    pub total_steps: u64,
    pub rollout_steps: usize,
    pub epochs: usize,
    pub minibatches: usize,
    pub lr: f64,
    pub anneal_lr: bool,
    pub adam_eps: f64,
    pub max_grad_norm: f64,
    pub vf_coef: f64,
    pub value_clip: f64,
    pub norm_adv: bool,
    pub target_kl: f64,
    pub batch_episodes: usize,
    pub baseline_lr: f64,
    pub median_advantage: bool,
    pub backend: Backend,
}

/// Where the networks' forward, backward and Adam run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Hand-written CPU code (`control::native`): no per-op overhead on tiny MLPs.
    Native,
    /// libtorch autograd (`control::mlp`, `control::update`).
    Torch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub hidden: Vec<i64>,
    pub log_std_init: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    pub every: usize,
    pub episodes: usize,
    pub deterministic: bool,
}

/// The method parts control uses: GAE's gamma and lambda (`credit`), the clip range and the
/// entropy coefficient (`objective`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSection {
    pub preset: String,
    pub credit: CreditConfig,
    pub objective: ObjectiveConfig,
}

/// The preset a run asks for (`method.preset` from `--set`s, else the user's file), if any.
pub fn requested_preset(
    file: Option<&std::path::Path>,
    sets: &[String],
) -> Result<Option<String>, TrainError> {
    let mut overlay = read_user_file(file)?;
    for set in sets {
        apply_set(&mut overlay, set)?;
    }
    Ok(lookup(&overlay, "method.preset").and_then(|v| v.as_str().map(str::to_string)))
}

/// Builds the control config from the defaults, the preset, an optional file and `--set`s.
pub fn load_control_config(
    file: Option<&std::path::Path>,
    sets: &[String],
) -> Result<ControlConfig, TrainError> {
    resolve_control(&read_user_file(file)?, sets)
}

pub fn resolve_control(user: &Table, sets: &[String]) -> Result<ControlConfig, TrainError> {
    let (overlay, mut base) = user_and_defaults(
        user.clone(),
        sets,
        CONTROL_DEFAULTS,
        "embedded control defaults",
    )?;
    let (name, p) = preset_for_loop(&overlay, &base, Family::Control)?;
    let MethodConfig {
        credit, objective, ..
    } = (p.build)();
    let method = Table::try_from(MethodSection {
        preset: name.clone(),
        credit,
        objective,
    })
    .map_err(|e| TrainError::Config(format!("preset `{name}` does not serialize: {e}")))?;
    merge(
        &mut base,
        &Table::from_iter([("method".to_string(), Value::Table(method))]),
    );
    merge_run_settings(&mut base, PRESET_OVERLAYS, &name, &overlay)?;
    let mut config: ControlConfig = deserialize_named(base)?;
    if config.run.name.is_empty() {
        config.run.name = format!("{name}-s{}", config.run.seed);
    }
    config.validate()?;
    Ok(config)
}

/// The preset's run settings (`configs/<loop>/<preset>.toml`, when it has one), then the
/// user's layer: the shared tail of the control and off-policy config layering.
pub(crate) fn merge_run_settings(
    base: &mut Table,
    overlays: &[(&str, &str)],
    name: &str,
    user: &Table,
) -> Result<(), TrainError> {
    if let Some((_, text)) = overlays.iter().find(|(n, _)| *n == name) {
        let settings = text.parse::<Table>().map_err(|e| {
            TrainError::Config(format!("preset `{name}` run settings do not parse: {e}"))
        })?;
        merge(base, &settings);
    }
    merge(base, user);
    Ok(())
}

impl RunSection {
    /// The checks every loop that shares `[run]` makes.
    pub fn validate(&self) -> Result<(), TrainError> {
        check(
            "run.name",
            !self.name.contains('/'),
            "a name without '/'",
            &self.name,
        )?;
        check(
            "run.threads",
            self.threads <= 1024,
            "0..=1024",
            self.threads,
        )
    }
}

impl ControlConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        let r = &self.run;
        r.validate()?;
        let e = &self.env;
        polopt_envs::classic::spec(&e.id)
            .map_err(|err| TrainError::Config(format!("config key `env.id`: {err}")))?;
        check(
            "env.num_envs",
            (1..=4096).contains(&e.num_envs),
            "1..=4096",
            e.num_envs,
        )?;
        check("env.obs_clip", e.obs_clip > 0.0, "> 0", e.obs_clip)?;
        check("env.reward_clip", e.reward_clip > 0.0, "> 0", e.reward_clip)?;
        let a = &self.algo;
        check(
            "algo.total_steps",
            a.total_steps >= 1,
            ">= 1",
            a.total_steps,
        )?;
        check(
            "algo.rollout_steps",
            a.rollout_steps >= 1,
            ">= 1",
            a.rollout_steps,
        )?;
        check("algo.epochs", a.epochs >= 1, ">= 1", a.epochs)?;
        let batch = e.num_envs * a.rollout_steps;
        check(
            "algo.minibatches",
            a.minibatches >= 1 && a.minibatches <= batch,
            "1..=num_envs * rollout_steps",
            a.minibatches,
        )?;
        check("algo.lr", a.lr > 0.0 && a.lr < 1.0, "in (0, 1)", a.lr)?;
        check(
            "algo.adam_eps",
            a.adam_eps > 0.0 && a.adam_eps < 1.0,
            "in (0, 1)",
            a.adam_eps,
        )?;
        check(
            "algo.max_grad_norm",
            a.max_grad_norm > 0.0,
            "> 0",
            a.max_grad_norm,
        )?;
        check("algo.vf_coef", a.vf_coef >= 0.0, ">= 0", a.vf_coef)?;
        check(
            "algo.value_clip",
            a.value_clip >= 0.0,
            ">= 0 (0 = off)",
            a.value_clip,
        )?;
        check(
            "algo.target_kl",
            a.target_kl >= 0.0,
            ">= 0 (0 = off)",
            a.target_kl,
        )?;
        check(
            "algo.batch_episodes",
            a.batch_episodes >= 1,
            ">= 1",
            a.batch_episodes,
        )?;
        check(
            "env.num_envs",
            a.kind != AlgoKind::Reinforce || e.num_envs == 1,
            "1 for algo.kind = \"reinforce\" (it collects whole episodes one after another)",
            e.num_envs,
        )?;
        check(
            "algo.baseline_lr",
            a.baseline_lr > 0.0 && a.baseline_lr < 1.0,
            "in (0, 1)",
            a.baseline_lr,
        )?;
        let m = &self.model;
        check_widths("model.hidden", &m.hidden)?;
        check(
            "model.log_std_init",
            m.log_std_init.abs() <= 5.0,
            "in [-5, 5]",
            m.log_std_init,
        )?;
        let v = &self.eval;
        check("eval.episodes", v.episodes >= 1, ">= 1", v.episodes)?;
        let method = MethodConfig {
            credit: self.method.credit.clone(),
            select: SelectConfig::default(),
            objective: self.method.objective.clone(),
            ..MethodConfig::default()
        };
        method
            .validate()
            .map_err(|err| TrainError::Config(err.to_string()))?;
        check(
            "method.credit.estimator",
            self.method.credit.estimator == "gae",
            "\"gae\" (the control trainer's critic estimator)",
            &self.method.credit.estimator,
        )?;
        Ok(())
    }

    pub fn to_toml(&self) -> Result<String, TrainError> {
        toml::to_string_pretty(self)
            .map_err(|e| TrainError::Config(format!("config does not serialize: {e}")))
    }
}
