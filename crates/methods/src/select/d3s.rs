//! D3S, Dynamic Dual-Level Down-Sampling (arXiv 2509.22115; spec d3s.md, confidence medium).
//! Partly reconstructed: the selection rules are the paper's (read from a detailed summary);
//! the schedule's endpoints are the spec's recommendation, the paper's values were not found.
//!
//! After full-group advantages are computed:
//! - sample level, across groups: keep `N` responses that maximize the variance of the kept
//!   advantages, i.e. the `ceil(N/2)` largest positive and the `N/2` most negative advantages
//!   (raw group-normalized values, not re-normalized), filling from the other side when one
//!   side runs short; zero advantages are taken last.
//! - token level: among kept responses, keep the top `K` fraction of tokens by
//!   `|A_{i,t}| H_{i,t}`, with `H` the old policy's full-vocabulary entropy (detached).
//! - schedule: `[N, K](p) = (1 - p) [N_init, K_init] + p [N_final, K_final]` over training
//!   progress `p`, aggressive early and relaxed later (without it the paper sees overfitting).
//!
//! The loss is the base surrogate over kept tokens, normalized by their count (token-mean).
use serde::{Deserialize, Serialize};

use crate::error::{check_range, MethodError};
use crate::parts::PlanStep;
use crate::parts::{resolve, token_advantage, Needs, Part, PartEntry, PartKind, Settings};

/// `method.select.d3s`: fractions of the batch's responses (N) and of the kept responses'
/// tokens (K), at the start and at the end of training. All 1 = no down-sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct D3sConfig {
    pub sample_frac_init: f64,
    pub sample_frac_final: f64,
    pub token_frac_init: f64,
    pub token_frac_final: f64,
}

impl Default for D3sConfig {
    fn default() -> Self {
        Self {
            sample_frac_init: 1.0,
            sample_frac_final: 1.0,
            token_frac_init: 1.0,
            token_frac_final: 1.0,
        }
    }
}

impl Settings for D3sConfig {
    fn validate(&self) -> Result<(), MethodError> {
        let fields = [
            ("method.select.d3s.sample_frac_init", self.sample_frac_init),
            (
                "method.select.d3s.sample_frac_final",
                self.sample_frac_final,
            ),
            ("method.select.d3s.token_frac_init", self.token_frac_init),
            ("method.select.d3s.token_frac_final", self.token_frac_final),
        ];
        for (key, v) in fields {
            check_range(key, v, v > 0.0 && v <= 1.0, "in (0, 1]")?;
        }
        Ok(())
    }
}

impl D3sConfig {
    /// `(N fraction, K fraction)` at training progress `p` in `[0, 1]`.
    pub fn schedule(&self, progress: f64) -> (f64, f64) {
        let p = progress.clamp(0.0, 1.0);
        (
            (1.0 - p) * self.sample_frac_init + p * self.sample_frac_final,
            (1.0 - p) * self.token_frac_init + p * self.token_frac_final,
        )
    }

    /// Whether token selection can ever be active (then the loop must supply entropies).
    pub fn selects_tokens(&self) -> bool {
        self.token_frac_init < 1.0 || self.token_frac_final < 1.0
    }
}

/// Indices (ascending) of the `n` responses whose advantages have maximal variance.
pub fn max_variance_subset(advantages: &[f64], n: usize) -> Vec<usize> {
    let n = n.min(advantages.len());
    let mut pos: Vec<usize> = (0..advantages.len())
        .filter(|&i| advantages[i] > 0.0)
        .collect();
    let mut neg: Vec<usize> = (0..advantages.len())
        .filter(|&i| advantages[i] < 0.0)
        .collect();
    let zero: Vec<usize> = (0..advantages.len())
        .filter(|&i| advantages[i] == 0.0)
        .collect();
    // Stable sorts: ties keep batch order, so the selection is deterministic.
    pos.sort_by(|&a, &b| advantages[b].total_cmp(&advantages[a]));
    neg.sort_by(|&a, &b| advantages[a].total_cmp(&advantages[b]));
    let want_pos = n.div_ceil(2).min(pos.len());
    let want_neg = (n - want_pos).min(neg.len());
    let want_pos = (n - want_neg).min(pos.len());
    let mut chosen: Vec<usize> = pos[..want_pos]
        .iter()
        .chain(&neg[..want_neg])
        .copied()
        .collect();
    chosen.extend(zero.iter().take(n - chosen.len()));
    chosen.sort_unstable();
    chosen
}

