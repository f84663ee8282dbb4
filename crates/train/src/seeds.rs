//! Every random stream of a run is derived from `run.seed`, a tag and a step, so that step N
//! draws the same data and samples whether the run got there directly or through a resume:
//! the step counter is the data position.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finalizer over (seed, tag, index): cheap, well mixed, and stable forever.
pub fn derive_seed(seed: u64, tag: &str, index: u64) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in tag.bytes().chain(index.to_le_bytes()) {
        h = splitmix(h ^ b as u64);
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn stream(seed: u64, tag: &str, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(seed, tag, index))
}

/// libtorch has one global generator per process. Runs sharing a process (tests, library
/// users) would interleave their draws, so every seeded draw holds this lock from seeding to
/// its last use of the generator.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `draw` with libtorch's global generator (CPU and GPU) seeded for one named draw, and no
/// other seeded draw in this process between the seed and the end of `draw`.
pub fn with_torch_seed<R>(seed: u64, tag: &str, index: u64, draw: impl FnOnce() -> R) -> R {
    // A panic in another draw leaves the generator's state irrelevant: we reseed right away.
    let _guard = TORCH_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // libtorch takes an i64; the top bit is dropped deliberately.
    tch::manual_seed((derive_seed(seed, tag, index) >> 1) as i64);
    draw()
}

/// Fisher–Yates with one of our streams (libtorch's randperm would tie the order to its global
/// RNG); the loops' minibatch orders.
pub fn shuffle(values: &mut [i64], rng: &mut rand_chacha::ChaCha8Rng) {
    use rand::RngExt;
    for i in (1..values.len()).rev() {
        let j = rng.random_range(0..=i);
        values.swap(i, j);
    }
}
