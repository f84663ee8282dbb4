//! Gridworld coverage (subpo.md, "Small CPU check"): an agent walks `horizon` steps on a grid
//! and is scored by the set function F(V) = |∪_{v∈V} N_r(v)|, the number of cells within
//! Manhattan distance `r` of some visited cell. F is monotone and submodular, not a sum of
//! per-state rewards, so this is not a [`super::TabularMdp`]: the dynamics are deterministic
//! moves and the score needs the visited set. [`Covered`] carries that set and turns each new
//! cell into its marginal gain F(v | V) = F(V ∪ {v}) − F(V).
use super::TabularError;

/// Actions: the four moves (a move off the grid stays put) and staying.
pub const UP: usize = 0;
pub const DOWN: usize = 1;
pub const LEFT: usize = 2;
pub const RIGHT: usize = 3;
pub const STAY: usize = 4;
pub const N_ACTIONS: usize = 5;

/// A `height × width` grid, cells indexed row-major (`row * width + col`).
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageGrid {
    width: usize,
    height: usize,
    start: usize,
    horizon: usize,
    /// The sensing radius r of N_r(v); 0 makes F the number of distinct cells visited.
    radius: usize,
    /// `sensed[c]`: the cells of N_r(c), precomputed since every step asks for them.
    sensed: Vec<Vec<usize>>,
}

impl CoverageGrid {
    /// `start` is `(row, col)`.
    pub fn new(
        height: usize,
        width: usize,
        start: (usize, usize),
        horizon: usize,
        radius: usize,
    ) -> Result<Self, TabularError> {
        if width == 0 || height == 0 {
            return Err(TabularError::Invalid {
                what: "coverage grid",
                reason: format!("needs at least one cell, got {height} x {width}"),
            });
        }
        if start.0 >= height || start.1 >= width {
            return Err(TabularError::Invalid {
                what: "coverage grid",
                reason: format!("start {start:?} is outside the {height} x {width} grid"),
            });
        }
        let sensed = (0..width * height)
            .map(|c| {
                let (r, k) = (c / width, c % width);
                (0..width * height)
                    .filter(|&d| (d / width).abs_diff(r) + (d % width).abs_diff(k) <= radius)
                    .collect()
            })
            .collect();
        Ok(Self {
            width,
            height,
            start: start.0 * width + start.1,
            horizon,
            radius,
            sensed,
        })
    }

    /// The spec's instance: 5 × 5, start (2, 2), H = 10, with the given sensing radius
    /// (1 for the coverage task, 0 for the distinct-cells variant).
    pub fn spec(radius: usize) -> Self {
        Self::new(5, 5, (2, 2), 10, radius).expect("the spec's grid is valid")
    }

    pub fn n_cells(&self) -> usize {
        self.width * self.height
    }

    pub fn start(&self) -> usize {
        self.start
    }

    pub fn horizon(&self) -> usize {
        self.horizon
    }

    pub fn radius(&self) -> usize {
        self.radius
    }

    /// The index of `(row, col)`.
    pub fn cell(&self, row: usize, col: usize) -> usize {
        row * self.width + col
    }

    /// The deterministic move; off-grid moves stay.
    pub fn step(&self, cell: usize, action: usize) -> usize {
        let (r, c) = (cell / self.width, cell % self.width);
        match action {
            UP if r > 0 => cell - self.width,
            DOWN if r + 1 < self.height => cell + self.width,
            LEFT if c > 0 => cell - 1,
            RIGHT if c + 1 < self.width => cell + 1,
            _ => cell,
        }
    }

    /// N_r(cell): the cells it senses.
    pub fn sensed(&self, cell: usize) -> &[usize] {
        &self.sensed[cell]
    }

    /// F(V) for the visited cells `path` (repeats allowed).
    pub fn coverage(&self, path: &[usize]) -> usize {
        let mut covered = Covered::new(self);
        for &c in path {
            covered.add(self, c);
        }
        covered.value()
    }

    /// The marginal gains along `path`: the first entry is F({s_0}), entry j ≥ 1 is
    /// F(s_j | s_0..s_{j−1}); they sum to F(path).
    pub fn marginal_gains(&self, path: &[usize]) -> Vec<f64> {
        let mut covered = Covered::new(self);
        path.iter().map(|&c| covered.add(self, c) as f64).collect()
    }

    /// max over action sequences of F(τ), by depth-first search over the moves (staying never
    /// gains, so it is skipped) with the bound "each remaining step gains at most |N_r|".
    /// Exponential in the horizon: meant for the spec's H = 10 (4^10 leaves at most).
    pub fn optimal_coverage(&self) -> usize {
        let max_gain = self.sensed.iter().map(Vec::len).max().unwrap_or(0);
        let mut covered = Covered::new(self);
        covered.add(self, self.start);
        let mut best = covered.value();
        self.search(self.start, self.horizon, &mut covered, max_gain, &mut best);
        best
    }

    fn search(
        &self,
        cell: usize,
        left: usize,
        covered: &mut Covered,
        max_gain: usize,
        best: &mut usize,
    ) {
        *best = (*best).max(covered.value());
        if left == 0 || covered.value() + left * max_gain <= *best {
            return;
        }
        for a in [UP, DOWN, LEFT, RIGHT] {
            let next = self.step(cell, a);
            let added = covered.add_logged(self, next);
            self.search(next, left - 1, covered, max_gain, best);
            covered.undo(&added);
        }
    }
}

/// The covered cells ∪_{v∈V} N_r(v) of a growing visited set V.
#[derive(Debug, Clone, PartialEq)]
pub struct Covered {
    mask: Vec<bool>,
    count: usize,
}

impl Covered {
    pub fn new(grid: &CoverageGrid) -> Self {
        Self {
            mask: vec![false; grid.n_cells()],
            count: 0,
        }
    }

    /// F(V).
    pub fn value(&self) -> usize {
        self.count
    }

    /// Whether `cell` is covered.
    pub fn contains(&self, cell: usize) -> bool {
        self.mask[cell]
    }

    /// Adds a visited cell and returns its marginal gain F(cell | V).
    pub fn add(&mut self, grid: &CoverageGrid, cell: usize) -> usize {
        let before = self.count;
        for &c in grid.sensed(cell) {
            if !self.mask[c] {
                self.mask[c] = true;
                self.count += 1;
            }
        }
        self.count - before
    }

    /// [`Covered::add`] that returns the newly covered cells, for [`Covered::undo`].
    fn add_logged(&mut self, grid: &CoverageGrid, cell: usize) -> Vec<usize> {
        let added: Vec<usize> = grid
            .sensed(cell)
            .iter()
            .copied()
            .filter(|&c| !self.mask[c])
            .collect();
        for &c in &added {
            self.mask[c] = true;
        }
        self.count += added.len();
        added
    }

    fn undo(&mut self, added: &[usize]) {
        for &c in added {
            self.mask[c] = false;
        }
        self.count -= added.len();
    }
}
