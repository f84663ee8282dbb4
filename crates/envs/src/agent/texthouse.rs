//! E1 TextHouse: an ALFWorld-like household in text (envs/agent-envs.md, E1).
//!
//! The agent starts in the middle of a room with 8–14 receptacles (cabinets, drawers, a fridge,
//! a sink basin, a desk lamp, ...) holding 6–16 objects, and must carry out one of ALFWorld's six
//! task types: `put a {o} in {rtype}`, `look at {o} under the desklamp`, `put a clean / hot /
//! cool {o} in {rtype}`, `put two {o} in {rtype}`. Any instance of `{rtype}` satisfies the goal.
//! Reward: 1 when the goal predicate holds after a step (which terminates the episode), else 0;
//! the episode is truncated after `horizon` (30) steps. Actions follow ALFWorld's grammar
//! (`go to cabinet 2`, `take apple 1 from countertop 1`, `put apple 1 in/on fridge 1`, ...);
//! anything else, or an action whose preconditions fail, answers `Nothing happens.`, costs a
//! step and changes nothing.
//!
//! Per config: nothing but the knobs (the type tables are static and an instance is a few
//! dozen bytes of state). Per instance (`reset(seed)`): the whole scene, drawn from
//! `ChaCha8Rng::seed_from_u64(seed)` in the order documented in `texthouse/generate.rs`, with
//! candidates whose expert plan exceeds `horizon - 5` steps rejected and redrawn from the same
//! stream.
//!
//! Module map: `world.rs` holds the types, state, grammar and simulator; `generate.rs` the
//! generator and the expert; this file the knobs and the [`AgentEnv`] episode loop.
mod generate;
#[cfg(test)]
mod tests;
mod world;

use std::fmt::Write;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{normalize_action, AgentEnv, Info, Reset, Step};
use crate::text::{check_range, out_of_range, parse_config, TaskError};
use world::{Action, Scene, State, MAX_OBJECTS, MAX_RECEPTACLES};

/// The registry name.
pub const NAME: &str = "texthouse";

/// The observation of an unparsable or invalid action (spec E1).
pub const NOTHING_HAPPENS: &str = "Nothing happens.";

/// Steps the expert's plan must leave spare within the horizon (spec E1: plans longer than
/// `horizon - 5` are rejected).
pub const EXPERT_SLACK: usize = 5;

/// ALFWorld's six task types, under ALFWorld's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// `put a {o} in {rtype}`
    PickAndPlace,
    /// `look at {o} under the desklamp`
    LookAtObjInLight,
    /// `put a clean {o} in {rtype}`
    PickCleanThenPlace,
    /// `put a hot {o} in {rtype}`
    PickHeatThenPlace,
    /// `put a cool {o} in {rtype}`
    PickCoolThenPlace,
    /// `put two {o} in {rtype}`
    PickTwoObjAndPlace,
}

impl TaskType {
    pub const ALL: [TaskType; 6] = [
        TaskType::PickAndPlace,
        TaskType::LookAtObjInLight,
        TaskType::PickCleanThenPlace,
        TaskType::PickHeatThenPlace,
        TaskType::PickCoolThenPlace,
        TaskType::PickTwoObjAndPlace,
    ];
}

