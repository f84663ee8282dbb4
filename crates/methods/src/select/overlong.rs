//! DAPO overlong reward shaping (grpo-family.md "DAPO extras" 4):
//! `R_len(y) = 0` if `|y| <= L_max - L_cache`; `((L_max - L_cache) - |y|) / L_cache` if
//! `L_max - L_cache < |y| <= L_max`; `-1` if `|y| > L_max`. Added to the correctness reward.

pub fn overlong_penalty(response_len: usize, max_len: usize, cache_len: usize) -> f64 {
    let soft_start = max_len.saturating_sub(cache_len);
    if response_len <= soft_start {
        0.0
    } else if response_len <= max_len {
        (soft_start as f64 - response_len as f64) / cache_len.max(1) as f64
    } else {
        -1.0
    }
}

#[cfg(test)]
mod tests {
    use super::overlong_penalty;

    #[test]
    fn penalty_is_zero_then_a_linear_ramp_then_minus_one() {
        // L_max = 20, L_cache = 4: free up to 16, ramp over 17..=20, -1 beyond.
        assert_eq!(overlong_penalty(16, 20, 4), 0.0);
        assert_eq!(overlong_penalty(17, 20, 4), -0.25);
        assert_eq!(overlong_penalty(20, 20, 4), -1.0);
        assert_eq!(overlong_penalty(21, 20, 4), -1.0);
        // DAPO's own numbers: L_max 20480, L_cache 4096.
        assert!((overlong_penalty(18432, 20480, 4096) + 0.5).abs() < 1e-12);
    }
}
