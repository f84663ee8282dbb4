//! RiverSwim (Strehl & Littman 2008) with the kernel of loop.md: swimming right (action 1)
//! against the current usually fails, swimming left (action 0) always succeeds; a small reward
//! at the left bank and a large one at the right bank. Used by LOOP (average reward), the
//! optimistic actor-critic (episodic, H = 20) and GOSPRL (sample collection).
use super::{TabularError, TabularMdp};

pub const LEFT: usize = 0;
pub const RIGHT: usize = 1;
/// `r(0, LEFT)`.
pub const LEFT_REWARD: f64 = 0.005;
/// `r(n − 1, RIGHT)`.
pub const RIGHT_REWARD: f64 = 1.0;

/// RiverSwim with `n >= 2` states, starting in state 0.
pub fn riverswim(n: usize) -> Result<TabularMdp, TabularError> {
    if n < 2 {
        return Err(TabularError::Invalid {
            what: "riverswim",
            reason: format!("needs at least 2 states, got {n}"),
        });
    }
    let mut kernel = vec![0.0; n * 2 * n];
    let mut reward = vec![0.0; n * 2];
    let mut set = |s: usize, a: usize, t: usize, p: f64| kernel[(s * 2 + a) * n + t] += p;
    for s in 0..n {
        set(s, LEFT, s.saturating_sub(1), 1.0);
        if s == 0 {
            set(s, RIGHT, 0, 0.4);
            set(s, RIGHT, 1, 0.6);
        } else if s == n - 1 {
            set(s, RIGHT, s, 0.6);
            set(s, RIGHT, s - 1, 0.4);
        } else {
            set(s, RIGHT, s + 1, 0.35);
            set(s, RIGHT, s, 0.6);
            set(s, RIGHT, s - 1, 0.05);
        }
    }
    reward[LEFT] = LEFT_REWARD;
    reward[(n - 1) * 2 + RIGHT] = RIGHT_REWARD;
    let mut start = vec![0.0; n];
    start[0] = 1.0;
    TabularMdp::new(n, 2, kernel, reward, start)
}
