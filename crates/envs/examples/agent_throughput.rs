//! Environment steps per second of each agent environment on one core (issue 14's goal: more
//! than 100k), with a scripted policy: the expert's actions, and with probability 0.25 an
//! admissible action or a garbled one instead, so that invalid actions, wrong turns and
//! truncations are part of the mix. Resets are included in the time (a new instance seed per
//! episode), as in a rollout.
//!
//! ```text
//! taskset -c 0 cargo run --release -p polopt-envs --example agent_throughput [SECONDS]
//! ```
//! Prints `<env> <steps/s> <episodes/s> <mean turns>`, one line per environment.
use std::time::Instant;

use polopt_envs::agent::{make_env, nth_seed, ENV_NAMES};
use polopt_envs::text::Split;
use rand::{RngExt, SeedableRng};

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    println!(
        "{:<10} {:>12} {:>12} {:>10}",
        "env", "steps/s", "episodes/s", "turns"
    );
    for name in ENV_NAMES {
        let mut env = match make_env(name, &serde_json::Value::Null) {
            Ok(env) => env,
            Err(e) => {
                eprintln!("{name}: {e}");
                continue;
            }
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (mut steps, mut episodes) = (0u64, 0u64);
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            for _ in 0..64 {
                let reset = env.reset(nth_seed(Split::Train, episodes));
                episodes += 1;
                let mut plan = env.expert().into_iter();
                let mut admissible = reset.info.admissible;
                loop {
                    let action = match rng.random_range(0..8) {
                        0 if !admissible.is_empty() => {
                            admissible[rng.random_range(0..admissible.len())].clone()
                        }
                        1 => "dance wildly".to_string(),
                        _ => plan.next().unwrap_or_else(|| "look".into()),
                    };
                    let step = env.step(&action);
                    steps += 1;
                    if step.terminated || step.truncated {
                        break;
                    }
                    admissible = step.info.admissible;
                }
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "{:<10} {:>12.0} {:>12.0} {:>10.2}",
            name,
            steps as f64 / elapsed,
            episodes as f64 / elapsed,
            steps as f64 / episodes.max(1) as f64
        );
    }
}
