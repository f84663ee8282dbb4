//! Actor and critic on the native MLP: the categorical and diagonal-Gaussian heads' log-prob
//! and entropy with their derivatives, and the value head. Same definitions as
//! `mlp::ActorCritic::log_prob_entropy` / `value` (tests compare them on shared weights).
use std::f64::consts::PI;

use super::mlp::{NativeMlp, Tape};
use super::real::Real;
use crate::error::TrainError;
use polopt_distributed::{Collective, CollectiveError};

/// The float types a collective sums (the native backend trains in f32, tests in f64).
pub trait CollectiveElement: Sized {
    fn all_reduce_sum(comm: &dyn Collective, buf: &mut [Self]) -> Result<(), CollectiveError>;
}

impl CollectiveElement for f32 {
    fn all_reduce_sum(comm: &dyn Collective, buf: &mut [f32]) -> Result<(), CollectiveError> {
        comm.all_reduce_sum_f32(buf)
    }
}

impl CollectiveElement for f64 {
    fn all_reduce_sum(comm: &dyn Collective, buf: &mut [f64]) -> Result<(), CollectiveError> {
        comm.all_reduce_sum_f64(buf)
    }
}
use crate::control::mlp::Head;

#[derive(Debug, Clone)]
pub struct NativeActorCritic<T> {
    pub actor: NativeMlp<T>,
    pub critic: NativeMlp<T>,
    /// `[dim]` for Gaussian heads, empty for categorical ones.
    pub log_std: Vec<T>,
    pub head: Head,
    pub obs_dim: usize,
}

/// Gradients, laid out like the parameters.
#[derive(Debug, Clone, Default)]
pub struct Grads<T> {
    pub actor: Vec<T>,
    pub log_std: Vec<T>,
    pub critic: Vec<T>,
}

impl<T: Real> Grads<T> {
    pub fn zero(&mut self, model: &NativeActorCritic<T>) {
        for (g, n) in [
            (&mut self.actor, model.actor.params.len()),
            (&mut self.log_std, model.log_std.len()),
            (&mut self.critic, model.critic.params.len()),
        ] {
            g.clear();
            g.resize(n, T::ZERO);
        }
    }

    /// Global L2 norm over all three, summed in f64 like `update::clip_global_grad_norm`.
    pub fn norm(&self) -> f64 {
        [&self.actor, &self.log_std, &self.critic]
            .iter()
            .map(|g| g.iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>())
            .sum::<f64>()
            .sqrt()
    }

    /// Sums the gradients over all ranks in one all-reduce (`flat` is reused scratch).
    pub fn all_reduce_sum(
        &mut self,
        comm: &dyn Collective,
        flat: &mut Vec<T>,
    ) -> Result<(), TrainError>
    where
        T: CollectiveElement,
    {
        flat.clear();
        for g in [&self.actor, &self.log_std, &self.critic] {
            flat.extend_from_slice(g);
        }
        T::all_reduce_sum(comm, flat).map_err(|e| TrainError::Task(e.to_string()))?;
        let mut at = 0;
        for g in [&mut self.actor, &mut self.log_std, &mut self.critic] {
            let n = g.len();
            g.copy_from_slice(&flat[at..at + n]);
            at += n;
        }
        Ok(())
    }

    pub fn scale(&mut self, factor: f64) {
        let f = T::from_f64(factor);
        for g in [&mut self.actor, &mut self.log_std, &mut self.critic] {
            for v in g.iter_mut() {
                *v *= f;
            }
        }
    }
}

/// What the policy's forward keeps for its backward.
#[derive(Debug, Default)]
pub struct PolicyTape<T> {
    pub mlp: Tape<T>,
    /// Categorical: log-softmax `[B, n]`; Gaussian: `z = (a - mu) / sigma`, `[B, dim]`.
    aux: Vec<f64>,
    /// Categorical: the action index per row.
    actions: Vec<usize>,
    /// Categorical: entropy per row.
    entropy: Vec<f64>,
    d_out: Vec<T>,
}

