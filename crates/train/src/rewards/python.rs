//! `python`: a user reward function in Python, TRL's signature:
//!
//! ```python
//! def reward(prompts: list[str], completions: list[str], answer: list[str], **columns) -> list:
//! ```
//!
//! called with keyword arguments once per batch (or per `batch_size` completions) in an
//! interpreter embedded in this process (pyo3; cargo feature `python`, on by default). The
//! columns are `answer` and every field of the problems' `meta`, one value per completion
//! (JSON converted to Python objects; `None` where a problem lacks the field). It returns one
//! value per completion: a float (`None` is NaN), or a dict `{"reward": x, "correct": b}`
//! (`correct` and `well_formed` optional; a dict with `correct` makes it a verifier).
//!
//! The file is `function = "file.py:func"`, relative to the config file's folder, whose folder
//! goes on `sys.path` (so it may import its siblings), with the project venv's site-packages
//! (`$VIRTUAL_ENV`, else `$POLOPT_ROOT/.venv`). Calls hold the GIL for one batch and run one
//! at a time, in the loop's order; the interpreter's string hash seed is fixed to 0 (unless
//! `PYTHONHASHSEED` is set) so that set and dict orders repeat. A raised exception is an error
//! carrying the Python traceback; a wrong length or type is an error naming the index.
#[cfg(feature = "python")]
mod convert;
#[cfg(feature = "python")]
mod embed;
#[cfg(feature = "python")]
mod function;

use serde::{Deserialize, Serialize};

use super::{config_error, resolve, Reward, RewardEntry, RewardInput, Settings};
use crate::error::TrainError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSettings {
    /// `path/to/file.py:function`.
    pub function: String,
    /// Completions per call; the whole batch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
}

/// `("file.py", "func")` out of `file.py:func` (the last `:` splits, so a path may hold one).
pub fn split_function(spec: &str) -> Option<(&str, &str)> {
    let (file, func) = spec.rsplit_once(':')?;
    (!file.is_empty() && !func.is_empty()).then_some((file, func))
}

impl Settings for PythonSettings {
    fn validate(&self, key: &str) -> Result<(), TrainError> {
        if split_function(&self.function).is_none() {
            return Err(config_error(
                &format!("{key}.function"),
                &format!("expected \"file.py:function\", found {:?}", self.function),
            ));
        }
        if self.batch_size == Some(0) {
            return Err(config_error(
                &format!("{key}.batch_size"),
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(feature = "python")]
fn build(input: &RewardInput) -> Result<Box<dyn Reward>, TrainError> {
    let settings: PythonSettings = input.settings()?;
    Ok(Box::new(function::PythonReward::load(&settings, input)?))
}

#[cfg(not(feature = "python"))]
fn build(input: &RewardInput) -> Result<Box<dyn Reward>, TrainError> {
    let _: PythonSettings = input.settings()?;
    Err(config_error(
        &format!("{}.name", input.key),
        "this polopt was built without the `python` cargo feature (--no-default-features); \
         rebuild with it, or run the function as a `command` reward",
    ))
}

pub const ENTRY: RewardEntry = RewardEntry {
    name: "python",
    summary:
        "your function f(prompts, completions, **columns) in file.py (TRL's signature), per batch",
    build,
    resolve: resolve::<PythonSettings>,
};
