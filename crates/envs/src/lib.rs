//! polopt-envs: the bottom layer. Environments and tasks in pure Rust, with no tensors.
//!
//! - [`classic`]: Gymnasium-exact classic-control environments and a vectorised wrapper.
//! - [`text`]: verifiable text tasks (generators with disjoint splits, verifiers).
//! - [`data`]: datasets from JSONL and Parquet files as text-task problems, and their epoch order.
pub mod classic;
pub mod data;
pub mod text;
