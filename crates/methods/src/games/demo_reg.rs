//! Demonstration-regularised RL (Tiapkin et al. 2023, arXiv 2310.17303;
//! demo-regularized-rl.md), tabular and finite-horizon: behaviour cloning from expert counts,
//! then RL that maximises return minus `λ Σ_h E_π KL(π_h || π^BC_h)`.
//!
//! - BC with smoothing: `π^BC_h(a|s) = (n_h(s,a) + κ) / (n_h(s) + κA)` ([`laplace_bc`]).
//! - Regularised Bellman backup (soft value iteration toward `π^BC`), `V_{H} = 0`:
//!   `Q_h(s,a) = r_h(s,a) + Σ_{s'} p_h(s'|s,a) V_{h+1}(s')`,
//!   `V_h(s) = λ log Σ_a π^BC_h(a|s) exp(Q_h(s,a)/λ)`,
//!   `π_h(a|s) ∝ π^BC_h(a|s) exp(Q_h(s,a)/λ)` ([`kl_regularised_optimum`] for one state,
//!   [`soft_value_iteration`] for a known MDP).
//! - Online: act with optimistic regularised value iteration on the empirical model, with a
//!   UCBVI-style bonus `c/√n` and `Q` capped at the largest return still possible
//!   ([`EmpiricalModel::optimistic_plan`]); recommend the plug-in regularised policy of the
//!   empirical model without bonus ([`EmpiricalModel::empirical_plan`]), which follows `π^BC`
//!   wherever nothing was observed. The spec leaves bonus form, cap and recommendation rule
//!   to the theory ("regularised best-policy identification"); these are our choices, and the
//!   cap assumes rewards in `[0, 1]`.
//!
//! `λ = 0` is the unregularised limit: `V = max Q` over the actions `π^BC` supports, and the
//! policy splits evenly among the maximisers (the limit of the soft policy).
//! Stages are 0-based here: `h = 0..H`, and value arrays have `H + 1` rows, the last all 0.
use crate::error::{check_range, MethodError};

/// A per-stage tabular policy or BC policy, `[h][s][a]`, each row a distribution.
pub type TabularPolicy = Vec<Vec<Vec<f64>>>;

/// Smoothed BC at one state: `(n_a + κ) / (Σ n + κ A)` with `A = counts.len()`; `κ > 0`
/// keeps every action's probability above 0, so KL to `π^BC` stays finite (κ = 1: Laplace).
pub fn laplace_bc(counts: &[u64], kappa: f64) -> Result<Vec<f64>, MethodError> {
    check_range("demo_reg.kappa", kappa, kappa > 0.0, "> 0")?;
    let total = counts.iter().sum::<u64>() as f64 + kappa * counts.len() as f64;
    Ok(counts.iter().map(|&n| (n as f64 + kappa) / total).collect())
}

/// The one-step KL-regularised optimum: `π* ∝ π^BC e^{r/λ}` and
/// `V = λ log Σ_a π^BC(a) e^{r(a)/λ} = max_π E_π r − λ KL(π || π^BC)`.
pub fn kl_regularised_optimum(
    pi_bc: &[f64],
    r: &[f64],
    lambda: f64,
) -> Result<(Vec<f64>, f64), MethodError> {
    check_range("demo_reg.lambda", lambda, lambda >= 0.0, ">= 0")?;
    if pi_bc.len() != r.len() || pi_bc.is_empty() {
        return Err(MethodError::Shape {
            part: "demo_reg",
            detail: format!("pi_bc has {} actions, r {}", pi_bc.len(), r.len()),
        });
    }
    check_distribution(pi_bc)?;
    let mut pi = vec![0.0; r.len()];
    let v = soft_backup(pi_bc, r, lambda, &mut pi);
    Ok((pi, v))
}

