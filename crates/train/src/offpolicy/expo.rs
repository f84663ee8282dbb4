//! EXPO in the off-policy loop (`algorithms/expo.md`; parts in [`crate::expo`]): a DDPM base
//! policy trained only by imitation, a Gaussian edit policy trained on min-free ensemble Q with
//! a SAC temperature, and the on-the-fly argmax-Q policy for acting (EMA base, target critic)
//! and for TD backups (online base, target critic; no entropy term in the target, as in the
//! code the spec follows).
//!
//! Offline data (`expo.offline_data`) joins every batch at `expo.offline_ratio` (0.5 = RLPD's
//! symmetric sampling); its actions are mapped into the loop's [−1, 1] units. With
//! `expo.base_only` the agent acts with one EMA base sample and trains only the imitation
//! loss: the control EXPO is compared with.
use std::collections::BTreeMap;

use rand::{Rng, RngExt};
use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::agent::{obs_row, row_values, step, Agent, UpdateResult};
use super::config::OffPolicyConfig;
use super::replay::Batch;
use crate::error::TrainError;
use crate::expo::critic::QEnsemble;
use crate::expo::ddpm::{DiffusionConfig, DiffusionPolicy};
use crate::expo::edit::{apply_edit, EditPolicy};
use crate::expo::otf::{self, OtfConfig};
use crate::optim::AdamW;
use crate::seeds::with_torch_seed;
use polopt_envs::classic::Space;
use polopt_envs::offline::{Actions, OfflineDataset};

/// Critic ensemble size and the members the min runs over (spec: E = 2, both).
const CRITIC_MEMBERS: usize = 2;

pub struct Expo {
    base: DiffusionPolicy,
    edit: EditPolicy,
    critic: QEnsemble,
    log_alpha: VarStore,
    base_opt: AdamW,
    edit_opt: AdamW,
    critic_opt: AdamW,
    alpha_opt: AdamW,
    otf: OtfConfig,
    base_only: bool,
    gamma: f64,
    tau: f64,
    max_grad_norm: f64,
    target_entropy: f64,
    offline: Option<Batch>,
    offline_ratio: f64,
}

/// The offline transitions of `expo.offline_data` as one batch in the loop's units.
fn offline_batch(
    cfg: &OffPolicyConfig,
    obs_dim: usize,
    act_dim: usize,
) -> Result<Option<Batch>, TrainError> {
    let spec = cfg.expo.offline_data.as_str();
    let bad = |detail: String| {
        TrainError::Config(format!(
            "config key `expo.offline_data` = {spec:?}: {detail}"
        ))
    };
    let data = if spec.is_empty() {
        return Ok(None);
    } else if spec == "expo-bandit" {
        polopt_envs::offline::bandit::expo_bandit(cfg.expo.offline_transitions, 0)
    } else if spec.ends_with(".safetensors") {
        OfflineDataset::load(spec).map_err(|e| bad(e.to_string()))?
    } else {
        let split = polopt_envs::offline::Split::parse(spec).map_err(|e| bad(e.to_string()))?;
        let config = polopt_envs::offline::GenerateConfig {
            env_id: cfg.env.id.clone(),
            split,
            n: cfg.expo.offline_transitions,
            seed: 0,
            generator_sha: String::new(),
        };
        polopt_envs::offline::generate(&config, &mut |_| {}).map_err(|e| bad(e.to_string()))?
    };
    let Actions::Continuous(actions) = &data.actions else {
        return Err(bad("the dataset has discrete actions".into()));
    };
    if data.obs_dim != obs_dim || data.act_dim != act_dim {
        return Err(bad(format!(
            "the dataset has obs_dim {} and act_dim {}; {} has {obs_dim} and {act_dim}",
            data.obs_dim, data.act_dim, cfg.env.id
        )));
    }
    let space = polopt_envs::classic::make(&cfg.env.id)
        .map_err(|e| bad(e.to_string()))?
        .action_space();
    let Space::Box { low, high } = space else {
        return Err(bad("the environment has discrete actions".into()));
    };
    // Environment units to the actor's [-1, 1]: the inverse of the loop's ActionMap.
    let units: Vec<f32> = actions
        .chunks(act_dim)
        .flat_map(|row| {
            row.iter()
                .zip(low.iter().zip(&high))
                .map(|(a, (l, h))| ((a - (h + l) / 2.0) / ((h - l) / 2.0)).clamp(-1.0, 1.0))
                .collect::<Vec<_>>()
        })
        .collect();
    let n = data.len() as i64;
    let terminated: Vec<f32> = data.terminals.iter().map(|&t| f32::from(t)).collect();
    Ok(Some(Batch {
        obs: Tensor::from_slice(&data.observations).view([n, obs_dim as i64]),
        actions: Tensor::from_slice(&units).view([n, act_dim as i64]),
        rewards: Tensor::from_slice(&data.rewards),
        next_obs: Tensor::from_slice(&data.next_observations).view([n, obs_dim as i64]),
        terminated: Tensor::from_slice(&terminated),
    }))
}

