//! HAPO, Heterogeneous Adaptive Policy Optimization (2025; code starriver030515/HAPO, a verl
//! fork with a patched vLLM sampler; spec hapo.md, confidence high): the entropy-aware parts of
//! the loss, and the entropy normalization that the sampler shares.
//!
//! Normalization: `h = log(max(H, 1e-8))` over the batch's valid tokens, pivot
//! `m = quantile(h, entropy_pivot)` ("nearest"), `s = sqrt(mean((h - m)^2))`, `z = (h - m) / s`,
//! then each side scaled to `[-1, 1]`: `h^ = z / max(z)` for `z > 0`, `z / |min(z)|` for
//! `z <= 0`. The released code divides the negative side by `min(z)` itself, a negative
//! number, which flips low-entropy tokens to the positive side; we use the intended `|min z|`
//! (spec "Ambiguities").
//!
//! Per token, with `h^` of the current forward's entropy (detached):
//! - asymmetric adaptive clipping: `eps_low' = eps_low (1 - alpha_c h^)` where `h^ <= 0`,
//!   `eps_high' = eps_high (1 + alpha_c h^)` where `h^ > 0`, the other side unchanged;
//! - differential advantage redistribution with `A^ent = A (1 + beta_a h^)` and the neutral
//!   zone `N = (1 - eps_low'/2, 1 + eps_high'/2)` on the current ratio `r`: high-entropy tokens
//!   take `A` inside `N` and `A^ent` outside, low-entropy tokens `A^ent` inside and `A` outside.
//!
//! With `alpha_c = beta_a = 0` both are the identity (`x * 1.0` and `x * (1 + 0.0)` are exact),
//! so the loss is the constant-clip loss bit for bit.
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::ClipBounds;
use crate::error::{check_range, MethodError};
use std::sync::Arc;

use super::{TokenRegion, TokenTrustRegion};
use crate::parts::{load_state, resolve, save_state, Needs, Part, PartEntry, PartKind, Settings};
use crate::plan::StepFeedback;

/// `method.objective.hapo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HapoConfig {
    /// Quantile level of the normalization pivot `m`.
    pub entropy_pivot: f64,
    /// `alpha_c` of the adaptive clip range.
    pub clip_alpha: f64,
    /// `beta_a` of the advantage redistribution.
    pub adv_beta: f64,
    /// `tau` of adaptive temperature sampling, `T_t = T_0 (1 + tau clip(h^_t, -1, 1))`;
    /// 0 samples at the plain rollout temperature. A rollout knob kept here because it shares
    /// the normalization (and its pivot); it acts whatever the trust region (HAPO sets 0.05).
    pub temperature_tau: f64,
}

impl Default for HapoConfig {
    fn default() -> Self {
        Self {
            entropy_pivot: 0.8,
            clip_alpha: 1.0,
            adv_beta: 1.0,
            temperature_tau: 0.0,
        }
    }
}

impl Settings for HapoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.objective.hapo.entropy_pivot",
            self.entropy_pivot,
            (0.0..=1.0).contains(&self.entropy_pivot),
            "in [0, 1]",
        )?;
        check_range(
            "method.objective.hapo.clip_alpha",
            self.clip_alpha,
            (0.0..=1.0).contains(&self.clip_alpha),
            "in [0, 1] (eps' stays within [eps, 2 eps])",
        )?;
        check_range(
            "method.objective.hapo.adv_beta",
            self.adv_beta,
            (0.0..=1.0).contains(&self.adv_beta),
            "in [0, 1] (A^ent keeps the sign of A)",
        )?;
        check_range(
            "method.objective.hapo.temperature_tau",
            self.temperature_tau,
            (0.0..1.0).contains(&self.temperature_tau),
            "in [0, 1) (the temperature stays positive)",
        )
    }
}

/// The normalization's statistics of one batch: what the sampler carries to the next step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EntropyStats {
    /// Pivot `m` of the log-entropies.
    pub pivot: f64,
    /// Spread `s = sqrt(mean((h - m)^2))` (1 when 0).
    pub spread: f64,
    /// `max z` over `z > 0` (1 when none).
    pub scale_pos: f64,
    /// `|min z|` over `z < 0` (1 when none).
    pub scale_neg: f64,
}