fn check_distribution(p: &[f64]) -> Result<(), MethodError> {
    let total: f64 = p.iter().sum();
    for &x in p {
        check_range(
            "demo_reg.pi_bc",
            x,
            x >= 0.0,
            "a distribution (entries >= 0)",
        )?;
    }
    check_range(
        "demo_reg.pi_bc (sum)",
        total,
        (total - 1.0).abs() < 1e-9,
        "a distribution (sums to 1)",
    )
}

/// The soft backup at one state, writing the policy into `pi` and returning `V`. Shifted by
/// the largest supported `Q` so that `exp` cannot overflow for small `λ`.
fn soft_backup(pi_bc: &[f64], q: &[f64], lambda: f64, pi: &mut [f64]) -> f64 {
    let q_max = q
        .iter()
        .zip(pi_bc)
        .filter(|(_, &p)| p > 0.0)
        .map(|(&q, _)| q)
        .fold(f64::NEG_INFINITY, f64::max);
    if lambda == 0.0 {
        let best = |(&q, &p): (&f64, &f64)| p > 0.0 && q >= q_max;
        let ties = q.iter().zip(pi_bc).filter(|&x| best(x)).count() as f64;
        for (out, x) in pi.iter_mut().zip(q.iter().zip(pi_bc)) {
            *out = if best(x) { 1.0 / ties } else { 0.0 };
        }
        return q_max;
    }
    let mut z = 0.0;
    for ((out, &q), &p) in pi.iter_mut().zip(q).zip(pi_bc) {
        *out = p * ((q - q_max) / lambda).exp();
        z += *out;
    }
    for out in pi.iter_mut() {
        *out /= z;
    }
    q_max + lambda * z.ln()
}

/// A finite-horizon tabular MDP with stage-dependent rewards and transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularMdp {
    pub states: usize,
    pub actions: usize,
    pub horizon: usize,
    /// `r[h][s][a]`.
    pub reward: Vec<Vec<Vec<f64>>>,
    /// `p[h][s][a][s']`, each row a distribution over next states.
    pub transition: Vec<Vec<Vec<Vec<f64>>>>,
}

impl TabularMdp {
    /// Checks every array's shape and that each transition row is a distribution.
    pub fn validate(&self) -> Result<(), MethodError> {
        let (n_s, n_a, n_h) = (self.states, self.actions, self.horizon);
        let shape_ok = self.reward.len() == n_h
            && self.transition.len() == n_h
            && self
                .reward
                .iter()
                .all(|r| r.len() == n_s && r.iter().all(|r| r.len() == n_a))
            && self.transition.iter().all(|p| {
                p.len() == n_s
                    && p.iter()
                        .all(|p| p.len() == n_a && p.iter().all(|p| p.len() == n_s))
            });
        if !shape_ok {
            return Err(MethodError::Shape {
                part: "demo_reg.mdp",
                detail: format!(
                    "reward must be [{n_h}][{n_s}][{n_a}], transition [{n_h}][{n_s}][{n_a}][{n_s}]"
                ),
            });
        }
        for row in self.transition.iter().flatten().flatten() {
            let total: f64 = row.iter().sum();
            let ok = row.iter().all(|&p| p >= 0.0) && (total - 1.0).abs() < 1e-9;
            check_range(
                "demo_reg.mdp.transition",
                total,
                ok,
                "rows that are distributions",
            )?;
        }
        Ok(())
    }

    /// `Q_h(s, ·) = r_h(s, ·) + p_h(·|s, ·) V_{h+1}`.
    fn q_row(&self, h: usize, s: usize, v_next: &[f64]) -> Vec<f64> {
        (0..self.actions)
            .map(|a| {
                let next: f64 = self.transition[h][s][a]
                    .iter()
                    .zip(v_next)
                    .map(|(p, v)| p * v)
                    .sum();
                self.reward[h][s][a] + next
            })
            .collect()
    }
}

fn check_policy_shape(
    what: &'static str,
    policy: &TabularPolicy,
    mdp: &TabularMdp,
) -> Result<(), MethodError> {
    let ok = policy.len() == mdp.horizon
        && policy
            .iter()
            .all(|p| p.len() == mdp.states && p.iter().all(|p| p.len() == mdp.actions));
    if ok {
        Ok(())
    } else {
        Err(MethodError::Shape {
            part: what,
            detail: format!(
                "policy must be [{}][{}][{}]",
                mdp.horizon, mdp.states, mdp.actions
            ),
        })
    }
}

