//! The value model of the text loops that have one (T-PPO, step-level DAPO): a small decoder
//! trunk of its own (the models layer's `Transformer`, sized by `method.critic`) and a linear
//! head giving one value per position, trained by masked MSE with its own AdamW. Weights and
//! optimizer moments go into every checkpoint, so a resumed run continues exactly.
use std::collections::BTreeMap;
use std::path::Path;

use polopt_methods::CriticConfig;
use polopt_models::{checkpoint, Transformer, TransformerConfig};

use crate::codec::Codec;
use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::error::TrainError;
use crate::optim::{AdamW, StepOutcome};
use crate::packing::Packed;

pub struct Critic {
    pub vs: VarStore,
    trunk: Transformer,
    head_weight: Tensor,
    head_bias: Tensor,
    pub opt: AdamW,
    grad_clip: f64,
}

impl Critic {
    /// The run's critic (`method.critic`), initialised from the run's seed: the one constructor
    /// the loops with a value model share.
    pub fn for_run(
        config: &crate::config::RunConfig,
        tok: &Codec,
        device: Device,
    ) -> Result<Self, TrainError> {
        Self::for_run_with_heads(config, tok, 1, device)
    }

    /// [`Critic::for_run`] with `heads` value heads on the one trunk (HiPER's planning,
    /// execution and termination values).
    pub fn for_run_with_heads(
        config: &crate::config::RunConfig,
        tok: &Codec,
        heads: i64,
        device: Device,
    ) -> Result<Self, TrainError> {
        crate::seeds::with_torch_seed(config.run.seed, "critic-init", 0, || {
            Critic::with_heads(
                &config.method.critic,
                tok,
                config.model.max_position_embeddings,
                heads,
                device,
            )
        })
    }

    /// A fresh critic; initialise it under `with_torch_seed` for reproducible weights.
    pub fn new(
        config: &CriticConfig,
        tok: &Codec,
        max_positions: i64,
        device: Device,
    ) -> Result<Self, TrainError> {
        Self::with_heads(config, tok, max_positions, 1, device)
    }

    /// A fresh critic with `heads` linear value heads (`[heads, hidden]`; one head is the
    /// single-value critic, whose checkpoints keep their shape).
    pub fn with_heads(
        config: &CriticConfig,
        tok: &Codec,
        max_positions: i64,
        heads: i64,
        device: Device,
    ) -> Result<Self, TrainError> {
        let tc = TransformerConfig::small(
            tok.vocab_size() as i64,
            config.hidden_size,
            config.intermediate_size,
            config.num_hidden_layers,
            config.num_attention_heads,
            config.num_key_value_heads,
            max_positions,
            // Tied: no output projection is created, the trunk is all the critic uses.
            true,
            10000.0,
            tok.bos_id(),
            tok.eos_id(),
            tok.pad_id(),
        );
        let vs = VarStore::new(device);
        let root = vs.root();
        let trunk = Transformer::new(&(&root / "critic"), &tc)
            .map_err(|e| TrainError::Model(format!("method.critic: {e}")))?;
        let head = &root / "value_head";
        let head_weight = head.randn("weight", &[heads, config.hidden_size], 0.0, 0.02);
        let head_bias = head.zeros("bias", &[heads]);
        let opt = AdamW::new(&vs, config.lr, config.weight_decay);
        Ok(Self {
            vs,
            trunk,
            head_weight,
            head_bias,
            opt,
            grad_clip: config.grad_clip,
        })
    }

    /// `[B, T]` values: entry `t` is the value of the state after reading `tokens[:, ..=t]`
    /// (the first head's, when there are several).
    pub fn values(&self, tokens: &Tensor, attention_mask: &Tensor) -> Tensor {
        self.head_values(tokens, attention_mask).select(-1, 0)
    }

    /// `[B, T, heads]` values of every head.
    pub fn head_values(&self, tokens: &Tensor, attention_mask: &Tensor) -> Tensor {
        let hidden = self.trunk.hidden_states(tokens, attention_mask);
        hidden
            .to_kind(Kind::Float)
            .linear(&self.head_weight, Some(&self.head_bias))
    }

    /// `[B, R + 1, heads]`: [`Critic::state_values`] for every head.
    pub fn state_head_values(&self, packed: &Packed) -> Tensor {
        let width = packed.tokens.size()[1];
        let p = packed.prompt_len;
        self.head_values(&packed.tokens, &packed.attention_mask)
            .narrow(1, p - 1, width - p + 1)
    }

