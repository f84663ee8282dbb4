//! TD3 (Fujimoto et al., 2018, "Addressing Function Approximation Error in Actor-Critic
//! Methods"), as SB3's `td3.py` runs it:
//!
//! - target with clipped double Q and target policy smoothing:
//!   `a' = clip(pi_targ(s') + clip(N(0, sigma~), -c, c), -1, 1)`,
//!   `y = r + gamma (1 - terminated) min_i Q_targ_i(s', a')`;
//! - critic loss `sum_i mean (Q_i(s, a) - y)^2`;
//! - every `policy_delay` critic updates: actor loss `-mean Q_1(s, pi(s))`, then Polyak
//!   averaging of both target networks with `tau`.
//!
//! Exploration: `clip(pi(s) + N(0, exploration_noise), -1, 1)`.
use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

use super::agent::{obs_row, row_values, step, Agent, NonFinite, UpdateResult};
use super::config::OffPolicyConfig;
use super::nets::{
    hard_copy, new_store, normal_tensor, polyak_update, DeterministicActor, TwinCritic,
};
use super::replay::Batch;
use super::td3_bc::{td3_bc_actor_loss, DatasetAction};
use crate::control::mlp::standard_normal;
use crate::optim::AdamW;

pub struct Td3 {
    pub actor_vs: VarStore,
    pub actor: DeterministicActor,
    actor_target_vs: VarStore,
    actor_target: DeterministicActor,
    pub critic_vs: VarStore,
    pub critic: TwinCritic,
    critic_target_vs: VarStore,
    critic_target: TwinCritic,
    actor_opt: AdamW,
    critic_opt: AdamW,
    settings: Td3Settings,
    act_dim: usize,
    /// `Some(alpha)`: the actor step is TD3+BC's (`td3_bc.rs`).
    pub behaviour_cloning: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
pub struct Td3Settings {
    pub gamma: f64,
    pub tau: f64,
    pub policy_delay: u64,
    pub exploration_noise: f64,
    pub target_policy_noise: f64,
    pub target_noise_clip: f64,
    pub max_grad_norm: f64,
}

/// `y = r + gamma (1 - terminated) min_i Q_targ_i(s', a')` with the smoothed target action
/// `a'` (returned too: A2PR's value target reuses it); `noise` is standard normal
/// `[B, act_dim]` (scaled and clipped here). No gradient.
pub fn td3_target(
    actor_target: &DeterministicActor,
    critic_target: &TwinCritic,
    batch: &Batch,
    noise: &Tensor,
    s: &Td3Settings,
) -> (Tensor, Tensor) {
    tch::no_grad(|| {
        let smoothing =
            (noise * s.target_policy_noise).clamp(-s.target_noise_clip, s.target_noise_clip);
        let next_actions = (actor_target.forward(&batch.next_obs) + smoothing).clamp(-1.0, 1.0);
        let next_q = critic_target.min_q(&batch.next_obs, &next_actions);
        let y = &batch.rewards + (1.0 - &batch.terminated) * s.gamma * next_q;
        (y, next_actions)
    })
}

/// `sum_i mean (Q_i(s, a) - y)^2` (SB3's TD3; SAC halves it).
pub fn twin_critic_loss(critic: &TwinCritic, batch: &Batch, target: &Tensor) -> Tensor {
    let (q1, q2) = critic.forward(&batch.obs, &batch.actions);
    let mse = |q: &Tensor| (q - target).square().mean(q.kind());
    mse(&q1) + mse(&q2)
}

/// `-mean Q_1(s, pi(s))`.
pub fn td3_actor_loss(actor: &DeterministicActor, critic: &TwinCritic, obs: &Tensor) -> Tensor {
    -critic.q1(obs, &actor.forward(obs)).mean(obs.kind())
}

impl Td3 {
    /// Call under `seeds::with_torch_seed`: the initial weights draw from libtorch's generator.
    pub fn new(
        cfg: &OffPolicyConfig,
        obs_dim: usize,
        act_dim: usize,
    ) -> Result<Self, tch::TchError> {
        let (o, a, h) = (obs_dim as i64, act_dim as i64, &cfg.model.hidden);
        let actor_vs = new_store();
        let actor = DeterministicActor::new(&actor_vs, o, h, a);
        let mut actor_target_vs = new_store();
        let actor_target = DeterministicActor::new(&actor_target_vs, o, h, a);
        hard_copy(&mut actor_target_vs, &actor_vs)?;
        let critic_vs = new_store();
        let critic = TwinCritic::new(&critic_vs, o, a, h);
        let mut critic_target_vs = new_store();
        let critic_target = TwinCritic::new(&critic_target_vs, o, a, h);
        hard_copy(&mut critic_target_vs, &critic_vs)?;
        let al = &cfg.algo;
        Ok(Self {
            actor_opt: AdamW::new(&actor_vs, al.actor_lr, 0.0),
            critic_opt: AdamW::new(&critic_vs, al.critic_lr, 0.0),
            actor_vs,
            actor,
            actor_target_vs,
            actor_target,
            critic_vs,
            critic,
            critic_target_vs,
            critic_target,
            settings: Td3Settings {
                gamma: al.gamma,
                tau: al.tau,
                policy_delay: al.policy_delay as u64,
                exploration_noise: al.exploration_noise,
                target_policy_noise: al.target_policy_noise,
                target_noise_clip: al.target_noise_clip,
                max_grad_norm: al.max_grad_norm,
            },
            act_dim,
            behaviour_cloning: None,
        })
    }
}

impl Td3 {
    /// One critic step towards [`td3_target`]; returns the loss, the target and `a'`.
    pub fn critic_step(
        &mut self,
        batch: &Batch,
        rng: &mut ChaCha8Rng,
    ) -> Result<(f64, Tensor, Tensor), NonFinite> {
        let rows = batch.obs.size()[0] as usize;
        let noise = normal_tensor(rng, rows, self.act_dim);
        let (target, next_actions) = td3_target(
            &self.actor_target,
            &self.critic_target,
            batch,
            &noise,
            &self.settings,
        );
        let loss = twin_critic_loss(&self.critic, batch, &target);
        let loss = step(
            &mut self.critic_opt,
            &loss,
            self.settings.max_grad_norm,
            ["critic loss", "critic gradient norm"],
        )?;
        Ok((loss, target, next_actions))
    }

