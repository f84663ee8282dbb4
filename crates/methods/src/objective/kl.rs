//! KL estimators between the policy and a frozen reference, per token (Schulman's k1, k2, k3;
//! grpo-family.md "KL regularizer"), and their straight-through variants from verl.
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimator {
    /// `logp - logp_ref`.
    K1,
    /// `0.5 (logp - logp_ref)^2`.
    K2,
    /// `exp(d) - d - 1` with `d = logp_ref - logp`, clamped to [-10, 10] as verl does.
    K3,
    /// k1's value with k2's gradient (verl `k1+`): unbiased gradient of KL.
    K1StraightThrough,
    /// k3's value with k2's gradient (verl `low_var_kl+`).
    K3StraightThrough,
}

impl KlEstimator {
    pub const ALL: [KlEstimator; 5] = [
        KlEstimator::K1,
        KlEstimator::K2,
        KlEstimator::K3,
        KlEstimator::K1StraightThrough,
        KlEstimator::K3StraightThrough,
    ];
    pub fn name(self) -> &'static str {
        match self {
            KlEstimator::K1 => "k1",
            KlEstimator::K2 => "k2",
            KlEstimator::K3 => "k3",
            KlEstimator::K1StraightThrough => "k1_straight_through",
            KlEstimator::K3StraightThrough => "k3_straight_through",
        }
    }
}

/// Per-token KL penalty `[B, T]`; gradients flow through `logp` only.
pub fn kl_penalty(logp: &Tensor, ref_logp: &Tensor, estimator: KlEstimator) -> Tensor {
    let k1 = || logp - ref_logp;
    let k2 = || (logp - ref_logp).square() * 0.5;
    let k3 = || {
        let d = ref_logp - logp;
        (d.exp() - &d - 1.0).clamp(-10.0, 10.0)
    };
    let straight_through = |forward: Tensor| {
        let backward = k2();
        &backward - backward.detach() + forward.detach()
    };
    match estimator {
        KlEstimator::K1 => k1(),
        KlEstimator::K2 => k2(),
        KlEstimator::K3 => k3(),
        KlEstimator::K1StraightThrough => straight_through(k1()),
        KlEstimator::K3StraightThrough => straight_through(k3()),
    }
}
