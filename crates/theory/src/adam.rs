//! Adam (Kingma & Ba 2015) over a plain `Vec<f64>`, for gradient *ascent*: the policy-gradient
//! solvers maximise, so the step is added.
#[derive(Debug, Clone, PartialEq)]
pub struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    /// The usual β1 = 0.9, β2 = 0.999, ε = 1e-8.
    pub fn new(n_params: usize, lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            m: vec![0.0; n_params],
            v: vec![0.0; n_params],
            t: 0,
        }
    }

    /// θ += lr · m̂ / (√v̂ + ε) for the ascent direction `grad`.
    pub fn ascend(&mut self, theta: &mut [f64], grad: &[f64]) {
        self.t = self.t.saturating_add(1);
        let c1 = 1.0 - self.beta1.powi(self.t);
        let c2 = 1.0 - self.beta2.powi(self.t);
        for (((x, g), m), v) in theta.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *x += self.lr * (*m / c1) / ((*v / c2).sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Adam;

    #[test]
    fn first_step_moves_each_coordinate_by_lr_in_the_gradient_sign() {
        // m̂ = g, v̂ = g² after one step, so the step is lr · sign(g) (up to ε).
        let mut adam = Adam::new(3, 0.1);
        let mut theta = vec![0.0, 1.0, 2.0];
        adam.ascend(&mut theta, &[5.0, -0.01, 0.0]);
        assert!((theta[0] - 0.1).abs() < 1e-9);
        assert!((theta[1] - 0.9).abs() < 1e-6);
        assert_eq!(theta[2], 2.0);
    }

    #[test]
    fn climbs_a_concave_quadratic_to_its_top() {
        let mut adam = Adam::new(2, 0.05);
        let mut theta = vec![3.0, -2.0];
        for _ in 0..2000 {
            let grad: Vec<f64> = theta.iter().map(|x| -(x - 1.0)).collect();
            adam.ascend(&mut theta, &grad);
        }
        assert!(theta.iter().all(|x| (x - 1.0).abs() < 1e-2), "{theta:?}");
    }
}
