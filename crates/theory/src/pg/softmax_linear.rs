//! The softmax-linear policy π_θ(a|s) = softmax_a(θ_a · φ(s)) with its score and the Hessian of
//! its log-probability in closed form (npg-igt-harpg.md: HARPG needs second derivatives of
//! log π; for a softmax-linear policy they need no autodiff).
//!
//! θ is `[actions][dim]` row-major. With z = θ φ and π = softmax(z):
//! - ∇_θ log π(a|φ) = (e_a − π) ⊗ φ;
//! - ∇²_θ log π(a|φ) = −(diag π − π πᵀ) ⊗ φ φᵀ, the same for every a, so its product with v
//!   is −(π ⊙ (u − πᵀu)) ⊗ φ with u_b = v_b · φ (the logits' directional change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftmaxLinear {
    pub actions: usize,
    /// Length of φ(s).
    pub dim: usize,
}

impl SoftmaxLinear {
    pub fn n_params(&self) -> usize {
        self.actions * self.dim
    }

    /// π(·|φ) into `out` (length `actions`), max-shifted so large logits do not overflow.
    pub fn probs(&self, theta: &[f64], phi: &[f64], out: &mut [f64]) {
        for (a, o) in out.iter_mut().enumerate() {
            *o = dot(&theta[a * self.dim..][..self.dim], phi);
        }
        let max = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for o in out.iter_mut() {
            *o = (*o - max).exp();
            sum += *o;
        }
        for o in out.iter_mut() {
            *o /= sum;
        }
    }

    /// log π(a|φ), by log-sum-exp.
    pub fn log_prob(&self, theta: &[f64], phi: &[f64], a: usize) -> f64 {
        let z: Vec<f64> = (0..self.actions)
            .map(|b| dot(&theta[b * self.dim..][..self.dim], phi))
            .collect();
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + z.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        z[a] - lse
    }

    /// `out += scale · ∇_θ log π(a|φ)`, given `probs` = π(·|φ).
    pub fn add_score(&self, probs: &[f64], phi: &[f64], a: usize, scale: f64, out: &mut [f64]) {
        for (b, p) in probs.iter().enumerate() {
            let coef = scale * (f64::from(u8::from(b == a)) - p);
            axpy(coef, phi, &mut out[b * self.dim..][..self.dim]);
        }
    }

    /// `out += scale · ∇²_θ log π(·|φ) v`, given `probs` = π(·|φ).
    pub fn add_hessian_vector(
        &self,
        probs: &[f64],
        phi: &[f64],
        v: &[f64],
        scale: f64,
        out: &mut [f64],
    ) {
        let u: Vec<f64> = (0..self.actions)
            .map(|b| dot(&v[b * self.dim..][..self.dim], phi))
            .collect();
        let mean_u = dot(probs, &u);
        for (b, p) in probs.iter().enumerate() {
            let coef = -scale * p * (u[b] - mean_u);
            axpy(coef, phi, &mut out[b * self.dim..][..self.dim]);
        }
    }

    /// ∇_θ H(π(·|φ)) added with weight `scale`: ∂H/∂z_b = −π_b (log π_b + H), chained through
    /// z = θ φ (the entropy bonus of subpo.md's large domains).
    pub fn add_entropy_gradient(&self, probs: &[f64], phi: &[f64], scale: f64, out: &mut [f64]) {
        let entropy: f64 = -probs
            .iter()
            .filter(|p| **p > 0.0)
            .map(|p| p * p.ln())
            .sum::<f64>();
        for (b, p) in probs.iter().enumerate() {
            if *p > 0.0 {
                let coef = -scale * p * (p.ln() + entropy);
                axpy(coef, phi, &mut out[b * self.dim..][..self.dim]);
            }
        }
    }
}

pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// `y += a · x`.
pub fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

pub fn norm(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}