    /// One AdamW step on a loss the caller built from [`Critic::state_head_values`].
    pub fn step_on(&mut self, loss: &Tensor) -> StepOutcome {
        self.opt.guarded_step(loss, self.grad_clip)
    }

    /// `[B, R + 1]` state values of a packed batch: column `t` is `V(s_t)`, the state before
    /// response token `t` (column 0: the prompt alone), and column `R` the state after the
    /// whole row. Columns past a row's end see padding; mask them.
    pub fn state_values(&self, packed: &Packed) -> Tensor {
        let width = packed.tokens.size()[1];
        let p = packed.prompt_len;
        self.values(&packed.tokens, &packed.attention_mask)
            .narrow(1, p - 1, width - p + 1)
    }

    /// Masked MSE of `V(s_t)` (the first `R` columns of [`Critic::state_values`]) against
    /// `targets: [B, R]` on `mask: [B, R]`.
    pub fn loss(&self, packed: &Packed, targets: &Tensor, mask: &Tensor) -> Tensor {
        let r = mask.size()[1];
        let v = self.state_values(packed).narrow(1, 0, r);
        let count = mask.sum(Kind::Float).clamp_min(1.0);
        ((v - targets).square() * mask).sum(Kind::Float) / count
    }

    /// One AdamW step on [`Critic::loss`]; a non-finite loss or gradient applies nothing.
    pub fn train_step(&mut self, packed: &Packed, targets: &Tensor, mask: &Tensor) -> StepOutcome {
        let loss = self.loss(packed, targets, mask);
        self.opt.guarded_step(&loss, self.grad_clip)
    }

    /// Weights and optimizer moments as `critic.safetensors` and `critic_optimizer.safetensors`
    /// (the optimizer's step counter is the caller's to keep, with its other state).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        save_with_moments(dir, CRITIC_FILES, &self.vs, &self.opt)
    }

    pub fn load(&mut self, dir: &Path, optimizer_step: i64) -> Result<(), TrainError> {
        let names = ModuleNames {
            files: CRITIC_FILES,
            what: "critic weight",
            expected: "the configured critic",
            hint: " (was method.critic changed?)",
        };
        load_with_moments(dir, &names, &self.vs, &mut self.opt, optimizer_step)
    }

    /// Stops training the critic (step-level DAPO freezes it after fitting).
    pub fn freeze(&mut self) {
        self.vs.freeze();
    }
}

const CRITIC_FILES: (&str, &str) = ("critic.safetensors", "critic_optimizer.safetensors");

/// A small module trained by its own AdamW (the critic, the reward head): which files hold its
/// weights and moments, and how its errors name it.
pub(crate) struct ModuleNames {
    pub files: (&'static str, &'static str),
    pub what: &'static str,
    pub expected: &'static str,
    pub hint: &'static str,
}

/// Writes the weights of `vs` and the moments of `opt` (its step counter is the caller's).
pub(crate) fn save_with_moments(
    dir: &Path,
    files: (&str, &str),
    vs: &VarStore,
    opt: &AdamW,
) -> Result<(), TrainError> {
    let weights: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    for (file, tensors) in [(files.0, weights), (files.1, opt.state_tensors())] {
        let path = dir.join(file);
        checkpoint::save_tensors(&path, &tensors).map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    }
    Ok(())
}

