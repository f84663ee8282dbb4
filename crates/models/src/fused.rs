//! Projections that read the same input (q/k/v, gate/up) stored in one buffer, so that the
//! decoder runs them as one matmul instead of three or two: each decode step launches fewer,
//! larger kernels (issue 19).
//!
//! The per-projection variables keep their Hugging Face names in the `VarStore` and stay leaf
//! tensors with their own gradients; their storage is a row slice of the fused buffer
//! (`set_data`). So checkpoints, PEFT adapters, merging and the optimizer see exactly what
//! they saw before (loading and saving are byte-for-byte unchanged, training computes the same
//! numbers), while the sampler reads the fused buffer. Anything that writes the variables in
//! place (loading, optimizer steps, merging) writes the fused buffer too; conversions that
//! replace a variable's storage (`VarStore::set_kind`, `set_device`) are detected by
//! [`Fused::refresh`], which rebuilds the buffer.
use tch::{Kind, Tensor};

use crate::error::ModelError;
use crate::transformer::Linear;

pub(crate) struct Fused {
    /// `[sum of outs, in]`; the parts' weights are its row slices, in order.
    weight: Tensor,
    /// `[sum of outs]` when the parts have biases.
    bias: Option<Tensor>,
    /// Each part's output width.
    sizes: Vec<i64>,
}

impl Fused {
    /// Fuses `parts` (same input width; all with a bias or all without) and points their
    /// weights and biases at slices of the new buffer. Values are unchanged.
    pub(crate) fn of(parts: &[&Linear]) -> Result<Fused, ModelError> {
        let sizes = parts
            .iter()
            .map(|p| p.weight.size2().map(|(out, _)| out))
            .collect::<Result<Vec<_>, _>>()?;
        let mut fused = Fused {
            weight: Tensor::zeros([0], (Kind::Float, parts[0].weight.device())),
            bias: None,
            sizes,
        };
        fused.rebuild(parts)?;
        Ok(fused)
    }

    /// `(weight, bias)` of the parts concatenated, and the parts re-pointed at their slices.
    fn rebuild(&mut self, parts: &[&Linear]) -> Result<(), ModelError> {
        tch::no_grad(|| -> Result<(), ModelError> {
            let weights: Vec<&Tensor> = parts.iter().map(|p| &p.weight).collect();
            let weight = Tensor::f_cat(&weights, 0)?;
            let biases: Option<Vec<&Tensor>> = parts.iter().map(|p| p.bias.as_ref()).collect();
            let bias = biases.map(|b| Tensor::f_cat(&b, 0)).transpose()?;
            let mut offset = 0;
            for (part, &size) in parts.iter().zip(&self.sizes) {
                part.weight
                    .shallow_clone()
                    .set_data(&weight.f_narrow(0, offset, size)?);
                if let (Some(b), Some(fused)) = (&part.bias, &bias) {
                    b.shallow_clone()
                        .set_data(&fused.f_narrow(0, offset, size)?);
                }
                offset += size;
            }
            // `set_data` on a handle of the same tensor: the model's copy follows.
            self.weight.shallow_clone().set_data(&weight);
            match (&self.bias, bias) {
                (Some(old), Some(new)) => old.shallow_clone().set_data(&new),
                (_, new) => self.bias = new,
            }
            Ok(())
        })
    }

    /// Whether every part's weight (and bias) still is its slice of the fused buffer.
    fn intact(&self, parts: &[&Linear]) -> bool {
        let same_place = |part: &Tensor, fused: &Tensor, row: i64| {
            let row_bytes = part.size().get(1).copied().unwrap_or(1) as usize
                * fused.kind().elt_size_in_bytes();
            part.kind() == fused.kind()
                && part.device() == fused.device()
                && part.data_ptr() as usize == fused.data_ptr() as usize + row as usize * row_bytes
        };
        let mut offset = 0;
        for (part, &size) in parts.iter().zip(&self.sizes) {
            if !same_place(&part.weight, &self.weight, offset) {
                return false;
            }
            if let (Some(b), Some(fused)) = (&part.bias, &self.bias) {
                if !same_place(b, fused, offset) {
                    return false;
                }
            }
            offset += size;
        }
        true
    }

    /// Rebuilds the buffer if a part no longer lives in it; returns whether it did. Needs
    /// `&mut`-free access because the model is shared while sampling; the caller serialises.
    pub(crate) fn refresh(&self, parts: &[&Linear]) -> bool {
        if self.intact(parts) {
            return false;
        }
        // `rebuild` only re-points handles (shared tensor objects), so a shallow copy of the
        // descriptor does the work on the real buffers.
        let mut handle = Fused {
            weight: self.weight.shallow_clone(),
            bias: self.bias.as_ref().map(Tensor::shallow_clone),
            sizes: self.sizes.clone(),
        };
        // A failure here (out of memory) leaves the parts as they were, unfused but correct;
        // the check then fails again next time and the sampler falls back to it.
        handle.rebuild(parts).is_ok()
    }

    /// The parts' outputs `W_i xs + b_i` from one matmul, each with its own LoRA update.
    pub(crate) fn forward(&self, xs: &Tensor, parts: &[&Linear]) -> Vec<Tensor> {
        if !self.intact(parts) {
            // Rebuilding failed (see `refresh`): the unfused projections are still right.
            return parts
                .iter()
                .map(|p| p.with_adapter(xs.linear(&p.weight, p.bias.as_ref()), xs))
                .collect();
        }
        let ys = xs.linear(&self.weight, self.bias.as_ref());
        ys.split_with_sizes(&self.sizes, -1)
            .into_iter()
            .zip(parts)
            .map(|(y, part)| part.with_adapter(y, xs))
            .collect()
    }
}
