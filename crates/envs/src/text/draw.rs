//! The only way text tasks draw randomness: four primitives over the raw `next_u64` stream of
//! `ChaCha8Rng`.
//!
//! Written here instead of taken from `rand::RngExt`, so that the map from a seed to a dataset
//! depends only on the pinned `rand_chacha` stream and on this file (text-tasks.md §2). A `rand`
//! release that changes how it samples ranges or shuffles cannot silently change a dataset.
//! Changing any function here is a dataset-version bump: the golden tests will say so.
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Uniform in `0..n`; `n = 0` is treated as 1.
///
/// One `next_u64` per try; a try is rejected when it falls in the lowest `2^64 mod n` values, so
/// that every residue is equally likely. For the small `n` used here a retry almost never happens.
pub fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    let n = n.max(1);
    // 2^64 mod n, computed without 128-bit arithmetic.
    let threshold = n.wrapping_neg() % n;
    loop {
        let x = rng.next_u64();
        if x >= threshold {
            return x % n;
        }
    }
}

/// Uniform in `lo..=hi` (requires `lo <= hi` and a span below `u64::MAX`); exactly [`below`].
pub fn between(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    lo + below(rng, hi.saturating_sub(lo) + 1)
}

/// True with probability `p`: always one `next_u64`, whose top 53 bits as a fraction in [0, 1)
/// are compared with `p`. `p <= 0` is never true and `p >= 1` always is.
pub fn bernoulli(rng: &mut ChaCha8Rng, p: f64) -> bool {
    let unit = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    unit < p
}

/// Fisher–Yates from the back: for `i = len-1` down to 1, swap `i` with `below(i + 1)`.
pub fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn below_stays_in_range_and_one_is_always_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for n in 1..50u64 {
            for _ in 0..200 {
                assert!(below(&mut rng, n) < n);
            }
        }
        assert_eq!(below(&mut rng, 0), 0);
        assert_eq!(between(&mut rng, 7, 7), 7);
    }

    #[test]
    fn below_is_roughly_uniform() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[below(&mut rng, 6) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn bernoulli_extremes_are_exact() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..1000 {
            assert!(!bernoulli(&mut rng, 0.0));
            assert!(bernoulli(&mut rng, 1.0));
        }
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut v: Vec<u32> = (0..20).collect();
        shuffle(&mut rng, &mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }

    /// Frozen: these values pin the stream-to-draw mapping (a change is a dataset-version bump).
    #[test]
    fn draws_from_seed_zero_are_frozen() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let draws: Vec<u64> = (0..8).map(|_| below(&mut rng, 100)).collect();
        assert_eq!(draws, FROZEN_BELOW_100);
    }
    const FROZEN_BELOW_100: [u64; 8] = [52, 23, 78, 56, 81, 41, 36, 18];
}
