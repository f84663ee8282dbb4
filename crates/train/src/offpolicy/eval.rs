//! Evaluation of an off-policy agent, in the loop and from a checkpoint (`polopt eval RUN`).
//! Both go through [`evaluate_agent`] and the control stack's `evaluate_episodes`: the same
//! episode seeds `(run.seed, "control-eval", step)`, the same action stream, so a checkpoint
//! written at step N and evaluated with the run's own `[eval]` settings reproduces the `eval/*`
//! metrics the run logged at step N (the final evaluation included) exactly.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::agent::{self, Agent};
use super::config::OffPolicyConfig;
use super::trainer::{build_agent, load_offline, ActionMap, StateNormalizer};
use crate::control::envs::ControlEnvs;
use crate::control::eval::evaluate_episodes;
use crate::error::TrainError;

/// `cfg.eval.episodes` episodes of `cfg.env.id` at evaluation index `index` (the run's step);
/// offline runs see states normalised with their dataset's statistics, as in training.
pub(crate) fn evaluate_agent(
    cfg: &OffPolicyConfig,
    agent: &dyn Agent,
    actions: &ActionMap,
    states: Option<&StateNormalizer>,
    index: u64,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let (e, v) = (&cfg.env, &cfg.eval);
    let mut action = vec![0f32; actions.dim()];
    let mut normalized = Vec::new();
    evaluate_episodes(
        (&e.id, e.max_episode_steps),
        v.episodes,
        cfg.run.seed,
        index,
        |obs, rng, sent| {
            normalized.clear();
            normalized.extend_from_slice(obs);
            if let Some(norm) = states {
                norm.apply(&mut normalized);
            }
            agent.act(&normalized, !v.deterministic, rng, &mut action);
            actions.to_env(&action, sent);
        },
    )
}

/// The part of a checkpoint's `state.json` evaluation needs.
#[derive(Deserialize)]
struct SavedSteps {
    #[serde(alias = "env_steps")]
    steps: u64,
    optimizer_steps: BTreeMap<String, i64>,
}

/// Evaluates an off-policy checkpoint (`RUN/checkpoints/step-N`) as the trainer did at step N:
/// the agent built from `cfg` (the run's `config.toml`, plus any `--set`) and every weight from
/// `agent.safetensors`; offline runs recompute the state statistics from `offline.dataset`.
/// Returns the `eval/*` metrics and N.
pub fn evaluate_checkpoint(
    cfg: &OffPolicyConfig,
    checkpoint: &Path,
) -> Result<(BTreeMap<String, f64>, u64), TrainError> {
    let saved: SavedSteps = crate::run_dir::read_checkpoint_state(checkpoint)?;
    super::trainer::set_torch_threads(cfg);
    let e = &cfg.env;
    let envs = ControlEnvs::new(&e.id, 1, e.max_episode_steps, cfg.run.seed, "train-env")?;
    let actions = ActionMap::new(&envs.action_space())?;
    let mut agent = build_agent(cfg, envs.obs_dim, envs.action_dim)?;
    let file = super::trainer::AGENT_FILE;
    let weights = crate::run_dir::load_checkpoint_tensors(checkpoint, file)?;
    agent::load_state(agent.as_mut(), &weights, &saved.optimizer_steps).map_err(|detail| {
        TrainError::Checkpoint {
            path: checkpoint.join(file),
            detail,
        }
    })?;
    let states = if cfg.algo.kind.is_offline() {
        Some(load_offline(cfg, &actions)?.1)
    } else {
        None
    };
    let metrics = evaluate_agent(cfg, agent.as_ref(), &actions, states.as_ref(), saved.steps)?;
    Ok((metrics, saved.steps))
}
