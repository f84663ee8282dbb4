//! Selection: what reaches the loss. Group filters and reward shaping that work on plain
//! numbers before any tensor exists.
mod d3s;
mod dynamic_sampling;
mod overlong;

pub use d3s::{max_variance_subset, top_tokens_mask, D3sConfig};
pub use dynamic_sampling::{group_has_signal, BatchFill, FillReport};
pub use overlong::overlong_penalty;
