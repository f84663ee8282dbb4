//! IterResearch's workspace reconstruction (eapo-iterresearch.md, "Markovian state
//! reconstruction"), reconstructed for policies that do not write their own report.
//!
//! The paper rebuilds each round's context from the question, an evolving report the agent
//! writes, and the last action with its tool response; everything else is dropped, so the
//! context stays bounded however long the episode runs. Our small policies cannot write a
//! report, so the report here is the episode's earlier actions with their observations elided
//! ([`ELIDED`]): the round-`t` context is
//!
//! `prompt + Σ_{k<t−1} (a_k + reply(…)) + a_{t−1} + reply(o_{t−1})`
//!
//! in the trajectory text's own format (agent module docs), so a policy warm-started on full
//! histories reads it as a history whose older observations are blank. Its length grows with
//! the actions only, never with the observations.
use super::{env_reply, TURN_PROMPT};

/// What stands in for an observation the workspace dropped.
pub const ELIDED: &str = "...";

/// One episode's workspace: the report of earlier turns and the last turn in full.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workspace {
    /// Earlier turns' actions, each with its elided reply.
    report: String,
    /// The last turn: its action and the environment's full reply.
    last: String,
    /// The last turn as the report will hold it once another turn follows.
    last_elided: String,
}

impl Workspace {
    /// Records a played turn: `action` as the policy wrote it (its stop included), the `stop`
    /// it ended in (`""` when none) and the observation the environment answered with.
    pub fn push(&mut self, action: &str, stop: &str, observation: &str) {
        self.report.push_str(&self.last_elided);
        self.last = format!("{action}{}", env_reply(stop, observation));
        self.last_elided = format!("{action}{}", env_reply(stop, ELIDED));
    }

    /// The context the next action is taken from, after the episode's `prompt` (which ends in
    /// [`TURN_PROMPT`]).
    pub fn context(&self, prompt: &str) -> String {
        format!("{prompt}{}{}", self.report, self.last)
    }

    /// True before the first turn is recorded: the context is the prompt itself.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

/// The rounds of a trajectory (the prompt and a completion in the trajectory format, as
/// [`super::replay`] reads it) under workspace reconstruction: per action, the context it was
/// taken from and the action text (its stop included). Used to check a rollout's round rows
/// against the text it scored.
pub fn workspace_rounds(prompt: &str, completion: &str, stops: &[&str]) -> Vec<(String, String)> {
    let mut rounds = Vec::new();
    let mut ws = Workspace::default();
    let mut at = 0;
    while at < completion.len() {
        let rest = &completion[at..];
        let (end, stop) = super::action_end(rest, stops).unwrap_or((rest.len(), ""));
        let action = &rest[..end];
        rounds.push((ws.context(prompt), action.to_string()));
        at += end;
        // The reply runs to the next turn prompt; a completion cut inside it ends here.
        let Some(prompt_at) = completion[at..].find(TURN_PROMPT) else {
            break;
        };
        let reply = &completion[at..at + prompt_at];
        let observation = reply.strip_prefix('\n').filter(|_| stop != "\n");
        ws.push(action, stop, observation.unwrap_or(reply));
        at += prompt_at + TURN_PROMPT.len();
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_keeps_the_last_observation_and_elides_the_rest() {
        let mut ws = Workspace::default();
        let prompt = "find the key\n> ";
        assert!(ws.is_empty());
        assert_eq!(ws.context(prompt), prompt);
        ws.push("left\n", "\n", "cell 2, no key");
        assert_eq!(
            ws.context(prompt),
            "find the key\n> left\ncell 2, no key\n> "
        );
        ws.push("left\n", "\n", "cell 1, a key");
        ws.push("get key\n", "\n", "you hold the key");
        assert_eq!(
            ws.context(prompt),
            "find the key\n> left\n...\n> left\n...\n> get key\nyou hold the key\n> "
        );
    }

    #[test]
    fn the_context_grows_with_actions_not_observations() {
        let long = "x".repeat(500);
        let mut ws = Workspace::default();
        let mut lens = Vec::new();
        for _ in 0..10 {
            ws.push("go\n", "\n", &long);
            lens.push(ws.context("q\n> ").len());
        }
        // Every turn adds its action and an elided reply: constant steps, no observation.
        let steps: Vec<usize> = lens.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(steps.iter().all(|&s| s == "go\n...\n> ".len()), "{steps:?}");
        assert!(lens[9] < 4 + 10 * 10 + long.len() + 10);
    }

    #[test]
    fn rounds_of_a_trajectory_follow_the_workspace() {
        let prompt = "q\n> ";
        let completion = "left\ncell 2\n> left\ncell 1\n> get key\ndone\n> right";
        let rounds = workspace_rounds(prompt, completion, &["\n"]);
        let contexts: Vec<&str> = rounds.iter().map(|(c, _)| c.as_str()).collect();
        let actions: Vec<&str> = rounds.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(actions, ["left\n", "left\n", "get key\n", "right"]);
        assert_eq!(
            contexts,
            [
                "q\n> ",
                "q\n> left\ncell 2\n> ",
                "q\n> left\n...\n> left\ncell 1\n> ",
                "q\n> left\n...\n> left\n...\n> get key\ndone\n> ",
            ]
        );
        // An action with a tag stop gets the environment's newline in its reply.
        let tagged = workspace_rounds(
            "q\n> ",
            "<search>a</search>\nr1\n> <answer>b",
            &["</search>"],
        );
        assert_eq!(tagged[1].0, "q\n> <search>a</search>\nr1\n> ");
    }
}
