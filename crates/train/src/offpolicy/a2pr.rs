//! A2PR (Liu et al., ICML 2024, "Adaptive Advantage-Guided Policy Regularization for Offline
//! RL"; spec `a2pr.md`, checked against the authors' `A2PR.py`): TD3+BC whose BC target is
//! chosen by advantage. One gradient step:
//!
//! 1. TD3's critic step, target `y` with the smoothed `a'` (`td3.rs`);
//! 2. value net on `y_V = min(y_on, y)`, `y_on` the same target under the *updated online*
//!    critic: `L_V = mean (V(s) - y_V)^2`;
//! 3. conditional VAE on advantage-filtered actions: `w = 1[Q1(s, a) > V(s) + eps_A]`,
//!    `L_VAE = omega mean_{batch, dims} w (Dec(s, z) - a)^2 + 0.5 KL`;
//! 4. every `policy_delay` steps the actor: `a^_pi = VAE(s, pi(s))` (posterior of (s, pi)),
//!    `A_data = Q1(s, a) - V(s)`, `A_vae = Q1(s, a^_pi) - V(s)`,
//!    target `a~ = a^_pi if A_vae >= A_data else a`,
//!    weight `kappa = mu (1[Q1(s, a^_pi) >= V(s)] + 1[Q1(s, a) > V(s)])` (detached),
//!    `L_pi = -lambda mean Q1(s, pi) + mean_{batch, dims} kappa (pi - a~)^2` (`td3_bc.rs`),
//!    then Polyak averaging of both targets.
//!
//! The advantage selection is a [`BcTargetSelector`] ([`AdvantageSelected`]); its closed form
//! ([`advantage_selected_target`]) is tested against the spec's vector (L_pi = -2.49).
//! Deviation: V and both critics use `model.hidden` (the repo: 4 x 256, actor 3 x 256).
use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use tch::nn::{self, Module, VarStore};
use tch::{Kind, Tensor};

use super::agent::{step, Agent, UpdateResult};
use super::config::OffPolicyConfig;
use super::nets::{new_store, normal_tensor, ReluMlp};
use super::replay::Batch;
use super::td3::Td3;
use super::td3_bc::{bc_actor_loss, BcContext, BcTargetSelector};
use crate::optim::AdamW;

/// The VAE's clamp of the encoder's log-std (the repo's `clamp(-4, 15)`).
const VAE_LOG_STD: (f64, f64) = (-4.0, 15.0);

/// The conditional VAE over actions: encoder `[s; a] -> (mu, log sigma)` of a `2 * act_dim`
/// latent, decoder `[s; z] -> tanh(...)` in `[-1, 1]` action units.
pub struct ActionVae {
    encoder: ReluMlp,
    mean: nn::Linear,
    log_std: nn::Linear,
    decoder: ReluMlp,
    latent: i64,
}

impl ActionVae {
    pub fn new(vs: &VarStore, obs_dim: i64, act_dim: i64, hidden: &[i64]) -> Self {
        let root = vs.root() / "vae";
        let latent = 2 * act_dim;
        let width = *hidden.last().unwrap_or(&obs_dim);
        Self {
            encoder: ReluMlp::new(&(&root / "encoder"), obs_dim + act_dim, hidden, None),
            mean: nn::linear(&root / "mean", width, latent, Default::default()),
            log_std: nn::linear(&root / "log_std", width, latent, Default::default()),
            decoder: ReluMlp::new(
                &(&root / "decoder"),
                obs_dim + latent,
                hidden,
                Some(act_dim),
            ),
            latent,
        }
    }

    /// Encodes `(s, a)`, samples `z = mu + sigma xi` with `xi: [B, 2 act_dim]` standard normal,
    /// decodes: `(reconstruction, mu, log_sigma)`.
    pub fn reconstruct(
        &self,
        obs: &Tensor,
        actions: &Tensor,
        xi: &Tensor,
    ) -> (Tensor, Tensor, Tensor) {
        let h = self.encoder.forward(&Tensor::cat(&[obs, actions], -1));
        let (mean, log_std) = (
            self.mean.forward(&h),
            self.log_std.forward(&h).clamp(VAE_LOG_STD.0, VAE_LOG_STD.1),
        );
        let z = &mean + log_std.exp() * xi;
        let recon = self.decoder.forward(&Tensor::cat(&[obs, &z], -1)).tanh();
        (recon, mean, log_std)
    }
}

/// `w = 1[q_data > v + threshold]`, `[B]`: the samples the VAE learns from.
pub fn vae_mask(q_data: &Tensor, v: &Tensor, threshold: f64) -> Tensor {
    q_data.gt_tensor(&(v + threshold)).to_kind(q_data.kind())
}