/// Backward soft value iteration toward `π^BC` on a known MDP: the regularised-optimal
/// policy per stage and the regularised values `V[h][s]` (`H + 1` rows, `V[H] = 0`).
pub fn soft_value_iteration(
    mdp: &TabularMdp,
    pi_bc: &TabularPolicy,
    lambda: f64,
) -> Result<(TabularPolicy, Vec<Vec<f64>>), MethodError> {
    check_range("demo_reg.lambda", lambda, lambda >= 0.0, ">= 0")?;
    mdp.validate()?;
    check_policy_shape("demo_reg.pi_bc", pi_bc, mdp)?;
    for row in pi_bc.iter().flatten() {
        check_distribution(row)?;
    }
    Ok(backward(
        mdp.horizon,
        mdp.states,
        mdp.actions,
        |h, s, v_next| (mdp.q_row(h, s, v_next), &pi_bc[h][s]),
        lambda,
    ))
}

/// Backward induction with soft backups; `q_and_prior(h, s, V_{h+1})` gives the state's `Q`
/// row and its `π^BC` row.
fn backward<'a>(
    horizon: usize,
    states: usize,
    actions: usize,
    q_and_prior: impl Fn(usize, usize, &[f64]) -> (Vec<f64>, &'a Vec<f64>),
    lambda: f64,
) -> (TabularPolicy, Vec<Vec<f64>>) {
    let mut values = vec![vec![0.0; states]; horizon + 1];
    let mut policy = vec![vec![vec![0.0; actions]; states]; horizon];
    for h in (0..horizon).rev() {
        for s in 0..states {
            let (q, prior) = q_and_prior(h, s, &values[h + 1]);
            values[h][s] = soft_backup(prior, &q, lambda, &mut policy[h][s]);
        }
    }
    (policy, values)
}

/// The true (unregularised) value `V^π[h][s]` of a per-stage policy (`H + 1` rows).
pub fn policy_value(
    mdp: &TabularMdp,
    policy: &TabularPolicy,
) -> Result<Vec<Vec<f64>>, MethodError> {
    mdp.validate()?;
    check_policy_shape("demo_reg.policy", policy, mdp)?;
    let mut values = vec![vec![0.0; mdp.states]; mdp.horizon + 1];
    for h in (0..mdp.horizon).rev() {
        for s in 0..mdp.states {
            let q = mdp.q_row(h, s, &values[h + 1]);
            values[h][s] = q.iter().zip(&policy[h][s]).map(|(q, p)| q * p).sum();
        }
    }
    Ok(values)
}

/// Visit counts, next-state counts and reward sums per `(h, s, a)`: the empirical model of
/// the online phase.
#[derive(Debug, Clone, PartialEq)]
pub struct EmpiricalModel {
    pub states: usize,
    pub actions: usize,
    pub horizon: usize,
    /// `n[h][s][a]`.
    pub visits: Vec<Vec<Vec<u64>>>,
    /// `n[h][s][a][s']`.
    pub next_visits: Vec<Vec<Vec<Vec<u64>>>>,
    /// Sum of observed rewards per `(h, s, a)`.
    pub reward_sum: Vec<Vec<Vec<f64>>>,
}

impl EmpiricalModel {
    pub fn new(states: usize, actions: usize, horizon: usize) -> Self {
        Self {
            states,
            actions,
            horizon,
            visits: vec![vec![vec![0; actions]; states]; horizon],
            next_visits: vec![vec![vec![vec![0; states]; actions]; states]; horizon],
            reward_sum: vec![vec![vec![0.0; actions]; states]; horizon],
        }
    }

