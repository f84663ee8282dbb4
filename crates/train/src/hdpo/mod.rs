//! Policy optimisation through inventory simulators: HDPO (Alvo, Russo, Kanoria; spec
//! `algorithms/hdpo.md`) and its REINFORCE comparator, on the networks of
//! `polopt_envs::inventory`.
//!
//! - [`config`]: the run's TOML (`[inventory]`, `[train]`, `[eval]`) and the presets' layers.
//! - [`sim`]: the differentiable simulators (f64 tensors, autograd through max/min/clip).
//! - [`policy`]: vanilla net, base-stock, capped base-stock, echelon-stock, symmetry-aware.
//! - [`rollout`]: rollouts and the two estimators (pathwise = HDPO, score = REINFORCE).
//! - [`problem`]: scenarios from seeded streams and the known optimum of each benchmark.
//! - [`trainer`]: the loop, dev selection, test, checkpoints and exact resume.
pub mod config;
pub mod policy;
pub mod problem;
pub mod rollout;
pub mod sim;
pub mod trainer;

pub use config::{load_inventory_config, InventoryConfig};
pub use trainer::{train_inventory, InventoryOptions, InventorySummary};
