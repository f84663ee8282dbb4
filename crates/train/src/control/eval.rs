//! Evaluation: `eval.episodes` whole episodes on fresh environments seeded from
//! `(run.seed, "control-eval", index)`, acting with the mode of the policy by default (SB3's
//! `evaluate_policy(deterministic=True)`), observations normalised with frozen statistics.
//! Reports `eval/return_mean`, `eval/return_std` (population) and `eval/length_mean`.
use std::collections::BTreeMap;

use super::config::EvalSection;
use super::envs::ControlEnvs;
use super::mlp::{ActScratch, ActorSnapshot, Head};
use super::rollout::{env_action, Normalizers};
use crate::error::TrainError;
use crate::seeds::{derive_seed, stream};

pub fn evaluate(
    actor: &ActorSnapshot,
    head: &Head,
    norms: &Normalizers,
    (env_id, max_episode_steps): (&str, u32),
    eval: &EvalSection,
    seed: u64,
    index: u64,
) -> Result<BTreeMap<String, f64>, TrainError> {
    // One environment, episodes one after another: parallel copies would favour short episodes
    // unless every copy ran to its end.
    let env_seed = derive_seed(seed, "control-eval", index);
    let mut env = ControlEnvs::new(env_id, 1, max_episode_steps, env_seed, "eval-env")?;
    let mut rng = stream(seed, "control-eval-actions", index);
    let mut scratch = ActScratch::default();
    let (mut obs, mut sampled) = (Vec::new(), vec![0f32; env.action_dim]);
    let mut sent = sampled.clone();
    let mut returns = Vec::with_capacity(eval.episodes);
    let mut lengths = Vec::with_capacity(eval.episodes);
    while returns.len() < eval.episodes {
        norms.normalized(&env.obs, &mut obs);
        actor.act(
            &obs,
            &mut rng,
            eval.deterministic,
            &mut scratch,
            &mut sampled,
        );
        env_action(head, &sampled, &mut sent);
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
            "eval/length_mean".to_string(),
            lengths.iter().sum::<f64>() / n,
        ),
        ("eval/episodes".to_string(), n),
    ]))
}
