//! An agent environment as a [`Task`]: problems are episodes, so the group rollout, the
//! scorer, the warm start and the evaluation of the text tasks run multi-turn episodes
//! without a loop of their own (a task with [`Task::agent_env`] is played turn by turn, as a
//! tool task is answered call by call).
//!
//! Trajectory text (agent-envs.md, "Common interface"): the prompt is the first observation
//! followed by [`TURN_PROMPT`]; the completion is `action ("\n" if the action did not end in
//! one) observation TURN_PROMPT action ...`. The environment writes everything between the
//! end of an action and the end of the next [`TURN_PROMPT`]; the policy writes the rest. A
//! completion's trailing text (cut by `<eos>` or by the response budget) is played as its last
//! action, in the rollout and in [`replay`] alike, so the two always agree.
use std::sync::RwLock;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::{nth_seed, AgentEnv, AGENT_EXTRA_CHARS, TURN_PROMPT};
use crate::text::{Problem, Split, Task, TaskError, Verdict};

/// The environments `task.name` accepts besides the text tasks, in `polopt list` order.
pub const ENV_NAMES: &[&str] = &[
    super::texthouse::NAME,
    super::minishop::NAME,
    super::searchqa::NAME,
    super::corridor::NAME,
];

/// Builds an environment from its `task.rl` / `task.sft` table (JSON; `null` for defaults).
pub type EnvBuilder = fn(&serde_json::Value) -> Result<Box<dyn AgentEnv>, TaskError>;

/// Environments registered at run time by programs that use polopt as a library
/// ([`register_env`]). A list behind a lock rather than a const table like [`ENV_NAMES`]:
/// a user's environment lives in the user's crate, which this crate cannot name.
static USER_ENVS: RwLock<Vec<(&'static str, EnvBuilder)>> = RwLock::new(Vec::new());

/// Makes `name` a `task.name` that every loop, the warm start and the evaluation accept,
/// built by `build` (docs/agents.md, "Your own environment"). Registering a name again
/// replaces its builder; a built-in name cannot be taken.
pub fn register_env(name: &'static str, build: EnvBuilder) -> Result<(), TaskError> {
    if ENV_NAMES.contains(&name) || crate::text::TASK_NAMES.contains(&name) {
        return Err(TaskError::Invalid {
            field: "task.name".into(),
            message: format!(
                "`{name}` is a built-in task; register your environment under another name"
            ),
        });
    }
    let mut envs = USER_ENVS.write().unwrap_or_else(|e| e.into_inner());
    envs.retain(|(n, _)| *n != name);
    envs.push((name, build));
    Ok(())
}

/// Every agent environment name: the built-in ones, then those registered at run time.
pub fn env_names() -> Vec<&'static str> {
    let envs = USER_ENVS.read().unwrap_or_else(|e| e.into_inner());
    ENV_NAMES
        .iter()
        .copied()
        .chain(envs.iter().map(|(n, _)| *n))
        .collect()
}

/// The task-table key that makes an environment's turns plan-execute turns
/// ([`super::plan::PlanExecute`], HiPER); every other key is the environment's own.
pub const PLAN_EXECUTE_KEY: &str = "plan_execute";

/// Builds an agent environment by name from a JSON config (`null` gives the defaults);
/// `plan_execute = true` wraps it in [`super::plan::PlanExecute`].
pub fn make_env(name: &str, config: &serde_json::Value) -> Result<Box<dyn AgentEnv>, TaskError> {
    let mut own = config.clone();
    let plan = match own.as_object_mut().and_then(|m| m.remove(PLAN_EXECUTE_KEY)) {
        None => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(other) => {
            return Err(TaskError::Invalid {
                field: format!("{name}.{PLAN_EXECUTE_KEY}"),
                message: format!("must be true or false, got {other}"),
            })
        }
    };
    let env = make_plain_env(name, &own)?;
    Ok(match plan {
        true => Box::new(super::plan::PlanExecute::new(env)),
        false => env,
    })
}

