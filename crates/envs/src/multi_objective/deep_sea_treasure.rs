//! Deep Sea Treasure (Vamplew et al. 2011; concave values from Yang et al. 2019), as in the
//! "Small CPU check" of `algorithms/c-morl.md`.
//!
//! A submarine starts at (row 0, col 0) of an 11 × 10 grid and moves up, down, left or right.
//! Ten treasures lie on a staircase-shaped sea floor; every cell below a treasure in its column
//! is rock (a wall). Each step gives the reward vector `(treasure value if a treasure is entered
//! else 0, −1)`; the episode ends on a treasure or after 100 steps. Moves off the grid or into
//! rock leave the submarine in place (and still cost the step).
//!
//! The front is known: the return of reaching treasure k by a shortest path is
//! `(value_k, −steps_k)`. [`DeepSeaTreasure::pareto_front`] derives it from the map by
//! breadth-first search instead of copying the spec's list, so the test that compares the two
//! checks the map as well.
use std::collections::VecDeque;

use super::{MultiObjectiveError, VectorRewardEnv, VectorStep};

const ENV: &str = "DeepSeaTreasure";
/// Grid height and width.
pub const ROWS: usize = 11;
pub const COLS: usize = 10;
/// The spec's time limit.
pub const MAX_STEPS: usize = 100;

/// Action indices, in the order of MO-Gymnasium's `deep-sea-treasure-v0`.
pub const UP: usize = 0;
pub const DOWN: usize = 1;
pub const LEFT: usize = 2;
pub const RIGHT: usize = 3;
const MOVES: [(isize, isize); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];

/// Treasure cells (row, col), shallow to deep; both value sets use them.
const CELLS: [(usize, usize); 10] = [
    (1, 0),
    (2, 1),
    (3, 2),
    (4, 3),
    (4, 4),
    (4, 5),
    (7, 6),
    (7, 7),
    (9, 8),
    (10, 9),
];
const CONCAVE: [f64; 10] = [0.7, 8.2, 11.5, 14.0, 15.1, 16.1, 19.6, 20.3, 22.4, 23.7];
const CONVEX: [f64; 10] = [1.0, 2.0, 3.0, 5.0, 8.0, 16.0, 24.0, 50.0, 74.0, 124.0];

/// Which treasure values the map carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreasureValues {
    /// Yang et al. 2019's values: the front is concave, so linear scalarisation finds only part
    /// of it (the spec's default and the point of its check).
    #[default]
    Concave,
    /// The classic values 1, 2, 3, 5, 8, 16, 24, 50, 74, 124.
    Convex,
}

impl TreasureValues {
    fn values(self) -> &'static [f64; 10] {
        match self {
            TreasureValues::Concave => &CONCAVE,
            TreasureValues::Convex => &CONVEX,
        }
    }
}

/// One treasure of the map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Treasure {
    pub row: usize,
    pub col: usize,
    pub value: f64,
}

/// The Deep Sea Treasure environment; observations are cells `row * COLS + col`.
#[derive(Debug, Clone)]
pub struct DeepSeaTreasure {
    values: TreasureValues,
    max_steps: usize,
    row: usize,
    col: usize,
    steps: usize,
    /// `None` while an episode runs; otherwise why `step` must wait for a reset.
    ended: Option<&'static str>,
}

impl DeepSeaTreasure {
    /// A fresh environment with the spec's 100-step limit; call [`VectorRewardEnv::reset`]
    /// before the first step.
    pub fn new(values: TreasureValues) -> Self {
        DeepSeaTreasure {
            values,
            max_steps: MAX_STEPS,
            row: 0,
            col: 0,
            steps: 0,
            ended: Some("before the first reset()"),
        }
    }

    /// The same environment with another time limit (at least 1 step).
    pub fn with_max_steps(mut self, max_steps: usize) -> Result<Self, MultiObjectiveError> {
        if max_steps == 0 {
            return Err(MultiObjectiveError::InvalidSetting {
                env: ENV,
                field: "max_steps",
                value: max_steps.to_string(),
                expected: "at least 1, or the episode would end before its first step",
            });
        }
        self.max_steps = max_steps;
        Ok(self)
    }

    /// The treasures, shallow to deep.
    pub fn treasures(&self) -> Vec<Treasure> {
        CELLS
            .iter()
            .zip(self.values.values())
            .map(|(&(row, col), &value)| Treasure { row, col, value })
            .collect()
    }

    /// The cell index of (row, col).
    pub fn cell(row: usize, col: usize) -> usize {
        row * COLS + col
    }

