//! Spanning capacity by brute force (agnostic-rl.md, "Definitions"):
//! `C(Π) = max over deterministic MDPs M on the layers, max_h |{(s,a) ∈ S_h × A : some π ∈ Π
//! visits s at layer h in M and plays a there}|`. Every deterministic start state and every
//! transition function `T_h : S_h × A → S_{h+1}` is tried, so only tiny instances are feasible;
//! the count is checked against a limit first. Policies are the class's state-based tables
//! (history-dependent classes would need the tree of histories instead).
use crate::policy_class::PolicyClass;
use crate::TheoryError;

/// `C(Π)` over all deterministic MDPs with these layer sizes and `n_actions` actions, refused
/// when there are more than `limit` MDPs.
pub fn spanning_capacity(
    layers: &[usize],
    n_actions: usize,
    class: &PolicyClass,
    limit: u64,
) -> Result<usize, TheoryError> {
    // One digit per transition entry (h, s, a), with base |S_{h+1}|.
    let bases: Vec<usize> = (0..layers.len().saturating_sub(1))
        .flat_map(|h| std::iter::repeat_n(layers[h + 1], layers[h] * n_actions))
        .collect();
    let count = bases
        .iter()
        .try_fold(layers[0] as u64, |acc, &b| acc.checked_mul(b as u64))
        .filter(|&c| c <= limit)
        .ok_or_else(|| TheoryError::Setting {
            key: "spanning_capacity".into(),
            reason: format!("too many deterministic MDPs on layers {layers:?} (limit {limit})"),
        })?;
    let mut offsets = vec![0usize; layers.len()];
    for h in 1..layers.len() {
        offsets[h] = offsets[h - 1] + layers[h - 1] * n_actions;
    }
    let mut digits = vec![0usize; bases.len()];
    let mut best = 0;
    let mut seen: Vec<Vec<bool>> = layers.iter().map(|&w| vec![false; w * n_actions]).collect();
    for start in 0..layers[0] {
        for _ in 0..count / layers[0] as u64 {
            for row in seen.iter_mut() {
                row.fill(false);
            }
            for table in &class.tables {
                let mut s = start;
                for h in 0..layers.len() {
                    let a = table[h][s];
                    seen[h][s * n_actions + a] = true;
                    if h + 1 < layers.len() {
                        s = digits[offsets[h] + s * n_actions + a];
                    }
                }
            }
            let widest = seen
                .iter()
                .map(|row| row.iter().filter(|x| **x).count())
                .max()
                .unwrap_or(0);
            best = best.max(widest);
            // Odometer step to the next transition function.
            for (d, b) in digits.iter_mut().zip(&bases) {
                *d += 1;
                if *d < *b {
                    break;
                }
                *d = 0;
            }
        }
    }
    Ok(best)
}
