//! The minibatch-epoch update shared by PPO, A2C and BPO (ppo-baseline.md, "Optimization"):
//! K epochs over the rollout in M shuffled minibatches; per minibatch, advantage
//! normalisation, the method's policy loss, the (clipped) value loss, one Adam step on actor
//! and critic together after a global grad-norm clip; optional early stop on approx KL.
use std::collections::BTreeMap;

use polopt_methods::objective::{clipped_value_loss, PolicyObjective};
use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

use super::a2c::a2c_policy_loss;
use super::config::{AlgoKind, ControlConfig};
use super::mlp::ActorCritic;
use super::ppo::{ppo_policy_loss, PolicyBatch};
use crate::optim::AdamW;

/// A whole rollout as plain numbers, for either backend: `obs [B * obs_dim]`, `actions
/// [B * action_dim]` (categorical indices as f32), the rest `[B]`; advantages already centred
/// (BPO's median).
pub struct RolloutData<'a> {
    pub obs: &'a [f32],
    pub actions: &'a [f32],
    pub old_values: &'a [f64],
    pub advantages: &'a [f64],
    pub returns: &'a [f64],
}

/// A whole rollout as tensors: `obs [B, obs_dim]`, `actions [B]` (i64) or `[B, dim]`,
/// the rest `[B]` and detached.
pub struct Batch {
    pub obs: Tensor,
    pub actions: Tensor,
    pub old_logp: Tensor,
    pub old_values: Tensor,
    pub advantages: Tensor,
    pub returns: Tensor,
}

impl Batch {
    fn select(&self, index: &Tensor) -> Batch {
        Batch {
            obs: self.obs.index_select(0, index),
            actions: self.actions.index_select(0, index),
            old_logp: self.old_logp.index_select(0, index),
            old_values: self.old_values.index_select(0, index),
            advantages: self.advantages.index_select(0, index),
            returns: self.returns.index_select(0, index),
        }
    }
}

/// Global L2 norm of the gradients of every trainable variable in `stores`, clipped to
/// `max_norm` in place (torch's `clip_grad_norm_`, over actor and critic together as in
/// CleanRL, which `AdamW::clip_grad_norm` cannot do across two stores). Returns the norm
/// before clipping.
pub fn clip_global_grad_norm(stores: &[&VarStore], max_norm: f64) -> f64 {
    let grads: Vec<Tensor> = stores
        .iter()
        .flat_map(|vs| vs.trainable_variables())
        .map(|p| p.grad())
        .filter(|g| g.defined())
        .collect();
    let total: f64 = grads
        .iter()
        .map(|g| g.square().sum(Kind::Double).double_value(&[]))
        .sum::<f64>()
        .sqrt();
    if total.is_finite() && total > max_norm {
        let scale = max_norm / (total + 1e-6);
        for mut g in grads {
            let _ = g.g_mul_scalar_(scale);
        }
    }
    total
}

/// `(A - mean) / (std + 1e-8)`, or `A / (std + 1e-8)` when `centre` is false (BPO keeps its
/// median centring, which re-centring on the mean would undo).
fn normalise(adv: &Tensor, centre: bool) -> Tensor {
    let std = adv.std(true) + 1e-8;
    if centre {
        (adv - adv.mean(Kind::Float)) / std
    } else {
        adv / std
    }
}

