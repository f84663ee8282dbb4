//! Separate actor and critic MLPs (tanh, 64-64 by default) with orthogonal init, a categorical
//! or diagonal-Gaussian action head, and a plain-Rust copy of the actor for rollouts
//! (ppo-baseline.md, "Networks"; CleanRL `ppo.py` / `ppo_continuous_action.py`).
//!
//! Gains: sqrt(2) for hidden layers, 0.01 for the policy output, 1.0 for the value output,
//! biases 0; the Gaussian log-std is state-independent, learnable, initialised to
//! `log_std_init`. Rollouts act with [`ActorSnapshot`], a copy of the actor's weights as
//! `Vec<f32>` run by the native backend's MLP (`native::mlp`, for both backends): a 4-64-64-2
//! forward is about a microsecond in Rust but tens of microseconds of libtorch dispatch, and
//! sampling from our own ChaCha stream keeps runs exact under resume. Each backend recomputes
//! old log-probs with its own update code in one batch, so the first ratio of every update is
//! exactly 1 whatever rounding the rollout's forward does.
//!
//! This module is the `torch` backend (`algo.backend = "torch"`); the default `native` one in
//! `native/` copies these networks' initial weights.
use std::collections::BTreeMap;
use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::nn::{self, Init, Module, VarStore};
use tch::{Device, Kind, Tensor};

use super::native::mlp::{NativeMlp, Tape};

/// The distribution the actor's output parameterises.
#[derive(Debug, Clone, PartialEq)]
pub enum Head {
    /// Logits over `n` actions.
    Categorical { n: usize },
    /// Mean of a diagonal Gaussian of `dim` components; actions are clipped to `[low, high]`
    /// only when sent to the environment.
    Gaussian {
        dim: usize,
        low: Vec<f32>,
        high: Vec<f32>,
    },
}

impl Head {
    /// Numbers per action in flat buffers: 1 for categorical.
    pub fn action_dim(&self) -> usize {
        match self {
            Head::Categorical { .. } => 1,
            Head::Gaussian { dim, .. } => *dim,
        }
    }
    /// Outputs of the actor network: logits or means.
    pub fn output_dim(&self) -> usize {
        match self {
            Head::Categorical { n } => *n,
            Head::Gaussian { dim, .. } => *dim,
        }
    }
}

/// Tanh MLP whose layers are orthogonally initialised; the last layer gets `out_gain`.
///
/// All weights and biases live in one flat parameter (`params`), each layer a view into it:
/// the same math as separate `nn::Linear`s, but the optimiser and the grad-norm clip touch one
/// tensor per network instead of two per layer. At these sizes libtorch's per-op dispatch, not
/// arithmetic, is the cost of an update, so this roughly halves it.
#[derive(Debug)]
pub struct Mlp {
    params: Tensor,
    /// `(outputs, inputs, offset)` of each layer; the bias follows the weight.
    layers: Vec<(i64, i64, i64)>,
}

impl Mlp {
    pub fn new(path: &nn::Path, input: i64, hidden: &[i64], output: i64, out_gain: f64) -> Self {
        let mut dims = vec![input];
        dims.extend_from_slice(hidden);
        dims.push(output);
        let last = dims.len() - 2;
        let (mut parts, mut layers, mut offset) = (Vec::new(), Vec::new(), 0);
        for i in 0..=last {
            let gain = if i == last { out_gain } else { 2f64.sqrt() };
            let (inputs, outputs) = (dims[i], dims[i + 1]);
            let weight = nn::init::init(Init::Orthogonal { gain }, &[outputs, inputs], Device::Cpu);
            parts.push(weight.view([-1]));
            parts.push(Tensor::zeros([outputs], (Kind::Float, Device::Cpu)));
            layers.push((outputs, inputs, offset));
            offset += outputs * inputs + outputs;
        }
        let params = path.var_copy("params", &Tensor::cat(&parts, 0));
        Self { params, layers }
    }

    fn layer(&self, index: usize) -> (Tensor, Tensor) {
        let (outputs, inputs, offset) = self.layers[index];
        let weight = self
            .params
            .narrow(0, offset, outputs * inputs)
            .view([outputs, inputs]);
        let bias = self.params.narrow(0, offset + outputs * inputs, outputs);
        (weight, bias)
    }

