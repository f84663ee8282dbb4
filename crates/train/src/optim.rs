//! AdamW with decoupled weight decay, and global gradient-norm clipping.
//!
//! Written here rather than using `tch::nn::Optimizer` because libtorch's optimizer state is
//! not reachable through tch: checkpoints must carry the moments so that a resumed run
//! continues exactly (CONTRIBUTING standard: resume is exact).
use std::collections::BTreeMap;
use tch::{nn::VarStore, Kind, Tensor};

/// What [`AdamW::guarded_step`] did with a loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepOutcome {
    /// The weights moved; `grad_norm` is the norm before clipping.
    Applied { loss: f64, grad_norm: f64 },
    /// Nothing moved and the gradients are cleared: `what` ("loss" or "gradient norm") was
    /// NaN or infinite. The caller counts it and skips or stops (`run.on_nan`).
    NonFinite { what: &'static str },
}

pub struct AdamW {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub step: i64,
    /// Trainable parameters by name, in name order so that state files are stable.
    params: Vec<(String, Tensor)>,
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
}

impl AdamW {
    pub fn new(vs: &VarStore, lr: f64, weight_decay: f64) -> Self {
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let exp_avg = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let exp_avg_sq = params.iter().map(|(_, p)| p.zeros_like()).collect();
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            step: 0,
            params,
            exp_avg,
            exp_avg_sq,
        }
    }

    /// One update from `loss` that never lets a non-finite value through: clears the
    /// gradients, checks the loss, backpropagates, clips to `grad_clip`, checks the norm, and
    /// only then steps. Every loop's minibatch update goes through here.
    pub fn guarded_step(&mut self, loss: &Tensor, grad_clip: f64) -> StepOutcome {
        self.zero_grad();
        let value = loss.double_value(&[]);
        if value.is_finite() {
            loss.backward();
        }
        self.guarded_accumulated_step(value, grad_clip)
    }

    /// The step after the caller accumulated gradients with several `backward` calls (micro-
    /// batches), `loss` being the sum of their losses: the same checks as [`Self::guarded_step`].
    pub fn guarded_accumulated_step(&mut self, loss: f64, grad_clip: f64) -> StepOutcome {
        if !loss.is_finite() {
            self.zero_grad();
            return StepOutcome::NonFinite { what: "loss" };
        }
        let grad_norm = self.clip_grad_norm(grad_clip);
        if !grad_norm.is_finite() {
            self.zero_grad();
            return StepOutcome::NonFinite {
                what: "gradient norm",
            };
        }
        self.step();
        StepOutcome::Applied { loss, grad_norm }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// Global L2 norm of all gradients (f64; NaN or Inf when any gradient is non-finite).
    pub fn grad_norm(&self) -> f64 {
        let mut total = 0.0;
        for (_, p) in &self.params {
            let g = p.grad();
            if g.defined() {
                total += g
                    .to_kind(Kind::Float)
                    .square()
                    .sum(Kind::Float)
                    .double_value(&[]);
            }
        }
        total.sqrt()
    }

    /// Scales gradients so that their global norm is at most `max_norm`; returns the norm before.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let norm = self.grad_norm();
        if norm.is_finite() && norm > max_norm {
            let scale = max_norm / (norm + 1e-6);
            for (_, p) in &self.params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.g_mul_scalar_(scale);
                }
            }
        }
        norm
    }

    pub fn step(&mut self) {
        self.step += 1;
        let bias1 = 1.0 - self.beta1.powi(self.step as i32);
        let bias2 = 1.0 - self.beta2.powi(self.step as i32);
        tch::no_grad(|| {
            for (i, (_, p)) in self.params.iter().enumerate() {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let mut p = p.shallow_clone();
                if self.weight_decay > 0.0 {
                    let _ = p.g_mul_scalar_(1.0 - self.lr * self.weight_decay);
                }
                let m = &mut self.exp_avg[i];
                let _ = m.g_mul_scalar_(self.beta1);
                let _ = m.g_add_(&(&g * (1.0 - self.beta1)));
                let v = &mut self.exp_avg_sq[i];
                let _ = v.g_mul_scalar_(self.beta2);
                let _ = v.g_add_(&(g.square() * (1.0 - self.beta2)));
                let denom = (&*v / bias2).sqrt() + self.eps;
                let update = &*m / &denom * (self.lr / bias1);
                let _ = p.g_sub_(&update);
            }
        });
    }

    /// Gives every trainable parameter a (zero) gradient where none is defined yet, so that
    /// data-parallel ranks hold gradient buffers of the same layout even when a rank's loss
    /// did not reach a parameter (or the rank had no rows in a minibatch).
    pub fn define_grads(&mut self) {
        let missing: Vec<Tensor> = self
            .params
            .iter()
            .filter(|(_, p)| !p.grad().defined())
            .map(|(_, p)| (p * 0.0).sum(Kind::Float))
            .collect();
        if !missing.is_empty() {
            Tensor::stack(&missing, 0).sum(Kind::Float).backward();
        }
    }

    /// All gradients in name order as one f32 vector (zeros where undefined).
    pub fn flat_grads(&self) -> Vec<f32> {
        flatten(self.params.iter().map(|(_, p)| (p.grad(), p.numel())))
    }

    /// Writes [`Self::flat_grads`]'s layout back; undefined gradients stay undefined (call
    /// [`Self::define_grads`] first).
    pub fn set_flat_grads(&mut self, flat: &[f32]) {
        let mut at = 0;
        for (_, p) in &self.params {
            let n = p.numel();
            let mut g = p.grad();
            if g.defined() {
                let values = Tensor::from_slice(&flat[at..at + n]).view(g.size().as_slice());
                tch::no_grad(|| g.copy_(&values.to_kind(g.kind()).to_device(g.device())));
            }
            at += n;
        }
    }

    /// Sums the gradients over `comm`'s ranks in place on the GPU, when every gradient is a
    /// contiguous f32 CUDA tensor and `comm` has a device path (NCCL); `None` otherwise.
    pub fn all_reduce_grads_on_device(
        &self,
        comm: &dyn polopt_distributed::Collective,
    ) -> Option<Result<(), polopt_distributed::CollectiveError>> {
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).collect();
        let on_device = grads.iter().all(|g| {
            g.defined() && g.device().is_cuda() && g.kind() == Kind::Float && g.is_contiguous()
        });
        if !on_device {
            return None;
        }
        let buffers: Vec<(*mut std::ffi::c_void, usize)> =
            grads.iter().map(|g| (g.data_ptr(), g.numel())).collect();
        // SAFETY: the buffers are this rank's gradients on its CUDA device, alive in `grads`
        // for the call, and nothing writes them before the default stream has run the sums.
        unsafe { comm.all_reduce_sum_f32_device(&buffers) }
    }

    /// The trainable parameters in name order as one f32 vector.
    pub fn flat_parameters(&self) -> Vec<f32> {
        flatten(
            self.params
                .iter()
                .map(|(_, p)| (p.shallow_clone(), p.numel())),
        )
    }

    pub fn set_flat_parameters(&self, flat: &[f32]) {
        let mut at = 0;
        for (_, p) in &self.params {
            let n = p.numel();
            let values = Tensor::from_slice(&flat[at..at + n]).view(p.size().as_slice());
            let mut p = p.shallow_clone();
            tch::no_grad(|| p.copy_(&values.to_kind(p.kind()).to_device(p.device())));
            at += n;
        }
    }

    /// Moments by `exp_avg.<param>` / `exp_avg_sq.<param>`, for the checkpoint.
    pub fn state_tensors(&self) -> BTreeMap<String, Tensor> {
        let mut out = BTreeMap::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.insert(format!("exp_avg.{name}"), self.exp_avg[i].shallow_clone());
            out.insert(
                format!("exp_avg_sq.{name}"),
                self.exp_avg_sq[i].shallow_clone(),
            );
        }
        out
    }

    /// Restores moments saved by [`AdamW::state_tensors`]; every parameter must be present.
    pub fn load_state_tensors(
        &mut self,
        tensors: &BTreeMap<String, Tensor>,
        step: i64,
    ) -> Result<(), String> {
        for (i, (name, p)) in self.params.iter().enumerate() {
            for (prefix, slot) in [
                ("exp_avg", &mut self.exp_avg[i]),
                ("exp_avg_sq", &mut self.exp_avg_sq[i]),
            ] {
                let key = format!("{prefix}.{name}");
                let saved = tensors
                    .get(&key)
                    .ok_or_else(|| format!("optimizer state lacks `{key}`"))?;
                if saved.size() != p.size() {
                    return Err(format!(
                        "optimizer state `{key}` has shape {:?}, parameter has {:?}",
                        saved.size(),
                        p.size()
                    ));
                }
                tch::no_grad(|| slot.copy_(&saved.to_device(p.device()).to_kind(p.kind())));
            }
        }
        self.step = step;
        Ok(())
    }
}

