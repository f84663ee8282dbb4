//! `length`: DAPO's soft overlong punishment (grpo-family.md "DAPO extras" 4) on the response's token
//! count `L`: 0 for `L <= max_len - cache_len`, then `(max_len - cache_len - L) / cache_len`
//! down to -1 at `L = max_len`, and -1 beyond. The formula is the methods crate's
//! `overlong_penalty`, the one `select.overlong_shaping` adds; use one or the other, not both.
//! Not a verifier, and it does not judge form.
use polopt_methods::select::overlong_penalty;
use serde::{Deserialize, Serialize};

use super::{config_error, resolve, Judgement, Reward, RewardEntry, RewardInput, Settings};
use crate::error::TrainError;
use crate::reward::Completion;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthSettings {
    /// `L_max`, in tokens: the penalty is -1 from here on.
    pub max_len: usize,
    /// `L_cache`, in tokens: the width of the linear ramp before `max_len`.
    pub cache_len: usize,
}

impl Settings for LengthSettings {
    fn validate(&self, key: &str) -> Result<(), TrainError> {
        if self.max_len == 0 {
            return Err(config_error(
                &format!("{key}.max_len"),
                "must be at least 1",
            ));
        }
        if self.cache_len > self.max_len {
            return Err(config_error(
                &format!("{key}.cache_len"),
                &format!("{} exceeds max_len = {}", self.cache_len, self.max_len),
            ));
        }
        Ok(())
    }
}

pub struct LengthReward {
    pub settings: LengthSettings,
}

impl Reward for LengthReward {
    fn name(&self) -> &str {
        "length"
    }

    fn judge(&self, items: &[Completion<'_>]) -> Result<Vec<Judgement>, TrainError> {
        let s = &self.settings;
        Ok(items
            .iter()
            .map(|c| Judgement {
                reward: overlong_penalty(c.tokens, s.max_len, s.cache_len),
                correct: None,
                well_formed: true,
            })
            .collect())
    }
}

fn build(input: &RewardInput) -> Result<Box<dyn Reward>, TrainError> {
    Ok(Box::new(LengthReward {
        settings: input.settings()?,
    }))
}

pub const ENTRY: RewardEntry = RewardEntry {
    name: "length",
    summary: "DAPO's overlong penalty: 0 up to max_len - cache_len, linear to -1 at max_len",
    build,
    resolve: resolve::<LengthSettings>,
};
