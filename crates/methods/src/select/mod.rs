//! Selection: what reaches the loss. Group filters and reward shaping that work on plain
//! numbers before any tensor exists.
mod dynamic_sampling;
mod overlong;

pub use dynamic_sampling::{group_has_signal, BatchFill, FillReport};
pub use overlong::overlong_penalty;