/// Runs the epochs; returns the minibatch means of the loss metrics plus `grad_norm`,
/// `value_loss`, `updates` and `ratio_outside_frac` (ratios outside `[1 - eps, 1 + eps]`).
pub fn minibatch_update(
    ac: &ActorCritic,
    opts: (&mut AdamW, &mut AdamW),
    batch: &Batch,
    cfg: &ControlConfig,
    objective: &PolicyObjective,
    rng: &mut impl FnMut(usize) -> ChaCha8Rng,
) -> BTreeMap<String, f64> {
    let a = &cfg.algo;
    let o = &cfg.method.objective;
    let n = batch.old_logp.size()[0] as usize;
    let mb_size = n.div_ceil(a.minibatches);
    let value_clip = (a.value_clip > 0.0).then_some(a.value_clip);
    let (actor_opt, critic_opt) = opts;
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    let mut updates = 0usize;
    'epochs: for epoch in 0..a.epochs {
        let mut order: Vec<i64> = (0..n as i64).collect();
        shuffle(&mut order, &mut rng(epoch));
        for chunk in order.chunks(mb_size) {
            let mb = batch.select(&Tensor::from_slice(chunk));
            let (logp, entropy) = ac.log_prob_entropy(&mb.obs, &mb.actions);
            let adv = if a.norm_adv && chunk.len() > 1 {
                normalise(&mb.advantages, !a.median_advantage)
            } else {
                mb.advantages.shallow_clone()
            };
            let pb = PolicyBatch {
                logp: &logp,
                old_logp: &mb.old_logp,
                advantages: &adv,
                entropy: &entropy,
            };
            let out = match a.kind {
                // The shared objective: clipped surrogate (PPO) or bounded-ratio kernel (BPO).
                AlgoKind::Ppo => ppo_policy_loss(objective, &pb),
                // REINFORCE's score-function loss is A2C's, on whole-episode returns.
                AlgoKind::A2c | AlgoKind::Reinforce => a2c_policy_loss(&pb, o.entropy_coef),
            };
            let values = ac.value(&mb.obs);
            let value_loss = clipped_value_loss(&values, &mb.old_values, &mb.returns, value_clip)
                .mean(Kind::Float);
            let loss = &out.loss + &value_loss * a.vf_coef;
            actor_opt.zero_grad();
            critic_opt.zero_grad();
            loss.backward();
            let norm = clip_global_grad_norm(&[&ac.actor_vs, &ac.critic_vs], a.max_grad_norm);
            actor_opt.step();
            critic_opt.step();
            updates += 1;

            let log_ratio = (&logp - &mb.old_logp).detach();
            let approx_kl = (log_ratio.exp() - 1 - &log_ratio)
                .mean(Kind::Float)
                .double_value(&[]);
            let eps = o.clip_high;
            let ratio = log_ratio.exp();
            let outside = ratio
                .lt(1.0 - o.clip_low)
                .logical_or(&ratio.gt(1.0 + eps))
                .to_kind(Kind::Float)
                .mean(Kind::Float)
                .double_value(&[]);
            // The shared objective reports approx_kl itself; A2C's loss does not.
            if !out.metrics.contains_key("approx_kl") {
                *sums.entry("approx_kl".into()).or_default() += approx_kl;
            }
            for (k, v) in out.metrics {
                *sums.entry(k.to_string()).or_default() += v;
            }
            for (k, v) in [
                ("ratio_outside_frac", outside),
                ("value_loss", value_loss.double_value(&[])),
                ("grad_norm", norm),
                ("loss", loss.double_value(&[])),
            ] {
                *sums.entry(k.to_string()).or_default() += v;
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
    row
}

/// `1 - Var(R - V) / Var(R)` of the pre-update values (CleanRL's diagnostic).
pub fn explained_variance(values: &[f64], returns: &[f64]) -> f64 {
    let var = |x: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = x.collect();
        let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
        v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len().max(1) as f64
    };
    let var_r = var(&mut returns.iter().copied());
    if var_r == 0.0 {
        return f64::NAN;
    }
    1.0 - var(&mut returns.iter().zip(values).map(|(r, v)| r - v)) / var_r
}

/// Fisher-Yates with our own stream (libtorch's randperm would tie it to the global RNG).
pub fn shuffle(values: &mut [i64], rng: &mut ChaCha8Rng) {
    use rand::RngExt;
    for i in (1..values.len()).rev() {
        let j = rng.random_range(0..=i);
        values.swap(i, j);
    }
}
