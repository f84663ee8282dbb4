//! `exact`: the whole completion equals the problem's answer as a string (after trimming
//! whitespace unless `strip = false`, and case-folding when `case_sensitive = false`). A
//! verifier, for tasks whose answer has one spelling (a label, a word, a canonical form).
use serde::{Deserialize, Serialize};

use super::{config_error, resolve, Judgement, Reward, RewardEntry, RewardInput, Settings};
use crate::error::TrainError;
use crate::reward::Completion;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExactSettings {
    pub case_sensitive: bool,
    /// Trim leading and trailing whitespace from both sides first.
    pub strip: bool,
    pub correct: f64,
    pub wrong: f64,
}

impl Default for ExactSettings {
    fn default() -> Self {
        Self {
            case_sensitive: true,
            strip: true,
            correct: 1.0,
            wrong: 0.0,
        }
    }
}

impl Settings for ExactSettings {
    fn validate(&self, key: &str) -> Result<(), TrainError> {
        for (field, v) in [("correct", self.correct), ("wrong", self.wrong)] {
            if !v.is_finite() {
                return Err(config_error(&format!("{key}.{field}"), "must be finite"));
            }
        }
        Ok(())
    }
}

pub struct ExactReward {
    pub settings: ExactSettings,
}

impl ExactReward {
    fn normal<'s>(&self, s: &'s str) -> std::borrow::Cow<'s, str> {
        let s = if self.settings.strip { s.trim() } else { s };
        if self.settings.case_sensitive {
            s.into()
        } else {
            s.to_lowercase().into()
        }
    }
}

impl Reward for ExactReward {
    fn name(&self) -> &str {
        "exact"
    }

    fn judge(&self, items: &[Completion<'_>]) -> Result<Vec<Judgement>, TrainError> {
        Ok(items
            .iter()
            .map(|c| {
                let ok = self.normal(c.text) == self.normal(&c.problem.answer);
                Judgement {
                    reward: if ok {
                        self.settings.correct
                    } else {
                        self.settings.wrong
                    },
                    correct: Some(ok),
                    well_formed: true,
                }
            })
            .collect())
    }
}

fn build(input: &RewardInput) -> Result<Box<dyn Reward>, TrainError> {
    Ok(Box::new(ExactReward {
        settings: input.settings()?,
    }))
}

pub const ENTRY: RewardEntry = RewardEntry {
    name: "exact",
    summary: "the completion equals the problem's answer as a string (trimmed); a verifier",
    build,
    resolve: resolve::<ExactSettings>,
};
