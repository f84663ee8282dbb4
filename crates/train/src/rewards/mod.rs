//! Rewards by name ("bring your own reward", issue 12): the run config lists `[[reward]]`
//! tables, each naming an entry of [`REWARDS`] with its settings, and [`build_rewards`] turns
//! them into one [`RewardFn`], their weighted sum ([`Weighted`]). Guide: `docs/rewards/README.md`.
//!
//! Map of the module, one reward per file, each ending with its [`RewardEntry`]:
//! - [`math`]: GSM8K / MATH answers (`polopt_envs::text::math_answer`), a verifier.
//! - [`exact`]: the completion equals the problem's answer, a verifier.
//! - [`regex`]: a format reward, the completion matches a pattern.
//! - [`length`]: DAPO's overlong penalty on the response's token count.
//! - [`python`]: a user function `f(prompts, completions, **columns)` (TRL's signature), called
//!   per batch in an embedded interpreter (cargo feature `python`, on by default).
//! - [`command`]: a user program, a long-lived child speaking JSON lines.
//! - [`weighted`]: the sum, and the rule that makes `correct` (pass@k) out of the components.
//!
//! Adding a reward is its file and one line in [`REWARDS`]. A component answers a
//! [`Judgement`] per completion; `correct: None` says it does not decide correctness, which is
//! how shaping terms (format, length) stay out of accuracy.
pub mod command;
pub mod exact;
pub mod length;
pub mod math;
pub mod python;
pub mod regex;
pub mod weighted;

use std::path::Path;

use polopt_envs::text::Problem;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::TrainError;
use crate::reward::{Completion, RewardFn};

pub use weighted::Weighted;

/// One component's judgement of one completion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// NaN when the reward has no value for it (a user function answered `None`): the loop
    /// counts or stops on it under `run.on_nan`, it is never read as 0.
    pub reward: f64,
    /// `Some` when this reward decides correctness (a verifier), `None` for shaping terms.
    pub correct: Option<bool>,
    pub well_formed: bool,
}

/// A component of a combined reward: what a registry entry builds.
pub trait Reward: Send + Sync {
    /// The name in `Weighted::name` and in error messages (`regex`, `python(score.py:f)`).
    fn name(&self) -> &str;
    /// One judgement per item, in order; an error for anything that is not a NaN.
    fn judge(&self, items: &[Completion<'_>]) -> Result<Vec<Judgement>, TrainError>;
}

/// A registered reward.
pub struct RewardEntry {
    /// The `name` of its `[[reward]]` table.
    pub name: &'static str,
    /// One line for `polopt list`.
    pub summary: &'static str,
    pub build: fn(&RewardInput) -> Result<Box<dyn Reward>, TrainError>,
    /// Its settings with every default filled in (for the resolved config).
    pub resolve: fn(&RewardInput) -> Result<toml::Table, TrainError>,
}

/// What a reward is built from: its table less the keys every table shares (`name`, `weight`,
/// `correct_threshold`), where the table sits, and the config file's folder.
pub struct RewardInput<'a> {
    pub table: &'a toml::Table,
    /// `reward[i]`, the prefix of every error about this table.
    pub key: String,
    /// Relative paths in the settings (a Python file, a command's folder) start here.
    pub base_dir: &'a Path,
}

/// A reward's settings: a TOML table; unknown keys, wrong types and out-of-range values are
/// errors naming `reward[i].<key>`.
pub trait Settings: Serialize + DeserializeOwned {
    /// Range checks; `key` is `reward[i]`.
    fn validate(&self, _key: &str) -> Result<(), TrainError> {
        Ok(())
    }
}

impl RewardInput<'_> {
    /// The table as `T`, range-checked.
    pub fn settings<T: Settings>(&self) -> Result<T, TrainError> {
        let value = toml::Value::Table(self.table.clone());
        let settings: T = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            // toml appends "in `key`" lines, which the key in front already says.
            let full = e.into_inner().to_string();
            let detail = full
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with("in `"))
                .collect::<Vec<_>>()
                .join("; ");
            // serde reports a missing field at the table itself; name the field instead.
            let missing = detail
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            match missing {
                Some(field) if path.is_empty() || path == "." => {
                    config_error(&format!("{}.{field}", self.key), "missing (required)")
                }
                _ if path.is_empty() || path == "." => config_error(&self.key, &detail),
                _ => config_error(&format!("{}.{path}", self.key), &detail),
            }
        })?;
        settings.validate(&self.key)?;
        Ok(settings)
    }

    /// A path from the settings, relative to the config file's folder unless absolute.
    pub fn path(&self, relative: &str) -> std::path::PathBuf {
        self.base_dir.join(relative)
    }
}

/// `key: detail` as a config error.
pub fn config_error(key: &str, detail: &str) -> TrainError {
    TrainError::Config(format!("{key}: {detail}"))
}

/// [`RewardEntry::resolve`] for a reward whose settings are `T`.
pub fn resolve<T: Settings>(input: &RewardInput) -> Result<toml::Table, TrainError> {
    let settings: T = input.settings()?;
    toml::Table::try_from(&settings).map_err(|e| config_error(&input.key, &e.to_string()))
}

/// Every reward, by name. Adding one is its file and one line here.
pub const REWARDS: &[RewardEntry] = &[
    math::ENTRY,
    exact::ENTRY,
    regex::ENTRY,
    length::ENTRY,
    python::ENTRY,
    command::ENTRY,
];

/// `(name, summary)` of every reward, for the CLI's listing.
pub fn reward_names() -> Vec<(&'static str, &'static str)> {
    REWARDS.iter().map(|e| (e.name, e.summary)).collect()
}