/// `omega mean_{batch, dims} w (recon - a)^2 + 0.5 KL`, `KL = -0.5 mean(1 + 2 log_sigma -
/// mu^2 - sigma^2)`.
pub fn vae_loss(
    recon: &Tensor,
    actions: &Tensor,
    mask: &Tensor,
    mean: &Tensor,
    log_std: &Tensor,
    weight: f64,
) -> Tensor {
    let recon_loss = ((recon - actions).square() * mask.unsqueeze(-1)).mean(recon.kind());
    let kl: Tensor =
        (log_std * 2.0 + 1.0 - mean.square() - (log_std * 2.0).exp()).mean(mean.kind()) * -0.5;
    recon_loss * weight + kl * 0.5
}

/// The closed form of A2PR's selection: target `a_hat` where `q_vae - v >= q_data - v`, else
/// `a`; weight `mu (1[q_vae >= v] + 1[q_data > v])`, detached. `a, a_hat: [B, A]`, the
/// values `[B]`.
pub fn advantage_selected_target(
    a: &Tensor,
    a_hat: &Tensor,
    q_data: &Tensor,
    q_vae: &Tensor,
    v: &Tensor,
    mu: f64,
) -> (Tensor, Tensor) {
    let (adv_data, adv_vae) = (q_data - v, q_vae - v);
    let take_vae = adv_vae.ge_tensor(&adv_data).unsqueeze(-1);
    let target = a_hat.where_self(&take_vae, a);
    let kind = q_data.kind();
    let kappa = (q_vae.ge_tensor(v).to_kind(kind) + q_data.gt_tensor(v).to_kind(kind)) * mu;
    (target, kappa.detach())
}

/// A2PR's [`BcTargetSelector`]: the dataset action or the VAE's reconstruction of the policy
/// action, whichever has the higher advantage under Q1 and V.
pub struct AdvantageSelected<'a> {
    pub vae: &'a ActionVae,
    pub value: &'a ReluMlp,
    /// `[B, 2 act_dim]` standard normal, the VAE's latent noise.
    pub xi: Tensor,
    pub mu: f64,
}

impl BcTargetSelector for AdvantageSelected<'_> {
    fn select(&self, ctx: &BcContext) -> (Tensor, Tensor) {
        let obs = &ctx.batch.obs;
        // The gradient reaches pi through the reconstruction too, as in the authors' code.
        let (a_hat, _, _) = self.vae.reconstruct(obs, ctx.pi, &self.xi);
        let v = self.value.forward(obs).squeeze_dim(-1);
        let q_data = ctx.critic.q1(obs, &ctx.batch.actions);
        let q_vae = ctx.critic.q1(obs, &a_hat);
        advantage_selected_target(&ctx.batch.actions, &a_hat, &q_data, &q_vae, &v, self.mu)
    }
}

pub struct A2pr {
    td3: Td3,
    value_vs: VarStore,
    value: ReluMlp,
    vae_vs: VarStore,
    vae: ActionVae,
    value_opt: AdamW,
    vae_opt: AdamW,
    gamma: f64,
    alpha: f64,
    mu: f64,
    vae_weight: f64,
    threshold: f64,
    policy_delay: u64,
    max_grad_norm: f64,
}

impl A2pr {
    /// Call under `seeds::with_torch_seed`.
    pub fn new(
        cfg: &OffPolicyConfig,
        obs_dim: usize,
        act_dim: usize,
    ) -> Result<Self, tch::TchError> {
        let td3 = Td3::new(cfg, obs_dim, act_dim)?;
        let (o, a, al) = (obs_dim as i64, act_dim as i64, &cfg.algo);
        let value_vs = new_store();
        let value = ReluMlp::new(&(value_vs.root() / "value"), o, &cfg.model.hidden, Some(1));
        let vae_vs = new_store();
        let vae = ActionVae::new(&vae_vs, o, a, &cfg.model.vae_hidden);
        Ok(Self {
            value_opt: AdamW::new(&value_vs, al.value_lr, 0.0),
            vae_opt: AdamW::new(&vae_vs, al.vae_lr, 0.0),
            td3,
            value_vs,
            value,
            vae_vs,
            vae,
            gamma: al.gamma,
            alpha: al.bc_alpha,
            mu: al.bc_mask,
            vae_weight: al.vae_weight,
            threshold: al.adv_threshold,
            policy_delay: al.policy_delay as u64,
            max_grad_norm: al.max_grad_norm,
        })
    }
}

impl Agent for A2pr {
    fn act(&self, obs: &[f32], explore: bool, rng: &mut ChaCha8Rng, action: &mut [f32]) {
        self.td3.act(obs, explore, rng, action);
    }