/// TextHouse's knobs (the bracketed values of spec E1 are the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Steps after which an episode is truncated (1..=200; ALFWorld uses 50, the spec 30).
    /// Construction fails when it leaves (almost) no instance whose expert plan fits in
    /// `horizon - 5` steps.
    pub horizon: usize,
    /// Fewest receptacles in a scene (4..=30).
    pub receptacles_min: usize,
    /// Most receptacles in a scene (receptacles_min..=30; 30 is the sum of the per-type caps).
    pub receptacles_max: usize,
    /// Fewest objects in a scene (2..=32).
    pub objects_min: usize,
    /// Most objects in a scene (objects_min..=32).
    pub objects_max: usize,
    /// Probability that an openable receptacle starts closed, in [0, 1].
    pub p_closed: f64,
    /// Append `Admissible actions: ...` to every observation (ALFWorld's `admissible_commands`,
    /// which `info.admissible` always carries).
    pub show_admissible: bool,
    /// The task types an instance draws from, uniformly over this list (repeat one to weight
    /// it); not empty.
    pub task_types: Vec<TaskType>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            horizon: 30,
            receptacles_min: 8,
            receptacles_max: 14,
            objects_min: 6,
            objects_max: 16,
            p_closed: 0.8,
            show_admissible: false,
            task_types: TaskType::ALL.to_vec(),
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), TaskError> {
        check_range("texthouse.horizon", self.horizon, 1, 200)?;
        check_range(
            "texthouse.receptacles_min",
            self.receptacles_min,
            4,
            MAX_RECEPTACLES,
        )?;
        check_range(
            "texthouse.receptacles_max",
            self.receptacles_max,
            self.receptacles_min,
            MAX_RECEPTACLES,
        )?;
        check_range("texthouse.objects_min", self.objects_min, 2, MAX_OBJECTS)?;
        check_range(
            "texthouse.objects_max",
            self.objects_max,
            self.objects_min,
            MAX_OBJECTS,
        )?;
        if !(0.0..=1.0).contains(&self.p_closed) {
            return Err(out_of_range(
                "texthouse.p_closed",
                "in [0, 1]",
                self.p_closed,
            ));
        }
        if self.task_types.is_empty() {
            return Err(TaskError::Invalid {
                field: "texthouse.task_types".into(),
                message: "must name at least one task type".into(),
            });
        }
        Ok(())
    }
}

/// Seeds and per-seed candidate budget of the construction probe: every seed must yield an
/// instance the expert solves within `horizon - 5` steps well inside the budget, or the knobs
/// are rejected instead of letting `reset` spin.
const PROBE_SEEDS: u64 = 16;
const PROBE_CANDIDATES: usize = 2_000;

/// The episode in progress.
#[derive(Debug, Clone)]
struct Episode {
    scene: Scene,
    instruction: String,
    state: State,
    steps: usize,
    terminated: bool,
    truncated: bool,
    expert: Vec<String>,
}

/// The TextHouse environment; see the module doc.
#[derive(Debug, Clone)]
pub struct TextHouse {
    config: Config,
    /// `None` before the first reset: every step is then invalid.
    episode: Option<Episode>,
}

impl TextHouse {
    /// Validates the config and checks that instances solvable with slack can be drawn.
    pub fn new(config: Config) -> Result<Self, TaskError> {
        config.validate()?;
        let env = TextHouse {
            config,
            episode: None,
        };
        for seed in 0..PROBE_SEEDS {
            if env.draw(seed, PROBE_CANDIDATES).is_none() {
                return Err(TaskError::Invalid {
                    field: "texthouse.horizon".into(),
                    message: format!(
                        "instance {seed}: no scene in {PROBE_CANDIDATES} draws has an expert \
                         plan within horizon - {EXPERT_SLACK} = {} steps; raise the horizon or \
                         lower receptacles_max / objects_max",
                        env.config.horizon.saturating_sub(EXPERT_SLACK)
                    ),
                });
            }
        }
        Ok(env)
    }

    /// Parses a JSON config (`null` or `{}` gives the defaults) and builds the environment.
    pub fn from_json(config: &serde_json::Value) -> Result<Self, TaskError> {
        Self::new(parse_config(NAME, config)?)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The next candidate of the stream, kept when its expert plan solves it in at most
    /// `horizon - 5` steps.
    fn fitting_candidate(&self, rng: &mut ChaCha8Rng) -> Option<(Scene, State, Vec<Action>)> {
        let limit = self.config.horizon.saturating_sub(EXPERT_SLACK);
        let (scene, state) = generate::draw_candidate(&self.config, rng);
        let plan = generate::expert_plan(&scene, &state)?;
        (plan.len() <= limit).then_some((scene, state, plan))
    }

    /// The instance of `seed` if one of its first `budget` candidates fits.
    fn draw(&self, seed: u64, budget: usize) -> Option<(Scene, State, Vec<Action>)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..budget).find_map(|_| self.fitting_candidate(&mut rng))
    }

    /// The observation text after the simulator's `message`, with the admissible list appended
    /// when the knob asks for it and the episode goes on.
    fn observe(&self, episode: &Episode, mut message: String) -> (String, Info) {
        let over = episode.terminated || episode.truncated;
        let admissible: Vec<String> = if over {
            Vec::new()
        } else {
            episode
                .scene
                .admissible(&episode.state)
                .into_iter()
                .map(|a| episode.scene.render(a))
                .collect()
        };
        if self.config.show_admissible && !over {
            let _ = write!(message, "\nAdmissible actions: {}.", admissible.join(", "));
        }
        let info = Info {
            admissible,
            task: episode.instruction.clone(),
        };
        (message, info)
    }
}

