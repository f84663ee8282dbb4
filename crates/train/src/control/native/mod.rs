//! The native CPU backend of the control trainer (`algo.backend = "native"`): the actor and
//! critic MLPs, their losses and Adam written out in Rust.
//!
//! Why hand-written: at 64-wide layers a libtorch minibatch step is ~300 tiny ops whose
//! dispatch, allocation and autograd bookkeeping cost far more than their arithmetic (about
//! 1 ms per step where the multiply-adds take tens of microseconds). The loop below is
//! `update::minibatch_update` step for step; the policy loss is `objective::pointwise` from
//! polopt-methods, the element-wise form of the same objective group RL uses (its tests pin
//! it to the tensor kernels), and the value loss is its `value_point`. The libtorch path stays
//! as `algo.backend = "torch"`; weights, Adam moments and checkpoints are interchangeable.
pub mod adam;
pub mod mlp;
pub mod policy;
pub mod real;

use std::collections::BTreeMap;

use polopt_methods::objective::pointwise::{policy_loss_rows, value_point};
use polopt_methods::objective::PolicyObjective;
use polopt_methods::ObjectiveConfig;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use self::adam::NativeAdam;
use self::mlp::{NativeMlp, Tape};
use self::policy::{Grads, NativeActorCritic, PolicyTape};
use self::real::Real;
use super::config::{AlgoKind, ControlConfig};
use super::data_parallel::Shard;
use super::mlp::{ActorCritic, ActorSnapshot};
use super::update::{shuffle, RolloutData};
use crate::error::TrainError;
use polopt_distributed::Collective;

/// A tensor's numbers as f32 (any shape, flattened).
pub fn flat_f32(t: &Tensor) -> Vec<f32> {
    let t = t.detach().to_kind(Kind::Float).contiguous().view([-1]);
    Vec::<f32>::try_from(&t).unwrap_or_default()
}

impl NativeActorCritic<f32> {
    /// The same networks as `ac` (its weights copied), so the libtorch initialisation and its
    /// seed stay the only source of initial weights.
    pub fn from_torch(ac: &ActorCritic, hidden: &[i64]) -> Result<Self, String> {
        let mut dims = vec![ac.obs_dim];
        dims.extend(hidden.iter().map(|&h| h as usize));
        let out = ac.head.output_dim();
        let tensors = ac.named_tensors();
        let get = |k: &str| {
            tensors
                .get(k)
                .map(flat_f32)
                .ok_or_else(|| format!("model lacks `{k}`"))
        };
        let actor =
            NativeMlp::from_flat(&[&dims[..], &[out]].concat(), get("actor_vs.actor.params")?)?;
        let critic =
            NativeMlp::from_flat(&[&dims[..], &[1]].concat(), get("critic_vs.critic.params")?)?;
        let log_std = match tensors.get("actor_vs.log_std") {
            Some(t) => flat_f32(t),
            None => Vec::new(),
        };
        Ok(Self {
            actor,
            critic,
            log_std,
            head: ac.head.clone(),
            obs_dim: ac.obs_dim,
        })
    }

    /// The parameters under `ActorCritic::named_tensors`'s keys.
    pub fn named_tensors(&self) -> BTreeMap<String, Tensor> {
        let mut out = BTreeMap::from([
            (
                "actor_vs.actor.params".to_string(),
                Tensor::from_slice(&self.actor.params),
            ),
            (
                "critic_vs.critic.params".to_string(),
                Tensor::from_slice(&self.critic.params),
            ),
        ]);
        if !self.log_std.is_empty() {
            out.insert(
                "actor_vs.log_std".to_string(),
                Tensor::from_slice(&self.log_std),
            );
        }
        out
    }

    pub fn load_named_tensors(&mut self, saved: &BTreeMap<String, Tensor>) -> Result<(), String> {
        let mut slots: Vec<(&str, &mut Vec<f32>)> = vec![
            ("actor_vs.actor.params", &mut self.actor.params),
            ("critic_vs.critic.params", &mut self.critic.params),
        ];
        if !self.log_std.is_empty() {
            slots.push(("actor_vs.log_std", &mut self.log_std));
        }
        for (key, slot) in slots {
            let t = saved
                .get(key)
                .ok_or_else(|| format!("model lacks `{key}`"))?;
            let values = flat_f32(t);
            if values.len() != slot.len() {
                return Err(format!(
                    "`{key}` has {} numbers, expected {}",
                    values.len(),
                    slot.len()
                ));
            }
            *slot = values;
        }
        self.actor.sync();
        self.critic.sync();
        Ok(())
    }

