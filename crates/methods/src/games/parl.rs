//! A-PARL on the two-action bandit of parl.md's small-scale check (Chakraborty et al. 2023,
//! "PARL: A Unified Framework for Policy Alignment in RL", arXiv 2308.02585). Reconstructed:
//! the spec reconstructs the check's upper objective (a utility stand-in for the preference
//! log-likelihood) and the inverse-Hessian approximation; here the 1-D Hessian is inverted
//! exactly.
//!
//! Bilevel problem, reward parameter `ν`, policy logits `θ`:
//! - lower level: `V(θ; ν) = Σ_a π_θ(a) r_ν(a) + λ H(π_θ)` with `r_ν = [ν, 0]`, maximised by
//!   `π_ν = softmax(r_ν/λ)`, or approached by `K` warm-started gradient steps;
//! - upper level: `G(ν) = E_{a∼π_ν}[u(a)] − c ν²`.
//!
//! Hypergradient (implicit function theorem at `∇_θ V = 0`), the spec's general form:
//! `∇_ν G = g1 + (∂θ*/∂ν)ᵀ g2`, `∂θ*/∂ν = −[∇²_θθ V]⁻¹ ∇²_θν V`, with `g1 = ∂_ν U = −2cν` at
//! fixed `θ` and `g2 = ∇_θ E_{π_θ}[u] = E[u(a) ∇_θ log π_θ(a)]` (the score-function term that
//! standard RLHF drops).
//!
//! Derivation for two actions. Shifting both logits changes nothing, so the 2×2 Hessian in
//! `(θ1, θ2)` is singular along `(1, 1)`; fix the gauge `θ2 = 0` and use the one logit
//! `x = θ1 − θ2`, `p = π(a1) = σ(x)`, `q = p(1 − p) = dp/dx`. With `dH/dp = log((1−p)/p) = −x`:
//! - `∂_x V = q (ν − λ x)`, zero at `x* = ν/λ` (the closed form);
//! - `∂²_xx V = q (1 − 2p)(ν − λ x) − λ q`, which is `−λ q < 0` at `x*`;
//! - `∂²_xν V = q`, so `∂x*/∂ν = −(∂²_xx V)⁻¹ q = 1/λ` at `x*`;
//! - `g2 = ∂_x (p u1 + (1−p) u2) = q (u1 − u2)`.
//!
//! Hence at `x*`: `dG/dν = (u1 − u2) π1 π2 / λ − 2cν`, and A-PARL's fixed point `ν*` solves
//! `(u1 − u2) π1 π2 / λ = 2cν`. Away from `x*` (finite `K`) the Hessians are evaluated at the
//! current iterate, as the sampled estimates of A-PARL are.
//!
//! The naive update keeps only `g1` (it treats the data distribution `π_ν` as fixed, as
//! reward fitting in standard RLHF does), so its fixed point is `ν = 0`: the uniform policy,
//! whatever the utility.
use crate::error::{check_range, MethodError};

/// The bandit: true utility `u`, entropy weight `λ > 0`, cost `c ≥ 0` of the reward
/// parameter. The spec's check uses `u = [1, 0.2]`, `c = 0.1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParlBandit {
    pub utility: [f64; 2],
    pub lambda: f64,
    pub cost: f64,
}

