//! The off-policy networks: ReLU MLPs with PyTorch's default init (SB3 / CleanRL), the
//! deterministic tanh actor (TD3), the squashed-Gaussian actor (SAC), twin Q critics, and the
//! Polyak average that moves target networks.
//!
//! Actors work in `[-1, 1]` action units; the trainer rescales to the environment's box. Each
//! network lives in its own [`VarStore`] so that it has its own optimiser and its target copy
//! is a second store of the same shape.
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

/// SB3's clamp of the Gaussian actor's log-std.
pub const LOG_STD_MIN: f64 = -20.0;
pub const LOG_STD_MAX: f64 = 2.0;

/// Linear layers with ReLU between them; the last layer is linear unless `relu_out`.
#[derive(Debug)]
pub struct ReluMlp {
    layers: Vec<nn::Linear>,
    relu_out: bool,
}

impl ReluMlp {
    /// `input -> hidden[0] -> ... -> output`; `output = None` ends at the last hidden width,
    /// with its ReLU (a trunk for separate heads).
    pub fn new(path: &nn::Path, input: i64, hidden: &[i64], output: Option<i64>) -> Self {
        let mut dims = vec![input];
        dims.extend_from_slice(hidden);
        dims.extend(output);
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(path / i, w[0], w[1], Default::default()))
            .collect();
        Self {
            layers,
            relu_out: output.is_none(),
        }
    }
}

impl Module for ReluMlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut h = x.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if i < last || self.relu_out {
                h = h.relu();
            }
        }
        h
    }
}

/// TD3's actor: `tanh(mlp(s))`.
#[derive(Debug)]
pub struct DeterministicActor {
    net: ReluMlp,
}

impl DeterministicActor {
    pub fn new(vs: &VarStore, obs_dim: i64, hidden: &[i64], act_dim: i64) -> Self {
        Self {
            net: ReluMlp::new(&(vs.root() / "actor"), obs_dim, hidden, Some(act_dim)),
        }
    }

    /// `[B, act_dim]` in `[-1, 1]`.
    pub fn forward(&self, obs: &Tensor) -> Tensor {
        self.net.forward(obs).tanh()
    }
}

/// SAC's actor: a ReLU trunk with a mean head and a log-std head (clamped to
/// [`LOG_STD_MIN`], [`LOG_STD_MAX`]); actions are `tanh(mu + sigma * eps)`.
#[derive(Debug)]
pub struct SquashedGaussianActor {
    trunk: ReluMlp,
    mu: nn::Linear,
    log_std: nn::Linear,
}

impl SquashedGaussianActor {
    pub fn new(vs: &VarStore, obs_dim: i64, hidden: &[i64], act_dim: i64) -> Self {
        let root = vs.root() / "actor";
        let width = *hidden.last().unwrap_or(&obs_dim);
        Self {
            trunk: ReluMlp::new(&(&root / "trunk"), obs_dim, hidden, None),
            mu: nn::linear(&root / "mu", width, act_dim, Default::default()),
            log_std: nn::linear(&root / "log_std", width, act_dim, Default::default()),
        }
    }

    /// The pre-squash Gaussian: mean and clamped log-std, both `[B, act_dim]`.
    pub fn gaussian(&self, obs: &Tensor) -> (Tensor, Tensor) {
        let h = self.trunk.forward(obs);
        let log_std = self.log_std.forward(&h).clamp(LOG_STD_MIN, LOG_STD_MAX);
        (self.mu.forward(&h), log_std)
    }

    /// A reparameterised sample from the standard-normal draws `eps: [B, act_dim]`: the action
    /// in `[-1, 1]` and its log-density `[B]`, both differentiable in the weights.
    pub fn sample(&self, obs: &Tensor, eps: &Tensor) -> (Tensor, Tensor) {
        let (mean, log_std) = self.gaussian(obs);
        let u = &mean + log_std.exp() * eps;
        let logp = squashed_gaussian_log_prob(&u, &mean, &log_std);
        (u.tanh(), logp)
    }