    /// Whether (row, col) is rock: below a treasure in the treasure's column.
    pub fn is_wall(row: usize, col: usize) -> bool {
        CELLS.iter().any(|&(r, c)| c == col && row > r)
    }

    fn treasure_at(&self, row: usize, col: usize) -> Option<f64> {
        CELLS
            .iter()
            .position(|&cell| cell == (row, col))
            .map(|k| self.values.values()[k])
    }

    /// Where `action` leads from (row, col): off-grid moves and moves into rock stay put.
    fn moved(row: usize, col: usize, action: usize) -> (usize, usize) {
        let (dr, dc) = MOVES[action];
        match (row.checked_add_signed(dr), col.checked_add_signed(dc)) {
            (Some(r), Some(c)) if r < ROWS && c < COLS && !Self::is_wall(r, c) => (r, c),
            _ => (row, col),
        }
    }

    /// A shortest action sequence from the start to each treasure (shallow to deep), found by
    /// breadth-first search. Treasure cells end the episode, so the search does not pass
    /// through them.
    pub fn shortest_paths(&self) -> Vec<Vec<usize>> {
        // parent[cell] = (previous cell, action taken there)
        let mut parent: Vec<Option<(usize, usize)>> = vec![None; ROWS * COLS];
        let mut seen = [false; ROWS * COLS];
        let mut queue = VecDeque::from([(0usize, 0usize)]);
        seen[0] = true;
        while let Some((row, col)) = queue.pop_front() {
            if self.treasure_at(row, col).is_some() {
                continue;
            }
            for action in 0..MOVES.len() {
                let (r, c) = Self::moved(row, col, action);
                let next = Self::cell(r, c);
                if !seen[next] {
                    seen[next] = true;
                    parent[next] = Some((Self::cell(row, col), action));
                    queue.push_back((r, c));
                }
            }
        }
        CELLS
            .iter()
            .map(|&(row, col)| {
                let mut actions = Vec::new();
                let mut at = Self::cell(row, col);
                while let Some((prev, action)) = parent[at] {
                    actions.push(action);
                    at = prev;
                }
                actions.reverse();
                actions
            })
            .collect()
    }

    /// The exact Pareto front of undiscounted returns `(treasure value, −steps)`, sorted by
    /// fewer steps first: every treasure reached by a shortest path, less the dominated ones.
    /// (With either value set all ten treasures are on it, since deeper ones are worth more.)
    pub fn pareto_front(&self) -> Vec<[f64; 2]> {
        let returns: Vec<[f64; 2]> = self
            .treasures()
            .iter()
            .zip(self.shortest_paths())
            .filter(|(_, path)| !path.is_empty())
            .map(|(t, path)| [t.value, -(path.len() as f64)])
            .collect();
        let dominates = |a: &[f64; 2], b: &[f64; 2]| {
            a[0] >= b[0] && a[1] >= b[1] && (a[0] > b[0] || a[1] > b[1])
        };
        let mut front: Vec<[f64; 2]> = returns
            .iter()
            .filter(|p| !returns.iter().any(|q| dominates(q, p)))
            .copied()
            .collect();
        front.sort_by(|a, b| b[1].total_cmp(&a[1]));
        front
    }
}

impl VectorRewardEnv for DeepSeaTreasure {
    fn n_objectives(&self) -> usize {
        2
    }

    fn n_actions(&self) -> usize {
        MOVES.len()
    }

    fn n_observations(&self) -> usize {
        ROWS * COLS
    }

    fn reset(&mut self, _seed: u64) -> usize {
        self.row = 0;
        self.col = 0;
        self.steps = 0;
        self.ended = None;
        Self::cell(0, 0)
    }

    fn step(&mut self, action: usize) -> Result<VectorStep, MultiObjectiveError> {
        if let Some(reason) = self.ended {
            return Err(MultiObjectiveError::ResetNeeded { env: ENV, reason });
        }
        if action >= MOVES.len() {
            return Err(MultiObjectiveError::ActionOutOfRange {
                env: ENV,
                action,
                n_actions: MOVES.len(),
            });
        }
        (self.row, self.col) = Self::moved(self.row, self.col, action);
        self.steps += 1;
        let treasure = self.treasure_at(self.row, self.col);
        let done = treasure.is_some();
        let truncated = self.steps >= self.max_steps;
        if done || truncated {
            self.ended = Some("after the episode ended");
        }
        Ok(VectorStep {
            obs: Self::cell(self.row, self.col),
            reward: vec![treasure.unwrap_or(0.0), -1.0],
            done,
            truncated,
        })
    }
}
