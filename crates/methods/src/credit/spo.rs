//! SPO, Segment Policy Optimization (Guo et al. 2025, arXiv 2505.23564; spec spo-segment.md):
//! credit per segment of a response, from Monte-Carlo values at the segment boundaries.
//!
//! - SPO-chain: cutpoints sit just before low-probability tokens (`pi_old(o_t) < rho`), every
//!   `interval`-th candidate, plus `-1` (the prompt state); `V(c)` is the mean reward of fresh
//!   completions from `prompt + o[..=c]`, `V(end) = R(o)`, and every token of the segment
//!   `(c_{k-1}, c_k]` gets `A = V(c_k) - V(c_{k-1})`.
//! - SPO-tree: each edge of a sampling tree is a segment; `A = V(child) - V(parent)` (`rloo`),
//!   or that divided by the std of the parent's children (`grpo`); zero edges are dropped.
//! - Both: tokens with `pi_old(o_t) >= rho` are masked out of the loss, and advantages are
//!   whitened with the mean and unbiased variance of the masked-in tokens only.
//!
//! The values need extra sampling, so the training loop computes them in its segment rollout
//! (`method.rollout.kind`) and calls the functions here on plain numbers; the registered
//! estimator `spo` only marks the choice and refuses to run without that rollout.
use serde::{Deserialize, Serialize};

use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::{check_range, MethodError};
use crate::parts::Settings;

/// Edge advantage of SPO-tree (`method.credit.spo.tree_advantage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeAdvantage {
    /// `V(child) - V(parent)` (the code's default).
    #[default]
    Rloo,
    /// `(V(child) - V(parent)) / (std of the parent's children + 1e-8)` (`adv_grpo`).
    Grpo,
}

/// SPO knobs (`method.credit.spo.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoConfig {
    /// rho: tokens below it are cutpoint candidates and the only ones trained.
    pub prob_threshold: f64,
    /// Keep every `interval`-th cutpoint candidate (chain).
    pub interval: usize,
    /// M: completions per cutpoint for its Monte-Carlo value (chain).
    pub mc_rollouts: usize,
    /// Prompts per step of the segment rollouts; 0 = `rl.prompts_per_step`.
    pub prompts_per_step: usize,
    /// Children per node at each depth (tree); the length is the depth D.
    pub tree_branching: Vec<usize>,
    /// Tokens each non-final tree level generates; the last level runs to the budget.
    pub tree_segment_len: usize,
    pub tree_advantage: TreeAdvantage,
    /// Whiten advantages over the batch's masked-in tokens.
    pub whiten: bool,
    /// eps of the whitening, `(A - mean) / sqrt(var + eps)`.
    pub whiten_eps: f64,
}

impl Default for SpoConfig {
    fn default() -> Self {
        Self {
            prob_threshold: 0.9,
            interval: 1,
            mc_rollouts: 4,
            prompts_per_step: 0,
            tree_branching: vec![4, 2, 2],
            tree_segment_len: 2,
            tree_advantage: TreeAdvantage::Rloo,
            whiten: true,
            whiten_eps: 1e-8,
        }
    }
}

impl Settings for SpoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.spo.prob_threshold",
            self.prob_threshold,
            self.prob_threshold > 0.0 && self.prob_threshold <= 1.0,
            "in (0, 1]",
        )?;
        check_range(
            "method.credit.spo.interval",
            self.interval as f64,
            self.interval >= 1,
            ">= 1",
        )?;
        check_range(
            "method.credit.spo.mc_rollouts",
            self.mc_rollouts as f64,
            (1..=64).contains(&self.mc_rollouts),
            "1..=64",
        )?;
        let leaves: usize = self.tree_branching.iter().product();
        check_range(
            "method.credit.spo.tree_branching",
            self.tree_branching.len() as f64,
            (1..=4).contains(&self.tree_branching.len())
                && self.tree_branching.iter().all(|&b| b >= 1)
                && leaves <= 1024,
            "1 to 4 factors, each >= 1, product <= 1024",
        )?;
        check_range(
            "method.credit.spo.tree_segment_len",
            self.tree_segment_len as f64,
            self.tree_segment_len >= 1,
            ">= 1 token",
        )?;
        check_range(
            "method.credit.spo.whiten_eps",
            self.whiten_eps,
            self.whiten_eps > 0.0 && self.whiten_eps < 1.0,
            "in (0, 1)",
        )
    }
}

/// Chain cutpoints of one response from its old-policy token probabilities `[len]`: the
/// candidates `t - 1` for `p_t < rho`, every `interval`-th kept (the first always), with `-1`
/// in front; sorted and distinct (a low-probability first token gives `-1` itself).
pub fn chain_cutpoints(probs: &[f64], rho: f64, interval: usize) -> Vec<isize> {
    let candidates = probs
        .iter()
        .enumerate()
        .filter(|(_, &p)| p < rho)
        .map(|(t, _)| t as isize - 1)
        .step_by(interval.max(1));
    let mut cuts = vec![-1];
    cuts.extend(candidates.filter(|&c| c >= 0));
    cuts
}

