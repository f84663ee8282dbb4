//! Replays the Gymnasium golden vectors (`shared/envs/golden/*.json`, spec §7) and requires bit
//! equality of every observation, reward, flag and internal state.
//!
//! The vectors are vendored in `tests/golden/` (a copy of `shared/envs/golden`, made by its
//! `make_golden.py` with Gymnasium) so that a clean clone tests without the shared folder;
//! `$POLOPT_GOLDEN_DIR` points the test at another copy, e.g. regenerated ones.
use std::path::PathBuf;

use polopt_envs::classic::{make_with_limit, ActionRef, EnvError, ResetReason};
use serde::Deserialize;

#[derive(Deserialize)]
struct GoldenFile {
    env_id: String,
    action_kind: String,
    episodes: Vec<Episode>,
}

#[derive(Deserialize)]
struct Episode {
    initial_state: Vec<f64>,
    initial_obs: Vec<f64>,
    max_episode_steps: u32,
    /// Integers for discrete envs, f32-exact values for continuous ones; both parse as f64.
    actions: Vec<f64>,
    steps: Vec<GoldenStep>,
}

#[derive(Deserialize)]
struct GoldenStep {
    obs: Vec<f64>,
    reward: f64,
    terminated: bool,
    truncated: bool,
    state: Vec<f64>,
}

fn golden_dir() -> PathBuf {
    match std::env::var_os("POLOPT_GOLDEN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")),
    }
}

fn load(env_id: &str) -> GoldenFile {
    let path = golden_dir().join(format!("{env_id}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} (set POLOPT_GOLDEN_DIR?): {e}",
            path.display()
        )
    });
    // serde_json's `float_roundtrip` feature is on in the workspace; without it some values
    // would parse one ulp off (spec §7).
    let file: GoldenFile =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(file.env_id, env_id);
    file
}

fn f32_bits(values: &[f64]) -> Vec<u32> {
    values.iter().map(|&v| (v as f32).to_bits()).collect()
}

fn obs_bits(obs: &[f32]) -> Vec<u32> {
    obs.iter().map(|v| v.to_bits()).collect()
}

fn f64_bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Replays every episode of `env_id` and returns the number of steps checked.
fn replay(env_id: &str) -> usize {
    let file = load(env_id);
    let mut checked = 0;
    for (e, ep) in file.episodes.iter().enumerate() {
        let mut env = make_with_limit(env_id, ep.max_episode_steps).expect("registered id");
        env.set_state(&ep.initial_state)
            .expect("golden initial state is valid");
        assert_eq!(
            obs_bits(&env.observation()),
            f32_bits(&ep.initial_obs),
            "{env_id} episode {e}: initial obs"
        );
        assert_eq!(
            ep.actions.len(),
            ep.steps.len(),
            "{env_id} episode {e}: one action per step"
        );
        for (t, (action, want)) in ep.actions.iter().zip(&ep.steps).enumerate() {
            let continuous = [*action as f32];
            let action = match file.action_kind.as_str() {
                "discrete" => ActionRef::Discrete(*action as i64),
                _ => ActionRef::Continuous(&continuous),
            };
            let got = env
                .step(action)
                .unwrap_or_else(|err| panic!("{env_id} episode {e} step {t}: {err}"));
            let at = format!("{env_id} episode {e} step {t}");
            assert_eq!(
                obs_bits(&got.obs),
                f32_bits(&want.obs),
                "{at}: obs {:?} vs {:?}",
                got.obs,
                want.obs
            );
            assert_eq!(
                got.reward.to_bits(),
                want.reward.to_bits(),
                "{at}: reward {} vs {}",
                got.reward,
                want.reward
            );
            assert_eq!(got.terminated, want.terminated, "{at}: terminated");
            assert_eq!(got.truncated, want.truncated, "{at}: truncated");
            assert_eq!(
                want.truncated,
                t as u32 + 1 >= ep.max_episode_steps,
                "{at}: golden truncation rule"
            );
            assert_eq!(
                f64_bits(&env.state()),
                f64_bits(&want.state),
                "{at}: state {:?} vs {:?}",
                env.state(),
                want.state
            );
            checked += 1;
        }
        let last = ep.steps.last().expect("episodes have steps");
        if last.terminated || last.truncated {
            let err = env
                .step(ActionRef::Discrete(0))
                .expect_err("stepping an ended episode");
            let reason = ResetReason::EpisodeEnded {
                terminated: last.terminated,
                truncated: last.truncated,
            };
            assert!(
                matches!(err, EnvError::ResetNeeded { reason: r, .. } if r == reason),
                "{env_id}: {err}"
            );
        }
    }
    checked
}

#[test]
fn cartpole_matches_gymnasium_bit_for_bit() {
    assert_eq!(replay("CartPole-v1"), 50 + 20 + 6);
}

#[test]
fn acrobot_matches_gymnasium_bit_for_bit() {
    assert!(replay("Acrobot-v1") >= 100);
}

#[test]
fn mountain_car_matches_gymnasium_bit_for_bit() {
    assert_eq!(replay("MountainCar-v0"), 50 + 50 + 2);
}

#[test]
fn mountain_car_continuous_matches_gymnasium_bit_for_bit() {
    assert!(replay("MountainCarContinuous-v0") >= 52);
}

#[test]
fn pendulum_matches_gymnasium_bit_for_bit() {
    assert!(replay("Pendulum-v1") >= 100);
}

#[test]
fn golden_files_hold_533_steps_and_all_are_replayed() {
    let total: usize = polopt_envs::classic::ENV_IDS
        .iter()
        .map(|id| replay(id))
        .sum();
    assert_eq!(total, 533);
}