/// Token keep-mask `[B][len_i]` (1.0 kept): among tokens of `kept` responses, the top
/// `ceil(k_frac * count)` by `|A_{i,t}| H_{i,t}`; every token of other responses is dropped.
/// `token_advantage(i, t)` gives the advantage, `entropy[i][t]` the old policy's entropy.
pub fn top_tokens_mask(
    kept: &[usize],
    response_lens: &[usize],
    token_advantage: impl Fn(usize, usize) -> f64,
    entropy: Option<&[Vec<f64>]>,
    k_frac: f64,
) -> Vec<Vec<f64>> {
    let mut mask: Vec<Vec<f64>> = response_lens.iter().map(|&l| vec![0.0; l]).collect();
    let mut keys: Vec<(usize, usize, f64)> = Vec::new();
    for &i in kept {
        for t in 0..response_lens[i] {
            let h = entropy
                .and_then(|e| e.get(i)?.get(t).copied())
                .unwrap_or(1.0);
            keys.push((i, t, token_advantage(i, t).abs() * h));
        }
    }
    let take = if k_frac >= 1.0 {
        keys.len()
    } else {
        (k_frac * keys.len() as f64).ceil() as usize
    };
    keys.sort_by(|a, b| b.2.total_cmp(&a.2));
    for &(i, t, _) in keys.iter().take(take) {
        mask[i][t] = 1.0;
    }
    mask
}

/// The part: this step's sample subset and token keep-mask on the schedule.
struct D3s(D3sConfig);

impl Part for D3s {
    fn needs(&self) -> Needs {
        Needs {
            old_entropy: self.0.selects_tokens(),
            ..Needs::default()
        }
    }

    fn apply(&self, step: PlanStep) -> Result<(), MethodError> {
        let PlanStep { plan, batch, ctx } = step;
        let (n_frac, k_frac) = self.0.schedule(ctx.progress);
        let n = ((n_frac * batch.len() as f64).ceil() as usize).clamp(1, batch.len().max(1));
        let kept = max_variance_subset(&plan.advantages.per_sequence(), n);
        let entropy = if k_frac < 1.0 { ctx.old_entropy } else { None };
        if k_frac < 1.0 && entropy.is_none() {
            return Err(MethodError::Shape {
                part: "d3s",
                detail: "token selection needs the old policy's entropy".into(),
            });
        }
        let advantages = &plan.advantages;
        let mask = top_tokens_mask(
            &kept,
            batch.response_lens,
            |i, t| token_advantage(advantages, i, t),
            entropy,
            k_frac,
        );
        let total: usize = batch.response_lens.iter().sum();
        let kept_tokens: f64 = mask.iter().flatten().sum();
        plan.metrics.insert(
            "d3s/sample_frac",
            kept.len() as f64 / batch.len().max(1) as f64,
        );
        plan.metrics
            .insert("d3s/token_frac", kept_tokens / total.max(1) as f64);
        plan.token_keep = Some(mask);
        Ok(())
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "d3s",
    kind: PartKind::Selector,
    table: "d3s",
    description:
        "D3S: max-variance samples and top |A| H tokens on a shrinking-to-relaxed schedule",
    spec: "d3s.md",
    reconstructed: true,
    build: |input| Ok(Box::new(D3s(input.parse()?))),
    resolve: resolve::<D3sConfig>,
};
