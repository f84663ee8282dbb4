//! The evaluation protocol of C-MORL (spec `algorithms/c-morl.md`, "Where it plugs in"):
//!
//! - hypervolume HV: the measure of the region dominated by the front and dominating the
//!   reference point (exact: a sweep for 2 objectives, slicing by the last objective for more);
//! - expected utility `EU = mean_w max_π w·J(π)` over evaluation preferences (the spec's grid has
//!   step 0.01, [`eu_weights`]);
//! - sparsity `SP = (1/(|P|−1)) Σ_i Σ_k (J̃_i^{(k+1)} − J̃_i^{(k)})²` over each objective's sorted
//!   values: the mean squared gap, small when the front is dense.
use super::pareto::{non_dominated, preference_grid};
use super::{check_points, PART};
use crate::MethodError;

/// Hypervolume of `points` with respect to `reference`. Points that do not strictly dominate
/// the reference add no volume and are ignored. Exact for any number of objectives; the cost
/// grows like `n^(m−1)`, meant for fronts of up to a few hundred points.
pub fn hypervolume<P: AsRef<[f64]>>(points: &[P], reference: &[f64]) -> Result<f64, MethodError> {
    let shifted = shifted_above_reference(points, reference)?;
    Ok(match reference.len() {
        2 => sweep_2d(shifted),
        m => slice_volume(shifted, m),
    })
}

/// Hypervolume of a 2-objective front by one sweep; the same value as [`hypervolume`], kept
/// separate so that the general method can be checked against it.
pub fn hypervolume_2d<P: AsRef<[f64]>>(
    points: &[P],
    reference: [f64; 2],
) -> Result<f64, MethodError> {
    Ok(sweep_2d(shifted_above_reference(points, &reference)?))
}

/// Hypervolume by slicing along the last objective for any number of objectives (also for 2);
/// [`hypervolume`] uses it from 3 objectives on.
pub fn hypervolume_by_slicing<P: AsRef<[f64]>>(
    points: &[P],
    reference: &[f64],
) -> Result<f64, MethodError> {
    let shifted = shifted_above_reference(points, reference)?;
    Ok(slice_volume(shifted, reference.len()))
}

/// The points that strictly dominate `reference`, moved so that the reference is the origin,
/// and with dominated points dropped (they add no volume and cost time).
fn shifted_above_reference<P: AsRef<[f64]>>(
    points: &[P],
    reference: &[f64],
) -> Result<Vec<Vec<f64>>, MethodError> {
    if reference.is_empty() {
        return Err(MethodError::Shape {
            part: PART,
            detail: "reference point has no objectives".into(),
        });
    }
    check_points(&[reference], reference.len(), "reference")?;
    check_points(points, reference.len(), "points")?;
    let shifted: Vec<Vec<f64>> = points
        .iter()
        .map(|p| {
            p.as_ref()
                .iter()
                .zip(reference)
                .map(|(j, r)| j - r)
                .collect()
        })
        .filter(|p: &Vec<f64>| p.iter().all(|&x| x > 0.0))
        .collect();
    Ok(non_dominated(&shifted)
        .into_iter()
        .map(|k| shifted[k].clone())
        .collect())
}

/// Area dominated by positive 2-D points above the origin: sorted by the first objective,
/// descending, each point adds the strip its second objective rises above the previous best.
fn sweep_2d(mut points: Vec<Vec<f64>>) -> f64 {
    points.sort_by(|a, b| b[0].total_cmp(&a[0]));
    let mut area = 0.0;
    let mut height = 0.0;
    for p in &points {
        if p[1] > height {
            area += p[0] * (p[1] - height);
            height = p[1];
        }
    }
    area
}

/// Volume dominated by positive points above the origin in the first `d` objectives: between
/// consecutive values of objective `d−1` (descending), the slice's cross-section is the volume
/// of the points at or above it in the remaining `d−1` objectives.
fn slice_volume(mut points: Vec<Vec<f64>>, d: usize) -> f64 {
    if points.is_empty() {
        return 0.0;
    }
    if d == 1 {
        return points.iter().map(|p| p[0]).fold(0.0, f64::max);
    }
    let last = d - 1;
    points.sort_by(|a, b| b[last].total_cmp(&a[last]));
    let mut volume = 0.0;
    for k in 0..points.len() {
        let below = points.get(k + 1).map_or(0.0, |p| p[last]);
        let depth = points[k][last] - below;
        if depth > 0.0 {
            volume += depth * slice_volume(points[..=k].to_vec(), last);
        }
    }
    volume
}

/// `mean_w max_k w·points[k]`: the utility a user with a random preference from `weights` gets
/// from the best policy of the set for them.
pub fn expected_utility<P: AsRef<[f64]>, W: AsRef<[f64]>>(
    points: &[P],
    weights: &[W],
) -> Result<f64, MethodError> {
    let Some(first) = weights.first() else {
        return Err(MethodError::Shape {
            part: PART,
            detail: "expected utility needs at least one preference".into(),
        });
    };
    let m = first.as_ref().len();
    check_points(weights, m, "weights")?;
    check_points(points, m, "points")?;
    if points.is_empty() {
        return Err(MethodError::Shape {
            part: PART,
            detail: "expected utility of an empty set of policies".into(),
        });
    }
    let total: f64 = weights
        .iter()
        .map(|w| {
            points
                .iter()
                .map(|p| p.as_ref().iter().zip(w.as_ref()).map(|(j, w)| j * w).sum())
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .sum();
    Ok(total / weights.len() as f64)
}

/// The spec's evaluation preferences for expected utility: the grid of step 0.01 on the
/// simplex (101 weights for 2 objectives, 5151 for 3).
pub fn eu_weights(n_objectives: usize) -> Result<Vec<Vec<f64>>, MethodError> {
    preference_grid(n_objectives, 0.01)
}

/// Sparsity of a front: the squared gaps between neighbours in each objective's sorted values,
/// summed over objectives and divided by `|P| − 1`. Raw objective values, as the spec's test
/// vector; normalise first to compare objectives of different scales. Fewer than two points
/// have no gaps: 0.
pub fn sparsity<P: AsRef<[f64]>>(points: &[P]) -> Result<f64, MethodError> {
    let Some(first) = points.first() else {
        return Ok(0.0);
    };
    let m = first.as_ref().len();
    check_points(points, m, "points")?;
    if points.len() < 2 {
        return Ok(0.0);
    }
    let mut total = 0.0;
    for i in 0..m {
        let mut values: Vec<f64> = points.iter().map(|p| p.as_ref()[i]).collect();
        values.sort_by(f64::total_cmp);
        total += values
            .windows(2)
            .map(|v| (v[1] - v[0]).powi(2))
            .sum::<f64>();
    }
    Ok(total / (points.len() - 1) as f64)
}