    /// Weight `[out, in]` and bias `[out]` of every layer, in order (views, for tests).
    pub fn layers(&self) -> Vec<(Tensor, Tensor)> {
        (0..self.layers.len()).map(|i| self.layer(i)).collect()
    }

    /// Flat parameters and widths (input first), for the plain-Rust copy.
    fn flat(&self) -> (Vec<f32>, Vec<usize>) {
        let flat = self.params.detach().to_kind(Kind::Float).contiguous();
        let flat = Vec::<f32>::try_from(&flat).unwrap_or_default();
        let mut dims: Vec<usize> = self.layers.iter().map(|l| l.1 as usize).collect();
        dims.extend(self.layers.last().map(|l| l.0 as usize));
        (flat, dims)
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut h = x.shallow_clone();
        for i in 0..=last {
            let (weight, bias) = self.layer(i);
            h = h.linear(&weight, Some(&bias));
            if i < last {
                h = h.tanh();
            }
        }
        h
    }
}

/// The actor and the critic, each in its own [`VarStore`] so that methods with separate
/// optimisers (REINFORCE's baseline) and methods with one (PPO) share the same networks.
pub struct ActorCritic {
    pub actor_vs: VarStore,
    pub critic_vs: VarStore,
    actor: Mlp,
    critic: Mlp,
    /// `[dim]`, Gaussian heads only.
    log_std: Option<Tensor>,
    pub head: Head,
    pub obs_dim: usize,
}

impl ActorCritic {
    /// Builds both networks on the CPU. Call under `seeds::with_torch_seed`: the orthogonal
    /// init draws from libtorch's global generator.
    pub fn new(obs_dim: usize, head: Head, hidden: &[i64], log_std_init: f64) -> Self {
        let actor_vs = VarStore::new(Device::Cpu);
        let critic_vs = VarStore::new(Device::Cpu);
        let actor = Mlp::new(
            &(actor_vs.root() / "actor"),
            obs_dim as i64,
            hidden,
            head.output_dim() as i64,
            0.01,
        );
        let critic = Mlp::new(
            &(critic_vs.root() / "critic"),
            obs_dim as i64,
            hidden,
            1,
            1.0,
        );
        let log_std = match &head {
            Head::Gaussian { dim, .. } => Some(actor_vs.root().var(
                "log_std",
                &[*dim as i64],
                Init::Const(log_std_init),
            )),
            Head::Categorical { .. } => None,
        };
        Self {
            actor_vs,
            critic_vs,
            actor,
            critic,
            log_std,
            head,
            obs_dim,
        }
    }

    pub fn actor(&self) -> &Mlp {
        &self.actor
    }
    pub fn critic(&self) -> &Mlp {
        &self.critic
    }

    /// `V(s)`, `[B]` for `obs: [B, obs_dim]`.
    pub fn value(&self, obs: &Tensor) -> Tensor {
        self.critic.forward(obs).squeeze_dim(-1)
    }

    /// Log-probability of `actions` and the entropy of the policy, both `[B]`. `actions` is
    /// `[B]` (i64 indices) for categorical heads and `[B, dim]` (f32) for Gaussian ones.
    pub fn log_prob_entropy(&self, obs: &Tensor, actions: &Tensor) -> (Tensor, Tensor) {
        let out = self.actor.forward(obs);
        match &self.log_std {
            None => {
                let logp_all = out.log_softmax(-1, Kind::Float);
                let logp = logp_all
                    .gather(-1, &actions.unsqueeze(-1), false)
                    .squeeze_dim(-1);
                let entropy = -(logp_all.exp() * &logp_all).sum_dim_intlist(-1, false, Kind::Float);
                (logp, entropy)
            }
            Some(log_std) => {
                let logp = gaussian_log_prob(&out, log_std, actions);
                let per_dim = log_std + 0.5 * (1.0 + (2.0 * PI).ln());
                let entropy = per_dim.sum(Kind::Float).expand([out.size()[0]], false);
                (logp, entropy)
            }
        }
    }

    /// The actor's weights as plain Rust, for rollouts and evaluation.
    pub fn snapshot(&self) -> ActorSnapshot {
        let log_std = self
            .log_std
            .as_ref()
            .map(|t| Vec::<f32>::try_from(&t.detach().contiguous()).unwrap_or_default())
            .unwrap_or_default();
        let (flat, dims) = self.actor.flat();
        ActorSnapshot::from_flat(&flat, &dims, &log_std, &self.head)
    }