/// The parts of one hypergradient, at `(ν, x)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hypergradient {
    /// `∂_ν U` at fixed policy: `−2cν`.
    pub direct: f64,
    /// `g2 = ∂_x E_{π_x}[u]`.
    pub policy_grad: f64,
    /// `∂x*/∂ν = −(∂²_xx V)⁻¹ ∂²_xν V`.
    pub dx_dnu: f64,
    /// `direct + dx_dnu · policy_grad`.
    pub total: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl ParlBandit {
    pub fn new(utility: [f64; 2], lambda: f64, cost: f64) -> Result<Self, MethodError> {
        check_range("parl.lambda", lambda, lambda > 0.0, "> 0")?;
        check_range("parl.cost", cost, cost >= 0.0, ">= 0")?;
        for u in utility {
            check_range("parl.utility", u, true, "finite")?;
        }
        Ok(Self {
            utility,
            lambda,
            cost,
        })
    }

    /// `π_x = [σ(x), 1 − σ(x)]` for the logit gap `x = θ1 − θ2`.
    pub fn policy(x: f64) -> [f64; 2] {
        let p = sigmoid(x);
        [p, 1.0 - p]
    }

    /// The lower level's exact optimum `x*(ν) = ν/λ`, i.e. `π_ν = softmax(r_ν/λ)`.
    pub fn lower_optimum(&self, nu: f64) -> f64 {
        nu / self.lambda
    }

    /// `∂_x V(x; ν) = q (ν − λ x)`.
    pub fn lower_grad(&self, x: f64, nu: f64) -> f64 {
        let p = sigmoid(x);
        p * (1.0 - p) * (nu - self.lambda * x)
    }

    /// `K` gradient-ascent steps of size `beta` on `V(·; ν)` from the warm start `x`.
    pub fn inner_steps(&self, mut x: f64, nu: f64, steps: usize, beta: f64) -> f64 {
        for _ in 0..steps {
            x += beta * self.lower_grad(x, nu);
        }
        x
    }

    /// `G` for the policy with logit gap `x`: `E_{π_x}[u] − c ν²`.
    pub fn upper_objective_at(&self, nu: f64, x: f64) -> f64 {
        let [p1, p2] = Self::policy(x);
        p1 * self.utility[0] + p2 * self.utility[1] - self.cost * nu * nu
    }

    /// `G(ν)` at the lower level's exact optimum.
    pub fn upper_objective(&self, nu: f64) -> f64 {
        self.upper_objective_at(nu, self.lower_optimum(nu))
    }

    /// The implicit-differentiation hypergradient at `(ν, x)` (module docs for the Hessians).
    /// `x` should be near `x*(ν)`, where `∂²_xx V < 0`; far from it the Hessian can vanish and
    /// the implicit step is meaningless (the spec's CG damping would then matter).
    pub fn hypergradient(&self, nu: f64, x: f64) -> Hypergradient {
        let p = sigmoid(x);
        let q = p * (1.0 - p);
        let hess_xx = q * (1.0 - 2.0 * p) * (nu - self.lambda * x) - self.lambda * q;
        let hess_xnu = q;
        let dx_dnu = -hess_xnu / hess_xx;
        let direct = -2.0 * self.cost * nu;
        let policy_grad = q * (self.utility[0] - self.utility[1]);
        Hypergradient {
            direct,
            policy_grad,
            dx_dnu,
            total: direct + dx_dnu * policy_grad,
        }
    }

    /// The naive gradient that drops `∂π/∂ν`: `−2cν`.
    pub fn naive_gradient(&self, nu: f64) -> f64 {
        -2.0 * self.cost * nu
    }
}

/// How the lower level is solved each outer iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LowerSolver {
    /// `x = x*(ν)` exactly.
    ClosedForm,
    /// `steps` warm-started gradient steps of size `beta` (A-PARL's inner loop).
    Gradient { steps: usize, beta: f64 },
}

/// Which upper gradient the outer loop follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpperGradient {
    /// A-PARL's implicit hypergradient.
    Implicit,
    /// The naive update without the `∂π/∂ν` term.
    Naive,
}

/// Where an outer loop ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParlRun {
    pub nu: f64,
    /// The policy's logit gap after the last lower solve.
    pub x: f64,
    /// The followed gradient at the end.
    pub last_gradient: f64,
}

/// The A-PARL outer loop: each iteration solves the lower level at `ν_t` (warm-started from
/// the previous `x`; the first from the uniform policy `x = 0`), then
/// `ν_{t+1} = ν_t + outer_lr · gradient`.
pub fn run_parl(
    bandit: &ParlBandit,
    solver: LowerSolver,
    gradient: UpperGradient,
    nu0: f64,
    outer_lr: f64,
    iterations: usize,
) -> Result<ParlRun, MethodError> {
    check_range("parl.outer_lr", outer_lr, outer_lr > 0.0, "> 0")?;
    if let LowerSolver::Gradient { beta, .. } = solver {
        check_range("parl.inner_lr", beta, beta > 0.0, "> 0")?;
    }
    let (mut nu, mut x, mut last) = (nu0, 0.0, 0.0);
    for _ in 0..iterations {
        x = match solver {
            LowerSolver::ClosedForm => bandit.lower_optimum(nu),
            LowerSolver::Gradient { steps, beta } => bandit.inner_steps(x, nu, steps, beta),
        };
        last = match gradient {
            UpperGradient::Implicit => bandit.hypergradient(nu, x).total,
            UpperGradient::Naive => bandit.naive_gradient(nu),
        };
        nu += outer_lr * last;
    }
    Ok(ParlRun {
        nu,
        x,
        last_gradient: last,
    })
}