/// `log(max(H, 1e-8))`.
pub fn log_entropy(entropy: f64) -> f64 {
    entropy.max(1e-8).ln()
}

/// Quantile with torch's "nearest" interpolation (rank rounded half to even).
pub fn quantile_nearest(values: &[f64], level: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    let rank = (level * (v.len() - 1) as f64).round_ties_even() as usize;
    v[rank.min(v.len() - 1)]
}

/// Statistics of raw token entropies `H` (not logs).
pub fn entropy_stats(entropies: &[f64], pivot_level: f64) -> EntropyStats {
    let h: Vec<f64> = entropies.iter().map(|&e| log_entropy(e)).collect();
    let pivot = quantile_nearest(&h, pivot_level);
    let n = h.len().max(1) as f64;
    let spread = (h.iter().map(|x| (x - pivot) * (x - pivot)).sum::<f64>() / n).sqrt();
    let spread = if spread > 0.0 { spread } else { 1.0 };
    let z = h.iter().map(|x| (x - pivot) / spread);
    let max_pos = z.clone().fold(0.0f64, f64::max);
    let min_neg = z.fold(0.0f64, f64::min);
    EntropyStats {
        pivot,
        spread,
        scale_pos: if max_pos > 0.0 { max_pos } else { 1.0 },
        scale_neg: if min_neg < 0.0 { -min_neg } else { 1.0 },
    }
}

impl EntropyStats {
    /// `h^` of one raw entropy, clipped to `[-1, 1]` (values from another batch can fall
    /// outside the range these statistics were taken on).
    pub fn normalize(&self, entropy: f64) -> f64 {
        let z = (log_entropy(entropy) - self.pivot) / self.spread;
        let scaled = if z > 0.0 {
            z / self.scale_pos
        } else {
            z / self.scale_neg
        };
        scaled.clamp(-1.0, 1.0)
    }

    /// [`Self::normalize`] on a tensor of raw entropies (any shape, detached).
    pub fn normalize_tensor(&self, entropy: &Tensor) -> Tensor {
        let z = (entropy.detach().clamp_min(1e-8).log() - self.pivot) / self.spread;
        let pos = &z / self.scale_pos;
        let neg = &z / self.scale_neg;
        pos.where_self(&z.gt(0.0), &neg).clamp(-1.0, 1.0)
    }
}

/// Masked entries of `values: [B, T]` as host numbers.
fn masked_values(values: &Tensor, mask: &Tensor) -> Vec<f64> {
    let keep = mask.gt(0.0);
    Vec::<f64>::try_from(values.detach().masked_select(&keep).to_kind(Kind::Double))
        .unwrap_or_default()
}

/// Per-token clip bounds and redistributed advantages of one minibatch.
pub struct HapoTerms {
    pub bounds: ClipBounds,
    pub advantages: Tensor,
    /// `h^`, `[B, T]`.
    pub normalized_entropy: Tensor,
    /// Where the advantage is `A^ent` rather than `A`, `[B, T]` bool.
    pub uses_entropic: Tensor,
}

/// `h^` over the valid tokens of `entropy: [B, T]` (statistics of this batch).
pub fn normalized_entropy(entropy: &Tensor, mask: &Tensor, pivot_level: f64) -> Tensor {
    let stats = entropy_stats(&masked_values(entropy, mask), pivot_level);
    stats.normalize_tensor(entropy)
}