    /// Records one observed transition `(h, s, a) → (r, s')`.
    pub fn record(&mut self, h: usize, s: usize, a: usize, reward: f64, next: usize) {
        self.visits[h][s][a] += 1;
        self.next_visits[h][s][a][next] += 1;
        self.reward_sum[h][s][a] += reward;
    }

    /// Optimistic regularised value iteration on the empirical model, the policy to act with:
    /// `Q_h(s,a) = min(cap_h, r̂ + bonus/√n + p̂ V_{h+1})` for visited `(h, s, a)` and `cap_h`
    /// for unvisited ones, with `cap_h = min(H − h, max_return)`: the largest return still
    /// possible with rewards in `[0, 1]` and a known bound `max_return` on an episode's
    /// return (`f64::INFINITY` when none is known). Soft backups toward `π^BC` with weight
    /// `λ`. Returns the policy and its optimistic values.
    pub fn optimistic_plan(
        &self,
        pi_bc: &TabularPolicy,
        lambda: f64,
        bonus: f64,
        max_return: f64,
    ) -> Result<(TabularPolicy, Vec<Vec<f64>>), MethodError> {
        check_range("demo_reg.bonus", bonus, bonus >= 0.0, ">= 0")?;
        if max_return.is_nan() || max_return <= 0.0 {
            return Err(MethodError::OutOfRange {
                field: "demo_reg.max_return",
                value: max_return.to_string(),
                expected: "> 0 (f64::INFINITY for no bound)",
            });
        }
        let cap = |h: usize| ((self.horizon - h) as f64).min(max_return);
        self.plan(pi_bc, lambda, bonus, cap, cap)
    }

    /// The plug-in recommendation: regularised value iteration on the empirical model without
    /// bonus, unvisited `(h, s, a)` valued 0 (nothing observed there). Where nothing is known
    /// the soft policy follows `π^BC`, which is how demonstrations help the recommendation.
    pub fn empirical_plan(
        &self,
        pi_bc: &TabularPolicy,
        lambda: f64,
    ) -> Result<(TabularPolicy, Vec<Vec<f64>>), MethodError> {
        self.plan(pi_bc, lambda, 0.0, |_| 0.0, |_| f64::INFINITY)
    }

    /// Soft value iteration with `Q = min(cap(h), r̂ + bonus/√n + p̂ V_{h+1})` for visited
    /// pairs and `Q = unvisited(h)` for the others.
    fn plan(
        &self,
        pi_bc: &TabularPolicy,
        lambda: f64,
        bonus: f64,
        unvisited: impl Fn(usize) -> f64,
        cap: impl Fn(usize) -> f64,
    ) -> Result<(TabularPolicy, Vec<Vec<f64>>), MethodError> {
        check_range("demo_reg.lambda", lambda, lambda >= 0.0, ">= 0")?;
        let ok = pi_bc.len() == self.horizon
            && pi_bc
                .iter()
                .all(|p| p.len() == self.states && p.iter().all(|p| p.len() == self.actions));
        if !ok {
            return Err(MethodError::Shape {
                part: "demo_reg.pi_bc",
                detail: format!(
                    "policy must be [{}][{}][{}]",
                    self.horizon, self.states, self.actions
                ),
            });
        }
        let q_row = |h: usize, s: usize, v_next: &[f64]| {
            let (cap_h, unvisited_h) = (cap(h), unvisited(h));
            let q = (0..self.actions)
                .map(|a| {
                    let n = self.visits[h][s][a];
                    if n == 0 {
                        return unvisited_h;
                    }
                    let n_f = n as f64;
                    let next: f64 = self.next_visits[h][s][a]
                        .iter()
                        .zip(v_next)
                        .map(|(&c, v)| c as f64 * v)
                        .sum::<f64>()
                        / n_f;
                    (self.reward_sum[h][s][a] / n_f + bonus / n_f.sqrt() + next).min(cap_h)
                })
                .collect();
            (q, &pi_bc[h][s])
        };
        Ok(backward(
            self.horizon,
            self.states,
            self.actions,
            q_row,
            lambda,
        ))
    }
}
