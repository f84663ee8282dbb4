//! Raw environment throughput on one core, in steps per second, with random actions (so
//! episodes are short and autoresets frequent, the slow case).
//!
//! `cargo run -p polopt-envs --release --example env_throughput [seconds_per_case]`
use std::hint::black_box;
use std::time::{Duration, Instant};

use polopt_envs::classic::{
    make_vec, ActionRef, CartPole, Env, Space, VecActions, VecEnv, ENV_IDS,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Batches of precomputed random actions, cycled, so that the policy costs nothing.
const ACTION_BATCHES: usize = 1024;

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    let mut rng = ChaCha8Rng::seed_from_u64(0);

    // One CartPole, stepped directly through the trait on the concrete type.
    let actions: Vec<i64> = (0..ACTION_BATCHES)
        .map(|_| (rng.next_u64() & 1) as i64)
        .collect();
    let mut env = CartPole::new();
    let mut obs = [0.0f32; 4];
    env.reset_into(Some(0), &mut obs);
    let (steps, elapsed) = timed(budget, || {
        for &a in &actions {
            let t = env
                .step_into(ActionRef::Discrete(a), &mut obs)
                .expect("valid action");
            if t.terminated || t.truncated {
                env.reset_into(None, &mut obs);
            }
        }
        black_box(&obs);
        actions.len() as u64
    });
    report("CartPole-v1, single env, step_into", steps, elapsed);

    for num_envs in [1, 16, 256] {
        let mut typed =
            VecEnv::new((0..num_envs).map(|_| CartPole::new()).collect()).expect("one kind of env");
        let (steps, elapsed) = run_vec(&mut typed, budget, &mut rng);
        report(
            &format!("CartPole-v1, VecEnv<CartPole> x {num_envs}"),
            steps,
            elapsed,
        );
    }
    for id in ENV_IDS {
        let mut boxed = make_vec(id, 16).expect("registered id");
        let (steps, elapsed) = run_vec(&mut boxed, budget, &mut rng);
        report(&format!("{id}, VecEnv<Box<dyn Env>> x 16"), steps, elapsed);
    }
}

fn run_vec<E: Env>(vec: &mut VecEnv<E>, budget: Duration, rng: &mut ChaCha8Rng) -> (u64, Duration) {
    let n = vec.num_envs();
    vec.reset(Some(0));
    match vec.action_space().clone() {
        Space::Discrete { n: k } => {
            let actions: Vec<i64> = (0..ACTION_BATCHES * n)
                .map(|_| (rng.next_u64() % k as u64) as i64)
                .collect();
            timed(budget, || {
                for batch in actions.chunks_exact(n) {
                    black_box(
                        vec.step(VecActions::Discrete(batch))
                            .expect("valid actions")
                            .obs,
                    );
                }
                actions.len() as u64
            })
        }
        Space::Box { low, high } => {
            let dim = low.len();
            let actions: Vec<f32> = (0..ACTION_BATCHES * n * dim)
                .map(|i| {
                    low[i % dim]
                        + (high[i % dim] - low[i % dim])
                            * ((rng.next_u64() >> 40) as f32 / (1 << 24) as f32)
                })
                .collect();
            timed(budget, || {
                for batch in actions.chunks_exact(n * dim) {
                    black_box(
                        vec.step(VecActions::Continuous(batch))
                            .expect("valid actions")
                            .obs,
                    );
                }
                (actions.len() / dim) as u64
            })
        }
    }
}

/// Repeats `round` (which returns the steps it took) until `budget` has passed.
fn timed(budget: Duration, mut round: impl FnMut() -> u64) -> (u64, Duration) {
    round(); // warm-up
    let start = Instant::now();
    let mut steps = 0;
    while start.elapsed() < budget {
        steps += round();
    }
    (steps, start.elapsed())
}

fn report(case: &str, steps: u64, elapsed: Duration) {
    let per_second = steps as f64 / elapsed.as_secs_f64();
    println!(
        "{case:<52} {:>8.2} M steps/s  ({:.1} ns/step)",
        per_second / 1e6,
        1e9 / per_second
    );
}
