//! Advantage clipping: every advantage (per response or per token) clipped to
//! `[-max_abs, max_abs]` after the estimator, so that one outlier group cannot dominate a step.
//! A small part of the reweight kind, and the worked example of adding a part in
//! docs/architecture.md: this file and one line in `parts::PARTS`.
use serde::{Deserialize, Serialize};

use super::Advantages;
use crate::error::{check_range, MethodError};
use crate::parts::PlanStep;
use crate::parts::{resolve, Part, PartEntry, PartKind, Settings};

/// `method.credit.clip_advantage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClipAdvantageConfig {
    /// The bound `c` of `clip(A, -c, c)`.
    pub max_abs: f64,
}

impl Default for ClipAdvantageConfig {
    fn default() -> Self {
        Self { max_abs: 3.0 }
    }
}

impl Settings for ClipAdvantageConfig {
    fn validate(&self) -> Result<(), MethodError> {
        check_range(
            "method.credit.clip_advantage.max_abs",
            self.max_abs,
            self.max_abs > 0.0,
            "> 0",
        )
    }
}

/// Clips `advantages` in place; returns how many values were clipped and how many there are.
pub fn clip_advantages(advantages: &mut Advantages, max_abs: f64) -> (usize, usize) {
    let values: Vec<&mut f64> = match advantages {
        Advantages::Sequence(a) => a.iter_mut().collect(),
        Advantages::Token(rows) => rows.iter_mut().flatten().collect(),
    };
    let total = values.len();
    let mut clipped = 0;
    for v in values {
        if v.abs() > max_abs {
            *v = v.clamp(-max_abs, max_abs);
            clipped += 1;
        }
    }
    (clipped, total)
}

struct ClipAdvantage(ClipAdvantageConfig);

impl Part for ClipAdvantage {
    fn apply(&self, step: PlanStep) -> Result<(), MethodError> {
        let PlanStep { plan, .. } = step;
        let (clipped, total) = clip_advantages(&mut plan.advantages, self.0.max_abs);
        plan.metrics.insert(
            "clip_advantage/clipped_frac",
            clipped as f64 / total.max(1) as f64,
        );
        Ok(())
    }
}

pub const ENTRY: PartEntry = PartEntry {
    name: "clip_advantage",
    kind: PartKind::Reweight,
    table: "clip_advantage",
    description: "clips every advantage to [-max_abs, max_abs] (the worked example of a part)",
    spec: "none: docs/architecture.md, \"Adding a part\"",
    reconstructed: false,
    build: |input| Ok(Box::new(ClipAdvantage(input.parse()?))),
    resolve: resolve::<ClipAdvantageConfig>,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_beyond_the_bound_are_clipped_and_the_rest_kept_bit_for_bit() {
        let mut a = Advantages::Sequence(vec![-5.0, -0.3, 0.0, 2.999, 7.5]);
        assert_eq!(clip_advantages(&mut a, 3.0), (2, 5));
        assert_eq!(a, Advantages::Sequence(vec![-3.0, -0.3, 0.0, 2.999, 3.0]));
        let mut t = Advantages::Token(vec![vec![4.0, -1.0], vec![-4.0]]);
        assert_eq!(clip_advantages(&mut t, 1.5), (2, 3));
        assert_eq!(t, Advantages::Token(vec![vec![1.5, -1.0], vec![-1.5]]));
    }
}
