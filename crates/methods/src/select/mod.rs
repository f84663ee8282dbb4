//! Selection: what reaches the loss. Group filters and reward shaping that work on plain
//! numbers before any tensor exists.
pub(crate) mod d3s;
mod dynamic_sampling;
mod overlong;
pub(crate) mod r3;

pub use d3s::{max_variance_subset, top_tokens_mask, D3sConfig};
pub use dynamic_sampling::{group_has_signal, BatchFill, FillReport};
pub use overlong::overlong_penalty;
pub use r3::{
    collapsed, entropy_profile, is_hard, nonzero_group_frac, scale_replayed, serr_rewards,
    serr_shape, Attempt, Collapsed, QueryHistory, R3Config, ReplayBuffer, SerrTies,
};