    pub fn snapshot(&self) -> ActorSnapshot {
        ActorSnapshot::from_flat(
            &self.actor.params,
            &self.actor.dims(),
            &self.log_std,
            &self.head,
        )
    }
}

/// Which rows of the global rollout are this rank's, and what the loop needs of all of them.
pub struct RowPlan<'a> {
    pub shard: &'a Shard,
    /// `[steps * num_envs]`, global time-major, centred (BPO's median) like `RolloutData`'s.
    pub global_advantages: &'a [f64],
    pub comm: &'a dyn Collective,
}

/// Networks, both Adams and reusable buffers.
pub struct NativeLearner {
    pub model: NativeActorCritic<f32>,
    pub actor_opt: NativeAdam,
    pub critic_opt: NativeAdam,
    grads: Grads<f32>,
    tape: PolicyTape<f32>,
    value_tape: Tape<f32>,
}

impl NativeLearner {
    pub fn new(model: NativeActorCritic<f32>, lr: (f64, f64), adam_eps: f64) -> Self {
        let mut actor_params = vec![("actor.params", model.actor.params.len())];
        if !model.log_std.is_empty() {
            actor_params.push(("log_std", model.log_std.len()));
        }
        let critic_params = [("critic.params", model.critic.params.len())];
        Self {
            actor_opt: NativeAdam::new(&actor_params, lr.0, adam_eps),
            critic_opt: NativeAdam::new(&critic_params, lr.1, adam_eps),
            model,
            grads: Grads::default(),
            tape: PolicyTape::default(),
            value_tape: Tape::default(),
        }
    }

    pub fn values(&mut self, obs: &[f32]) -> Vec<f64> {
        let batch = obs.len() / self.model.obs_dim.max(1);
        self.model.values(obs, batch, &mut self.value_tape)
    }

