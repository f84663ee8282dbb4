//! Scoring: a reward function maps (problem, completion text) to a verdict. The task's own
//! verifier is the default; library users may plug in their own, and a non-finite reward from
//! any of them is caught by the loop (counted and reported, or a stop), never trained on.
use polopt_envs::text::{Problem, Task, Verdict};

pub trait RewardFn: Send + Sync {
    fn name(&self) -> &str;
    fn score(&self, problem: &Problem, completion: &str) -> Verdict;
}

/// The task's verifier as the reward.
pub struct VerifierReward(pub Box<dyn Task>);

impl RewardFn for VerifierReward {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn score(&self, problem: &Problem, completion: &str) -> Verdict {
        self.0.verify(problem, completion)
    }
}
