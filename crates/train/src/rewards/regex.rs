//! `regex`: a format reward, `reward` when the completion matches `pattern`, else `otherwise`
//! (the "format" reward of DeepSeek-R1-style recipes, e.g.
//! `^<think>.*?</think>\s*<answer>.*?</answer>$` with `dot_all = true`). Not a verifier: it
//! shapes the reward but never makes a completion correct. Syntax: the `regex` crate's (RE2-like,
//! no look-around or backreferences), so matching is linear in the completion's length.
use ::regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::{config_error, resolve, Judgement, Reward, RewardEntry, RewardInput, Settings};
use crate::error::TrainError;
use crate::reward::Completion;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexSettings {
    pub pattern: String,
    /// The whole completion must match (as Python's `re.fullmatch`), not just a part of it.
    #[serde(default)]
    pub full_match: bool,
    /// `.` also matches a newline (Python's `re.DOTALL`, inline `(?s)`).
    #[serde(default)]
    pub dot_all: bool,
    #[serde(default = "one")]
    pub reward: f64,
    #[serde(default)]
    pub otherwise: f64,
}

fn one() -> f64 {
    1.0
}

impl Settings for RegexSettings {
    fn validate(&self, key: &str) -> Result<(), TrainError> {
        for (field, v) in [("reward", self.reward), ("otherwise", self.otherwise)] {
            if !v.is_finite() {
                return Err(config_error(&format!("{key}.{field}"), "must be finite"));
            }
        }
        compile(self, key).map(|_| ())
    }
}

fn compile(s: &RegexSettings, key: &str) -> Result<Regex, TrainError> {
    // `\A(?:...)\z` anchors the whole pattern, alternatives included, at both ends.
    let source = if s.full_match {
        format!(r"\A(?:{})\z", s.pattern)
    } else {
        s.pattern.clone()
    };
    RegexBuilder::new(&source)
        .dot_matches_new_line(s.dot_all)
        .build()
        .map_err(|e| config_error(&format!("{key}.pattern"), &format!("invalid regex: {e}")))
}

pub struct RegexReward {
    pub settings: RegexSettings,
    regex: Regex,
}

impl Reward for RegexReward {
    fn name(&self) -> &str {
        "regex"
    }

    fn judge(&self, items: &[Completion<'_>]) -> Result<Vec<Judgement>, TrainError> {
        Ok(items
            .iter()
            .map(|c| {
                let matched = self.regex.is_match(c.text);
                Judgement {
                    reward: if matched {
                        self.settings.reward
                    } else {
                        self.settings.otherwise
                    },
                    correct: None,
                    well_formed: matched,
                }
            })
            .collect())
    }
}

fn build(input: &RewardInput) -> Result<Box<dyn Reward>, TrainError> {
    let settings: RegexSettings = input.settings()?;
    let regex = compile(&settings, &input.key)?;
    Ok(Box::new(RegexReward { settings, regex }))
}

pub const ENTRY: RewardEntry = RewardEntry {
    name: "regex",
    summary: "format reward: `reward` if the completion matches `pattern`, else `otherwise`",
    build,
    resolve: resolve::<RegexSettings>,
};
