//! The tensor side of an [`UpdatePlan`](crate::plan::UpdatePlan): built once per step as
//! `[B, width]` / `[B, 1]` tensors, then sliced per minibatch and turned into the loss.
//!
//! - token keep-mask (D3S): multiplies the response mask, so every aggregation and its
//!   normalizer (`LossScale`) count kept tokens only;
//! - per-sample clip bounds (ETR): passed to [`PolicyObjective::loss`] as `[b, 1]` tensors;
//! - blend (COPO): `w L(A_loc) + (1 - w) L(A_glob)`. The surrogate is positively homogeneous
//!   in the advantage (`l(r, w A) = w l(r, A)` for `w >= 0`, dual clip included), so each side
//!   is the ordinary loss on a scaled advantage; the second call carries no regularizers so
//!   KL and entropy count once.
use tch::{Device, Tensor};

use super::rows::{column, rows_tensor};
use super::{ClipBounds, LossOutput, LossScale, PolicyObjective, PolicyTerms};
use crate::plan::UpdatePlan;

pub struct PlannedLoss {
    /// `[B, width]`, zeros after each response.
    pub advantages: Tensor,
    keep: Option<Tensor>,
    bounds: Option<(Tensor, Tensor)>,
    /// Global advantages `[B, width]` and local weights `[B, 1]`.
    blend: Option<(Tensor, Tensor)>,
}

impl PlannedLoss {
    pub fn new(plan: &UpdatePlan, response_lens: &[usize], width: usize, device: Device) -> Self {
        let b = response_lens.len() as i64;
        let matrix = |a: &crate::credit::Advantages| {
            Tensor::from_slice(&a.to_token_matrix(response_lens, width))
                .view([b, width as i64])
                .to_device(device)
        };
        Self {
            advantages: matrix(&plan.advantages),
            keep: plan
                .token_keep
                .as_ref()
                .map(|k| rows_tensor(k, width, device)),
            bounds: plan
                .clip_bounds
                .as_ref()
                .map(|s| (column(&s.low, device), column(&s.high, device))),
            blend: plan.blend.as_ref().map(|bl| {
                let global = crate::credit::Advantages::Sequence(bl.global_advantages.clone());
                (matrix(&global), column(&bl.local_weights, device))
            }),
        }
    }

    /// The loss of minibatch rows `index`. `terms.advantages` must be rows `index` of
    /// [`Self::advantages`]; `max_len` is the `seq-mean-token-sum-norm` constant.
    pub fn loss(
        &self,
        objective: &PolicyObjective,
        terms: &PolicyTerms,
        index: &Tensor,
        max_len: f64,
    ) -> LossOutput {
        let scale = self.scale(terms.mask, index, max_len);
        self.loss_scaled(objective, terms, index, &scale)
    }

    /// The normalizers of minibatch rows `index` with response mask `mask` (kept tokens only).
    pub fn scale(&self, mask: &Tensor, index: &Tensor, max_len: f64) -> LossScale {
        LossScale::of_mask(&self.kept(mask, index), max_len)
    }

    fn kept(&self, mask: &Tensor, index: &Tensor) -> Tensor {
        match &self.keep {
            Some(keep) => mask * keep.index_select(0, index),
            None => mask.shallow_clone(),
        }
    }

    /// [`Self::loss`] of a micro-batch (rows `index`) under the normalizers `scale` of the
    /// whole minibatch it belongs to: the micro-batches' gradients then sum to exactly the
    /// minibatch's (gradient accumulation, `rl.micro_batch_size`).
    pub fn loss_scaled(
        &self,
        objective: &PolicyObjective,
        terms: &PolicyTerms,
        index: &Tensor,
        scale: &LossScale,
    ) -> LossOutput {
        let mask = self.kept(terms.mask, index);
        let scale = *scale;
        let bounds = self.bounds.as_ref().map(|(low, high)| ClipBounds {
            low: low.index_select(0, index),
            high: high.index_select(0, index),
        });
        let Some((global, weight)) = &self.blend else {
            let terms = PolicyTerms {
                mask: &mask,
                ..*terms
            };
            return objective.loss(&terms, &scale, bounds.as_ref());
        };
        let w = weight.index_select(0, index);
        let local_adv = terms.advantages * &w;
        let global_adv = global.index_select(0, index) * (-&w + 1.0);
        let local = objective.loss(
            &PolicyTerms {
                mask: &mask,
                advantages: &local_adv,
                ..*terms
            },
            &scale,
            bounds.as_ref(),
        );
        let global = objective.loss(
            &PolicyTerms {
                mask: &mask,
                advantages: &global_adv,
                ref_logp: None,
                entropy: None,
                ..*terms
            },
            &scale,
            bounds.as_ref(),
        );
        let mut metrics = local.metrics;
        let global_policy = global.metrics.get("policy_loss").copied().unwrap_or(0.0);
        metrics.insert("copo/global_policy_loss", global_policy);
        if let Some(p) = metrics.get_mut("policy_loss") {
            *p += global_policy;
        }
        LossOutput {
            loss: local.loss + global.loss,
            metrics,
        }
    }
}