fn make_plain_env(name: &str, config: &serde_json::Value) -> Result<Box<dyn AgentEnv>, TaskError> {
    match name {
        super::corridor::NAME => Ok(Box::new(super::corridor::Corridor::from_json(config)?)),
        super::minishop::NAME => Ok(Box::new(super::minishop::MiniShop::from_json(config)?)),
        super::texthouse::NAME => Ok(Box::new(super::texthouse::TextHouse::from_json(config)?)),
        super::searchqa::NAME => Ok(Box::new(super::searchqa::SearchQa::from_json(config)?)),
        _ => {
            let user = USER_ENVS
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, build)| *build);
            match user {
                Some(build) => build(config),
                None => Err(TaskError::UnknownTask {
                    name: name.to_string(),
                    known: env_names().join(", "),
                }),
            }
        }
    }
}

/// A multi-turn environment seen as a task of episodes.
pub struct AgentTask {
    env: Box<dyn AgentEnv>,
}

impl AgentTask {
    pub fn new(env: Box<dyn AgentEnv>) -> Self {
        Self { env }
    }

    /// The instance seed a problem of this task was drawn with.
    pub fn seed_of(problem: &Problem) -> Option<u64> {
        problem.meta.get("seed").and_then(|s| s.as_u64())
    }
}

/// What the environment appends after an action that ended in `stop` (a `None` stop: the
/// action ran to the end of the text): a newline unless the action's own stop was one, the
/// observation, and the next turn prompt.
pub fn env_reply(stop: &str, observation: &str) -> String {
    let newline = if stop == "\n" { "" } else { "\n" };
    format!("{newline}{observation}{TURN_PROMPT}")
}

/// Where the next action in `text` ends: the end of its earliest stop (the stop included), and
/// that stop; `None` when no stop follows (the trailing action).
pub fn action_end<'s>(text: &str, stops: &[&'s str]) -> Option<(usize, &'s str)> {
    stops
        .iter()
        .filter_map(|&stop| text.find(stop).map(|at| (at + stop.len(), stop)))
        .min_by_key(|&(end, _)| end)
}

/// One episode replayed from its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    pub reward: f64,
    pub success: bool,
    pub turns: usize,
    pub invalid: usize,
    /// Per character of the completion: written by the environment.
    pub env_mask: Vec<bool>,
    /// The text did not follow the environment's replies (it was not produced by a rollout).
    pub diverged: bool,
}

/// Plays the actions of `completion` on `env` from instance `seed`, checking that the text
/// between actions is the environment's own reply.
pub fn replay(env: &mut dyn AgentEnv, seed: u64, completion: &str) -> Replay {
    env.reset(seed);
    let stops = env.action_stops();
    let mut out = Replay {
        env_mask: vec![false; completion.chars().count()],
        ..Default::default()
    };
    let mut at = 0;
    while at < completion.len() {
        let rest = &completion[at..];
        let (end, stop) = action_end(rest, stops).unwrap_or((rest.len(), ""));
        let step = env.step(&rest[..end]);
        at += end;
        out.turns += 1;
        out.reward += step.reward;
        out.success |= step.success;
        out.invalid += step.invalid as usize;
        if step.terminated || step.truncated || at >= completion.len() {
            break;
        }
        let reply = env_reply(stop, &step.observation);
        let rest = &completion[at..];
        let written = if rest.starts_with(&reply) {
            reply.len()
        } else if reply.starts_with(rest) {
            rest.len()
        } else {
            out.diverged = true;
            break;
        };
        let first = completion[..at].chars().count();
        let n = completion[at..at + written].chars().count();
        out.env_mask[first..first + n].fill(true);
        at += written;
    }
    out
}

