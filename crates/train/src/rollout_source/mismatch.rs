//! The gap between the engine's behaviour log-probs and the trainer's own log-probs of the
//! same tokens, logged every step (verl's `rollout_probs_diff_*`, prime-rl's mismatch KL): a
//! growing gap means the engine serves other weights, another temperature or another
//! numerics than the trainer assumes, and the importance ratio is then off by that much.

/// Mean and max of |engine - trainer| over every token, and the mean signed difference.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LogpMismatch {
    pub mean_abs: f64,
    pub max_abs: f64,
    /// Mean of (engine - trainer): a one-signed gap points at a temperature or version skew.
    pub mean: f64,
    pub tokens: usize,
}

impl LogpMismatch {
    /// Over rows of equal length pairs (`engine[i].len() == trainer[i].len()`); extra entries
    /// of the longer row are ignored.
    pub fn of(engine: &[&[f32]], trainer: &[Vec<f64>]) -> Self {
        let mut out = LogpMismatch::default();
        let mut sum_abs = 0.0;
        let mut sum = 0.0;
        for (e, t) in engine.iter().zip(trainer) {
            for (&a, &b) in e.iter().zip(t) {
                let d = a as f64 - b;
                sum += d;
                sum_abs += d.abs();
                out.max_abs = out.max_abs.max(d.abs());
                out.tokens += 1;
            }
        }
        if out.tokens > 0 {
            out.mean_abs = sum_abs / out.tokens as f64;
            out.mean = sum / out.tokens as f64;
        }
        out
    }

    /// The metrics row entries (`rollout/logp_diff_*`).
    pub fn metrics(&self) -> [(String, f64); 3] {
        [
            ("rollout/logp_diff_abs_mean".into(), self.mean_abs),
            ("rollout/logp_diff_abs_max".into(), self.max_abs),
            ("rollout/logp_diff_mean".into(), self.mean),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_is_mean_and_max_of_absolute_differences() {
        let engine: [&[f32]; 2] = [&[-1.0, -2.0], &[-0.5]];
        let m = LogpMismatch::of(&engine, &[vec![-1.5, -2.0], vec![0.0]]);
        assert_eq!(m.tokens, 3);
        assert!((m.mean_abs - 1.0 / 3.0).abs() < 1e-9);
        assert!((m.max_abs - 0.5).abs() < 1e-9);
        assert!((m.mean - 0.0).abs() < 1e-9);
    }
}