impl Expo {
    /// Called inside the loop's seeded initialisation (`offpolicy-init`).
    pub fn new(cfg: &OffPolicyConfig, obs_dim: usize, act_dim: usize) -> Result<Self, TrainError> {
        let (a, x) = (&cfg.algo, &cfg.expo);
        let (o, k) = (obs_dim as i64, act_dim as i64);
        let base = DiffusionPolicy::new(DiffusionConfig {
            obs_dim: o,
            act_dim: k,
            steps: x.denoise_steps,
            hidden: x.base_hidden.clone(),
            ema: x.base_ema,
        });
        let edit = EditPolicy::new(o, k, &cfg.model.hidden);
        let critic = QEnsemble::new(o, k, &cfg.model.hidden, CRITIC_MEMBERS);
        let log_alpha = VarStore::new(Device::Cpu);
        let _ = log_alpha
            .root()
            .var_copy("log_alpha", &Tensor::from(a.ent_coef.ln() as f32));
        Ok(Expo {
            base_opt: AdamW::new(&base.vs, a.actor_lr, 0.0),
            edit_opt: AdamW::new(&edit.vs, a.actor_lr, 0.0),
            critic_opt: AdamW::new(&critic.vs, a.critic_lr, 0.0),
            alpha_opt: AdamW::new(&log_alpha, a.actor_lr, 0.0),
            base,
            edit,
            critic,
            log_alpha,
            otf: OtfConfig {
                base_samples: x.base_samples,
                edited_samples: x.edited_samples,
                beta: x.beta,
            },
            base_only: x.base_only,
            gamma: a.gamma,
            tau: a.tau,
            max_grad_norm: a.max_grad_norm,
            // Spec: H_target = −k/2; algo.target_entropy overrides when non-zero.
            target_entropy: if a.target_entropy == 0.0 {
                -(k as f64) / 2.0
            } else {
                a.target_entropy
            },
            offline: offline_batch(cfg, obs_dim, act_dim)?,
            offline_ratio: x.offline_ratio,
        })
    }

    fn alpha(&self) -> Tensor {
        self.log_alpha
            .root()
            .get("log_alpha")
            .map(|t| t.exp())
            .unwrap_or_else(|| Tensor::from(1.0f32))
    }

    /// The replay batch with a share `offline_ratio` of its rows replaced by offline rows.
    fn mixed(&self, batch: &Batch, rng: &mut ChaCha8Rng) -> Batch {
        let Some(off) = &self.offline else {
            return Batch {
                obs: batch.obs.shallow_clone(),
                actions: batch.actions.shallow_clone(),
                rewards: batch.rewards.shallow_clone(),
                next_obs: batch.next_obs.shallow_clone(),
                terminated: batch.terminated.shallow_clone(),
            };
        };
        let b = batch.rewards.size()[0];
        let n_off = ((b as f64 * self.offline_ratio).round() as i64).clamp(0, b);
        let pool = off.rewards.size()[0];
        let idx: Vec<i64> = (0..n_off).map(|_| rng.random_range(0..pool)).collect();
        let idx = Tensor::from_slice(&idx);
        let keep = b - n_off;
        let cat = |a: &Tensor, o: &Tensor| {
            Tensor::cat(&[a.narrow(0, 0, keep), o.index_select(0, &idx)], 0)
        };
        Batch {
            obs: cat(&batch.obs, &off.obs),
            actions: cat(&batch.actions, &off.actions),
            rewards: cat(&batch.rewards, &off.rewards),
            next_obs: cat(&batch.next_obs, &off.next_obs),
            terminated: cat(&batch.terminated, &off.terminated),
        }
    }

