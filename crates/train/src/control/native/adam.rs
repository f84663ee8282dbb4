//! Adam on plain f32 vectors, step for step the arithmetic of `optim::AdamW` without weight
//! decay (each tensor op of its step is one rounding here, in the same order), with moments
//! named like its state so checkpoints are interchangeable between backends.
use std::collections::BTreeMap;

use tch::Tensor;

pub struct NativeAdam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub step: i64,
    /// Parameter names in `AdamW`'s (sorted) order, and their moments.
    names: Vec<String>,
    exp_avg: Vec<Vec<f32>>,
    exp_avg_sq: Vec<Vec<f32>>,
}

impl NativeAdam {
    /// `params`: name and length of each parameter, sorted by name.
    pub fn new(params: &[(&str, usize)], lr: f64, eps: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps,
            step: 0,
            names: params.iter().map(|(n, _)| n.to_string()).collect(),
            exp_avg: params.iter().map(|&(_, n)| vec![0.0; n]).collect(),
            exp_avg_sq: params.iter().map(|&(_, n)| vec![0.0; n]).collect(),
        }
    }

    /// One step; `params[i]` and `grads[i]` belong to the `i`-th name.
    pub fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]]) {
        self.step += 1;
        let bias1 = 1.0 - self.beta1.powi(self.step as i32);
        let bias2 = 1.0 - self.beta2.powi(self.step as i32);
        // libtorch casts each scalar operand to the tensor's f32 before the op.
        let b1 = self.beta1 as f32;
        let one_b1 = (1.0 - self.beta1) as f32;
        let b2 = self.beta2 as f32;
        let one_b2 = (1.0 - self.beta2) as f32;
        let bias2 = bias2 as f32;
        let eps = self.eps as f32;
        let step_size = (self.lr / bias1) as f32;
        let c = Coefficients {
            b1,
            one_b1,
            b2,
            one_b2,
            bias2,
            eps,
            step_size,
        };
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, v) = (&mut self.exp_avg[i], &mut self.exp_avg_sq[i]);
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked on the line above.
                unsafe { update_avx2(p, g, m, v, &c) };
                continue;
            }
            update(p, g, m, v, &c);
        }
    }

    /// `exp_avg.<name>` / `exp_avg_sq.<name>` as 1-d f32 tensors, `AdamW::state_tensors`'s keys.
    pub fn state_tensors(&self) -> BTreeMap<String, Tensor> {
        let mut out = BTreeMap::new();
        for (i, name) in self.names.iter().enumerate() {
            out.insert(
                format!("exp_avg.{name}"),
                Tensor::from_slice(&self.exp_avg[i]),
            );
            out.insert(
                format!("exp_avg_sq.{name}"),
                Tensor::from_slice(&self.exp_avg_sq[i]),
            );
        }
        out
    }

    pub fn load_state_tensors(
        &mut self,
        tensors: &BTreeMap<String, Tensor>,
        step: i64,
    ) -> Result<(), String> {
        for (i, name) in self.names.iter().enumerate() {
            for (prefix, slot) in [
                ("exp_avg", &mut self.exp_avg[i]),
                ("exp_avg_sq", &mut self.exp_avg_sq[i]),
            ] {
                let key = format!("{prefix}.{name}");
                let saved = tensors
                    .get(&key)
                    .ok_or_else(|| format!("optimizer state lacks `{key}`"))?;
                let values = super::flat_f32(saved);
                if values.len() != slot.len() {
                    return Err(format!(
                        "optimizer state `{key}` has {} numbers, the parameter {}",
                        values.len(),
                        slot.len()
                    ));
                }
                *slot = values;
            }
        }
        self.step = step;
        Ok(())
    }
}

struct Coefficients {
    b1: f32,
    one_b1: f32,
    b2: f32,
    one_b2: f32,
    bias2: f32,
    eps: f32,
    step_size: f32,
}

#[inline(always)]
fn update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: &Coefficients) {
    for k in 0..p.len().min(g.len()).min(m.len()).min(v.len()) {
        m[k] = m[k] * c.b1 + g[k] * c.one_b1;
        v[k] = v[k] * c.b2 + g[k] * g[k] * c.one_b2;
        let denom = (v[k] / c.bias2).sqrt() + c.eps;
        p[k] -= m[k] / denom * c.step_size;
    }
}

/// [`update`] compiled for 8-wide vectors; the same roundings (no fused multiply-add).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn update_avx2(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: &Coefficients) {
    update(p, g, m, v, c)
}