    /// `update::minibatch_update` on the native networks; same metrics. `plan` says which
    /// global rows are this rank's (data_parallel.rs); in a world of one every row is, the
    /// weights are 1 and the reductions are no-ops, so the arithmetic is the one-process loop's.
    pub fn update(
        &mut self,
        data: &RolloutData,
        cfg: &ControlConfig,
        objective: &PolicyObjective,
        rng: &mut impl FnMut(usize) -> ChaCha8Rng,
        plan: &RowPlan,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let a = &cfg.algo;
        let o = &objective.config;
        let (obs_dim, act_dim) = (self.model.obs_dim, self.model.head.action_dim());
        let n = data.returns.len();
        let n_global = plan.global_advantages.len();
        let comm = plan.comm;
        let distributed = comm.world_size() > 1;
        // Old log-probs with the very code of the minibatches: the first ratio is exactly 1.
        let (old_logp, _) = self
            .model
            .log_prob_entropy(data.obs, data.actions, n, &mut self.tape);
        let mb_size = n_global.div_ceil(a.minibatches);
        let spec = LossSpec::of(cfg, objective);
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        let mut updates = 0usize;
        let (mut mb_obs, mut mb_act) = (Vec::new(), Vec::new());
        let mut flat_grads: Vec<f32> = Vec::new();
        'epochs: for epoch in 0..a.epochs {
            let mut order: Vec<i64> = (0..n_global as i64).collect();
            shuffle(&mut order, &mut rng(epoch));
            for chunk in order.chunks(mb_size) {
                let b_global = chunk.len();
                // Normalised over the whole minibatch, as one process does, then our rows kept.
                let mut adv_all: Vec<f64> = chunk
                    .iter()
                    .map(|&g| plan.global_advantages[g as usize])
                    .collect();
                if a.norm_adv && b_global > 1 {
                    normalise(&mut adv_all, !a.median_advantage);
                }
                let (mut rows, mut adv) = (Vec::new(), Vec::new());
                for (&g, &x) in chunk.iter().zip(&adv_all) {
                    if let Some(r) = plan.shard.local_row(g as usize) {
                        rows.push(r);
                        adv.push(x);
                    }
                }
                let b = rows.len();
                mb_obs.clear();
                mb_act.clear();
                for &r in &rows {
                    mb_obs.extend_from_slice(&data.obs[r * obs_dim..(r + 1) * obs_dim]);
                    mb_act.extend_from_slice(&data.actions[r * act_dim..(r + 1) * act_dim]);
                }
                let pick = |v: &[f64]| rows.iter().map(|&r| v[r]).collect::<Vec<f64>>();
                let (old, old_v, ret) =
                    (pick(&old_logp), pick(data.old_values), pick(data.returns));
                let mb = Minibatch {
                    obs: &mb_obs,
                    actions: &mb_act,
                    old_logp: &old,
                    advantages: &adv,
                    old_values: &old_v,
                    returns: &ret,
                };
                let tapes = (&mut self.tape, &mut self.value_tape);
                let out = loss_and_grads(&self.model, &mb, &spec, tapes, &mut self.grads);
                let (logp, loss, value_loss) = (&out.logp, out.loss, out.value_loss);
                // This rank's share of the minibatch mean: its rows' mean times b / b_global.
                let weight = b as f64 / b_global as f64;
                if distributed {
                    self.grads.scale(weight);
                    self.grads.all_reduce_sum(comm, &mut flat_grads)?;
                }
                let norm = self.grads.norm();
                if norm.is_finite() && norm > a.max_grad_norm {
                    self.grads.scale(a.max_grad_norm / (norm + 1e-6));
                }
                self.step();
                updates += 1;

                let (mut kl, mut outside) = (0.0, 0.0);
                for (lp, old) in logp.iter().zip(mb.old_logp) {
                    let log_ratio = lp - old;
                    let ratio = log_ratio.exp();
                    kl += ratio - 1.0 - log_ratio;
                    if ratio < 1.0 - o.clip_low || ratio > 1.0 + o.clip_high {
                        outside += 1.0;
                    }
                }
                let rows_mean = |x: f64| x / b.max(1) as f64;
                let mut step: BTreeMap<String, f64> = out
                    .metrics
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                step.entry("approx_kl".into()).or_insert(rows_mean(kl));
                step.insert("ratio_outside_frac".into(), rows_mean(outside));
                step.insert("value_loss".into(), value_loss);
                step.insert("loss".into(), loss);
                // The early stop reads this estimate of the KL (the objective may report
                // another form under `approx_kl`).
                let mut approx_kl = rows_mean(kl);
                if distributed {
                    // Every metric is a mean over rows: the weighted sum is the global mean.
                    let mut values: Vec<f64> = step.values().map(|v| v * weight).collect();
                    values.push(approx_kl * weight);
                    comm.all_reduce_sum_f64(&mut values)
                        .map_err(super::data_parallel::collective_err)?;
                    approx_kl = values.pop().unwrap_or(approx_kl);
                    for (slot, v) in step.values_mut().zip(values) {
                        *slot = v;
                    }
                }
                step.insert("grad_norm".into(), norm);
                for (k, v) in step {
                    *sums.entry(k).or_default() += v;
                }
                if a.target_kl > 0.0 && approx_kl > a.target_kl {
                    break 'epochs;
                }
            }
        }
        let mut row: BTreeMap<String, f64> = sums
            .into_iter()
            .map(|(k, v)| (k, v / updates.max(1) as f64))
            .collect();
        row.insert("updates".into(), updates as f64);
        Ok(row)
    }

    fn step(&mut self) {
        let m = &mut self.model;
        let g = &self.grads;
        if m.log_std.is_empty() {
            self.actor_opt.step(&mut [&mut m.actor.params], &[&g.actor]);
        } else {
            self.actor_opt.step(
                &mut [&mut m.actor.params, &mut m.log_std],
                &[&g.actor, &g.log_std],
            );
        }
        self.critic_opt
            .step(&mut [&mut m.critic.params], &[&g.critic]);
        m.actor.sync();
        m.critic.sync();
    }
}

/// One minibatch, rows in the layout of [`RolloutData`]; advantages already normalised.
pub struct Minibatch<'a, T> {
    pub obs: &'a [T],
    pub actions: &'a [f32],
    pub old_logp: &'a [f64],
    pub advantages: &'a [f64],
    pub old_values: &'a [f64],
    pub returns: &'a [f64],
}

