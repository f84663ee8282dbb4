//! Exact, small-scale cores of four seed preference methods (issue 15), in plain f64 over
//! item ids, bandits and tabular MDPs: the synthetic games the specs check them on, and the
//! pure functions a text loop reuses (the oracle contract, SPO's win-rate reward).
//!
//! - [`oracle`]: [`PreferenceOracle`] `P(a ≻ b)` and the games' oracles (rock-paper-scissors,
//!   Bradley–Terry scores, scores with an intransitive twist).
//! - [`selfplay`]: SPO's win-rate reward and the exploitability of a policy (spo-selfplay.md).
//! - [`bt_fit`]: the Bradley–Terry reward-model baseline that SPO is compared against.
//! - [`inpo_game`]: one INPO iteration on a softmax policy, the exact OMD step it targets and
//!   the regularised Nash equilibrium (inpo.md's small-scale check).
//! - [`demo_reg`]: behaviour cloning, the KL-to-BC regularised backup, soft value iteration and
//!   the optimistic online planner (demo-regularized-rl.md).
//! - [`parl`]: A-PARL's implicit hypergradient on the spec's two-action bandit (parl.md).
pub mod bt_fit;
pub mod demo_reg;
pub mod inpo_game;
pub mod oracle;
pub mod parl;
pub mod selfplay;

pub use bt_fit::{fit_bradley_terry, Comparison};
pub use demo_reg::{
    kl_regularised_optimum, laplace_bc, policy_value, soft_value_iteration, EmpiricalModel,
    TabularMdp, TabularPolicy,
};
pub use inpo_game::{
    inpo_game_iteration, inpo_h, inpo_loss_and_grad, inpo_pair_loss, log_softmax, omd_step,
    regularised_nash, InpoGameConfig, PreferencePair,
};
pub use oracle::{CyclicOracle, PreferenceOracle, RockPaperScissors, ScoreOracle};
pub use parl::{run_parl, Hypergradient, LowerSolver, ParlBandit, ParlRun, UpperGradient};
pub use selfplay::{exploitability, win_probabilities, win_rates};
