//! AdamW with decoupled weight decay, and global gradient-norm clipping.
//!
//! Written here rather than using `tch::nn::Optimizer` because libtorch's optimizer state is
//! not reachable through tch: checkpoints must carry the moments so that a resumed run
//! continues exactly (CONTRIBUTING standard: resume is exact).
use std::collections::BTreeMap;
use tch::{nn::VarStore, Kind, Tensor};

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
