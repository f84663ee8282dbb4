//! TD3+BC (Fujimoto & Gu, 2021, "A Minimalist Approach to Offline Reinforcement Learning"):
//! TD3's critic and delayed actor on dataset minibatches, with the actor loss
//!
//! `L_pi = -lambda mean Q1(s, pi(s)) + mean_{batch, dims} w (pi(s) - a~)^2`,
//! `lambda = alpha / mean |Q1(s, pi(s))|` (detached), `alpha = algo.bc_alpha` (2.5),
//!
//! where the BC target `a~` and its per-sample weight `w` come from a [`BcTargetSelector`]:
//! TD3+BC's is the dataset action with weight 1 ([`DatasetAction`]); A2PR's chooses between
//! the dataset action and a VAE proposal by advantage (`a2pr.rs`). States are normalised with
//! the dataset's mean and std (+1e-3) by the trainer.
use tch::{Kind, Tensor};

use super::config::OffPolicyConfig;
use super::nets::{DeterministicActor, TwinCritic};
use super::replay::Batch;
use super::td3::Td3;

/// What a selector sees: the batch, the policy's actions `pi: [B, A]` and the critic.
pub struct BcContext<'a> {
    pub batch: &'a Batch,
    pub pi: &'a Tensor,
    pub critic: &'a TwinCritic,
}

/// Chooses the behaviour-cloning target of each sample and its weight.
pub trait BcTargetSelector {
    /// `(target [B, A], weight [B])`; the weight is detached, the target may carry gradient
    /// (A2PR's VAE reconstruction of `pi`).
    fn select(&self, ctx: &BcContext) -> (Tensor, Tensor);
}

/// TD3+BC: the dataset action, weight 1.
pub struct DatasetAction;

impl BcTargetSelector for DatasetAction {
    fn select(&self, ctx: &BcContext) -> (Tensor, Tensor) {
        let rows = ctx.batch.actions.size()[0];
        (
            ctx.batch.actions.shallow_clone(),
            Tensor::ones([rows], (ctx.pi.kind(), ctx.pi.device())),
        )
    }
}

/// `-lambda mean q_pi + mean_{batch, dims} w (pi - target)^2` with `lambda = alpha / mean|q_pi|`
/// detached; `q_pi = Q1(s, pi): [B]`, `weight: [B]`.
pub fn bc_actor_loss(
    q_pi: &Tensor,
    pi: &Tensor,
    target: &Tensor,
    weight: &Tensor,
    alpha: f64,
) -> Tensor {
    let lambda = alpha / q_pi.abs().mean(Kind::Double).double_value(&[]);
    let bc = ((pi - target).square() * weight.unsqueeze(-1)).mean(pi.kind());
    -q_pi.mean(pi.kind()) * lambda + bc
}

/// TD3+BC's actor loss for a batch.
pub fn td3_bc_actor_loss(
    actor: &DeterministicActor,
    critic: &TwinCritic,
    batch: &Batch,
    alpha: f64,
    selector: &dyn BcTargetSelector,
) -> Tensor {
    let pi = actor.forward(&batch.obs);
    let q_pi = critic.q1(&batch.obs, &pi);
    let (target, weight) = selector.select(&BcContext {
        batch,
        pi: &pi,
        critic,
    });
    bc_actor_loss(&q_pi, &pi, &target, &weight, alpha)
}

/// TD3 whose actor step is TD3+BC's. Call under `seeds::with_torch_seed`.
pub fn td3_bc(cfg: &OffPolicyConfig, obs_dim: usize, act_dim: usize) -> Result<Td3, tch::TchError> {
    let mut agent = Td3::new(cfg, obs_dim, act_dim)?;
    agent.behaviour_cloning = Some(cfg.algo.bc_alpha);
    Ok(agent)
}