impl AgentEnv for TextHouse {
    fn name(&self) -> &'static str {
        NAME
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null)
    }

    fn horizon(&self) -> usize {
        self.config.horizon
    }

    fn reset(&mut self, seed: u64) -> Reset {
        // The construction probe showed that candidates fitting the horizon are common, so the
        // search is unbounded.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (scene, state, plan) = loop {
            if let Some(found) = self.fitting_candidate(&mut rng) {
                break found;
            }
        };
        let expert = plan.iter().map(|&a| scene.render(a)).collect();
        let intro = scene.intro();
        let episode = Episode {
            instruction: scene.goal.instruction(),
            scene,
            state,
            steps: 0,
            terminated: false,
            truncated: false,
            expert,
        };
        let (observation, info) = self.observe(&episode, intro);
        self.episode = Some(episode);
        Reset { observation, info }
    }

    fn step(&mut self, action: &str) -> Step {
        let action = normalize_action(action, self.action_stops());
        let Some(mut episode) = self.episode.take() else {
            return Step {
                observation: NOTHING_HAPPENS.to_string(),
                reward: 0.0,
                terminated: false,
                truncated: false,
                invalid: true,
                success: false,
                info: Info::default(),
            };
        };
        let over = episode.terminated || episode.truncated;
        let parsed = episode
            .scene
            .parse(&action)
            .filter(|&a| !over && episode.scene.valid(&episode.state, a));
        let mut message = String::with_capacity(96);
        match parsed {
            Some(a) => episode.scene.perform(&mut episode.state, a, &mut message),
            None => message.push_str(NOTHING_HAPPENS),
        }
        let mut success = false;
        if !over {
            episode.steps += 1;
            // An invalid action changes nothing, and the goal did not hold before it.
            success = parsed.is_some() && episode.scene.goal_met(&episode.state);
            episode.terminated = success;
            episode.truncated = !success && episode.steps >= self.config.horizon;
        }
        let (observation, info) = self.observe(&episode, message);
        let step = Step {
            observation,
            reward: if success { 1.0 } else { 0.0 },
            terminated: episode.terminated,
            truncated: episode.truncated,
            invalid: parsed.is_none(),
            success: episode.terminated,
            info,
        };
        self.episode = Some(episode);
        step
    }

    fn expert(&self) -> Vec<String> {
        self.episode
            .as_ref()
            .map(|e| e.expert.clone())
            .unwrap_or_default()
    }

    /// The expert's phases (HiPER's subgoals): `find {object}` up to and including its take,
    /// then `{clean|heat|cool|light} {object}` up to the processing action, then
    /// `place {object}` (pick-two finds and places a second object the same way).
    fn expert_subgoals(&self) -> Vec<String> {
        let actions = self.expert();
        let object_of = |take: &str| {
            take.strip_prefix("take ")
                .and_then(|rest| rest.split(" from ").next())
                .unwrap_or("it")
                .to_string()
        };
        let processing = ["clean ", "heat ", "cool ", "use "];
        let mut subgoals = Vec::with_capacity(actions.len());
        let mut held: Option<String> = None;
        for (t, action) in actions.iter().enumerate() {
            if action.starts_with("take ") {
                held = Some(object_of(action));
            }
            let subgoal = match &held {
                None => {
                    let next_take = actions[t..].iter().find(|a| a.starts_with("take "));
                    format!("find {}", next_take.map_or("it".into(), |a| object_of(a)))
                }
                Some(object) if action.starts_with("take ") => format!("find {object}"),
                Some(object) => {
                    let pending = actions[t..]
                        .iter()
                        .take_while(|a| !a.starts_with("take ") && !a.starts_with("put "))
                        .find_map(|a| processing.iter().find(|p| a.starts_with(*p)));
                    match pending.map(|p| p.trim()) {
                        Some("use") => format!("light {object}"),
                        Some(verb) => format!("{verb} {object}"),
                        None => format!("place {object}"),
                    }
                }
            };
            if action.starts_with("put ") {
                held = None;
            }
            subgoals.push(subgoal);
        }
        subgoals
    }

    fn boxed_clone(&self) -> Box<dyn AgentEnv> {
        Box::new(TextHouse {
            config: self.config.clone(),
            episode: None,
        })
    }
}
