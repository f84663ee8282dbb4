//! Exact robust dynamic programming under total-variation uncertainty (dr-rpo.md): the
//! reference DR-RPO's learned policies are measured against, and the worst-case ("perturbed")
//! test kernels.
//!
//! For a d-rectangular set `U^ρ = {Σ_i φ_i μ_i : TV(μ_i, μ_i⁰) ≤ ρ}` the worst case of `E_P[V]`
//! splits into one TV problem per factor, `Σ_i φ_i(s,a) inf_{TV(μ,μ_i⁰)≤ρ} E_μ[V]`, and the
//! minimizing `μ_i` does not depend on `(s,a)`: so each step has one worst-case kernel
//! `Σ_i φ_i μ_i^worst`, which [`robust_evaluate`] returns. Sets are rectangular across steps too,
//! so backward induction gives the exact infimum over time-varying adversaries.
use super::linear_mdp::LinearMdp;
use super::solve::{argmax, HorizonSolution, Policy};
use super::{TabularError, TabularMdp};

/// `inf_{TV(μ,μ0) ≤ ρ} E_μ[V]` and its minimizer, exactly: move mass `ρ` (or what is left) from
/// the highest-valued states onto a lowest-valued state. `TV = ½‖μ − μ0‖₁`, and the minimum is
/// over all states, not only `μ0`'s support (TV lets the adversary create mass anywhere).
pub fn tv_worst_case(v: &[f64], mu0: &[f64], rho: f64) -> (f64, Vec<f64>) {
    let mut mu = mu0.to_vec();
    let Some(low) = argmin(v) else {
        return (0.0, mu);
    };
    let mut order: Vec<usize> = (0..v.len()).collect();
    // Highest value first; ties by index so the minimizer is reproducible.
    order.sort_by(|&x, &y| v[y].total_cmp(&v[x]).then(x.cmp(&y)));
    let mut budget = rho.max(0.0);
    for s in order {
        if budget <= 0.0 || v[s] <= v[low] {
            break;
        }
        let moved = budget.min(mu[s]);
        mu[s] -= moved;
        mu[low] += moved;
        budget -= moved;
    }
    let value = mu.iter().zip(v).map(|(p, x)| p * x).sum();
    (value, mu)
}

/// The same infimum by the dual of dr-rpo.md,
/// `max_α { E_μ0[min(V,α)] − ρ (α − min_s min(V(s),α)) }`, evaluated exactly: the objective is
/// piecewise linear in α with kinks at the values of V, increasing below `min V` and
/// decreasing above `max V`, so its maximum is at one of V's values.
pub fn tv_dual(v: &[f64], mu0: &[f64], rho: f64) -> f64 {
    let floor = v.iter().copied().fold(f64::INFINITY, f64::min);
    v.iter()
        .map(|&alpha| {
            let clipped: f64 = mu0.iter().zip(v).map(|(p, x)| p * x.min(alpha)).sum();
            clipped - rho * (alpha - floor.min(alpha))
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Robust values of a policy `pi[h][s][a]` and the worst-case kernel at every step.
#[derive(Debug, Clone)]
pub struct RobustEvaluation {
    /// `values[h][s]`, `h = 0..=H` (`values[H]` is zero).
    pub values: Vec<Vec<f64>>,
    /// `worst[h]`: the nominal MDP with step h's minimizing kernel.
    pub worst: Vec<TabularMdp>,
}

/// Step h's minimizing factors for `V_{h+1}` and the robust `Q_h(s,a) = r + Σ_i φ_i ν_i`.
fn robust_step(lin: &LinearMdp, rho: f64, next: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mdp = lin.nominal();
    let (nu, worst_factors): (Vec<f64>, Vec<Vec<f64>>) = (0..lin.dim())
        .map(|i| tv_worst_case(next, lin.factor(i), rho))
        .unzip();
    let q = (0..mdp.n_states())
        .map(|s| {
            (0..mdp.n_actions())
                .map(|a| {
                    let phi = lin.phi(s, a);
                    mdp.r(s, a) + phi.iter().zip(&nu).map(|(w, x)| w * x).sum::<f64>()
                })
                .collect()
        })
        .collect();
    (q, worst_factors)
}

/// The kernel `Σ_i φ_i(s,a) μ_i(·)` for the given factors.
fn mixed_kernel(lin: &LinearMdp, factors: &[Vec<f64>]) -> Result<TabularMdp, TabularError> {
    let mdp = lin.nominal();
    let n = mdp.n_states();
    let mut kernel = Vec::with_capacity(n * mdp.n_actions() * n);
    for s in 0..n {
        for a in 0..mdp.n_actions() {
            let phi = lin.phi(s, a);
            kernel.extend((0..n).map(|t| {
                phi.iter()
                    .zip(factors)
                    .map(|(w, mu)| w * mu[t])
                    .sum::<f64>()
            }));
        }
    }
    mdp.with_kernel(kernel)
}

/// Exact robust values of `pi[h][s][a]` over `lin.horizon()` steps under the TV radius `rho`.
pub fn robust_evaluate(
    lin: &LinearMdp,
    rho: f64,
    pi: &[Policy],
) -> Result<RobustEvaluation, TabularError> {
    let horizon = lin.horizon();
    if pi.len() != horizon {
        return Err(TabularError::Shape {
            what: "policy steps",
            expected: horizon,
            got: pi.len(),
        });
    }
    let n = lin.nominal().n_states();
    let mut values = vec![vec![0.0; n]; horizon + 1];
    let mut worst = Vec::with_capacity(horizon);
    for h in (0..horizon).rev() {
        let (q, factors) = robust_step(lin, rho, &values[h + 1]);
        values[h] = q
            .iter()
            .zip(&pi[h])
            .map(|(row, p)| row.iter().zip(p).map(|(x, w)| x * w).sum())
            .collect();
        worst.push(mixed_kernel(lin, &factors)?);
    }
    worst.reverse();
    Ok(RobustEvaluation { values, worst })
}

/// Exact robust-optimal values `max_π min_P` by backward induction (the greedy action is the
/// lowest index among ties).
pub fn robust_optimal(lin: &LinearMdp, rho: f64) -> HorizonSolution {
    let horizon = lin.horizon();
    let n = lin.nominal().n_states();
    let mut values = vec![vec![0.0; n]; horizon + 1];
    let mut q_all = vec![Vec::new(); horizon];
    let mut greedy = vec![Vec::new(); horizon];
    for h in (0..horizon).rev() {
        let (q, _) = robust_step(lin, rho, &values[h + 1]);
        greedy[h] = q.iter().map(|row| argmax(row)).collect();
        values[h] = q.iter().zip(&greedy[h]).map(|(row, &a)| row[a]).collect();
        q_all[h] = q;
    }
    HorizonSolution {
        values,
        q: q_all,
        greedy,
    }
}

fn argmin(xs: &[f64]) -> Option<usize> {
    (0..xs.len()).reduce(|best, i| if xs[i] < xs[best] { i } else { best })
}
