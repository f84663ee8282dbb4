//! What the loop needs from an off-policy method ([`Agent`]), and the checkpoint plumbing every
//! method shares: all of its stores (online and target networks, SAC's temperature) and all of
//! its optimiser moments as one map of named tensors.
use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::Tensor;

use super::replay::Batch;
use crate::optim::{AdamW, StepOutcome};

/// An update that met a NaN or Inf: nothing from that loss on moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFinite {
    /// "critic loss", "actor gradient norm", ...
    pub what: &'static str,
}

pub type UpdateResult = Result<BTreeMap<String, f64>, NonFinite>;

pub trait Agent {
    /// Writes the action for one observation into `action` (`[-1, 1]` units). `explore` adds
    /// the method's exploration (TD3's Gaussian noise, SAC's sampling) from `rng`; without it
    /// the action is deterministic (evaluation).
    fn act(&self, obs: &[f32], explore: bool, rng: &mut ChaCha8Rng, action: &mut [f32]);

    /// Gradient step number `index` (1-based over the run, so delays survive a resume) on
    /// `batch`; every random draw comes from `rng`. Metrics are the step's losses (and SAC's
    /// temperature).
    fn update(&mut self, batch: &Batch, rng: &mut ChaCha8Rng, index: u64) -> UpdateResult;

    /// Every variable store by a stable name.
    fn stores(&self) -> Vec<(&'static str, &VarStore)>;

    /// Every optimiser by a stable name.
    fn optimizers(&mut self) -> Vec<(&'static str, &mut AdamW)>;
}

/// One optimiser step through the shared NaN guard; `max_grad_norm` 0 means no clipping.
pub fn step(
    opt: &mut AdamW,
    loss: &Tensor,
    max_grad_norm: f64,
    what: [&'static str; 2],
) -> Result<f64, NonFinite> {
    let clip = if max_grad_norm > 0.0 {
        max_grad_norm
    } else {
        f64::INFINITY
    };
    match opt.guarded_step(loss, clip) {
        StepOutcome::Applied { loss, .. } => Ok(loss),
        StepOutcome::NonFinite { what: "loss" } => Err(NonFinite { what: what[0] }),
        StepOutcome::NonFinite { .. } => Err(NonFinite { what: what[1] }),
    }
}

/// Weights as `<store>.<variable>`, moments as `<optimizer>.exp_avg(_sq).<param>`.
pub fn state_tensors(agent: &mut dyn Agent) -> BTreeMap<String, Tensor> {
    let mut out = BTreeMap::new();
    for (store, vs) in agent.stores() {
        for (name, t) in vs.variables() {
            out.insert(format!("{store}.{name}"), t.detach().copy());
        }
    }
    for (name, opt) in agent.optimizers() {
        for (k, t) in opt.state_tensors() {
            out.insert(format!("{name}.{k}"), t.copy());
        }
    }
    out
}

/// Each optimiser's step count, by name.
pub fn optimizer_steps(agent: &mut dyn Agent) -> BTreeMap<String, i64> {
    agent
        .optimizers()
        .into_iter()
        .map(|(name, opt)| (name.to_string(), opt.step))
        .collect()
}

/// Restores [`state_tensors`] and [`optimizer_steps`]; every variable must be present with its
/// shape.
pub fn load_state(
    agent: &mut dyn Agent,
    tensors: &BTreeMap<String, Tensor>,
    steps: &BTreeMap<String, i64>,
) -> Result<(), String> {
    for (store, vs) in agent.stores() {
        for (name, mut t) in vs.variables() {
            let key = format!("{store}.{name}");
            let saved = tensors
                .get(&key)
                .ok_or_else(|| format!("checkpoint lacks `{key}`"))?;
            if saved.size() != t.size() {
                return Err(format!(
                    "`{key}` has shape {:?}, this config builds {:?}",
                    saved.size(),
                    t.size()
                ));
            }
            tch::no_grad(|| t.copy_(saved));
        }
    }
    for (name, opt) in agent.optimizers() {
        let prefix = format!("{name}.");
        let own: BTreeMap<String, Tensor> = tensors
            .iter()
            .filter_map(|(k, t)| Some((k.strip_prefix(&prefix)?.to_string(), t.shallow_clone())))
            .collect();
        let step = *steps
            .get(name)
            .ok_or_else(|| format!("checkpoint lacks the step count of `{name}`"))?;
        opt.load_state_tensors(&own, step)?;
    }
    Ok(())
}

/// `[1, obs_dim]` from one observation.
pub(crate) fn obs_row(obs: &[f32]) -> Tensor {
    Tensor::from_slice(obs).view([1, obs.len() as i64])
}

/// The values of a `[1, act_dim]` tensor.
pub(crate) fn row_values(t: &Tensor, action: &mut [f32]) {
    let flat = t.detach().contiguous().view([-1]);
    let values = Vec::<f32>::try_from(&flat.to_kind(tch::Kind::Float)).unwrap_or_default();
    action.copy_from_slice(&values[..action.len()]);
}
