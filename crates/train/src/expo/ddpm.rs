//! EXPO's base policy μ_ψ(a | s): a DDPM over actions in [−1, 1]^k with T denoising steps and
//! ε-prediction (spec §Method 2; Ho et al. 2020), the variance-preserving β schedule of the
//! EXPO/IDQL code, and an EMA copy ψ̄ (τ_a = 0.001) used for acting.
//!
//! - Schedule: ᾱ-free form of the code, α_t = exp(−β_min/T − ½(β_max − β_min)(2t − 1)/T²) for
//!   t = 1..T, β_t = 1 − α_t, β_min = 0.1, β_max = 10.
//! - Loss: t ~ U{0..T−1}, ε ~ N(0, I), a_t = √ᾱ_t a + √(1 − ᾱ_t) ε, L = ‖ε_ψ(s, a_t, t) − ε‖².
//! - Sampling: a_T ~ N(0, I); a_{t−1} = (a_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t + σ_t z with the
//!   posterior σ_t² = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t), no noise at the last step; the result is
//!   clipped to [−1, 1].
//!
//! The network is a SiLU MLP over [s; a_t; sinusoidal features of t] (the spec's code uses an
//! MLP-ResNet with 128-d Fourier features; a plain MLP is enough at our sizes). All randomness
//! comes from libtorch's generator: callers seed it (`seeds::with_torch_seed`).
use tch::nn::{Module, VarStore};
use tch::{Device, Kind, Tensor};

use super::params::{polyak, Activation, Mlp};

/// The β_t, α_t and ᾱ_t of a T-step schedule, index 0 being the first noising step.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub betas: Vec<f64>,
    pub alphas: Vec<f64>,
    pub alpha_bars: Vec<f64>,
}

impl Schedule {
    /// The variance-preserving schedule of the EXPO / IDQL code (`vp_beta_schedule`).
    pub fn vp(steps: usize) -> Self {
        let t_max = steps as f64;
        let (b_min, b_max) = (0.1, 10.0);
        let alphas: Vec<f64> = (1..=steps)
            .map(|t| {
                let t = t as f64;
                (-b_min / t_max - 0.5 * (b_max - b_min) * (2.0 * t - 1.0) / (t_max * t_max)).exp()
            })
            .collect();
        let betas = alphas.iter().map(|a| 1.0 - a).collect();
        let alpha_bars = alphas
            .iter()
            .scan(1.0, |prod, a| {
                *prod *= a;
                Some(*prod)
            })
            .collect();
        Schedule {
            betas,
            alphas,
            alpha_bars,
        }
    }

    pub fn steps(&self) -> usize {
        self.betas.len()
    }
}

/// Width of the sinusoidal time features.
const TIME_DIM: i64 = 16;

/// Sinusoidal features of integer steps `t: [B]` → `[B, TIME_DIM]`.
fn time_features(t: &Tensor) -> Tensor {
    let half = TIME_DIM / 2;
    let freqs =
        (Tensor::arange(half, (Kind::Float, Device::Cpu)) * (-(100f64.ln()) / half as f64)).exp();
    let angles = t.to_kind(Kind::Float).unsqueeze(1) * freqs.unsqueeze(0);
    Tensor::cat(&[angles.sin(), angles.cos()], 1)
}

/// Sizes of a [`DiffusionPolicy`].
#[derive(Debug, Clone, PartialEq)]
pub struct DiffusionConfig {
    pub obs_dim: i64,
    pub act_dim: i64,
    /// Denoising steps T.
    pub steps: usize,
    pub hidden: Vec<i64>,
    /// EMA rate τ_a of the target copy.
    pub ema: f64,
}

impl Default for DiffusionConfig {
    fn default() -> Self {
        DiffusionConfig {
            obs_dim: 1,
            act_dim: 1,
            steps: 10,
            hidden: vec![128, 128, 128],
            ema: 0.001,
        }
    }
}

