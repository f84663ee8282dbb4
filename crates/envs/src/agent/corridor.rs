//! CorridorKeys, the small-scale check of hgpo.md ("Small-scale CPU check"): a 1 x 7 corridor,
//! cells 0..6, the agent starts at cell 3, where the door is. A key lies at cell 0 or cell 6
//! (drawn per instance, never observed); `pick` takes it where it lies and `open` at the door
//! with the key ends the episode with reward 1. The observation is the cell and whether the
//! agent holds the key, so the right action at a cell depends on where the agent came from:
//! the history, not the state, tells which side was already searched.
//!
//! Small enough for the test suite (an episode of the expert is 8 turns of a few characters),
//! and the environment on which state-only grouping (GiGPO) and history groups (HGPO) differ.
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{normalize_action, AgentEnv, Info, Reset, Step};
use crate::text::{check_range, TaskError};

pub const NAME: &str = "corridor";
const DOOR: usize = 3;
const INVALID: &str = "Nothing happens.";
const ACTIONS: [&str; 4] = ["left", "right", "pick", "open"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Cells of the corridor (the door is in the middle, the key at one end).
    pub length: usize,
    /// Steps after which an episode is truncated (hgpo.md: 20).
    pub horizon: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            length: 7,
            horizon: 20,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Corridor {
    config: Config,
    door: usize,
    key_at: usize,
    at: usize,
    has_key: bool,
    steps: usize,
    done: bool,
}

impl Corridor {
    pub fn new(config: Config) -> Result<Self, TaskError> {
        check_range("corridor.length", config.length, 3, 99)?;
        if config.length.is_multiple_of(2) {
            return Err(TaskError::Invalid {
                field: "corridor.length".into(),
                message: format!(
                    "must be odd (the door is the middle cell), got {}",
                    config.length
                ),
            });
        }
        check_range("corridor.horizon", config.horizon, 1, 1000)?;
        let door = config.length / 2;
        debug_assert!(config.length != 7 || door == DOOR);
        Ok(Self {
            config,
            door,
            key_at: 0,
            at: door,
            has_key: false,
            steps: 0,
            done: true,
        })
    }

    pub fn from_json(value: &serde_json::Value) -> Result<Self, TaskError> {
        Self::new(crate::text::parse_config(NAME, value)?)
    }

    fn observation(&self) -> String {
        let key = if self.has_key { "key" } else { "no key" };
        format!("cell {}, {key}", self.at)
    }

    fn admissible(&self) -> Vec<String> {
        ACTIONS.iter().map(|a| a.to_string()).collect()
    }

    fn task(&self) -> String {
        format!("find the key and open the door at cell {}", self.door)
    }
}

impl AgentEnv for Corridor {
    fn name(&self) -> &'static str {
        NAME
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }
    fn horizon(&self) -> usize {
        self.config.horizon
    }
    fn reset(&mut self, seed: u64) -> Reset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.key_at = if rng.random_bool(0.5) {
            0
        } else {
            self.config.length - 1
        };
        self.at = self.door;
        self.has_key = false;
        self.steps = 0;
        self.done = false;
        Reset {
            observation: format!("{}.\n{}", self.task(), self.observation()),
            info: Info {
                admissible: self.admissible(),
                task: self.task(),
            },
        }
    }
    fn step(&mut self, action: &str) -> Step {
        let action = normalize_action(action, self.action_stops());
        let mut reward = 0.0;
        let valid = !self.done
            && match action.as_str() {
                "left" if self.at > 0 => {
                    self.at -= 1;
                    true
                }
                "right" if self.at + 1 < self.config.length => {
                    self.at += 1;
                    true
                }
                "pick" if self.at == self.key_at && !self.has_key => {
                    self.has_key = true;
                    true
                }
                "open" if self.at == self.door && self.has_key => {
                    reward = 1.0;
                    true
                }
                _ => false,
            };
        let terminated = reward > 0.0;
        if !self.done {
            self.steps += 1;
        }
        let truncated = !terminated && !self.done && self.steps >= self.config.horizon;
        self.done |= terminated || truncated;
        let observation = match (valid, terminated) {
            (_, true) => "You open the door.".to_string(),
            (true, false) => self.observation(),
            (false, false) => INVALID.to_string(),
        };
        Step {
            observation,
            reward,
            terminated,
            truncated,
            invalid: !valid,
            success: terminated,
            info: Info {
                admissible: self.admissible(),
                task: self.task(),
            },
        }
    }
    fn expert(&self) -> Vec<String> {
        let (toward, back) = if self.key_at < self.door {
            ("left", "right")
        } else {
            ("right", "left")
        };
        let walk = self.door.abs_diff(self.key_at);
        let mut actions = vec![toward.to_string(); walk];
        actions.push("pick".into());
        actions.extend(std::iter::repeat_n(back.to_string(), walk));
        actions.push("open".into());
        actions
    }
    fn expert_subgoals(&self) -> Vec<String> {
        let half = self.expert().len() / 2;
        let mut subgoals = vec!["get key".to_string(); half];
        subgoals.resize(2 * half, "open door".to_string());
        subgoals
    }
    fn boxed_clone(&self) -> Box<dyn AgentEnv> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expert_opens_the_door_and_invalid_moves_cost_a_step() {
        let mut env = Corridor::new(Config::default()).unwrap();
        for seed in 0..50 {
            let reset = env.reset(seed);
            assert!(reset.observation.ends_with("cell 3, no key"));
            let actions = env.expert();
            assert_eq!(actions.len(), 8);
            let last = actions.iter().map(|a| env.step(a)).last().unwrap();
            assert!(last.terminated && last.success && last.reward == 1.0);
        }
        env.reset(0);
        let step = env.step("open");
        assert!(step.invalid && step.observation == INVALID && !step.terminated);
        assert_eq!(env.steps, 1);
        assert_eq!(env.at, DOOR);
    }

    #[test]
    fn the_horizon_truncates() {
        let mut env = Corridor::new(Config {
            horizon: 2,
            ..Config::default()
        })
        .unwrap();
        env.reset(1);
        assert!(!env.step("left").truncated);
        let step = env.step("left");
        assert!(step.truncated && !step.terminated);
        assert!(env.step("right").invalid, "steps after the end are invalid");
    }
}
