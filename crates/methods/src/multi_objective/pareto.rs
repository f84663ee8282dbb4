//! Pareto bookkeeping of C-MORL (spec `algorithms/c-morl.md`, "Pareto archive update",
//! "Crowding distance", "Policy selection", "Stage 1", "Policy assignment").
//!
//! - dominance: `a ≻ b` iff `a_i ≥ b_i` for all i and `a_i > b_i` for some i;
//! - crowding distance (NSGA-II): `CD_k = Σ_i (J_i^{next(k)} − J_i^{prev(k)}) / (J_i^max − J_i^min)`
//!   along each objective's sorted order, +∞ at both ends of every objective;
//! - the archive keeps the non-dominated candidates and, over capacity, those of largest CD;
//! - selection picks the N largest-CD points whose objective vectors were never picked before;
//! - the preference grid `W = {w ∈ {0, δ, …, 1}^m : Σ w = 1}`; a new preference w is served by
//!   `argmax_π w·J(π)`.
use super::{check_points, PART};
use crate::MethodError;

/// `a ≻ b`: at least as good in every objective and strictly better in one. Slices of different
/// lengths are not comparable and never dominate.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| x >= y)
        && a.iter().zip(b).any(|(x, y)| x > y)
}

/// Indices of the non-dominated points, in input order. Of several identical points only the
/// first is kept: duplicates add nothing to the front and would crowd the archive.
pub fn non_dominated<P: AsRef<[f64]>>(points: &[P]) -> Vec<usize> {
    (0..points.len())
        .filter(|&k| {
            let p = points[k].as_ref();
            !points.iter().enumerate().any(|(j, q)| {
                let q = q.as_ref();
                dominates(q, p) || (j < k && q == p)
            })
        })
        .collect()
}

/// Crowding distance of every point (NSGA-II), +∞ for the ends of each objective's order. An
/// objective on which all points agree has no spread to normalise by and adds nothing. Fewer
/// than three points are all boundary points.
pub fn crowding_distance<P: AsRef<[f64]>>(points: &[P]) -> Result<Vec<f64>, MethodError> {
    let n = points.len();
    let Some(first) = points.first() else {
        return Ok(Vec::new());
    };
    let m = first.as_ref().len();
    check_points(points, m, "points")?;
    let mut cd = vec![0.0; n];
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..m {
        let value = |k: usize| points[k].as_ref()[i];
        // Stable sort: ties keep input order, so the result does not depend on the sort.
        order.sort_by(|&a, &b| value(a).total_cmp(&value(b)));
        let (lo, hi) = (value(order[0]), value(order[n - 1]));
        cd[order[0]] = f64::INFINITY;
        cd[order[n - 1]] = f64::INFINITY;
        if hi > lo {
            for w in order.windows(3) {
                cd[w[1]] += (value(w[2]) - value(w[0])) / (hi - lo);
            }
        }
    }
    Ok(cd)
}

/// Indices of the `n` points of largest crowding distance among those whose objective vectors
/// are not in `already_selected`, largest first (ties: input order). The distances are those
/// within the whole set, selected points included: they still shape the front's gaps.
pub fn select_by_crowding<P: AsRef<[f64]>, Q: AsRef<[f64]>>(
    points: &[P],
    already_selected: &[Q],
    n: usize,
) -> Result<Vec<usize>, MethodError> {
    let cd = crowding_distance(points)?;
    let mut fresh: Vec<usize> = (0..points.len())
        .filter(|&k| {
            let p = points[k].as_ref();
            !already_selected.iter().any(|q| q.as_ref() == p)
        })
        .collect();
    fresh.sort_by(|&a, &b| cd[b].total_cmp(&cd[a]));
    fresh.truncate(n);
    Ok(fresh)
}

/// One archived policy: its evaluated objective vector and whatever identifies the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveEntry<T> {
    pub objectives: Vec<f64>,
    pub policy: T,
}

/// The Pareto archive (the spec's "policy buffer"): non-dominated candidates that strictly
/// dominate the reference point, at most `capacity` of them (largest crowding distance kept),
/// and the objective vectors already picked for extension.
#[derive(Debug, Clone)]
pub struct ParetoArchive<T> {
    capacity: usize,
    reference: Vec<f64>,
    entries: Vec<ArchiveEntry<T>>,
    selected: Vec<Vec<f64>>,
}

impl<T> ParetoArchive<T> {
    /// An empty archive over `reference.len()` objectives (the spec's default capacity is 200).
    pub fn new(capacity: usize, reference: Vec<f64>) -> Result<Self, MethodError> {
        if capacity == 0 {
            return Err(MethodError::OutOfRange {
                field: "policy_buffer",
                value: "0".into(),
                expected: "at least 1",
            });
        }
        if reference.is_empty() {
            return Err(MethodError::Shape {
                part: PART,
                detail: "reference point has no objectives".into(),
            });
        }
        check_points(&[&reference], reference.len(), "reference")?;
        Ok(ParetoArchive {
            capacity,
            reference,
            entries: Vec::new(),
            selected: Vec::new(),
        })
    }

    pub fn entries(&self) -> &[ArchiveEntry<T>] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The archived objective vectors, in archive order.
    pub fn objectives(&self) -> Vec<&[f64]> {
        self.entries
            .iter()
            .map(|e| e.objectives.as_slice())
            .collect()
    }

