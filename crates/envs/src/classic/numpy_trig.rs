//! NumPy's float32 `sin` and `cos`, which Acrobot's first observation after a reset goes through
//! (its reset state is a float32 array, and `np.cos` of a float32 stays float32).
//!
//! NumPy (2.x, `loops_trigonometric.dispatch.cpp`, x86 with FMA3, as on the machine that made the
//! golden vectors) does not call libm here: it reduces the argument by Cody-Waite and evaluates
//! short polynomials with fused multiply-adds. The result is within 1.49 ulp but not correctly
//! rounded, so `(x as f64).cos() as f32` differs from it by one ulp for some inputs, e.g.
//! `sin(1.0)`. This is a scalar port of that kernel; `mul_add` is the fused `MulAdd`. On CPUs
//! without FMA3 NumPy calls libm `sinf`/`cosf` instead; we follow the golden platform.

/// `2/pi`, `0x1.45f306p-1`.
const TWO_OVER_PI: f32 = f32::from_bits(0x3f22_f983);
/// `-pi/2` in three parts: `-0x1.921fb0p+00`, `-0x1.5110b4p-22`, `-0x1.846988p-48`.
const PIO2_HIGH: f32 = f32::from_bits(0xbfc9_0fd8);
const PIO2_MED: f32 = f32::from_bits(0xb4a8_885a);
const PIO2_LOW: f32 = f32::from_bits(0xa7c2_34c4);
/// `0x1.8p+23`: adding and subtracting it rounds to the nearest integer.
const RINT_MAGIC: f32 = f32::from_bits(0x4b40_0000);

/// Cosine polynomial coefficients `0x1.98e616p-16`, `-0x1.6c06dcp-10`, `0x1.55553cp-05`,
/// `-0.5`, `1.0`.
const COS_8: f32 = f32::from_bits(0x37cc_730b);
const COS_6: f32 = f32::from_bits(0xbab6_036e);
const COS_4: f32 = f32::from_bits(0x3d2a_aa9e);
const COS_2: f32 = -0.5;
const COS_0: f32 = 1.0;
/// Sine polynomial coefficients `0x1.7d3bbcp-19`, `-0x1.a06bbap-13`, `0x1.11119ap-07`,
/// `-0x1.555556p-03`.
const SIN_9: f32 = f32::from_bits(0x363e_9dde);
const SIN_7: f32 = f32::from_bits(0xb950_35dd);
const SIN_5: f32 = f32::from_bits(0x3c08_88cd);
const SIN_3: f32 = f32::from_bits(0xbe2a_aaab);

/// `np.sin` of an `np.float32`.
pub(crate) fn sin_f32(x: f32) -> f32 {
    sincos(x, false)
}

/// `np.cos` of an `np.float32`.
pub(crate) fn cos_f32(x: f32) -> f32 {
    sincos(x, true)
}

fn sincos(x: f32, cos: bool) -> f32 {
    // Beyond these bounds the reduction cancels catastrophically and NumPy calls libm. The
    // literals are NumPy's, digit for digit.
    #[allow(clippy::excessive_precision)]
    let max_cody = if cos { 71476.0625f32 } else { 117435.992f32 };
    if x.is_nan() {
        return f32::NAN;
    }
    if x.abs() > max_cody {
        return if cos { x.cos() } else { x.sin() };
    }
    let quadrant = (x * TWO_OVER_PI + RINT_MAGIC) - RINT_MAGIC;
    let mut r = quadrant.mul_add(PIO2_HIGH, x);
    r = quadrant.mul_add(PIO2_MED, r);
    r = quadrant.mul_add(PIO2_LOW, r);
    let r2 = r * r;
    let cos_r = COS_8
        .mul_add(r2, COS_6)
        .mul_add(r2, COS_4)
        .mul_add(r2, COS_2)
        .mul_add(r2, COS_0);
    let sin_r = SIN_9
        .mul_add(r2, SIN_7)
        .mul_add(r2, SIN_5)
        .mul_add(r2, SIN_3)
        .mul_add(r2, 0.0)
        .mul_add(r, r);
    // `quadrant` is already integral, so the conversion is exact.
    let q = quadrant as i32 + i32::from(cos);
    let value = if q & 1 == 0 { sin_r } else { cos_r };
    // NumPy negates as `0 - value`, which keeps +0.0 positive.
    if q & 2 == 2 {
        0.0 - value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_of_one_is_numpys_not_the_correctly_rounded_value() {
        // np.sin(np.float32(1.0)) on NumPy 2.4.6 with AVX-512, from the Acrobot golden file.
        assert_eq!(sin_f32(1.0).to_bits(), 1062693541);
        assert_eq!((1.0f64.sin() as f32).to_bits(), 1062693540);
    }

    #[test]
    fn stays_within_two_ulp_of_libm_over_a_range() {
        for i in -4000..4000 {
            let x = i as f32 * 0.01;
            for (got, want) in [
                (sin_f32(x), (x as f64).sin() as f32),
                (cos_f32(x), (x as f64).cos() as f32),
            ] {
                assert!(
                    (got.to_bits() as i64 - want.to_bits() as i64).abs() <= 2,
                    "x={x}: {got} vs {want}"
                );
            }
        }
        assert_eq!(cos_f32(0.0), 1.0);
        assert_eq!(sin_f32(0.0).to_bits(), 0.0f32.to_bits());
    }
}
