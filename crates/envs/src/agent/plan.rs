//! Plan-execute turns (HiPER, hiper-hae.md): each turn the policy writes a plan decision, a
//! subgoal and an action, `"{switch|keep} {subgoal} => {action}"`; the environment sees the
//! action alone. [`PlanExecute`] wraps any environment so, and turns its expert's actions into
//! plan-execute turns with the expert's subgoals ([`AgentEnv::expert_subgoals`]).
//!
//! A turn that does not parse (no `switch`/`keep` word, or no `=>`) is played as a plain
//! action, usually an invalid one: the format is learned, not enforced.
use super::{AgentEnv, Reset, Step};

pub const SWITCH: &str = "switch";
pub const KEEP: &str = "keep";
/// Between the subgoal and the action.
pub const ARROW: &str = " => ";

/// One plan-execute turn, as byte ranges of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTurn {
    /// The turn opens a new segment (`switch`); `keep` continues the current subgoal.
    pub switch: bool,
    /// The decision word.
    pub decision: std::ops::Range<usize>,
    /// The subgoal text (after the decision word and its space, before [`ARROW`]).
    pub subgoal: std::ops::Range<usize>,
    /// The action (after [`ARROW`], to the end of the turn text).
    pub action: std::ops::Range<usize>,
}

/// Parses a turn's text (leading spaces allowed); `None` when it is not a plan-execute turn.
pub fn parse_plan_turn(text: &str) -> Option<PlanTurn> {
    let start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    let (switch, word) = if rest.starts_with(SWITCH) {
        (true, SWITCH)
    } else if rest.starts_with(KEEP) {
        (false, KEEP)
    } else {
        return None;
    };
    let after = start + word.len();
    let arrow = text[after..].find(ARROW)? + after;
    let subgoal_start = (after + 1).min(arrow);
    Some(PlanTurn {
        switch,
        decision: start..after,
        subgoal: subgoal_start..arrow,
        action: arrow + ARROW.len()..text.len(),
    })
}

/// The turn text of a decision, a subgoal and an action.
pub fn plan_turn_text(switch: bool, subgoal: &str, action: &str) -> String {
    let word = if switch { SWITCH } else { KEEP };
    format!("{word} {subgoal}{ARROW}{action}")
}

/// An environment whose turns are plan-execute turns.
pub struct PlanExecute {
    inner: Box<dyn AgentEnv>,
}

impl PlanExecute {
    pub fn new(inner: Box<dyn AgentEnv>) -> Self {
        Self { inner }
    }
}

impl AgentEnv for PlanExecute {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn config_json(&self) -> serde_json::Value {
        let mut config = self.inner.config_json();
        if let Some(map) = config.as_object_mut() {
            map.insert("plan_execute".into(), true.into());
        }
        config
    }
    fn horizon(&self) -> usize {
        self.inner.horizon()
    }
    fn action_stops(&self) -> &'static [&'static str] {
        self.inner.action_stops()
    }
    fn reset(&mut self, seed: u64) -> Reset {
        self.inner.reset(seed)
    }
    fn step(&mut self, action: &str) -> Step {
        match parse_plan_turn(action) {
            Some(turn) => self.inner.step(&action[turn.action]),
            None => self.inner.step(action),
        }
    }
    /// The expert's actions as plan-execute turns: `switch` where its subgoal changes.
    fn expert(&self) -> Vec<String> {
        let actions = self.inner.expert();
        let subgoals = self.inner.expert_subgoals();
        let mut previous: Option<&str> = None;
        actions
            .iter()
            .enumerate()
            .map(|(t, action)| {
                let subgoal = subgoals.get(t).map_or("act", String::as_str);
                let switch = previous != Some(subgoal);
                previous = Some(subgoal);
                plan_turn_text(switch, subgoal, action)
            })
            .collect()
    }
    fn expert_subgoals(&self) -> Vec<String> {
        self.inner.expert_subgoals()
    }
    fn gold_answer(&self) -> Option<String> {
        self.inner.gold_answer()
    }
    fn answer_prefix(&self) -> &'static str {
        self.inner.answer_prefix()
    }
    fn boxed_clone(&self) -> Box<dyn AgentEnv> {
        Box::new(PlanExecute::new(self.inner.boxed_clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::corridor::{Config, Corridor};

    #[test]
    fn turns_parse_into_decision_subgoal_and_action() {
        let text = "switch fetch the key => left\n";
        let turn = parse_plan_turn(text).unwrap();
        assert!(turn.switch);
        assert_eq!(&text[turn.decision], "switch");
        assert_eq!(&text[turn.subgoal], "fetch the key");
        assert_eq!(&text[turn.action], "left\n");
        let keep = parse_plan_turn("keep  x => open").unwrap();
        assert!(!keep.switch);
        assert_eq!(parse_plan_turn("left"), None);
        assert_eq!(parse_plan_turn("switch without arrow"), None);
        let empty = parse_plan_turn("keep => open").unwrap();
        assert!(empty.subgoal.is_empty());
    }

    #[test]
    fn the_wrapped_expert_switches_where_its_subgoal_changes_and_still_succeeds() {
        let mut env = PlanExecute::new(Box::new(Corridor::new(Config::default()).unwrap()));
        env.reset(4);
        let turns = env.expert();
        let switches: Vec<bool> = turns
            .iter()
            .map(|t| parse_plan_turn(t).unwrap().switch)
            .collect();
        // Fetch the key (3 moves + pick), then return and open (3 moves + open).
        assert_eq!(
            switches,
            [true, false, false, false, true, false, false, false]
        );
        let last = turns.iter().map(|t| env.step(t)).last().unwrap();
        assert!(last.success);
        // A plain action still reaches the environment.
        env.reset(4);
        assert!(!env.step("left").invalid || !env.step("right").invalid);
    }
}