/// Adaptive clip bounds and redistributed advantages from `h^`, the current ratio and `A`.
pub fn hapo_terms(
    ratio: &Tensor,
    advantages: &Tensor,
    normalized: &Tensor,
    clip_low: f64,
    clip_high: f64,
    config: &HapoConfig,
) -> HapoTerms {
    // Bounds in f64 like the constant ones (`ClipBounds::constant`), so that zero knobs give
    // the constant-clip loss bit for bit.
    let h = normalized.to_kind(Kind::Double);
    let high_entropy = h.gt(0.0);
    let zero = h.zeros_like();
    let low_gain = (-(h.where_self(&high_entropy.logical_not(), &zero)) * config.clip_alpha) + 1.0;
    let high_gain = (h.where_self(&high_entropy, &zero) * config.clip_alpha) + 1.0;
    let eps_low = low_gain * clip_low;
    let eps_high = high_gain * clip_high;
    let r = ratio.detach();
    let in_zone = r
        .gt_tensor(&(-(&eps_low / 2.0) + 1.0))
        .logical_and(&r.lt_tensor(&((&eps_high / 2.0) + 1.0)));
    let entropic = advantages * ((&h * config.adv_beta) + 1.0).to_kind(advantages.kind());
    // High entropy: A^ent once the token left N; low entropy: A^ent while it is inside N.
    let use_entropic = high_entropy.logical_xor(&in_zone);
    let redistributed = entropic.where_self(&use_entropic, advantages);
    HapoTerms {
        bounds: ClipBounds {
            low: eps_low,
            high: eps_high,
        },
        advantages: redistributed.detach(),
        normalized_entropy: h,
        uses_entropic: use_entropic,
    }
}

/// The tensor rule: per-token bounds and advantages from this forward's entropy.
struct EntropyAdaptive(HapoConfig);

impl TokenTrustRegion for EntropyAdaptive {
    fn region(
        &self,
        ratio: &Tensor,
        advantages: &Tensor,
        entropy: &Tensor,
        mask: &Tensor,
        clip: (f64, f64),
    ) -> TokenRegion {
        let h = normalized_entropy(entropy, mask, self.0.entropy_pivot);
        let t = hapo_terms(ratio, advantages, &h, clip.0, clip.1, &self.0);
        let logged = vec![
            ("hapo/eps_low_mean", t.bounds.low.shallow_clone()),
            ("hapo/eps_high_mean", t.bounds.high.shallow_clone()),
            ("hapo/high_entropy_frac", t.normalized_entropy.gt(0.0)),
            ("hapo/entropic_adv_frac", t.uses_entropic.shallow_clone()),
        ];
        TokenRegion {
            bounds: t.bounds,
            advantages: t.advantages,
            logged,
        }
    }
}

/// The part: the loss's per-token trust region, and the sampler's per-token temperature from
/// the last update's entropy statistics (state, checkpointed).
struct Hapo {
    config: HapoConfig,
    stats: Option<EntropyStats>,
}

impl Part for Hapo {
    fn needs(&self) -> Needs {
        Needs {
            token_entropies: self.config.temperature_tau > 0.0,
            ..Needs::default()
        }
    }

    fn sampling_entropy_stats(&self) -> Option<(f64, EntropyStats)> {
        let tau = self.config.temperature_tau;
        (tau > 0.0).then_some(())?;
        self.stats.map(|s| (tau, s))
    }

    fn observe_step(&mut self, feedback: &StepFeedback) {
        if !self.needs().token_entropies || feedback.token_entropies.is_empty() {
            return;
        }
        let stats = entropy_stats(&feedback.token_entropies, self.config.entropy_pivot);
        let finite = [stats.pivot, stats.spread, stats.scale_pos, stats.scale_neg]
            .iter()
            .all(|v| v.is_finite());
        if finite {
            self.stats = Some(stats);
        }
    }

    fn token_trust_region(&self) -> Option<Arc<dyn TokenTrustRegion>> {
        Some(Arc::new(EntropyAdaptive(self.config.clone())))
    }

    fn state(&self) -> serde_json::Value {
        save_state(&self.stats)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), MethodError> {
        self.stats = load_state("entropy_adaptive", state)?;
        Ok(())
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "entropy_adaptive",
    kind: PartKind::TrustRegion,
    table: "hapo",
    description:
        "HAPO: per-token clip and advantage redistribution from normalized entropy, adaptive sampling temperature",
    spec: "hapo.md",
    reconstructed: false,
    build: |input| {
        Ok(Box::new(Hapo {
            config: input.parse()?,
            stats: None,
        }))
    },
    resolve: resolve::<HapoConfig>,
};