/// Token advantages of one response of `len` tokens: `values[k]` is `V(cutpoints[k])`, the
/// response's reward is `V(end)`; each token in `(c_{k-1}, c_k]` gets `V(c_k) - V(c_{k-1})`.
pub fn chain_token_advantages(
    len: usize,
    cutpoints: &[isize],
    values: &[f64],
    reward: f64,
) -> Result<Vec<f64>, MethodError> {
    let shape = |detail: String| MethodError::Shape {
        part: "spo_chain",
        detail,
    };
    if cutpoints.len() != values.len() || cutpoints.first() != Some(&-1) {
        return Err(shape(format!(
            "{} cutpoints (first {:?}, must be -1), {} values",
            cutpoints.len(),
            cutpoints.first(),
            values.len()
        )));
    }
    if cutpoints.windows(2).any(|w| w[0] >= w[1]) || cutpoints.last() >= Some(&(len as isize - 1)) {
        return Err(shape(format!(
            "cutpoints {cutpoints:?} must increase and end before the last of {len} tokens"
        )));
    }
    let mut adv = vec![0.0; len];
    let mut ends: Vec<(isize, f64)> = cutpoints
        .iter()
        .copied()
        .zip(values.iter().copied())
        .collect();
    ends.push((len as isize - 1, reward));
    for pair in ends.windows(2) {
        let ((start, v_start), (end, v_end)) = (pair[0], pair[1]);
        for slot in &mut adv[(start + 1) as usize..=end as usize] {
            *slot = v_end - v_start;
        }
    }
    Ok(adv)
}

/// 1.0 on tokens whose old-policy probability is below `rho` (the only ones trained), else 0.
pub fn probability_keep(probs: &[f64], rho: f64) -> Vec<f64> {
    probs
        .iter()
        .map(|&p| if p < rho { 1.0 } else { 0.0 })
        .collect()
}

/// Zeroes the advantages of masked-out tokens, then whitens every token with the mean and
/// unbiased variance of the masked-in ones: `(A - mean) / sqrt(var + eps)`. With fewer than
/// two masked-in tokens the variance is taken as 0.
pub fn whiten_masked(advantages: &mut [Vec<f64>], keep: &[Vec<f64>], eps: f64) {
    for (row, k) in advantages.iter_mut().zip(keep) {
        for (a, &k) in row.iter_mut().zip(k) {
            *a *= k;
        }
    }
    let kept = || {
        advantages
            .iter()
            .zip(keep)
            .flat_map(|(row, k)| row.iter().zip(k).filter(|(_, &k)| k > 0.0).map(|(&a, _)| a))
    };
    let n = kept().count();
    if n == 0 {
        return;
    }
    let mean = kept().sum::<f64>() / n as f64;
    let var = if n < 2 {
        0.0
    } else {
        kept().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1) as f64
    };
    let scale = (var + eps).sqrt();
    for a in advantages.iter_mut().flatten() {
        *a = (*a - mean) / scale;
    }
}

/// Advantages of the edges from a parent to its children. `None` marks an edge whose advantage
/// is zero: SPO-tree drops it. The `grpo` std is the population std of the children's values.
pub fn edge_advantages(parent: f64, children: &[f64], mode: TreeAdvantage) -> Vec<Option<f64>> {
    let scale = match mode {
        TreeAdvantage::Rloo => 1.0,
        TreeAdvantage::Grpo => {
            let n = children.len().max(1) as f64;
            let mean = children.iter().sum::<f64>() / n;
            let var = children
                .iter()
                .map(|v| (v - mean) * (v - mean))
                .sum::<f64>()
                / n;
            var.sqrt() + 1e-8
        }
    };
    children
        .iter()
        // Values are means of rewards; equal ones can differ by rounding in the last bit.
        .map(|&v| Some((v - parent) / scale).filter(|a| a.abs() > 1e-12))
        .collect()
}

/// The registered name for SPO's credit. The values it needs come from the segment rollout,
/// so estimating from a plain scored batch is an error that says how to configure it.
pub struct SegmentCredit;

impl AdvantageEstimator for SegmentCredit {
    fn name(&self) -> &'static str {
        "spo"
    }
    fn estimate(&self, _batch: &CreditBatch) -> Result<Advantages, MethodError> {
        Err(MethodError::OutOfRange {
            field: "method.rollout.kind",
            value: "group".into(),
            expected: "spo_chain or spo_tree: the spo estimator's values come from that rollout",
        })
    }
}
