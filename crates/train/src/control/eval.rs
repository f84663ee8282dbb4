//! Evaluation: `eval.episodes` whole episodes on fresh environments seeded from
//! `(run.seed, "control-eval", index)`, acting with the mode of the policy by default (SB3's
//! `evaluate_policy(deterministic=True)`), observations normalised with frozen statistics.
//! Reports `eval/return_mean`, `eval/return_std` (population), `eval/return_min`,
//! `eval/return_max` and `eval/length_mean`.
use std::collections::BTreeMap;
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::config::{ControlConfig, EvalSection};
use super::envs::ControlEnvs;
use super::mlp::ActorCritic;
use super::mlp::{ActScratch, ActorSnapshot, Head};
use super::native::policy::NativeActorCritic;
use super::rollout::{env_action, Normalizers};
use super::trainer::head_of;
use crate::error::TrainError;
use crate::seeds::{derive_seed, stream, with_torch_seed};

pub fn evaluate(
    actor: &ActorSnapshot,
    head: &Head,
    norms: &Normalizers,
    env: (&str, u32),
    eval: &EvalSection,
    seed: u64,
    index: u64,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let mut scratch = ActScratch::default();
    let mut obs = Vec::new();
    let mut sampled = vec![0f32; head.action_dim()];
    evaluate_episodes(env, eval.episodes, seed, index, |raw, rng, sent| {
        norms.normalized(raw, &mut obs);
        actor.act(&obs, rng, eval.deterministic, &mut scratch, &mut sampled);
        env_action(head, &sampled, sent);
    })
}

/// `episodes` whole episodes of `env_id` one after another, the environment seeded from
/// `(seed, "control-eval", index)`; `act(obs, rng, action)` writes the action the environment
/// receives for a raw observation, drawing any randomness from the evaluation's own stream.
/// Every trainer's evaluation (control, off-policy) runs through here, so their numbers are
/// comparable episode for episode.
pub fn evaluate_episodes(
    (env_id, max_episode_steps): (&str, u32),
    episodes: usize,
    seed: u64,
    index: u64,
    mut act: impl FnMut(&[f32], &mut ChaCha8Rng, &mut [f32]),
) -> Result<BTreeMap<String, f64>, TrainError> {
    // One environment, episodes one after another: parallel copies would favour short episodes
    // unless every copy ran to its end.
    let env_seed = derive_seed(seed, "control-eval", index);
    let mut env = ControlEnvs::new(env_id, 1, max_episode_steps, env_seed, "eval-env")?;
    let mut rng = stream(seed, "control-eval-actions", index);
    let mut sent = vec![0f32; env.action_dim];
    let mut returns = Vec::with_capacity(episodes);
    let mut lengths = Vec::with_capacity(episodes);
    while returns.len() < episodes {
        act(&env.obs, &mut rng, &mut sent);
        env.step(&sent)?;
        for f in &env.finished {
            returns.push(f.episode_return);
            lengths.push(f.length as f64);
        }
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    Ok(BTreeMap::from([
        ("eval/return_mean".to_string(), mean),
        ("eval/return_std".to_string(), std),
        (
            "eval/return_min".to_string(),
            returns.iter().copied().fold(f64::INFINITY, f64::min),
        ),
        (
            "eval/return_max".to_string(),
            returns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
        (
            "eval/length_mean".to_string(),
            lengths.iter().sum::<f64>() / n,
        ),
        ("eval/episodes".to_string(), n),
    ]))
}

/// The part of a checkpoint's `state.json` evaluation needs.
#[derive(Deserialize)]
struct SavedState {
    update: usize,
    norms: Normalizers,
}

/// Evaluates a control checkpoint (`RUN/checkpoints/step-N`) as the trainer does at update N:
/// same episode seeds, frozen observation statistics from the checkpoint, `cfg.eval` settings
/// (`eval.episodes`, `eval.deterministic`). With the run's own settings it reproduces that
/// update's `eval/*` metrics exactly.
pub fn evaluate_checkpoint(
    cfg: &ControlConfig,
    checkpoint: &Path,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let ckpt_err = |path: &Path, detail: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    };
    let state_path = checkpoint.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
    let state: SavedState =
        serde_json::from_str(&text).map_err(|e| ckpt_err(&state_path, e.to_string()))?;
    let model_path = checkpoint.join("model.safetensors");
    let tensors = polopt_models::checkpoint::load_tensors(&model_path, tch::Device::Cpu)
        .map_err(|e| ckpt_err(&model_path, e.to_string()))?;
    let e = &cfg.env;
    let envs = ControlEnvs::new(&e.id, 1, e.max_episode_steps, cfg.run.seed, "eval-env")?;
    let head = head_of(&envs.action_space());
    // The shapes come from the config; the weights (all of them) from the checkpoint. The
    // throwaway init still draws from libtorch's global generator, so it takes the seeded-draw
    // lock: unlocked, it shifted a seeded init running in another thread (a flaky test).
    let ac = with_torch_seed(cfg.run.seed, "eval-skeleton", 0, || {
        ActorCritic::new(
            envs.obs_dim,
            head,
            &cfg.model.hidden,
            cfg.model.log_std_init,
        )
    });
    let mut model = NativeActorCritic::from_torch(&ac, &cfg.model.hidden)
        .map_err(|err| ckpt_err(&model_path, err))?;
    model
        .load_named_tensors(&tensors)
        .map_err(|err| ckpt_err(&model_path, err))?;
    evaluate(
        &model.snapshot(),
        &model.head,
        &state.norms,
        (&e.id, e.max_episode_steps),
        &cfg.eval,
        cfg.run.seed,
        state.update as u64,
    )
}