    fn update_inner(&mut self, batch: &Batch) -> UpdateResult {
        let mut metrics = BTreeMap::new();
        let clip = self.max_grad_norm;
        let base_loss = self.base.imitation_loss(&batch.obs, &batch.actions);
        metrics.insert(
            "base_loss".into(),
            step(
                &mut self.base_opt,
                &base_loss,
                clip,
                ["base loss", "base gradient norm"],
            )?,
        );
        self.base.update_ema();
        if self.base_only {
            return Ok(metrics);
        }
        // Critic: y = r + γ (1 − terminated) min_j Q̄_j(s', π_OTF(s')), online base.
        let target = tch::no_grad(|| {
            // A batch of terminal transitions only (every bandit step) needs no backup: skip
            // the B·N denoising chains of π_OTF(s').
            if batch.terminated.min().double_value(&[]) >= 1.0 {
                return batch.rewards.shallow_clone();
            }
            let next = otf::act(
                &batch.next_obs,
                &self.base,
                &self.edit,
                &self.critic,
                self.otf,
                false,
            );
            let next_q = self.critic.min_q(&batch.next_obs, &next, true);
            &batch.rewards + (-&batch.terminated + 1.0) * next_q * self.gamma
        });
        let q = self.critic.all(&batch.obs, &batch.actions, false);
        let critic_loss = (&q - target.unsqueeze(0)).square().mean(Kind::Float);
        metrics.insert(
            "critic_loss".into(),
            step(
                &mut self.critic_opt,
                &critic_loss,
                clip,
                ["critic loss", "critic gradient norm"],
            )?,
        );
        metrics.insert("q_mean".into(), q.mean(Kind::Float).double_value(&[]));
        // Edit policy on the replay actions: α log p(βδ) − mean_j Q_j(s, a + βδ).
        let sample = self.edit.sample(&batch.obs, &batch.actions, self.otf.beta);
        let edited = apply_edit(&batch.actions, &sample.u, self.otf.beta);
        let q_edit = self
            .critic
            .all(&batch.obs, &edited, false)
            .mean_dim(0, false, Kind::Float);
        let alpha = self.alpha().detach();
        let edit_loss = (&sample.log_prob * &alpha - q_edit).mean(Kind::Float);
        metrics.insert(
            "edit_loss".into(),
            step(
                &mut self.edit_opt,
                &edit_loss,
                clip,
                ["edit loss", "edit gradient norm"],
            )?,
        );
        // Temperature: α (H − H_target) with H = −mean log p(βδ), detached.
        let entropy = -sample.log_prob.detach().mean(Kind::Float);
        metrics.insert("edit_entropy".into(), entropy.double_value(&[]));
        let alpha_loss = self.alpha() * (entropy - self.target_entropy);
        step(
            &mut self.alpha_opt,
            &alpha_loss,
            clip,
            ["alpha loss", "alpha gradient norm"],
        )?;
        metrics.insert("alpha".into(), self.alpha().double_value(&[]));
        self.critic.update_target(self.tau);
        Ok(metrics)
    }
}

impl Agent for Expo {
    fn act(&self, obs: &[f32], _explore: bool, rng: &mut ChaCha8Rng, action: &mut [f32]) {
        // π_OTF samples whichever way: evaluation and exploration act alike (spec).
        let seed = rng.next_u64();
        let chosen = with_torch_seed(seed, "expo-act", 0, || {
            let s = obs_row(obs);
            if self.base_only {
                self.base.sample(&s, 1, true).squeeze_dim(1)
            } else {
                otf::act(&s, &self.base, &self.edit, &self.critic, self.otf, true)
            }
        });
        row_values(&chosen, action);
    }

    fn update(&mut self, batch: &Batch, rng: &mut ChaCha8Rng, index: u64) -> UpdateResult {
        let batch = self.mixed(batch, rng);
        let seed = rng.next_u64();
        with_torch_seed(seed, "expo-update", index, || self.update_inner(&batch))
    }

    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        vec![
            ("base", &self.base.vs),
            ("base_ema", self.base.ema_store()),
            ("edit", &self.edit.vs),
            ("critic", &self.critic.vs),
            ("critic_target", self.critic.target_store()),
            ("log_alpha", &self.log_alpha),
        ]
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut AdamW)> {
        vec![
            ("base_opt", &mut self.base_opt),
            ("edit_opt", &mut self.edit_opt),
            ("critic_opt", &mut self.critic_opt),
            ("alpha_opt", &mut self.alpha_opt),
        ]
    }
}
