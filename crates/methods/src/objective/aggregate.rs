//! Loss aggregation: the one place that owns the four modes (grpo-family.md, "Loss
//! aggregation"), because silent differences between libraries come from here.
use super::accumulation_kind;
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// `sum(l M) / sum(M)` over the mini-batch (DAPO, verl default).
    TokenMean,
    /// `(1/G) sum_i (1/|o_i|) sum_t l` (original GRPO).
    SeqMeanTokenMean,
    /// `(1/G) sum_i sum_t l` (BNPO run script).
    SeqMeanTokenSum,
    /// `(1/G) sum_i sum_t l / L_max` with a constant `L_max` (Dr. GRPO).
    SeqMeanTokenSumNorm,
}

impl Aggregation {
    pub const ALL: [Aggregation; 4] = [
        Aggregation::TokenMean,
        Aggregation::SeqMeanTokenMean,
        Aggregation::SeqMeanTokenSum,
        Aggregation::SeqMeanTokenSumNorm,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::TokenMean => "token-mean",
            Aggregation::SeqMeanTokenMean => "seq-mean-token-mean",
            Aggregation::SeqMeanTokenSum => "seq-mean-token-sum",
            Aggregation::SeqMeanTokenSumNorm => "seq-mean-token-sum-norm",
        }
    }
}

/// Normalizers of the whole mini-batch. When a mini-batch is split into micro-batches for
/// memory, each micro-batch divides by the mini-batch totals so that the summed gradients are
/// exactly those of the whole mini-batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossScale {
    pub total_tokens: f64,
    pub total_sequences: f64,
    /// `L_max` of [`Aggregation::SeqMeanTokenSumNorm`].
    pub max_len: f64,
}

impl LossScale {
    /// Totals of one tensor batch that is the whole mini-batch.
    pub fn of_mask(mask: &Tensor, max_len: f64) -> Self {
        let total_tokens = mask.sum(accumulation_kind(mask)).double_value(&[]);
        let total_sequences = mask.size().first().copied().unwrap_or(0) as f64;
        Self {
            total_tokens,
            total_sequences,
            max_len,
        }
    }
}

/// Aggregates a `[B, T]` per-token loss under `mask` into a scalar.
pub fn aggregate(
    per_token: &Tensor,
    mask: &Tensor,
    mode: Aggregation,
    scale: &LossScale,
) -> Tensor {
    let masked = per_token * mask;
    let seqs = scale.total_sequences.max(1.0);
    match mode {
        Aggregation::TokenMean => masked.sum(accumulation_kind(mask)) / scale.total_tokens.max(1.0),
        Aggregation::SeqMeanTokenMean => {
            let lens = mask
                .sum_dim_intlist(&[-1i64][..], false, accumulation_kind(mask))
                .clamp_min(1.0);
            (masked.sum_dim_intlist(&[-1i64][..], false, accumulation_kind(mask)) / lens)
                .sum(accumulation_kind(mask))
                / seqs
        }
        Aggregation::SeqMeanTokenSum => masked.sum(accumulation_kind(mask)) / seqs,
        Aggregation::SeqMeanTokenSumNorm => {
            masked.sum(accumulation_kind(mask)) / (seqs * scale.max_len.max(1.0))
        }
    }
}