/// Which losses a minibatch step adds up.
pub struct LossSpec<'a> {
    pub kind: AlgoKind,
    pub objective: &'a ObjectiveConfig,
    pub value_clip: Option<f64>,
    pub vf_coef: f64,
}

impl<'a> LossSpec<'a> {
    pub fn of(cfg: &ControlConfig, objective: &'a PolicyObjective) -> Self {
        Self {
            kind: cfg.algo.kind,
            objective: &objective.config,
            value_clip: (cfg.algo.value_clip > 0.0).then_some(cfg.algo.value_clip),
            vf_coef: cfg.algo.vf_coef,
        }
    }
}

pub struct StepLoss {
    /// Policy loss + `vf_coef` value loss.
    pub loss: f64,
    pub value_loss: f64,
    pub logp: Vec<f64>,
    pub metrics: BTreeMap<&'static str, f64>,
}

/// The loss of one minibatch step and its gradients, written into `grads` (zeroed first):
/// the policy loss (PPO / BPO through the shared objective, or A2C's) plus `vf_coef` times the
/// (clipped) value loss, as `update::minibatch_update` builds it.
pub fn loss_and_grads<T: Real>(
    model: &NativeActorCritic<T>,
    mb: &Minibatch<T>,
    spec: &LossSpec,
    (tape, value_tape): (&mut PolicyTape<T>, &mut Tape<T>),
    grads: &mut Grads<T>,
) -> StepLoss {
    let b = mb.returns.len();
    let obs_t = mb.obs;
    let (logp, entropy) = model.log_prob_entropy(obs_t, mb.actions, b, tape);
    let out = match spec.kind {
        AlgoKind::Ppo => policy_loss_rows(
            spec.objective,
            &logp,
            mb.old_logp,
            mb.advantages,
            Some(&entropy),
        ),
        AlgoKind::A2c | AlgoKind::Reinforce => {
            a2c_rows(&logp, mb.advantages, &entropy, spec.objective.entropy_coef)
        }
    };
    let values = model.values(obs_t, b, value_tape);
    let (mut value_loss, mut d_values) = (0.0, Vec::with_capacity(b));
    for ((&v, &old), &ret) in values.iter().zip(mb.old_values).zip(mb.returns) {
        let (l, g) = value_point(v, old, ret, spec.value_clip);
        value_loss += l;
        d_values.push(T::from_f64(g * spec.vf_coef / b as f64));
    }
    value_loss /= b.max(1) as f64;
    grads.zero(model);
    model.policy_backward(tape, &out.d_logp, out.d_entropy, grads);
    model.value_backward(value_tape, &d_values, grads);
    StepLoss {
        loss: out.loss + spec.vf_coef * value_loss,
        value_loss,
        logp,
        metrics: out.metrics,
    }
}

/// `update::normalise` in f64: `(A - mean) / (std + 1e-8)` (unbiased std), or without
/// centring.
fn normalise(adv: &mut [f64], centre: bool) {
    let n = adv.len() as f64;
    let mean = adv.iter().sum::<f64>() / n;
    let var = adv.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let std = var.sqrt() + 1e-8;
    for a in adv.iter_mut() {
        *a = if centre { (*a - mean) / std } else { *a / std };
    }
}

/// `a2c::a2c_policy_loss` on rows: `-mean(logp A) - c_e mean(H)`.
fn a2c_rows(
    logp: &[f64],
    adv: &[f64],
    entropy: &[f64],
    entropy_coef: f64,
) -> polopt_methods::objective::pointwise::RowsLoss {
    let n = logp.len().max(1) as f64;
    let policy_loss = -logp.iter().zip(adv).map(|(l, a)| l * a).sum::<f64>() / n;
    let mean_h = entropy.iter().sum::<f64>() / n;
    polopt_methods::objective::pointwise::RowsLoss {
        loss: policy_loss - entropy_coef * mean_h,
        d_logp: adv.iter().map(|a| -a / n).collect(),
        d_entropy: -entropy_coef / n,
        metrics: BTreeMap::from([("policy_loss", policy_loss), ("entropy", mean_h)]),
    }
}