    /// The deterministic action `tanh(mean)` (evaluation).
    pub fn mode(&self, obs: &Tensor) -> Tensor {
        self.gaussian(obs).0.tanh()
    }
}

/// `log p(tanh(u))` for `u ~ N(mean, exp(log_std))`, summed over action dimensions, `[B]`:
/// the Gaussian log-density minus the tanh Jacobian `sum log(1 - tanh(u)^2)`, written as
/// `2 (log 2 - u - softplus(-2u))`, which is exact and stays finite where `tanh(u)` rounds to
/// +-1 (SAC paper, appendix C; SB3's `TanhBijector`).
pub fn squashed_gaussian_log_prob(u: &Tensor, mean: &Tensor, log_std: &Tensor) -> Tensor {
    let z = (u - mean) / log_std.exp();
    let gauss: Tensor = z.square() * -0.5 - log_std - 0.5 * (2.0 * std::f64::consts::PI).ln();
    let softplus: Tensor = (u * -2.0).softplus();
    let log_jacobian: Tensor = (softplus + u - 2f64.ln()) * -2.0;
    (gauss - log_jacobian).sum_dim_intlist(-1, false, u.kind())
}

/// Two independent Q networks `Q_i(s, a)` on `[s, a]`.
#[derive(Debug)]
pub struct TwinCritic {
    q1: ReluMlp,
    q2: ReluMlp,
}

impl TwinCritic {
    pub fn new(vs: &VarStore, obs_dim: i64, act_dim: i64, hidden: &[i64]) -> Self {
        let root = vs.root();
        Self {
            q1: ReluMlp::new(&(&root / "q1"), obs_dim + act_dim, hidden, Some(1)),
            q2: ReluMlp::new(&(&root / "q2"), obs_dim + act_dim, hidden, Some(1)),
        }
    }

    /// `(Q1, Q2)`, each `[B]`.
    pub fn forward(&self, obs: &Tensor, actions: &Tensor) -> (Tensor, Tensor) {
        let x = Tensor::cat(&[obs, actions], -1);
        (
            self.q1.forward(&x).squeeze_dim(-1),
            self.q2.forward(&x).squeeze_dim(-1),
        )
    }

    /// `Q1` alone (TD3's actor loss).
    pub fn q1(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        let x = Tensor::cat(&[obs, actions], -1);
        self.q1.forward(&x).squeeze_dim(-1)
    }

    /// `min(Q1, Q2)`, `[B]`.
    pub fn min_q(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        let (q1, q2) = self.forward(obs, actions);
        q1.minimum(&q2)
    }
}

/// `target <- (1 - tau) target + tau online`, parameter by parameter (same names).
pub fn polyak_update(target: &VarStore, online: &VarStore, tau: f64) {
    let online = online.variables();
    tch::no_grad(|| {
        for (name, mut t) in target.variables() {
            if let Some(o) = online.get(&name) {
                let _ = t.g_mul_scalar_(1.0 - tau);
                let _ = t.g_add_(&(o * tau));
            }
        }
    });
}

/// A store of the same variables, for a target network built from the same constructor.
pub fn new_store() -> VarStore {
    VarStore::new(Device::Cpu)
}

/// Copies every variable of `from` into `to` (the target's initial weights).
pub fn hard_copy(to: &mut VarStore, from: &VarStore) -> Result<(), tch::TchError> {
    to.copy(from)
}

/// Standard-normal draws `[rows, cols]` from one of our streams (libtorch's generator is
/// global and would tie the noise to other draws in the process; ours is restored on resume).
pub fn normal_tensor(rng: &mut rand_chacha::ChaCha8Rng, rows: usize, cols: usize) -> Tensor {
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| crate::control::mlp::standard_normal(rng) as f32)
        .collect();
    Tensor::from_slice(&values)
        .view([rows as i64, cols as i64])
        .to_kind(Kind::Float)
}