/// Reads what [`save_with_moments`] wrote back into `vs` and `opt`, checking names and shapes.
pub(crate) fn load_with_moments(
    dir: &Path,
    names: &ModuleNames,
    vs: &VarStore,
    opt: &mut AdamW,
    optimizer_step: i64,
) -> Result<(), TrainError> {
    let device = vs.device();
    let read = |file: &str| {
        let path = dir.join(file);
        checkpoint::load_tensors(&path, device)
            .map(|t| (path.clone(), t))
            .map_err(|e| TrainError::Checkpoint {
                path,
                detail: e.to_string(),
            })
    };
    let (path, weights) = read(names.files.0)?;
    for (name, mut var) in vs.variables() {
        let saved = weights.get(&name).ok_or_else(|| TrainError::Checkpoint {
            path: path.clone(),
            detail: format!("lacks {} `{name}`{}", names.what, names.hint),
        })?;
        if saved.size() != var.size() {
            return Err(TrainError::Checkpoint {
                path,
                detail: format!(
                    "{} `{name}` has shape {:?}, {} {:?}",
                    names.what,
                    saved.size(),
                    names.expected,
                    var.size()
                ),
            });
        }
        tch::no_grad(|| var.copy_(saved));
    }
    let (path, moments) = read(names.files.1)?;
    opt.load_state_tensors(&moments, optimizer_step)
        .map_err(|detail| TrainError::Checkpoint { path, detail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packing::pack;

    fn tiny() -> (Critic, Packed, Tensor, Tensor) {
        let tok = Codec::builtin();
        let config = CriticConfig {
            hidden_size: 16,
            intermediate_size: 32,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            num_key_value_heads: 1,
            lr: 1e-2,
            ..CriticConfig::default()
        };
        // Under the process-wide RNG lock, like every seeded draw in this crate's tests.
        let critic = crate::seeds::with_torch_seed(7, "critic-test", 0, || {
            Critic::new(&config, &tok, 32, Device::Cpu)
        })
        .unwrap();
        let enc = |s: &str| {
            let mut v = vec![tok.bos_id()];
            v.extend(tok.encode(s).unwrap());
            v
        };
        let prompts = [enc("1+2="), enc("13+4=")];
        let responses = [enc("3")[1..].to_vec(), enc("71")[1..].to_vec()];
        let p: Vec<&[i64]> = prompts.iter().map(Vec::as_slice).collect();
        let r: Vec<&[i64]> = responses.iter().map(Vec::as_slice).collect();
        let packed = pack(&p, &r, tok.pad_id(), Device::Cpu);
        let targets = Tensor::from_slice(&[1.0f32, 0.0, -0.5, 0.25]).view([2, 2]);
        let mask = packed.response_mask.shallow_clone();
        (critic, packed, targets, mask)
    }

    #[test]
    fn fits_a_fixed_target_on_a_tiny_batch() {
        let (mut critic, packed, targets, mask) = tiny();
        let start = critic.loss(&packed, &targets, &mask).double_value(&[]);
        let mut last = start;
        for _ in 0..150 {
            let s = critic.train_step(&packed, &targets, &mask);
            assert!(matches!(s, StepOutcome::Applied { loss, .. } if loss.is_finite()));
            last = critic.loss(&packed, &targets, &mask).double_value(&[]);
        }
        assert!(start > 0.1, "start loss {start}");
        assert!(last < 0.05 * start, "loss {start} -> {last}");
    }

    #[test]
    fn head_gradient_matches_finite_differences() {
        // The loss is exactly quadratic in the head bias, so a central difference is exact up
        // to rounding; a head weight entry checks the path through the trunk's hidden state.
        let (critic, packed, targets, mask) = tiny();
        let loss = critic.loss(&packed, &targets, &mask);
        loss.backward();
        let analytic_b = critic.head_bias.grad().double_value(&[0]);
        let analytic_w = critic.head_weight.grad().double_value(&[0, 3]);
        let eval = |bias_delta: f64, weight_delta: f64| {
            tch::no_grad(|| {
                let mut b = critic.head_bias.shallow_clone();
                let w = critic.head_weight.shallow_clone();
                let _ = b.g_add_scalar_(bias_delta);
                let mut entry = w.get(0).get(3);
                let _ = entry.g_add_scalar_(weight_delta);
                let l = critic.loss(&packed, &targets, &mask).double_value(&[]);
                let _ = b.g_add_scalar_(-bias_delta);
                let _ = entry.g_add_scalar_(-weight_delta);
                l
            })
        };
        let h = 1e-2;
        let fd_b = (eval(h, 0.0) - eval(-h, 0.0)) / (2.0 * h);
        let fd_w = (eval(0.0, h) - eval(0.0, -h)) / (2.0 * h);
        assert!(
            (analytic_b - fd_b).abs() < 1e-3 * (1.0 + fd_b.abs()),
            "{analytic_b} vs {fd_b}"
        );
        assert!(
            (analytic_w - fd_w).abs() < 1e-3 * (1.0 + fd_w.abs()),
            "{analytic_w} vs {fd_w}"
        );
        // Property: d/db of the masked MSE is 2 * mean(V - y) over the masked entries.
        let v = critic.state_values(&packed).narrow(1, 0, 2);
        let resid = ((v - &targets) * &mask).sum(Kind::Float).double_value(&[]);
        let n = mask.sum(Kind::Float).double_value(&[]);
        assert!((analytic_b - 2.0 * resid / n).abs() < 1e-4);
    }
}