impl<T: Real> NativeActorCritic<T> {
    /// `log pi(a|s)` and `H(pi(.|s))` per row of `obs: [B, obs_dim]`; `actions` is `[B]` action
    /// indices (as f32) for categorical heads and `[B, dim]` for Gaussian ones.
    pub fn log_prob_entropy(
        &self,
        obs: &[T],
        actions: &[f32],
        batch: usize,
        tape: &mut PolicyTape<T>,
    ) -> (Vec<f64>, Vec<f64>) {
        self.actor.forward(obs, batch, &mut tape.mlp);
        let out = tape.mlp.output();
        let (mut logp, mut ent) = (Vec::with_capacity(batch), Vec::with_capacity(batch));
        tape.aux.clear();
        match self.head {
            Head::Categorical { n } => {
                tape.actions.clear();
                tape.entropy.clear();
                for (row, &a) in out.chunks_exact(n).zip(actions) {
                    let max = row
                        .iter()
                        .map(|v| v.to_f64())
                        .fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = row.iter().map(|v| (v.to_f64() - max).exp()).sum();
                    let lse = max + sum.ln();
                    let mut h = 0.0;
                    for v in row {
                        let lp = v.to_f64() - lse;
                        h -= lp.exp() * lp;
                        tape.aux.push(lp);
                    }
                    let a = (a as usize).min(n - 1);
                    tape.actions.push(a);
                    tape.entropy.push(h);
                    logp.push(row[a].to_f64() - lse);
                    ent.push(h);
                }
            }
            Head::Gaussian { dim, .. } => {
                let ls_sum: f64 = self.log_std.iter().map(|v| v.to_f64()).sum();
                let h = ls_sum + dim as f64 * 0.5 * (1.0 + (2.0 * PI).ln());
                for (mean, act) in out.chunks_exact(dim).zip(actions.chunks_exact(dim)) {
                    let mut lp = -ls_sum - dim as f64 * 0.5 * (2.0 * PI).ln();
                    for d in 0..dim {
                        let ls = self.log_std[d].to_f64();
                        let z = (act[d] as f64 - mean[d].to_f64()) / ls.exp();
                        lp -= 0.5 * z * z;
                        tape.aux.push(z);
                    }
                    logp.push(lp);
                    ent.push(h);
                }
            }
        }
        (logp, ent)
    }

    /// Adds to `grads` the gradient of `sum_i d_logp[i] logp_i + d_ent sum_i H_i` through the
    /// forward recorded in `tape`.
    pub fn policy_backward(
        &self,
        tape: &mut PolicyTape<T>,
        d_logp: &[f64],
        d_ent: f64,
        grads: &mut Grads<T>,
    ) {
        let batch = tape.mlp.batch;
        tape.d_out.clear();
        match self.head {
            Head::Categorical { n } => {
                for (r, &dl) in d_logp.iter().enumerate().take(batch) {
                    let (a, h) = (tape.actions[r], tape.entropy[r]);
                    for j in 0..n {
                        let log_p = tape.aux[r * n + j];
                        let p = log_p.exp();
                        // d log p_a / d z_j = [j = a] - p_j;  d H / d z_j = -p_j (log p_j + H).
                        let hot = if j == a { 1.0 } else { 0.0 };
                        let g = dl * (hot - p) - d_ent * p * (log_p + h);
                        tape.d_out.push(T::from_f64(g));
                    }
                }
            }
            Head::Gaussian { dim, .. } => {
                for (r, &dl) in d_logp.iter().enumerate().take(batch) {
                    for d in 0..dim {
                        let z = tape.aux[r * dim + d];
                        let sigma = self.log_std[d].to_f64().exp();
                        tape.d_out.push(T::from_f64(dl * z / sigma));
                        // d logp / d log_std = z^2 - 1; d H / d log_std = 1.
                        let g = grads.log_std[d].to_f64() + dl * (z * z - 1.0) + d_ent;
                        grads.log_std[d] = T::from_f64(g);
                    }
                }
            }
        }
        self.actor
            .backward(&mut tape.mlp, &tape.d_out, &mut grads.actor);
    }

    /// `V(s)` per row.
    pub fn values(&self, obs: &[T], batch: usize, tape: &mut Tape<T>) -> Vec<f64> {
        self.critic.forward(obs, batch, tape);
        tape.output().iter().map(|v| v.to_f64()).collect()
    }

    /// Adds the gradient of `sum_i d_value[i] V(s_i)` through the critic forward in `tape`.
    pub fn value_backward(&self, tape: &mut Tape<T>, d_value: &[T], grads: &mut Grads<T>) {
        self.critic.backward(tape, d_value, &mut grads.critic);
    }
}
