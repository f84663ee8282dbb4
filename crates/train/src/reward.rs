//! Scoring: a reward function maps (problem, completion text) to a verdict. The task's own
//! verifier is the default; library users may plug in their own, and a non-finite reward from
//! any of them is caught by the loop (counted and reported, or a stop), never trained on.
//! Rewards configured by name (`[[reward]]` tables) live in [`crate::rewards`].
use polopt_envs::text::{Problem, Task, Verdict};

use crate::error::TrainError;

/// One response to score: its problem, its decoded text (no `<eos>`) and its length in tokens
/// (what length rewards such as DAPO's overlong penalty read).
#[derive(Debug, Clone, Copy)]
pub struct Completion<'a> {
    pub problem: &'a Problem,
    pub text: &'a str,
    pub tokens: usize,
}

pub trait RewardFn: Send + Sync {
    fn name(&self) -> &str;
    /// The verdict on one completion. A reward that cannot score (a user function that raised)
    /// answers a NaN reward here, which the loop treats under `run.on_nan`; [`Self::score_batch`]
    /// reports the failure itself.
    fn score(&self, problem: &Problem, completion: &str) -> Verdict;
    /// The verdicts on `items`, in order, one per item. Rewards that call out (a Python function,
    /// a child process) override this to pay the call once per batch; a failure that is not a
    /// NaN (an exception, a timeout, a wrong number of results) is an error, never a 0 reward.
    fn score_batch(&self, items: &[Completion<'_>]) -> Result<Vec<Verdict>, TrainError> {
        Ok(items
            .iter()
            .map(|c| self.score(c.problem, c.text))
            .collect())
    }
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
