//! ASPO, Advantage Shaping Policy Optimization ("Understanding Tool-Integrated Reasoning",
//! Lin & Xu, arXiv 2508.19201; spec aspo.md, confidence high).
//!
//! A bounded bias added to any estimator's advantages, so that among correct tool-using
//! responses the ones that call the tool earlier are preferred without ever letting the bias
//! outweigh correctness. Per group, the eligible set E holds the responses that are correct and
//! made at least one tool call; with `p_i` the token position of the first call and `L_i` the
//! response length in tokens (both over E only):
//!
//! `A_i <- A_i + clip(delta (p_i - mean p) / mean L, -k |A_i|, k |A_i|)` for `i` in E.
//!
//! The bounds use `|A_i|` (the spec's recommendation: with non-binary rewards a correct response
//! may have `A_i <= 0`, which would invert the interval). A group with one eligible response
//! gets no bias (`p_i = mean p`); `k = 0` leaves the advantages exactly unchanged. Stateless.
use serde::{Deserialize, Serialize};

use super::{Advantages, CreditBatch, ResponseInfo};
use crate::error::{check_range, MethodError};
use crate::parts::PlanStep;
use crate::parts::{resolve, Needs, Part, PartEntry, PartKind, Settings};

/// `method.credit.aspo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AspoConfig {
    /// Bias per unit of `(p_i - mean p) / mean L`; negative favours earlier calls (paper: -2.0
    /// conservative, -2.5 aggressive).
    pub delta: f64,
    /// The bias is clipped to `k |A_i|` (paper: 0.7 conservative, 0.9 aggressive).
    pub k: f64,
}

impl Default for AspoConfig {
    fn default() -> Self {
        Self {
            delta: -2.0,
            k: 0.7,
        }
    }
}

impl Settings for AspoConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.aspo.delta",
            self.delta,
            self.delta.abs() <= 100.0,
            "in [-100, 100]",
        )?;
        check_range(
            "method.credit.aspo.k",
            self.k,
            (0.0..=1.0).contains(&self.k),
            "in [0, 1] (k < 1 keeps the sign of A)",
        )
    }
}

/// The bias of every response (0 outside the eligible sets) given one advantage per response.
pub fn aspo_bias(
    advantages: &[f64],
    batch: &CreditBatch,
    info: &[ResponseInfo],
    config: &AspoConfig,
) -> Result<Vec<f64>, MethodError> {
    let n = batch.len();
    if info.len() != n || advantages.len() != n || batch.response_lens.len() != n {
        return Err(MethodError::Shape {
            part: "aspo",
            detail: format!(
                "rewards {n}, response info {}, advantages {}, response_lens {}",
                info.len(),
                advantages.len(),
                batch.response_lens.len()
            ),
        });
    }
    let mut bias = vec![0.0; n];
    for members in batch.groups() {
        let eligible: Vec<(usize, f64)> = members
            .iter()
            .filter(|&&i| info[i].correct)
            .filter_map(|&i| info[i].first_tool_call.map(|p| (i, p as f64)))
            .collect();
        if eligible.len() < 2 {
            continue;
        }
        let m = eligible.len() as f64;
        let mean_p = eligible.iter().map(|&(_, p)| p).sum::<f64>() / m;
        let mean_l = eligible
            .iter()
            .map(|&(i, _)| batch.response_lens[i] as f64)
            .sum::<f64>()
            / m;
        if mean_l <= 0.0 {
            continue;
        }
        for &(i, p) in &eligible {
            let bound = config.k * advantages[i].abs();
            bias[i] = (config.delta * (p - mean_p) / mean_l).clamp(-bound, bound);
        }
    }
    Ok(bias)
}

/// Adds a per-response bias to sequence advantages, or to every token of token advantages.
pub fn add_bias(advantages: &mut Advantages, bias: &[f64]) {
    match advantages {
        Advantages::Sequence(a) => a.iter_mut().zip(bias).for_each(|(a, b)| *a += b),
        Advantages::Token(rows) => rows
            .iter_mut()
            .zip(bias)
            .for_each(|(row, b)| row.iter_mut().for_each(|a| *a += b)),
    }
}

/// The part: the bias on correct tool-using responses, from the rollout's per-response data.
struct Aspo(AspoConfig);

impl Part for Aspo {
    fn needs(&self) -> Needs {
        Needs {
            responses: true,
            ..Needs::default()
        }
    }

    fn apply(&self, step: PlanStep) -> Result<(), MethodError> {
        let PlanStep { plan, batch, ctx } = step;
        let info = ctx.responses.ok_or_else(|| MethodError::Shape {
            part: "aspo",
            detail: "needs per-response correctness and tool-call positions \
                     (StepContext::responses), which this loop did not provide"
                .into(),
        })?;
        let bias = aspo_bias(&plan.advantages.per_sequence(), batch, info, &self.0)?;
        let eligible = info
            .iter()
            .filter(|r| r.correct && r.first_tool_call.is_some())
            .count();
        let n = batch.len().max(1) as f64;
        plan.metrics
            .insert("aspo/eligible_frac", eligible as f64 / n);
        plan.metrics.insert(
            "aspo/bias_abs_mean",
            bias.iter().map(|b| b.abs()).sum::<f64>() / eligible.max(1) as f64,
        );
        add_bias(&mut plan.advantages, &bias);
        Ok(())
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "aspo",
    kind: PartKind::Shaping,
    table: "aspo",
    description: "ASPO: bounded bias towards earlier first tool calls among correct responses",
    spec: "aspo.md",
    reconstructed: false,
    build: |input| Ok(Box::new(Aspo(input.parse()?))),
    resolve: resolve::<AspoConfig>,
};
