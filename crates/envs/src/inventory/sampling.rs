//! The draws behind demand traces and initial inventories, on our own ChaCha streams so that a
//! seed fixes every scenario forever (no dependence on a distribution crate's algorithm).
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Uniform in [0, 1).
pub fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
}

/// Standard normal by Box–Muller (one pair of uniforms per draw: a simple stream position).
pub fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - uniform(rng); // (0, 1]: ln is finite
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Poisson(`mean`) by Knuth's product of uniforms: exact, and fast for the small means here.
pub fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    let limit = (-mean).exp();
    let mut k = 0u32;
    let mut product = uniform(rng);
    while product > limit {
        k += 1;
        product *= uniform(rng);
    }
    k as f64
}

/// A normal demand clipped at 0 and rounded to 3 decimals (spec, benchmark 1).
pub fn clipped_normal_demand(mean: f64, std: f64, z: f64) -> f64 {
    ((mean + std * z).max(0.0) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn poisson_and_normal_have_their_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 200_000;
        let p: Vec<f64> = (0..n).map(|_| poisson(&mut rng, 5.0)).collect();
        let mean = p.iter().sum::<f64>() / n as f64;
        let var = p.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            (mean - 5.0).abs() < 0.03 && (var - 5.0).abs() < 0.08,
            "{mean} {var}"
        );
        let z: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "{mean} {var}"
        );
    }
}
