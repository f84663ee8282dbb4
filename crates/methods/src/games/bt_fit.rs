//! The reward-model baseline of spo-selfplay.md's checks: a Bradley–Terry score per item,
//! fitted by (L2-regularised) logistic regression to labelled comparisons,
//!
//! `min_s mean_k −[y_k log σ(s_a − s_b) + (1 − y_k) log σ(s_b − s_a)] + (l2/2) ‖s‖²`,
//!
//! where comparison `k` is `(a, b)` with label `y_k = P(a ≻ b)` (0, 1, or a soft value such as
//! the 0.5 of a tie). A scalar score cannot represent a cycle: on rock-paper-scissors data the
//! fit is near-equal scores, and the policy that follows it greedily is a pure strategy.
use crate::error::{check_range, MethodError};

/// One labelled comparison: `label = P(a ≻ b)` as the oracle (or a sampled vote) gave it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub a: usize,
    pub b: usize,
    pub label: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Fits scores for items `0..n_items` by `iterations` full-batch gradient steps from 0, and
/// returns them centred (mean 0; BT scores are defined up to a shift). `l2 > 0` keeps the fit
/// finite when the data are separable (e.g. hard labels from a transitive oracle).
///
/// The comparisons are first summed into per-pair counts, so each step costs `O(n_items²)`
/// whatever the number of comparisons. The step `1/(1/2 + l2)` is below the inverse of the
/// loss's curvature bound (σ' ≤ 1/4 times a comparison graph Laplacian of norm ≤ 2, plus l2),
/// so gradient descent decreases the loss monotonically.
pub fn fit_bradley_terry(
    comparisons: &[Comparison],
    n_items: usize,
    l2: f64,
    iterations: usize,
) -> Result<Vec<f64>, MethodError> {
    check_range("bradley_terry.l2", l2, l2 >= 0.0, ">= 0")?;
    // wins[a][b]: label mass of "a beat b"; each comparison adds y to (a, b), 1 − y to (b, a).
    let mut wins = vec![vec![0.0; n_items]; n_items];
    for (index, c) in comparisons.iter().enumerate() {
        if c.a >= n_items || c.b >= n_items {
            return Err(MethodError::Shape {
                part: "bradley_terry",
                detail: format!(
                    "comparison {index} names items ({}, {}) but n_items = {n_items}",
                    c.a, c.b
                ),
            });
        }
        check_range(
            "bradley_terry.label",
            c.label,
            (0.0..=1.0).contains(&c.label),
            "in [0, 1]",
        )?;
        wins[c.a][c.b] += c.label;
        wins[c.b][c.a] += 1.0 - c.label;
    }
    let total = comparisons.len().max(1) as f64;
    let step = 1.0 / (0.5 + l2);
    let mut scores = vec![0.0; n_items];
    for _ in 0..iterations {
        // d/ds_a of the mean loss: Σ_b (w_ab + w_ba) σ(s_a − s_b) − w_ab, over the total.
        let grad: Vec<f64> = (0..n_items)
            .map(|a| {
                let fit: f64 = (0..n_items)
                    .filter(|&b| b != a)
                    .map(|b| {
                        (wins[a][b] + wins[b][a]) * sigmoid(scores[a] - scores[b]) - wins[a][b]
                    })
                    .sum();
                fit / total + l2 * scores[a]
            })
            .collect();
        for (s, g) in scores.iter_mut().zip(&grad) {
            *s -= step * g;
        }
    }
    let mean = scores.iter().sum::<f64>() / n_items.max(1) as f64;
    Ok(scores.into_iter().map(|s| s - mean).collect())
}