    /// All parameters, prefixed `actor.` / `critic.` by their store, for checkpoints.
    pub fn named_tensors(&self) -> BTreeMap<String, Tensor> {
        let mut out = BTreeMap::new();
        for (vs, prefix) in [
            (&self.actor_vs, "actor_vs."),
            (&self.critic_vs, "critic_vs."),
        ] {
            for (name, t) in vs.variables() {
                out.insert(format!("{prefix}{name}"), t);
            }
        }
        out
    }

    /// Copies saved parameters in place; every parameter must be present with its shape.
    pub fn load_named_tensors(&self, saved: &BTreeMap<String, Tensor>) -> Result<(), String> {
        for (key, mut t) in self.named_tensors() {
            let s = saved
                .get(&key)
                .ok_or_else(|| format!("model lacks `{key}`"))?;
            if s.size() != t.size() {
                return Err(format!(
                    "`{key}` has shape {:?}, expected {:?}",
                    s.size(),
                    t.size()
                ));
            }
            tch::no_grad(|| t.copy_(s));
        }
        Ok(())
    }
}

/// `sum_d log N(a_d; mu_d, exp(log_std_d))`, `[B]`.
pub fn gaussian_log_prob(mean: &Tensor, log_std: &Tensor, actions: &Tensor) -> Tensor {
    let z = (actions - mean) / log_std.exp();
    let per_dim: Tensor = z.square() * -0.5 - log_std - 0.5 * (2.0 * PI).ln();
    per_dim.sum_dim_intlist(-1, false, per_dim.kind())
}

/// The actor as plain Rust: samples actions from our own RNG stream.
pub struct ActorSnapshot {
    /// The native backend's network: one forward code for rollouts and updates.
    mlp: NativeMlp<f32>,
    std: Vec<f32>,
    head: Head,
}

/// Scratch buffers reused across [`ActorSnapshot::act`] calls (no allocation per step).
#[derive(Default)]
pub struct ActScratch {
    tape: Tape<f32>,
}

impl ActorSnapshot {
    /// From the native backend's flat actor parameters (libtorch's layout) and log-std.
    pub fn from_flat(actor: &[f32], dims: &[usize], log_std: &[f32], head: &Head) -> Self {
        Self {
            mlp: NativeMlp::from_flat(dims, actor.to_vec())
                .expect("widths and parameters come from the same network"),
            std: log_std.iter().map(|s| s.exp()).collect(),
            head: head.clone(),
        }
    }

    /// Writes one action for `obs` into `action` (`action_dim` numbers; a categorical index
    /// as f32). `deterministic` takes the mode (argmax or the mean). Returns nothing else:
    /// log-probs are recomputed by libtorch for the update.
    pub fn act(
        &self,
        obs: &[f32],
        rng: &mut ChaCha8Rng,
        deterministic: bool,
        scratch: &mut ActScratch,
        action: &mut [f32],
    ) {
        self.mlp.forward(obs, 1, &mut scratch.tape);
        let out = scratch.tape.output();
        match &self.head {
            Head::Categorical { .. } => {
                let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let choice = if deterministic {
                    out.iter().position(|&x| x == max).unwrap_or(0)
                } else {
                    let total: f64 = out.iter().map(|&x| ((x - max) as f64).exp()).sum();
                    let mut u = unit(rng) * total;
                    let mut pick = out.len() - 1;
                    for (i, &x) in out.iter().enumerate() {
                        u -= ((x - max) as f64).exp();
                        if u < 0.0 {
                            pick = i;
                            break;
                        }
                    }
                    pick
                };
                action[0] = choice as f32;
            }
            Head::Gaussian { .. } => {
                for (d, slot) in action.iter_mut().enumerate() {
                    let noise = if deterministic {
                        0.0
                    } else {
                        standard_normal(rng)
                    };
                    *slot = out[d] + self.std[d] * noise as f32;
                }
            }
        }
    }
}

/// Uniform in [0, 1) from the top 53 bits of one draw.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Box-Muller; one draw of two uniforms per normal keeps the stream position simple.
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]: ln is finite
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}
