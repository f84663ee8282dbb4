//! Finite-support return distributions and the functionals distributional-dp.md optimizes:
//! mean, threshold probability `P(X ≥ θ)` and lower-tail CVaR (sorted-tail and
//! Rockafellar–Uryasev forms).
use std::collections::BTreeMap;

/// Returns are sums of the environments' rewards (integers and halves here): atoms closer than
/// 1e-6 are one atom, so float noise in the sums never splits an atom or a DP state.
pub fn value_key(x: f64) -> i64 {
    (x * 1e6).round() as i64
}

/// Atoms `(value, probability)`, sorted by value, merged, zero-probability atoms dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnDist {
    atoms: Vec<(f64, f64)>,
}

impl ReturnDist {
    pub fn point(x: f64) -> Self {
        Self {
            atoms: vec![(x, 1.0)],
        }
    }

    pub fn from_atoms(atoms: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let mut merged: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
        for (x, p) in atoms {
            if p > 0.0 {
                merged.entry(value_key(x)).or_insert((x, 0.0)).1 += p;
            }
        }
        Self {
            atoms: merged.into_values().collect(),
        }
    }

    /// `Σ_j w_j D_j`.
    pub fn mixture<'a>(parts: impl IntoIterator<Item = (f64, &'a ReturnDist)>) -> Self {
        Self::from_atoms(
            parts
                .into_iter()
                .flat_map(|(w, d)| d.atoms.iter().map(move |(x, p)| (*x, w * p))),
        )
    }

    pub fn atoms(&self) -> &[(f64, f64)] {
        &self.atoms
    }

    pub fn shift(&self, by: f64) -> Self {
        Self::from_atoms(self.atoms.iter().map(|(x, p)| (x + by, *p)))
    }

    pub fn expect(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.atoms.iter().map(|(x, p)| p * f(*x)).sum()
    }

    pub fn mean(&self) -> f64 {
        self.expect(|x| x)
    }

    /// `P(X ≥ θ)` (atoms within the merge tolerance of θ count as reaching it).
    pub fn prob_at_least(&self, theta: f64) -> f64 {
        self.atoms
            .iter()
            .filter(|(x, _)| value_key(*x) >= value_key(theta))
            .map(|(_, p)| p)
            .sum()
    }

    /// Lower-tail `CVaR_τ`: the mean of the worst τ of the probability mass (the atom at the
    /// τ-quantile counted in part).
    pub fn cvar(&self, tau: f64) -> f64 {
        let mut left = tau;
        let mut sum = 0.0;
        for (x, p) in &self.atoms {
            let take = p.min(left);
            sum += take * x;
            left -= take;
            if left <= 0.0 {
                break;
            }
        }
        sum / tau
    }

    /// `max_b { b − E[(b − X)^+]/τ }` (Rockafellar–Uryasev): concave and piecewise linear in b
    /// with kinks at the atoms, so the maximum is at an atom.
    pub fn cvar_ru(&self, tau: f64) -> f64 {
        self.atoms
            .iter()
            .map(|(b, _)| b - self.expect(|x| (b - x).max(0.0)) / tau)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// A hashable identity for de-duplicating distributions.
    pub fn key(&self) -> Vec<(i64, i64)> {
        self.atoms
            .iter()
            .map(|(x, p)| (value_key(*x), (p * 1e12).round() as i64))
            .collect()
    }
}