/// The entry called `name`.
pub fn find_reward(name: &str) -> Option<&'static RewardEntry> {
    REWARDS.iter().find(|e| e.name == name)
}

/// The keys every `[[reward]]` table may hold besides its reward's settings.
const SHARED_KEYS: [&str; 3] = ["name", "weight", "correct_threshold"];

/// One `[[reward]]` table split into its shared keys and its reward's settings.
struct Parsed {
    entry: &'static RewardEntry,
    weight: f64,
    correct_threshold: Option<f64>,
    settings: toml::Table,
    key: String,
}

fn parse_table(i: usize, table: &toml::Table) -> Result<Parsed, TrainError> {
    let key = format!("reward[{i}]");
    let known = || {
        REWARDS
            .iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let entry = match table.get("name") {
        None => {
            return Err(config_error(
                &format!("{key}.name"),
                &format!("missing; one of: {}", known()),
            ))
        }
        Some(toml::Value::String(name)) => find_reward(name).ok_or_else(|| {
            config_error(
                &format!("{key}.name"),
                &format!("unknown reward `{name}`; known rewards: {}", known()),
            )
        })?,
        Some(other) => {
            return Err(config_error(
                &format!("{key}.name"),
                &format!("expected a string, found {}", other.type_str()),
            ))
        }
    };
    let number = |field: &str| -> Result<Option<f64>, TrainError> {
        match table.get(field) {
            None => Ok(None),
            Some(toml::Value::Float(x)) if x.is_finite() => Ok(Some(*x)),
            Some(toml::Value::Integer(n)) => Ok(Some(*n as f64)),
            Some(other) => Err(config_error(
                &format!("{key}.{field}"),
                &format!("expected a finite number, found {other}"),
            )),
        }
    };
    let weight = number("weight")?.unwrap_or(1.0);
    let correct_threshold = number("correct_threshold")?;
    let settings: toml::Table = table
        .iter()
        .filter(|(k, _)| !SHARED_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Parsed {
        entry,
        weight,
        correct_threshold,
        settings,
        key,
    })
}

/// The combination-wide `correct_threshold`: set in at most one table, default 1.0.
fn threshold_of(parsed: &[Parsed]) -> Result<f64, TrainError> {
    let mut found: Option<(f64, &str)> = None;
    for p in parsed {
        if let Some(t) = p.correct_threshold {
            if let Some((_, first)) = found {
                return Err(config_error(
                    &format!("{}.correct_threshold", p.key),
                    &format!("already set in {first}; it applies to the whole sum, set it once"),
                ));
            }
            found = Some((t, &p.key));
        }
    }
    Ok(found.map_or(weighted::DEFAULT_CORRECT_THRESHOLD, |(t, _)| t))
}

fn parse_all(tables: &[toml::Table]) -> Result<Vec<Parsed>, TrainError> {
    if tables.is_empty() {
        return Err(TrainError::Config(
            "reward: no [[reward]] table; add one, e.g. { name = \"math\" }".into(),
        ));
    }
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| parse_table(i, t))
        .collect()
}

/// The weighted sum of the rewards that `tables` (the run config's `[[reward]]` list) name.
/// Relative paths in them start at `base_dir`, the config file's folder.
pub fn build_weighted(tables: &[toml::Table], base_dir: &Path) -> Result<Weighted, TrainError> {
    let parsed = parse_all(tables)?;
    let threshold = threshold_of(&parsed)?;
    let mut parts = Vec::with_capacity(parsed.len());
    for p in &parsed {
        let input = RewardInput {
            table: &p.settings,
            key: p.key.clone(),
            base_dir,
        };
        parts.push((p.weight, (p.entry.build)(&input)?));
    }
    Ok(Weighted::new(parts, threshold))
}

/// [`build_weighted`] as the loop's reward function.
pub fn build_rewards(
    tables: &[toml::Table],
    base_dir: &Path,
) -> Result<Box<dyn RewardFn>, TrainError> {
    Ok(Box::new(build_weighted(tables, base_dir)?))
}

/// The `[[reward]]` tables with every default filled in, checked as [`build_rewards`] checks
/// them but without building anything (no file is read, no process started).
pub fn resolve_rewards(tables: &[toml::Table]) -> Result<Vec<toml::Table>, TrainError> {
    let parsed = parse_all(tables)?;
    let threshold = threshold_of(&parsed)?;
    parsed
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let input = RewardInput {
                table: &p.settings,
                key: p.key.clone(),
                base_dir: Path::new("."),
            };
            let mut out = toml::Table::new();
            out.insert("name".into(), p.entry.name.into());
            out.insert("weight".into(), p.weight.into());
            if i == 0 {
                out.insert("correct_threshold".into(), threshold.into());
            }
            out.extend((p.entry.resolve)(&input)?);
            Ok(out)
        })
        .collect()
}

/// Column names that user rewards receive from the loop itself; a `meta` field with one of
/// these names is not passed (the loop's value wins).
pub const RESERVED_COLUMNS: [&str; 5] =
    ["prompt", "completion", "answer", "prompts", "completions"];

/// The problem's `meta` as named columns for user rewards: an object's fields (less
/// [`RESERVED_COLUMNS`]), nothing for `null`, and any other value as one column `meta`.
pub fn meta_columns(problem: &Problem) -> Vec<(&str, &serde_json::Value)> {
    match &problem.meta {
        serde_json::Value::Object(fields) => fields
            .iter()
            .filter(|(k, _)| !RESERVED_COLUMNS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![("meta", other)],
    }
}
