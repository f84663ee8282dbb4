//! polopt-envs: the bottom layer. Environments and tasks in pure Rust, with no tensors.
//!
//! - [`agent`]: multi-turn text environments (TextHouse, MiniShop, SearchQA) for LM agents.
//! - [`classic`]: Gymnasium-exact classic-control environments and a vectorised wrapper.
//! - [`text`]: verifiable text tasks (generators with disjoint splits, verifiers).
//! - [`tabular`]: small MDPs with known kernels and their exact solvers (theory methods).
//! - [`data`]: datasets from JSONL and Parquet files as text-task problems, and their epoch order.
//! - [`inventory`]: inventory networks (HDPO): f64 reference simulators, scenarios, known optima.
//! - [`offline`]: D4RL-style offline datasets (random / medium / expert / ...) from our own
//!   environments with scripted experts, as safetensors files.
//! - [`multi_objective`]: vector-reward environments (Deep Sea Treasure) with known Pareto fronts.
pub mod agent;
pub mod classic;
pub mod data;
pub mod inventory;
pub mod multi_objective;
pub mod offline;
pub mod tabular;
pub mod text;
