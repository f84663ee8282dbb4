//! `math`: the final answer of a GSM8K / MATH-style completion against the problem's answer,
//! with `polopt_envs::text::math_answer` (the same extraction and equivalence as
//! `math_reward`, checked against math-verify; `docs/rewards/math.md`). A verifier.
//!
//! The gold answer may be a whole GSM8K solution (`... #### 42`) or MATH solution
//! (`... \boxed{42}`): its final answer is extracted first. An empty `answer` falls back to
//! the problem's `solution`; a problem with neither is an error, not a wrong answer.
use polopt_envs::text::{answers_match, extract_answer, Problem};
use serde::{Deserialize, Serialize};

use super::{config_error, resolve, Judgement, Reward, RewardEntry, RewardInput, Settings};
use crate::error::TrainError;
use crate::reward::Completion;

/// Rewards for the three outcomes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MathSettings {
    /// The extracted answer equals the gold one.
    pub correct: f64,
    /// An answer was extracted and differs.
    pub wrong: f64,
    /// No answer could be extracted (no box, `####`, `<answer>` tag or number).
    pub unparsable: f64,
}

impl Default for MathSettings {
    fn default() -> Self {
        Self {
            correct: 1.0,
            wrong: 0.0,
            unparsable: 0.0,
        }
    }
}

impl Settings for MathSettings {
    fn validate(&self, key: &str) -> Result<(), TrainError> {
        for (field, v) in [
            ("correct", self.correct),
            ("wrong", self.wrong),
            ("unparsable", self.unparsable),
        ] {
            if !v.is_finite() {
                return Err(config_error(&format!("{key}.{field}"), "must be finite"));
            }
        }
        Ok(())
    }
}

pub struct MathReward {
    pub settings: MathSettings,
}

/// The reference answer of `problem`: the final answer of a solution-like `answer` (one with
/// `####` or a box), else `answer` itself; `solution` when `answer` is empty.
pub fn gold_answer(problem: &Problem) -> Option<String> {
    let raw = if problem.answer.trim().is_empty() {
        &problem.solution
    } else {
        &problem.answer
    };
    let looks_like_solution = ["####", "\\boxed", "\\fbox"]
        .iter()
        .any(|m| raw.contains(m));
    let gold = if looks_like_solution {
        extract_answer(raw)?
    } else {
        raw.trim().to_string()
    };
    (!gold.is_empty()).then_some(gold)
}

impl Reward for MathReward {
    fn name(&self) -> &str {
        "math"
    }

    fn judge(&self, items: &[Completion<'_>]) -> Result<Vec<Judgement>, TrainError> {
        items
            .iter()
            .map(|c| {
                let gold = gold_answer(c.problem).ok_or_else(|| TrainError::Reward {
                    reward: "math".into(),
                    detail: format!(
                        "problem {:?} has no reference answer (empty `answer` and `solution`)",
                        c.problem.prompt
                    ),
                })?;
                let s = &self.settings;
                Ok(match extract_answer(c.text) {
                    None => Judgement {
                        reward: s.unparsable,
                        correct: Some(false),
                        well_formed: false,
                    },
                    Some(answer) => {
                        let ok = answers_match(&answer, &gold);
                        Judgement {
                            reward: if ok { s.correct } else { s.wrong },
                            correct: Some(ok),
                            well_formed: true,
                        }
                    }
                })
            })
            .collect()
    }
}

fn build(input: &RewardInput) -> Result<Box<dyn Reward>, TrainError> {
    Ok(Box::new(MathReward {
        settings: input.settings()?,
    }))
}

pub const ENTRY: RewardEntry = RewardEntry {
    name: "math",
    summary: "final answer (\\boxed{}, ####, <answer>, last number) equals the problem's answer; a verifier",
    build,
    resolve: resolve::<MathSettings>,
};