    /// Offers a batch of candidates (e.g. every PPO iterate of one round): merges them, keeps the
    /// non-dominated ones that dominate the reference point, and trims to capacity by crowding
    /// distance. Returns how many of the candidates were kept.
    pub fn extend(
        &mut self,
        candidates: impl IntoIterator<Item = ArchiveEntry<T>>,
    ) -> Result<usize, MethodError> {
        let m = self.reference.len();
        let candidates: Vec<ArchiveEntry<T>> = candidates.into_iter().collect();
        for c in &candidates {
            // Checked before touching the archive, so a bad candidate loses nothing.
            check_points(&[&c.objectives], m, "candidate")?;
        }
        let mut all: Vec<(bool, ArchiveEntry<T>)> =
            self.entries.drain(..).map(|e| (false, e)).collect();
        all.extend(
            candidates
                .into_iter()
                .filter(|c| c.objectives.iter().zip(&self.reference).all(|(j, r)| j > r))
                .map(|c| (true, c)),
        );
        let keep = non_dominated(
            &all.iter()
                .map(|(_, e)| &e.objectives[..])
                .collect::<Vec<_>>(),
        );
        let mut kept: Vec<(bool, ArchiveEntry<T>)> = Vec::with_capacity(keep.len());
        let mut keep = keep.into_iter().peekable();
        for (k, item) in all.into_iter().enumerate() {
            if keep.peek() == Some(&k) {
                keep.next();
                kept.push(item);
            }
        }
        if kept.len() > self.capacity {
            let cd = crowding_distance(
                &kept
                    .iter()
                    .map(|(_, e)| &e.objectives[..])
                    .collect::<Vec<_>>(),
            )?;
            let mut order: Vec<usize> = (0..kept.len()).collect();
            order.sort_by(|&a, &b| cd[b].total_cmp(&cd[a]));
            let mut survive = vec![false; kept.len()];
            for &k in &order[..self.capacity] {
                survive[k] = true;
            }
            kept = kept
                .into_iter()
                .zip(survive)
                .filter_map(|(item, s)| s.then_some(item))
                .collect();
        }
        let added = kept.iter().filter(|(new, _)| *new).count();
        self.entries = kept.into_iter().map(|(_, e)| e).collect();
        Ok(added)
    }

    /// Offers one candidate; see [`ParetoArchive::extend`]. Returns whether it was kept.
    pub fn insert(&mut self, objectives: Vec<f64>, policy: T) -> Result<bool, MethodError> {
        Ok(self.extend([ArchiveEntry { objectives, policy }])? == 1)
    }

    /// Picks up to `n` archived policies of largest crowding distance whose objective vectors
    /// were never picked before, and remembers them (the spec's "Policy selection").
    pub fn select(&mut self, n: usize) -> Result<Vec<&ArchiveEntry<T>>, MethodError> {
        let picks = select_by_crowding(&self.objectives(), &self.selected, n)?;
        self.selected
            .extend(picks.iter().map(|&k| self.entries[k].objectives.clone()));
        Ok(picks.iter().map(|&k| &self.entries[k]).collect())
    }

    /// Forgets which objective vectors were picked, so that [`ParetoArchive::select`] may pick
    /// them again: for a budget that outlasts the archive's fresh policies.
    pub fn forget_selections(&mut self) {
        self.selected.clear();
    }

    /// The archived policy serving preference `w` best: `argmax w·J`.
    pub fn assign(&self, w: &[f64]) -> Result<&ArchiveEntry<T>, MethodError> {
        let k = assign_policy(w, &self.objectives())?;
        Ok(&self.entries[k])
    }
}

/// The preference grid `{w ∈ {0, δ, 2δ, …, 1}^m : Σ w = 1}` in lexicographic order of the
/// first weights, ascending (so for m = 2 it runs from (0, 1) to (1, 0)). `1/δ` must be a whole
/// number: otherwise the grid would not reach the simplex's corners.
pub fn preference_grid(m: usize, delta: f64) -> Result<Vec<Vec<f64>>, MethodError> {
    if m == 0 {
        return Err(MethodError::OutOfRange {
            field: "n_objectives",
            value: "0".into(),
            expected: "at least 1",
        });
    }
    let steps = (1.0 / delta).round();
    let ok = delta > 0.0 && delta <= 1.0 && (steps * delta - 1.0).abs() < 1e-9;
    crate::error::check_range(
        "delta_weight",
        delta,
        ok,
        "in (0, 1] with 1/delta a whole number",
    )?;
    let steps = steps as usize;
    let mut grid = Vec::new();
    let mut counts = vec![0usize; m];
    fill_compositions(&mut counts, 0, steps, &mut |c| {
        grid.push(c.iter().map(|&k| k as f64 / steps as f64).collect())
    });
    Ok(grid)
}

/// Calls `emit` with every way of writing `left` as a sum of `counts.len() − at` non-negative
/// parts in `counts[at..]`.
fn fill_compositions(
    counts: &mut [usize],
    at: usize,
    left: usize,
    emit: &mut impl FnMut(&[usize]),
) {
    if at + 1 == counts.len() {
        counts[at] = left;
        emit(counts);
        return;
    }
    for k in 0..=left {
        counts[at] = k;
        fill_compositions(counts, at + 1, left - k, emit);
    }
}

/// Index of the point maximising `w·J` (the first on ties).
pub fn assign_policy<P: AsRef<[f64]>>(w: &[f64], points: &[P]) -> Result<usize, MethodError> {
    check_points(&[w], w.len(), "preference")?;
    check_points(points, w.len(), "points")?;
    let utility = |p: &P| p.as_ref().iter().zip(w).map(|(j, w)| j * w).sum::<f64>();
    let mut best: Option<(usize, f64)> = None;
    for (k, p) in points.iter().enumerate() {
        let u = utility(p);
        if best.is_none_or(|(_, b)| u > b) {
            best = Some((k, u));
        }
    }
    best.map(|(k, _)| k).ok_or_else(|| MethodError::Shape {
        part: PART,
        detail: "no policies to assign a preference to".into(),
    })
}
