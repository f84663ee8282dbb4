//! SAC (Haarnoja et al., 2018, "Soft Actor-Critic Algorithms and Applications"), as SB3's
//! `sac.py` runs it, one gradient step:
//!
//! 1. `a~, log pi(a~|s) = actor.sample(s)` (reparameterised, squashed Gaussian);
//! 2. with `algo.autotune`: temperature loss `-mean log_alpha (log pi(a~|s) + H_target)`,
//!    one Adam step on `log_alpha` (alpha of this step is the value before it);
//! 3. target `y = r + gamma (1 - terminated) (min_i Q_targ_i(s', a') - alpha log pi(a'|s'))`
//!    with `a' ~ pi(.|s')`; critic loss `0.5 sum_i mean (Q_i(s, a) - y)^2`;
//! 4. actor loss `mean (alpha log pi(a~|s) - min_i Q_i(s, a~))` with the just-updated critics;
//! 5. Polyak averaging of the critic targets every `policy_delay` steps (SB3's
//!    `target_update_interval`; the actor updates every step, as in SB3).
use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use tch::nn::{Init, VarStore};
use tch::{Kind, Tensor};

use super::agent::{obs_row, row_values, step, Agent, UpdateResult};
use super::config::OffPolicyConfig;
use super::nets::{
    hard_copy, new_store, normal_tensor, polyak_update, SquashedGaussianActor, TwinCritic,
};
use super::replay::Batch;
use crate::optim::AdamW;

pub struct Sac {
    pub actor_vs: VarStore,
    pub actor: SquashedGaussianActor,
    pub critic_vs: VarStore,
    pub critic: TwinCritic,
    critic_target_vs: VarStore,
    critic_target: TwinCritic,
    alpha_vs: VarStore,
    log_alpha: Tensor,
    actor_opt: AdamW,
    critic_opt: AdamW,
    alpha_opt: AdamW,
    settings: SacSettings,
    act_dim: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct SacSettings {
    pub gamma: f64,
    pub tau: f64,
    pub target_update_interval: u64,
    pub autotune: bool,
    pub target_entropy: f64,
    pub max_grad_norm: f64,
}

/// The soft target `y = r + gamma (1 - terminated) (min_i Q_targ_i(s', a') - alpha log pi(a'|s'))`
/// with `a'` from the standard-normal draws `eps`. No gradient.
pub fn sac_target(
    actor: &SquashedGaussianActor,
    critic_target: &TwinCritic,
    batch: &Batch,
    eps: &Tensor,
    alpha: f64,
    gamma: f64,
) -> Tensor {
    tch::no_grad(|| {
        let (next_actions, next_logp) = actor.sample(&batch.next_obs, eps);
        let next_q = critic_target.min_q(&batch.next_obs, &next_actions) - next_logp * alpha;
        &batch.rewards + (1.0 - &batch.terminated) * gamma * next_q
    })
}

/// `mean (alpha log pi(a~|s) - min_i Q_i(s, a~))` for the sampled `a~` and its log-density.
pub fn sac_actor_loss(
    critic: &TwinCritic,
    obs: &Tensor,
    actions: &Tensor,
    logp: &Tensor,
    alpha: f64,
) -> Tensor {
    (logp * alpha - critic.min_q(obs, actions)).mean(obs.kind())
}

/// `-mean log_alpha (log pi + H_target)` with the log-probs detached.
pub fn temperature_loss(log_alpha: &Tensor, logp: &Tensor, target_entropy: f64) -> Tensor {
    -(log_alpha * (logp.detach() + target_entropy)).mean(logp.kind())
}

impl Sac {
    /// Call under `seeds::with_torch_seed`: the initial weights draw from libtorch's generator.
    pub fn new(
        cfg: &OffPolicyConfig,
        obs_dim: usize,
        act_dim: usize,
    ) -> Result<Self, tch::TchError> {
        let (o, a, h) = (obs_dim as i64, act_dim as i64, &cfg.model.hidden);
        let actor_vs = new_store();
        let actor = SquashedGaussianActor::new(&actor_vs, o, h, a);
        let critic_vs = new_store();
        let critic = TwinCritic::new(&critic_vs, o, a, h);
        let mut critic_target_vs = new_store();
        let critic_target = TwinCritic::new(&critic_target_vs, o, a, h);
        hard_copy(&mut critic_target_vs, &critic_vs)?;
        let al = &cfg.algo;
        let alpha_vs = new_store();
        let log_alpha = alpha_vs
            .root()
            .var("log_alpha", &[1], Init::Const(al.ent_coef.ln()));
        Ok(Self {
            actor_opt: AdamW::new(&actor_vs, al.actor_lr, 0.0),
            critic_opt: AdamW::new(&critic_vs, al.critic_lr, 0.0),
            // SB3 gives the temperature the policy's learning rate.
            alpha_opt: AdamW::new(&alpha_vs, al.actor_lr, 0.0),
            actor_vs,
            actor,
            critic_vs,
            critic,
            critic_target_vs,
            critic_target,
            alpha_vs,
            log_alpha,
            settings: SacSettings {
                gamma: al.gamma,
                tau: al.tau,
                target_update_interval: al.policy_delay as u64,
                autotune: al.autotune,
                target_entropy: cfg.target_entropy(act_dim),
                max_grad_norm: al.max_grad_norm,
            },
            act_dim,
        })
    }