    fn update(&mut self, batch: &Batch, rng: &mut ChaCha8Rng, index: u64) -> UpdateResult {
        let (critic_loss, target, next_actions) = self.td3.critic_step(batch, rng)?;
        let mut row = BTreeMap::from([("critic_loss".to_string(), critic_loss)]);
        // 2. The value target: the smaller of the target critics' and the updated online
        // critics' TD targets.
        let y_v = tch::no_grad(|| {
            let next_q = self.td3.critic.min_q(&batch.next_obs, &next_actions);
            let y_on: Tensor = &batch.rewards + (1.0 - &batch.terminated) * self.gamma * next_q;
            y_on.minimum(&target)
        });
        let v_loss = (self.value.forward(&batch.obs).squeeze_dim(-1) - &y_v)
            .square()
            .mean(Kind::Float);
        let v_loss = step(
            &mut self.value_opt,
            &v_loss,
            self.max_grad_norm,
            ["value loss", "value gradient norm"],
        )?;
        row.insert("value_loss".into(), v_loss);
        // 3. The VAE on the actions whose advantage is positive.
        let rows = batch.obs.size()[0] as usize;
        let latent = self.vae.latent as usize;
        let mask = tch::no_grad(|| {
            let q_data = self.td3.critic.q1(&batch.obs, &batch.actions);
            let v = self.value.forward(&batch.obs).squeeze_dim(-1);
            vae_mask(&q_data, &v, self.threshold)
        });
        let xi = normal_tensor(rng, rows, latent);
        let (recon, mean, log_std) = self.vae.reconstruct(&batch.obs, &batch.actions, &xi);
        let loss = vae_loss(
            &recon,
            &batch.actions,
            &mask,
            &mean,
            &log_std,
            self.vae_weight,
        );
        let loss = step(
            &mut self.vae_opt,
            &loss,
            self.max_grad_norm,
            ["VAE loss", "VAE gradient norm"],
        )?;
        row.insert("vae_loss".into(), loss);
        row.insert(
            "vae_mask_frac".into(),
            mask.mean(Kind::Float).double_value(&[]),
        );
        // 4. The actor with the advantage-selected BC target, then the targets.
        if index % self.policy_delay == 0 {
            let xi = normal_tensor(rng, rows, latent);
            self.value_vs.freeze();
            self.vae_vs.freeze();
            let selector = AdvantageSelected {
                vae: &self.vae,
                value: &self.value,
                xi,
                mu: self.mu,
            };
            let alpha = self.alpha;
            let mut kappa_frac = 0.0;
            let outcome = self.td3.actor_step(|actor, critic| {
                let pi = actor.forward(&batch.obs);
                let q_pi = critic.q1(&batch.obs, &pi);
                let (target, kappa) = selector.select(&BcContext {
                    batch,
                    pi: &pi,
                    critic,
                });
                kappa_frac = kappa
                    .gt(0.0)
                    .to_kind(Kind::Float)
                    .mean(Kind::Float)
                    .double_value(&[]);
                bc_actor_loss(&q_pi, &pi, &target, &kappa, alpha)
            });
            self.value_vs.unfreeze();
            self.vae_vs.unfreeze();
            row.insert("actor_loss".into(), outcome?);
            row.insert("bc_weight_frac".into(), kappa_frac);
            self.td3.update_targets();
        }
        Ok(row)
    }

    fn stores(&self) -> Vec<(&'static str, &VarStore)> {
        let mut out = self.td3.stores();
        out.push(("value", &self.value_vs));
        out.push(("vae", &self.vae_vs));
        out
    }

    fn optimizers(&mut self) -> Vec<(&'static str, &mut AdamW)> {
        let mut out = self.td3.optimizers();
        out.push(("value_opt", &mut self.value_opt));
        out.push(("vae_opt", &mut self.vae_opt));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f64]) -> Tensor {
        Tensor::from_slice(values)
    }

    /// a2pr.md, "Exact test vector for the actor loss".
    #[test]
    fn actor_loss_matches_the_spec_vector() {
        let a = t(&[0.5, -0.4]).view([2, 1]);
        let pi = t(&[0.2, -0.1]).view([2, 1]);
        let a_hat = t(&[0.3, 0.0]).view([2, 1]);
        let (q_data, v, q_vae, q_pi) = (
            t(&[1.0, 0.5]),
            t(&[0.8, 0.9]),
            t(&[1.2, 0.7]),
            t(&[1.1, 0.6]),
        );
        let (target, kappa) = advantage_selected_target(&a, &a_hat, &q_data, &q_vae, &v, 1.0);
        assert_eq!(
            Vec::<f64>::try_from(&target.view([-1])).unwrap(),
            vec![0.3, 0.0]
        );
        assert_eq!(Vec::<f64>::try_from(&kappa).unwrap(), vec![2.0, 0.0]);
        let loss = bc_actor_loss(&q_pi, &pi, &target, &kappa, 2.5).double_value(&[]);
        assert!((loss - (-2.49)).abs() < 1e-12, "{loss}");
        let mask = vae_mask(&q_data, &v, 0.0);
        assert_eq!(Vec::<f64>::try_from(&mask).unwrap(), vec![1.0, 0.0]);
    }

    #[test]
    fn the_dataset_action_wins_when_its_advantage_is_higher() {
        let a = t(&[0.5]).view([1, 1]);
        let a_hat = t(&[-0.5]).view([1, 1]);
        let (target, kappa) =
            advantage_selected_target(&a, &a_hat, &t(&[2.0]), &t(&[1.0]), &t(&[1.5]), 0.5);
        assert_eq!(target.double_value(&[0, 0]), 0.5);
        // Only the dataset action beats V: one indicator.
        assert_eq!(kappa.double_value(&[0]), 0.5);
    }
}
