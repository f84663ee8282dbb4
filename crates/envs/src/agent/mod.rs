//! Multi-turn agent environments (envs/agent-envs.md): a procedural generator plus a
//! deterministic simulator each, played turn by turn in text.
//!
//! The trajectory text is `observation_0 + ("\n> " + action + "\n" + observation)*`: the policy
//! writes the actions, the environment everything else (masked out of the loss). An action is
//! the policy's turn text cut at the environment's stop ([`AgentEnv::action_stops`]), lower-cased
//! and whitespace-normalised ([`normalize_action`]). An invalid action returns a fixed message,
//! leaves the state unchanged and still uses up a step.
//!
//! As a task ([`AgentTask`], `task.name`), an environment's problems are its instances: the
//! group rollout plays them turn by turn, the scorer and the evaluation [`replay`] the text.
//!
//! Splits: instance seeds are disjoint by construction ([`nth_seed`], [`split_of_seed`]), so a
//! test instance is never trained on.
pub mod bm25;
pub mod corridor;
pub mod minishop;
pub mod plan;
pub mod searchqa;
mod task;
pub mod texthouse;
mod workspace;

pub use task::{
    action_end, env_names, env_reply, make_env, register_env, replay, solution_env_mask, AgentTask,
    EnvBuilder, Replay, ENV_NAMES, PLAN_EXECUTE_KEY,
};
pub use workspace::{workspace_rounds, Workspace, ELIDED};

use crate::text::Split;

/// What the environment writes before each action.
pub const TURN_PROMPT: &str = "\n> ";

/// Characters the agent environments render beyond the text tasks' [`crate::text::CHARSET`]
/// (TextHouse's `There's`, MiniShop's prices).
pub const AGENT_EXTRA_CHARS: &str = "'$";

/// Side information of a reset or a step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info {
    /// The actions that are valid in the current state (ALFWorld's `admissible_commands`).
    pub admissible: Vec<String>,
    /// The instruction of the episode.
    pub task: String,
}

/// The start of an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Reset {
    /// The first observation, the instruction included: the prompt of the episode.
    pub observation: String,
    pub info: Info,
}

/// The outcome of one action.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub observation: String,
    pub reward: f64,
    /// The episode ended by the environment's rule (goal reached, item bought, answer given).
    pub terminated: bool,
    /// The horizon was reached without termination.
    pub truncated: bool,
    /// The action was unparsable or its preconditions failed (the state did not change).
    pub invalid: bool,
    /// The episode's success criterion holds (TextHouse: goal; MiniShop: score 1; SearchQA: EM).
    pub success: bool,
    pub info: Info,
}

/// A multi-turn environment. Implement it for your own environment and register a builder
/// under a name with [`register_env`]; that name is then a `task.name` every loop accepts
/// (docs/agents.md, `crates/train/examples/own_agent_env.rs`).
///
/// Contract: `reset(seed)` followed by the same actions always gives the same observations
/// (no hidden randomness after reset); `step` never panics on any text; after `terminated` or
/// `truncated` further steps are invalid.
pub trait AgentEnv: Send + Sync {
    /// The registry name.
    fn name(&self) -> &'static str;
    /// The resolved config, defaults filled in, for run manifests.
    fn config_json(&self) -> serde_json::Value;
    /// Steps after which an episode is truncated.
    fn horizon(&self) -> usize;
    /// Where the policy's turn text ends: the first of these ends the action (`"\n"` for
    /// TextHouse and MiniShop; SearchQA ends at its closing tags, which stay in the action).
    fn action_stops(&self) -> &'static [&'static str] {
        &["\n"]
    }
    /// Starts the episode of instance `seed`.
    fn reset(&mut self, seed: u64) -> Reset;
    /// Plays one action (the raw turn text; the environment normalises it).
    fn step(&mut self, action: &str) -> Step;
    /// The expert solver's actions for the instance of the last reset, computed from the state
    /// right after it. Played in order they succeed within the horizon.
    fn expert(&self) -> Vec<String>;
    /// The expert's subgoal for each of its actions ([`AgentEnv::expert`]'s order), for
    /// plan-execute turns ([`plan`]); empty when the environment names none (one segment).
    fn expert_subgoals(&self) -> Vec<String> {
        Vec::new()
    }
    /// The gold answer, for environments that have one (SearchQA), else `None`.
    fn gold_answer(&self) -> Option<String> {
        None
    }
    /// The text after which the policy writes its answer (SearchQA: `<answer>`): IGPO's probe
    /// scores the gold answer right after the history and this prefix.
    fn answer_prefix(&self) -> &'static str {
        ""
    }
    /// A fresh copy with the same config (episodes of a batch each get their own).
    fn boxed_clone(&self) -> Box<dyn AgentEnv>;
}

/// The action in `text`: cut after the first stop of `stops` (a `"\n"` stop is dropped, a tag
/// is kept), lower-cased, runs of whitespace collapsed to one space, trimmed.
pub fn normalize_action(text: &str, stops: &[&str]) -> String {
    let mut end = text.len();
    for stop in stops {
        if let Some(at) = text.find(stop) {
            let keep = if stop.trim().is_empty() {
                at
            } else {
                at + stop.len()
            };
            end = end.min(keep);
        }
    }
    text[..end]
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `n`-th instance seed of `split`: seeds ending in 0–7 are train, 8 validation, 9 test.
pub fn nth_seed(split: Split, n: u64) -> u64 {
    match split {
        Split::Train => n / 8 * 10 + n % 8,
        Split::Validation => n * 10 + 8,
        Split::Test => n * 10 + 9,
    }
}

/// The split an instance seed belongs to (the inverse of [`nth_seed`]).
pub fn split_of_seed(seed: u64) -> Split {
    match seed % 10 {
        8 => Split::Validation,
        9 => Split::Test,
        _ => Split::Train,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_of_the_splits_are_disjoint_and_invert() {
        for split in Split::ALL {
            for n in 0..1000 {
                assert_eq!(split_of_seed(nth_seed(split, n)), split);
            }
        }
        let train: std::collections::HashSet<u64> =
            (0..1000).map(|n| nth_seed(Split::Train, n)).collect();
        assert_eq!(train.len(), 1000);
    }

    #[test]
    fn actions_are_cut_lowered_and_normalised() {
        assert_eq!(
            normalize_action("  Go  to\tCabinet 2\nxx", &["\n"]),
            "go to cabinet 2"
        );
        assert_eq!(
            normalize_action("<search>Who  X</search> tail", &["</search>", "</answer>"]),
            "<search>who x</search>"
        );
        assert_eq!(normalize_action("", &["\n"]), "");
    }
}