    /// One actor step on `loss(actor, critic)`. The critic only carries the actor's gradient:
    /// it is frozen meanwhile, so its weight gradients (a third of the backward) are skipped.
    pub fn actor_step(
        &mut self,
        loss: impl FnOnce(&DeterministicActor, &TwinCritic) -> Tensor,
    ) -> Result<f64, NonFinite> {
        self.critic_vs.freeze();
        let value = loss(&self.actor, &self.critic);
        let outcome = step(
            &mut self.actor_opt,
            &value,
            self.settings.max_grad_norm,
            ["actor loss", "actor gradient norm"],
        );
        self.critic_vs.unfreeze();
        outcome
    }

    /// Polyak averaging of both targets (TD3 moves them only with the actor).
    pub fn update_targets(&mut self) {
        polyak_update(&self.critic_target_vs, &self.critic_vs, self.settings.tau);
        polyak_update(&self.actor_target_vs, &self.actor_vs, self.settings.tau);
    }
}

impl Agent for Td3 {
    fn act(&self, obs: &[f32], explore: bool, rng: &mut ChaCha8Rng, action: &mut [f32]) {
        let out = tch::no_grad(|| self.actor.forward(&obs_row(obs)));
        row_values(&out, action);
        if explore {
            for a in action.iter_mut() {
                let noise = self.settings.exploration_noise * standard_normal(rng);
                *a = (*a + noise as f32).clamp(-1.0, 1.0);
            }
        }
    }

    fn update(&mut self, batch: &Batch, rng: &mut ChaCha8Rng, index: u64) -> UpdateResult {
        let (critic_loss, target, _) = self.critic_step(batch, rng)?;
        let mut row = BTreeMap::from([
            ("critic_loss".to_string(), critic_loss),
            (
                "q_target_mean".to_string(),
                target.mean(Kind::Float).double_value(&[]),
            ),
        ]);
        if index % self.settings.policy_delay == 0 {
            let bc = self.behaviour_cloning;
            let actor_loss = self.actor_step(|actor, critic| match bc {
                None => td3_actor_loss(actor, critic, &batch.obs),
                Some(alpha) => td3_bc_actor_loss(actor, critic, batch, alpha, &DatasetAction),
            })?;
            row.insert("actor_loss".into(), actor_loss);
            self.update_targets();
        }
        Ok(row)
    }

    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        vec![
            ("actor", &self.actor_vs),
            ("actor_target", &self.actor_target_vs),
            ("critic", &self.critic_vs),
            ("critic_target", &self.critic_target_vs),
        ]
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut AdamW)> {
        vec![
            ("actor_opt", &mut self.actor_opt),
            ("critic_opt", &mut self.critic_opt),
        ]
    }
}