    pub fn alpha(&self) -> f64 {
        self.log_alpha.double_value(&[0]).exp()
    }
}

impl Agent for Sac {
    fn act(&self, obs: &[f32], explore: bool, rng: &mut ChaCha8Rng, action: &mut [f32]) {
        let out = tch::no_grad(|| {
            let obs = obs_row(obs);
            if explore {
                self.actor
                    .sample(&obs, &normal_tensor(rng, 1, self.act_dim))
                    .0
            } else {
                self.actor.mode(&obs)
            }
        });
        row_values(&out, action);
    }

    fn update(&mut self, batch: &Batch, rng: &mut ChaCha8Rng, index: u64) -> UpdateResult {
        let s = self.settings;
        let rows = batch.obs.size()[0] as usize;
        let (eps_pi, eps_next) = (
            normal_tensor(rng, rows, self.act_dim),
            normal_tensor(rng, rows, self.act_dim),
        );
        let (actions_pi, logp) = self.actor.sample(&batch.obs, &eps_pi);
        let alpha = self.alpha();
        let mut row = BTreeMap::from([
            ("alpha".to_string(), alpha),
            (
                "entropy".to_string(),
                -logp.mean(Kind::Float).double_value(&[]),
            ),
        ]);
        if s.autotune {
            let loss = temperature_loss(&self.log_alpha, &logp, s.target_entropy);
            let loss = step(
                &mut self.alpha_opt,
                &loss,
                0.0,
                ["temperature loss", "temperature gradient"],
            )?;
            row.insert("alpha_loss".into(), loss);
        }
        let target = sac_target(
            &self.actor,
            &self.critic_target,
            batch,
            &eps_next,
            alpha,
            s.gamma,
        );
        let critic_loss = twin_critic_half_loss(&self.critic, batch, &target);
        let critic_loss = step(
            &mut self.critic_opt,
            &critic_loss,
            s.max_grad_norm,
            ["critic loss", "critic gradient norm"],
        )?;
        row.insert("critic_loss".into(), critic_loss);
        row.insert(
            "q_target_mean".into(),
            target.mean(Kind::Float).double_value(&[]),
        );
        // The critics only carry the actor's gradient: frozen, their weight gradients are not
        // computed.
        self.critic_vs.freeze();
        let actor_loss = sac_actor_loss(&self.critic, &batch.obs, &actions_pi, &logp, alpha);
        let actor_loss = step(
            &mut self.actor_opt,
            &actor_loss,
            s.max_grad_norm,
            ["actor loss", "actor gradient norm"],
        );
        self.critic_vs.unfreeze();
        let actor_loss = actor_loss?;
        row.insert("actor_loss".into(), actor_loss);
        if index % s.target_update_interval == 0 {
            polyak_update(&self.critic_target_vs, &self.critic_vs, s.tau);
        }
        Ok(row)
    }

    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        vec![
            ("actor", &self.actor_vs),
            ("critic", &self.critic_vs),
            ("critic_target", &self.critic_target_vs),
            ("alpha", &self.alpha_vs),
        ]
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut AdamW)> {
        vec![
            ("actor_opt", &mut self.actor_opt),
            ("critic_opt", &mut self.critic_opt),
            ("alpha_opt", &mut self.alpha_opt),
        ]
    }
}

/// SAC's critic loss: half of TD3's `sum_i mean (Q_i - y)^2` (SB3's `0.5 * sum(mse)`).
pub fn twin_critic_half_loss(critic: &TwinCritic, batch: &Batch, target: &Tensor) -> Tensor {
    super::td3::twin_critic_loss(critic, batch, target) * 0.5
}
