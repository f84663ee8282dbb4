//! The "risky shortcut" of dr-rpo.md's small check: 2 states, 2 actions, horizon 3. In s0,
//! `SAFE` stays in s0 with reward 0.5; `RISKY` (reward 0) moves to s1 w.p. 0.9 and stays in s0
//! w.p. 0.1. s1 pays 1 per step under either action and, nominally, never leaves.
//!
//! Nominally "risky first, then safe" is optimal (value 1.9). Under TV radius ρ the adversary
//! also leaks ρ of s1's mass back to s0, and at ρ = 0.4 the robust optimum switches to "always
//! safe" (1.5 against 1.4); the switch happens at ρ ≈ 0.309, so at the spec's ρ = 0.3 "risky"
//! is still robust-optimal, by 0.01 (see the tests in `crates/envs/tests/robust_dp.rs`).
use super::linear_mdp::LinearMdp;
use super::{TabularError, TabularMdp};

pub const SAFE: usize = 0;
pub const RISKY: usize = 1;
pub const HORIZON: usize = 3;

/// The tabular MDP (start in s0).
pub fn risky_shortcut_mdp() -> Result<TabularMdp, TabularError> {
    // [s][a][s']
    let kernel = vec![
        1.0, 0.0, // s0, safe
        0.1, 0.9, // s0, risky
        0.0, 1.0, // s1, safe
        0.0, 1.0, // s1, risky
    ];
    let reward = vec![0.5, 0.0, 1.0, 1.0];
    TabularMdp::new(2, 2, kernel, reward, vec![1.0, 0.0])
}

/// The same as a d-rectangular linear MDP with one-hot features (d = 4), horizon 3.
pub fn risky_shortcut() -> Result<LinearMdp, TabularError> {
    LinearMdp::one_hot(&risky_shortcut_mdp()?, HORIZON)
}
