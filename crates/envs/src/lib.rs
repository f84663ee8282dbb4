//! polopt-envs: the bottom layer. Environments and tasks in pure Rust, with no tensors.
//!
//! - [`classic`]: Gymnasium-exact classic-control environments and a vectorised wrapper.
//! - [`text`]: verifiable text tasks (generators with disjoint splits, verifiers).
pub mod classic;
pub mod text;