impl Task for AgentTask {
    fn name(&self) -> &'static str {
        self.env.name()
    }

    fn config_json(&self) -> serde_json::Value {
        self.env.config_json()
    }

    /// Draws one instance index (a `u32`) and plays the expert on it for the solution.
    fn sample(&self, split: Split, rng: &mut ChaCha8Rng) -> Problem {
        let seed = nth_seed(split, u64::from(rng.random::<u32>()));
        let mut env = self.env.boxed_clone();
        let reset = env.reset(seed);
        let mut solution = String::new();
        let actions = env.expert();
        for (t, action) in actions.iter().enumerate() {
            solution.push_str(action);
            let step = env.step(action);
            if step.terminated || step.truncated || t + 1 == actions.len() {
                break;
            }
            solution.push_str(&env_reply("", &step.observation));
        }
        Problem {
            prompt: format!("{}{TURN_PROMPT}", reset.observation),
            solution,
            answer: env.gold_answer().unwrap_or_default(),
            key: format!("{}:{seed}", self.env.name()),
            meta: serde_json::json!({"task": self.env.name(), "seed": seed}),
        }
    }

    /// The episode's total reward; correct when the environment's success criterion held.
    fn verify(&self, problem: &Problem, completion: &str) -> Verdict {
        let ours = problem.meta.get("task").and_then(|t| t.as_str()) == Some(self.env.name());
        let Some(seed) = Self::seed_of(problem).filter(|_| ours) else {
            return Verdict::malformed();
        };
        let mut env = self.env.boxed_clone();
        let played = replay(env.as_mut(), seed, completion);
        Verdict {
            reward: played.reward,
            correct: played.success,
            well_formed: played.turns > played.invalid,
        }
    }

    fn agent_env(&self) -> Option<Box<dyn AgentEnv>> {
        Some(self.env.boxed_clone())
    }

    fn extra_chars(&self) -> &'static str {
        AGENT_EXTRA_CHARS
    }
}

/// Per character of an expert solution: written by the environment (SFT keeps it out of the
/// loss). Structural, from the action stops and [`TURN_PROMPT`], so it needs no seed.
pub fn solution_env_mask(env: &dyn AgentEnv, text: &str) -> Vec<bool> {
    let mut mask = vec![false; text.chars().count()];
    let mut at = 0;
    while let Some((end, _)) = action_end(&text[at..], env.action_stops()) {
        let reply_start = at + end;
        let Some(prompt) = text[reply_start..].find(TURN_PROMPT) else {
            break;
        };
        let reply_end = reply_start + prompt + TURN_PROMPT.len();
        let first = text[..reply_start].chars().count();
        let n = text[reply_start..reply_end].chars().count();
        mask[first..first + n].fill(true);
        at = reply_end;
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn expert_solutions_replay_to_success_and_masks_agree() {
        let task = AgentTask::new(make_env("corridor", &serde_json::Value::Null).unwrap());
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for split in Split::ALL {
            let problem = task.sample(split, &mut rng);
            assert_eq!(
                super::super::split_of_seed(AgentTask::seed_of(&problem).unwrap()),
                split
            );
            let verdict = task.verify(&problem, &problem.solution);
            assert!(verdict.correct && verdict.reward == 1.0, "{problem:?}");
            let mut env = task.agent_env().unwrap();
            let played = replay(
                env.as_mut(),
                AgentTask::seed_of(&problem).unwrap(),
                &problem.solution,
            );
            assert!(!played.diverged);
            assert_eq!(
                played.env_mask,
                solution_env_mask(env.as_ref(), &problem.solution)
            );
            let env_text: String = problem
                .solution
                .chars()
                .zip(&played.env_mask)
                .filter(|(_, &e)| e)
                .map(|(c, _)| c)
                .collect();
            assert!(env_text.contains("cell") && env_text.ends_with(TURN_PROMPT));
        }
    }

    #[test]
    fn a_truncated_reply_and_a_wrong_reply_are_told_apart() {
        let task = AgentTask::new(make_env("corridor", &serde_json::Value::Null).unwrap());
        let mut env = task.agent_env().unwrap();
        // Seed 0's key side does not matter: "left" from the door is always valid.
        let cut = replay(env.as_mut(), 0, "left\ncell 2, n");
        assert!(!cut.diverged && cut.turns == 1);
        assert_eq!(
            cut.env_mask.iter().filter(|&&e| e).count(),
            "cell 2, n".len()
        );
        let wrong = replay(env.as_mut(), 0, "left\ncell 9, no key\n> left\n");
        assert!(wrong.diverged && wrong.turns == 1);
        // A trailing action without its stop is still played.
        let trailing = replay(env.as_mut(), 0, "left\ncell 2, no key\n> right");
        assert_eq!((trailing.turns, trailing.invalid), (2, 0));
    }
}
