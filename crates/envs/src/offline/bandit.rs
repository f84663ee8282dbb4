//! Offline datasets of the one-step bandits (`classic::bandit`), from the specs' small CPU
//! checks. Each transition is one whole episode: `terminals = 1`, `next_observations` equal to
//! the observation, `step_in_episode = 0`, `episode_id = t`.
//!
//! - [`a2pr_bandit`] (`algorithms/a2pr.md`): s ~ U[-1, 1]; with probability 1 - `good_fraction`
//!   a ~ U[-1, 1] (`policy_id` 0), else a = clip(0.5 s + N(0, 0.05²), -1, 1) (`policy_id` 1);
//!   r = 1 - (a - 0.5 s)². The spec's variants: `good_fraction` 0.3 (70/30) and 0.05 (95/5).
//! - [`expo_bandit`] (`algorithms/expo.md`): constant observation 0; a ~ N(-0.6, 0.05²) with
//!   probability 0.7 (`policy_id` 0), else N(0.5, 0.05²) (`policy_id` 1), clipped to [-1, 1];
//!   r = exp(-(a-0.6)²/0.02) + 0.5 exp(-(a+0.6)²/0.02).
//!
//! The mode of each sample is a Bernoulli draw, so the fractions hold in expectation; the
//! realised ones are in the metadata. `logp` is the behaviour mixture's log-density (the clip
//! at ±1 is > 8 standard deviations from every Gaussian mean, so it is ignored).
use std::collections::BTreeMap;
use std::f64::consts::PI;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::behaviour::{standard_normal, unit};
use super::dataset::{Actions, OfflineDataset};
use super::error::OfflineError;
use crate::classic::bandit::{bandit_1d_reward, bimodal_reward};
use crate::classic::{Bandit1D, BimodalBandit};

fn normal_pdf(x: f64, mean: f64, std: f64) -> f64 {
    let z = (x - mean) / std;
    (-0.5 * z * z).exp() / (std * (2.0 * PI).sqrt())
}

/// A one-step dataset from (observation, action, reward, policy id, logp) rows.
fn one_step_dataset(
    rows: Vec<(f32, f32, f32, u8, f32)>,
    metadata: BTreeMap<String, String>,
) -> OfflineDataset {
    let n = rows.len();
    OfflineDataset {
        obs_dim: 1,
        act_dim: 1,
        observations: rows.iter().map(|r| r.0).collect(),
        actions: Actions::Continuous(rows.iter().map(|r| r.1).collect()),
        rewards: rows.iter().map(|r| r.2).collect(),
        next_observations: rows.iter().map(|r| r.0).collect(),
        terminals: vec![1; n],
        timeouts: vec![0; n],
        episode_id: (0..n as i64).collect(),
        step_in_episode: vec![0; n],
        policy_id: rows.iter().map(|r| r.3).collect(),
        logp: Some(rows.iter().map(|r| r.4).collect()),
        metadata,
    }
}

fn base_metadata(
    env_id: &str,
    n: usize,
    seed: u64,
    behaviour: String,
    good: usize,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("env_id".into(), env_id.to_string());
    m.insert("env_version".into(), "polopt-bandit-v0".into());
    m.insert("split".into(), "mixed".into());
    m.insert("N".into(), n.to_string());
    m.insert("behaviour".into(), behaviour);
    m.insert("seeds".into(), format!("policy_seed={seed}"));
    m.insert("max_episode_steps".into(), "1".into());
    m.insert(
        "policy_ids".into(),
        "0 = poor/majority mode, 1 = good/minority mode".into(),
    );
    m.insert(
        "good_fraction_realised".into(),
        (good as f64 / n.max(1) as f64).to_string(),
    );
    m
}

/// A2PR's bandit data: `n` transitions, a fraction `good_fraction` of near-optimal actions.
pub fn a2pr_bandit(
    n: usize,
    good_fraction: f64,
    seed: u64,
) -> Result<OfflineDataset, OfflineError> {
    if !(0.0..=1.0).contains(&good_fraction) {
        return Err(OfflineError::Unsupported(format!(
            "good_fraction must be in [0, 1], got {good_fraction}"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut good_count = 0;
    let rows = (0..n)
        .map(|_| {
            let s = -1.0 + 2.0 * unit(&mut rng);
            let good = unit(&mut rng) < good_fraction;
            let a = if good {
                good_count += 1;
                (0.5 * s + 0.05 * standard_normal(&mut rng)).clamp(-1.0, 1.0)
            } else {
                -1.0 + 2.0 * unit(&mut rng)
            };
            let density =
                (1.0 - good_fraction) * 0.5 + good_fraction * normal_pdf(a, 0.5 * s, 0.05);
            let s32 = s as f32;
            (
                s32,
                a as f32,
                bandit_1d_reward(s, a) as f32,
                u8::from(good),
                density.ln() as f32,
            )
        })
        .collect();
    let behaviour = format!(
        "A2PR bandit: prob {} a ~ U[-1,1], prob {good_fraction} a = clip(0.5 s + N(0, 0.05^2))",
        1.0 - good_fraction
    );
    let mut meta = base_metadata(Bandit1D::ID, n, seed, behaviour, good_count);
    meta.insert("eps".into(), (1.0 - good_fraction).to_string());
    Ok(one_step_dataset(rows, meta))
}

/// EXPO's bimodal bandit data: `n` actions, 70 % near -0.6 and 30 % near 0.5.
pub fn expo_bandit(n: usize, seed: u64) -> OfflineDataset {
    const MAJOR: (f64, f64) = (-0.6, 0.7);
    const MINOR: (f64, f64) = (0.5, 0.3);
    const STD: f64 = 0.05;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut minor_count = 0;
    let rows = (0..n)
        .map(|_| {
            let minor = unit(&mut rng) >= MAJOR.1;
            let mean = if minor { MINOR.0 } else { MAJOR.0 };
            minor_count += usize::from(minor);
            let a = (mean + STD * standard_normal(&mut rng)).clamp(-1.0, 1.0);
            let density =
                MAJOR.1 * normal_pdf(a, MAJOR.0, STD) + MINOR.1 * normal_pdf(a, MINOR.0, STD);
            (
                0.0,
                a as f32,
                bimodal_reward(a) as f32,
                u8::from(minor),
                density.ln() as f32,
            )
        })
        .collect();
    let behaviour =
        "EXPO bimodal bandit: prob 0.7 a ~ N(-0.6, 0.05^2), prob 0.3 a ~ N(0.5, 0.05^2)"
            .to_string();
    let mut meta = base_metadata(BimodalBandit::ID, n, seed, behaviour, minor_count);
    meta.insert("eps".into(), "0.7".into());
    one_step_dataset(rows, meta)
}
