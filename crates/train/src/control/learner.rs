//! The two backends behind one interface (`algo.backend`): `native` (hand-written CPU
//! forward/backward, the default) and `torch` (libtorch autograd, kept for devices and as the
//! reference the native backend is tested against). The trainer only sees plain numbers:
//! the actor snapshot for rollouts, critic values, one update, and checkpoint tensors under
//! the same names for both, so a run may resume on either backend.
use std::collections::BTreeMap;

use polopt_methods::objective::PolicyObjective;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use super::config::ControlConfig;
use super::mlp::{ActorCritic, ActorSnapshot, Head};
use super::native::policy::NativeActorCritic;
use super::native::{NativeLearner, RowPlan};
use super::rollout::rows_tensor;
use super::update::{minibatch_update, Batch, RolloutData};
use crate::error::TrainError;
use crate::optim::AdamW;

pub struct TorchLearner {
    pub ac: ActorCritic,
    pub actor_opt: AdamW,
    pub critic_opt: AdamW,
}

pub enum Learner {
    Torch(Box<TorchLearner>),
    Native(Box<NativeLearner>),
}

/// Checkpoint tensors: model, actor optimiser, critic optimiser.
pub type StateTensors = [BTreeMap<String, Tensor>; 3];

impl Learner {
    /// `ac` holds the initial weights (libtorch's seeded orthogonal init) for both backends.
    pub fn new(
        ac: ActorCritic,
        cfg: &ControlConfig,
        lr: (f64, f64),
        native: bool,
    ) -> Result<Self, String> {
        let eps = cfg.algo.adam_eps;
        if native {
            let model = NativeActorCritic::from_torch(&ac, &cfg.model.hidden)?;
            return Ok(Learner::Native(Box::new(NativeLearner::new(
                model, lr, eps,
            ))));
        }
        let mut actor_opt = AdamW::new(&ac.actor_vs, lr.0, 0.0);
        actor_opt.eps = eps;
        let mut critic_opt = AdamW::new(&ac.critic_vs, lr.1, 0.0);
        critic_opt.eps = eps;
        Ok(Learner::Torch(Box::new(TorchLearner {
            ac,
            actor_opt,
            critic_opt,
        })))
    }

    pub fn head(&self) -> &Head {
        match self {
            Learner::Torch(t) => &t.ac.head,
            Learner::Native(n) => &n.model.head,
        }
    }

    pub fn set_lr(&mut self, actor: f64, critic: f64) {
        match self {
            Learner::Torch(t) => (t.actor_opt.lr, t.critic_opt.lr) = (actor, critic),
            Learner::Native(n) => (n.actor_opt.lr, n.critic_opt.lr) = (actor, critic),
        }
    }

    pub fn snapshot(&self) -> ActorSnapshot {
        match self {
            Learner::Torch(t) => t.ac.snapshot(),
            Learner::Native(n) => n.model.snapshot(),
        }
    }

    /// `V(s)` of each row of `obs` (`[B * obs_dim]`).
    pub fn values(&mut self, obs: &[f32], obs_dim: usize) -> Vec<f64> {
        if obs.is_empty() {
            return Vec::new();
        }
        match self {
            Learner::Torch(t) => {
                let v = tch::no_grad(|| t.ac.value(&rows_tensor(obs, obs_dim)));
                Vec::<f64>::try_from(&v.to_kind(Kind::Double)).unwrap_or_default()
            }
            Learner::Native(n) => n.values(obs),
        }
    }

    /// K epochs of minibatch steps on the rollout; returns the mean metrics.
    pub fn update(
        &mut self,
        data: &RolloutData,
        cfg: &ControlConfig,
        objective: &PolicyObjective,
        rng: &mut impl FnMut(usize) -> ChaCha8Rng,
        plan: &RowPlan,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        match self {
            Learner::Native(n) => n.update(data, cfg, objective, rng, plan),
            // One process only: data_parallel refuses the torch backend with world size > 1.
            Learner::Torch(t) => {
                let obs = rows_tensor(data.obs, t.ac.obs_dim);
                let actions = match t.ac.head {
                    Head::Categorical { .. } => {
                        Tensor::from_slice(data.actions).to_kind(Kind::Int64)
                    }
                    Head::Gaussian { dim, .. } => rows_tensor(data.actions, dim),
                };
                let old_logp = tch::no_grad(|| t.ac.log_prob_entropy(&obs, &actions).0);
                let f32s = |v: &[f64]| {
                    Tensor::from_slice(&v.iter().map(|&x| x as f32).collect::<Vec<f32>>())
                };
                let batch = Batch {
                    obs,
                    actions,
                    old_logp,
                    old_values: f32s(data.old_values),
                    advantages: f32s(data.advantages),
                    returns: f32s(data.returns),
                };
                Ok(minibatch_update(
                    &t.ac,
                    (&mut t.actor_opt, &mut t.critic_opt),
                    &batch,
                    cfg,
                    objective,
                    rng,
                ))
            }
        }
    }

    /// The native parameters (actor, log-std, critic), for the start-of-run broadcast; `None`
    /// on the torch backend.
    pub fn native_params(&mut self) -> Option<[&mut Vec<f32>; 3]> {
        match self {
            Learner::Native(n) => {
                let m = &mut n.model;
                Some([&mut m.actor.params, &mut m.log_std, &mut m.critic.params])
            }
            Learner::Torch(_) => None,
        }
    }

    /// Call after writing through [`Learner::native_params`].
    pub fn sync_native(&mut self) {
        if let Learner::Native(n) = self {
            n.model.actor.sync();
            n.model.critic.sync();
        }
    }

    /// Adam step counts (actor, critic).
    pub fn opt_steps(&self) -> (i64, i64) {
        match self {
            Learner::Torch(t) => (t.actor_opt.step, t.critic_opt.step),
            Learner::Native(n) => (n.actor_opt.step, n.critic_opt.step),
        }
    }

    pub fn state_tensors(&self) -> StateTensors {
        match self {
            Learner::Torch(t) => [
                t.ac.named_tensors(),
                t.actor_opt.state_tensors(),
                t.critic_opt.state_tensors(),
            ],
            Learner::Native(n) => [
                n.model.named_tensors(),
                n.actor_opt.state_tensors(),
                n.critic_opt.state_tensors(),
            ],
        }
    }

    /// Restores [`Learner::state_tensors`]; errors name which of the three failed (0, 1, 2).
    pub fn load_state_tensors(
        &mut self,
        state: &StateTensors,
        steps: (i64, i64),
    ) -> Result<(), (usize, String)> {
        let [model, actor, critic] = state;
        match self {
            Learner::Torch(t) => {
                t.ac.load_named_tensors(model).map_err(|e| (0, e))?;
                t.actor_opt
                    .load_state_tensors(actor, steps.0)
                    .map_err(|e| (1, e))?;
                t.critic_opt
                    .load_state_tensors(critic, steps.1)
                    .map_err(|e| (2, e))
            }
            Learner::Native(n) => {
                n.model.load_named_tensors(model).map_err(|e| (0, e))?;
                n.actor_opt
                    .load_state_tensors(actor, steps.0)
                    .map_err(|e| (1, e))?;
                n.critic_opt
                    .load_state_tensors(critic, steps.1)
                    .map_err(|e| (2, e))
            }
        }
    }
}
