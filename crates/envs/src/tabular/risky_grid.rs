//! The 4×4 risky-shortcut grid of distributional-dp.md's gridworld check, cliff-like:
//!
//! ```text
//!   col 0 1 2 3
//! row 0   .  .  .  .
//! row 1   .  .  .  .
//! row 2   .  ~  ~  .
//! row 3   S  ~  ~  G
//! ```
//! Cell `(row, col)` is state `4·row + col`; S = 12, G = 15. Actions `UP, RIGHT, DOWN, LEFT`
//! move one cell (a move into the wall stays put). Every step costs −1; a step that ends in an
//! icy cell `~` (9, 10, 13, 14) also slips w.p. `p_slip`, costing `slip_penalty` more (the agent
//! still lands in that cell). G is absorbing with reward 0.
//!
//! The short path S → 13 → 14 → G takes 3 steps and 2 icy cells: return −3, −3 + penalty or
//! −3 + 2·penalty w.p. (1−p)², 2p(1−p), p². The safe path up column 0, along row 1 and down
//! column 3 takes 7 steps: −7 surely. With the defaults (p = 0.1, penalty −10) the short path
//! has mean −5 (risk-neutral DP takes it) and CVaR_0.1 −14 (CVaR optimization goes around).
use super::outcome_mdp::{Outcome, OutcomeMdp};
use super::TabularError;

pub const UP: usize = 0;
pub const RIGHT: usize = 1;
pub const DOWN: usize = 2;
pub const LEFT: usize = 3;
pub const SIDE: usize = 4;
pub const START: usize = 12;
pub const GOAL: usize = 15;
pub const ICY: [usize; 4] = [9, 10, 13, 14];
pub const STEP_REWARD: f64 = -1.0;
pub const DEFAULT_SLIP: f64 = 0.1;
pub const DEFAULT_PENALTY: f64 = -10.0;

/// The grid with slip probability `p_slip` in [0, 1) and extra reward `slip_penalty` per slip.
pub fn risky_grid(p_slip: f64, slip_penalty: f64) -> Result<OutcomeMdp, TabularError> {
    if !(0.0..1.0).contains(&p_slip) || !slip_penalty.is_finite() {
        return Err(TabularError::Invalid {
            what: "risky grid",
            reason: format!(
                "needs p_slip in [0, 1) and a finite penalty, got {p_slip}, {slip_penalty}"
            ),
        });
    }
    let n = SIDE * SIDE;
    let mut outcomes = Vec::with_capacity(n * 4);
    for s in 0..n {
        for a in 0..4 {
            if s == GOAL {
                outcomes.push(vec![Outcome {
                    prob: 1.0,
                    reward: 0.0,
                    next: GOAL,
                }]);
                continue;
            }
            let next = step(s, a);
            let land = |prob, reward| Outcome { prob, reward, next };
            outcomes.push(if ICY.contains(&next) && p_slip > 0.0 {
                vec![
                    land(1.0 - p_slip, STEP_REWARD),
                    land(p_slip, STEP_REWARD + slip_penalty),
                ]
            } else {
                vec![land(1.0, STEP_REWARD)]
            });
        }
    }
    OutcomeMdp::new(n, 4, outcomes, START)
}

/// The cell a move leads to (the same cell at a wall).
pub fn step(s: usize, a: usize) -> usize {
    let (row, col) = (s / SIDE, s % SIDE);
    let (row, col) = match a {
        UP => (row.saturating_sub(1), col),
        RIGHT => (row, (col + 1).min(SIDE - 1)),
        DOWN => ((row + 1).min(SIDE - 1), col),
        _ => (row, col.saturating_sub(1)),
    };
    row * SIDE + col
}