/// The DDPM base policy with its EMA copy.
pub struct DiffusionPolicy {
    pub vs: VarStore,
    net: Mlp,
    ema_vs: VarStore,
    ema_net: Mlp,
    pub schedule: Schedule,
    pub config: DiffusionConfig,
}

impl DiffusionPolicy {
    /// Initialises the weights from libtorch's generator; the EMA copy starts equal.
    pub fn new(config: DiffusionConfig) -> Self {
        let build = |vs: &VarStore| {
            Mlp::new(
                &vs.root(),
                config.obs_dim + config.act_dim + TIME_DIM,
                &config.hidden,
                config.act_dim,
                Activation::Silu,
            )
        };
        let vs = VarStore::new(Device::Cpu);
        let net = build(&vs);
        let mut ema_vs = VarStore::new(Device::Cpu);
        let ema_net = build(&ema_vs);
        // Copying cannot fail: both stores were built by the same code.
        let _ = ema_vs.copy(&vs);
        ema_vs.freeze();
        DiffusionPolicy {
            vs,
            net,
            ema_vs,
            ema_net,
            schedule: Schedule::vp(config.steps),
            config,
        }
    }

    fn eps(&self, ema: bool, obs: &Tensor, noisy: &Tensor, t: &Tensor) -> Tensor {
        let input = Tensor::cat(
            &[obs.shallow_clone(), noisy.shallow_clone(), time_features(t)],
            1,
        );
        if ema {
            self.ema_net.forward(&input)
        } else {
            self.net.forward(&input)
        }
    }

    /// The denoising loss on a batch `obs: [B, obs_dim]`, `actions: [B, act_dim]` (scalar).
    pub fn imitation_loss(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        let b = actions.size()[0];
        let t = Tensor::randint(
            self.schedule.steps() as i64,
            [b],
            (Kind::Int64, Device::Cpu),
        );
        let noise = actions.randn_like();
        let alpha_bars = Tensor::from_slice(&self.schedule.alpha_bars).to_kind(Kind::Float);
        let ab = alpha_bars.index_select(0, &t).unsqueeze(1);
        let noisy = ab.sqrt() * actions + (-&ab + 1.0).sqrt() * &noise;
        (self.eps(false, obs, &noisy, &t) - noise)
            .square()
            .mean(Kind::Float)
    }

    /// `n` actions per state: `obs: [B, obs_dim]` → `[B, n, act_dim]`, with the EMA weights
    /// (acting) or the online ones (TD backups). No gradient.
    pub fn sample(&self, obs: &Tensor, n: i64, ema: bool) -> Tensor {
        let (b, k) = (obs.size()[0], self.config.act_dim);
        tch::no_grad(|| {
            let s = obs
                .unsqueeze(1)
                .expand([b, n, self.config.obs_dim], false)
                .reshape([b * n, self.config.obs_dim]);
            let mut x = Tensor::randn([b * n, k], (Kind::Float, Device::Cpu));
            let sch = &self.schedule;
            for t in (0..sch.steps()).rev() {
                let steps = Tensor::full([b * n], t as i64, (Kind::Int64, Device::Cpu));
                let eps = self.eps(ema, &s, &x, &steps);
                let mean = (&x - eps * (sch.betas[t] / (1.0 - sch.alpha_bars[t]).sqrt()))
                    / sch.alphas[t].sqrt();
                x = if t > 0 {
                    let var =
                        sch.betas[t] * (1.0 - sch.alpha_bars[t - 1]) / (1.0 - sch.alpha_bars[t]);
                    mean + x.randn_like() * var.sqrt()
                } else {
                    mean
                };
            }
            x.clamp(-1.0, 1.0).reshape([b, n, k])
        })
    }

    /// The EMA copy's variables (checkpoints).
    pub fn ema_store(&self) -> &VarStore {
        &self.ema_vs
    }

    /// ψ̄ ← (1 − τ_a) ψ̄ + τ_a ψ.
    pub fn update_ema(&self) {
        polyak(&self.ema_vs, &self.vs, self.config.ema);
    }
}