/// Tensors (undefined ones as `n` zeros) as one f32 vector, for collectives on CPU buffers.
fn flatten(tensors: impl Iterator<Item = (Tensor, usize)>) -> Vec<f32> {
    let mut out = Vec::new();
    for (t, n) in tensors {
        if t.defined() {
            let values = t
                .detach()
                .to_kind(Kind::Float)
                .to_device(tch::Device::Cpu)
                .contiguous()
                .view(-1);
            out.extend(Vec::<f32>::try_from(&values).unwrap_or_else(|_| vec![f32::NAN; n]));
        } else {
            out.extend(std::iter::repeat_n(0.0, n));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_weight(value: f32) -> (VarStore, Tensor) {
        let vs = VarStore::new(tch::Device::Cpu);
        let w = vs
            .root()
            .var_copy("w", &Tensor::from_slice(&[value, -value]));
        (vs, w)
    }

    #[test]
    fn guarded_step_applies_a_finite_loss_and_reports_the_unclipped_norm() {
        let (vs, w) = one_weight(3.0);
        let mut opt = AdamW::new(&vs, 0.1, 0.0);
        // d/dw sum(w^2) = 2w = (6, -6): norm 6 sqrt(2), clipped to 1 before the step.
        let outcome = opt.guarded_step(&w.square().sum(Kind::Float), 1.0);
        let StepOutcome::Applied { loss, grad_norm } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(loss, 18.0);
        assert!((grad_norm - 6.0 * 2f64.sqrt()).abs() < 1e-5, "{grad_norm}");
        let moved = Vec::<f32>::try_from(&w).unwrap();
        assert!(moved[0] < 3.0 && moved[1] > -3.0, "{moved:?}");
    }

    #[test]
    fn guarded_step_moves_nothing_on_a_non_finite_loss_or_gradient() {
        let (vs, w) = one_weight(3.0);
        let mut opt = AdamW::new(&vs, 0.1, 0.0);
        let nan_loss = w.sum(Kind::Float) * f64::NAN;
        assert_eq!(
            opt.guarded_step(&nan_loss, 1.0),
            StepOutcome::NonFinite { what: "loss" }
        );
        // A finite loss whose gradient is infinite: sqrt at 0.
        let inf_grad = (&w - &w.detach()).abs().sqrt().sum(Kind::Float);
        assert_eq!(
            opt.guarded_step(&inf_grad, 1.0),
            StepOutcome::NonFinite {
                what: "gradient norm"
            }
        );
        assert_eq!(Vec::<f32>::try_from(&w).unwrap(), vec![3.0, -3.0]);
        assert_eq!(opt.step, 0, "no optimizer step may be counted");
        assert_eq!(opt.grad_norm(), 0.0, "gradients are cleared");
    }
}
