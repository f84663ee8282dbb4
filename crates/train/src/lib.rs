//! polopt-train: the training loops and everything a run leaves on disk.
//!
//! - [`compare`]: a (preset x seed) grid of runs as child processes, resumable.
//! - [`control`]: on-policy control (PPO, A2C, REINFORCE, BPO) on classic-control envs.
//! - [`offpolicy`]: continuous-action off-policy control (TD3, SAC) over a replay buffer.
//! - [`group_rl`]: warm start, then group RL with verifiable rewards (GRPO and its variants),
//!   read top to bottom in one file.
//! - [`hdpo`]: HDPO (pathwise gradients through differentiable inventory simulators) and its
//!   REINFORCE comparator.
//! - [`driver`]: loops with a value model ([`tppo`], [`dapo_step`]; [`critic`]) plugged into `group_rl`'s step.
//! - [`preference`]: the preference rollout kinds (offline pairs, online pairs, reference
//!   pairs) as one driver: DPO and its loss types, KTO, ORPO, the reward model, online DPO,
//!   INPO, SePPO.
//! - [`expo`]: EXPO's parts (DDPM base policy, edit policy, on-the-fly argmax-Q selector, Q
//!   ensemble) and its bimodal-bandit check.
//! - [`config`]: the run's TOML (embedded default, preset, file, `--set`), with range checks.
//! - [`segment`]: the SPO chain and tree rollouts, which plan their own token advantages.
//! - [`rollout`], [`tool_rollout`] (tool calls mid-answer), [`packing`], [`reward`], [`eval`],
//!   [`sft`]: the pieces of one iteration.
//! - [`agent_rollout`]: episodes of an agent environment played turn by turn (the group
//!   rollout's sampler for agent tasks), IGPO's gold-answer probe; [`plan_critic`]: HiPER's
//!   three-head critic over plan-execute turns, hooked into the loop.
//! - [`r3`]: R³'s per-query buffer, replays and reflection prompts, hooked into the loop.
//! - [`method_hooks`]: the old-policy pass and the step's entropy, for methods that ask.
//! - [`rewards`]: rewards by name from `[[reward]]` tables (math, exact, regex, length, a
//!   user's Python function or program), combined as a weighted sum.
//! - [`codec`]: text <-> ids for the built-in characters or a Hugging Face tokenizer + chat
//!   template; [`prompts`]: the task's generator or a dataset's epoch order (`[data]`);
//!   `group_rl::setup` picks model, codec, prompts and reward for a run (`model.path`).
//! - [`export`]: a built-in run's checkpoint and problems as an HF directory and a dataset.
//! - [`scoring`] and [`minibatch`]: the reward + NaN policy and the K-epoch minibatch update
//!   that every rollout kind shares.
//! - [`optim`], [`run_dir`], [`seeds`]: AdamW with saveable state, checkpoints and metrics,
//!   and the derived random streams that make resume exact.
pub mod agent_rollout;
pub mod codec;
pub mod compare;
pub mod config;
pub mod control;
pub mod critic;
pub mod dapo_step;
pub mod driver;
pub mod error;
pub mod eval;
pub mod expo;
pub mod export;
pub mod group_rl;
pub mod hdpo;
pub mod learned_reward;
pub mod method_hooks;
pub mod minibatch;
pub mod multi_objective;
pub mod offpolicy;
pub mod optim;
pub mod packing;
pub mod plan_critic;
pub mod policy;
pub mod preference;
pub mod prompts;
pub mod r3;
pub mod reward;
pub mod rewards;
pub mod rollout;
pub mod rollout_source;
pub mod round_rows;
pub mod run_dir;
pub mod scoring;
pub mod seeds;
pub mod segment;
pub mod sft;
pub mod theory;
pub mod tool_rollout;
pub mod tppo;
pub mod turn_entropy;
pub mod warm_cache;
pub mod world;

pub use config::{load_config, RunConfig};
pub use error::TrainError;
pub use group_rl::{train, TrainOptions, TrainSummary};
