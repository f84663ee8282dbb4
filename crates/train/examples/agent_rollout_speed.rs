//! CPU time of one TextHouse RL step's rollout (8 instances x 8 episodes at the task layer's
//! budget), with the KV cache kept across turns and with every row's history re-prefilled each
//! round (`rl.turn_cache = false`), alternately, on the same policy and instances. CPU time, not
//! wall time, so that other work on the machine does not move the ratio; one thread.
//!
//! ```text
//! source scripts/env.sh
//! cargo run --release -p polopt-train --example agent_rollout_speed -- RUN/.warmstart/KEY [ROUNDS]
//! ```
//! The argument is a warm start (any model directory of the task layer's size, e.g. an entry of
//! a run's warm-start cache): a random policy writes no multi-turn episodes.
use std::path::Path;
use std::time::Instant;

use polopt_envs::text::{make_task, Problem, Split};
use polopt_train::agent_rollout::{Rollout, TurnCache};
use polopt_train::codec::Codec;
use polopt_train::group_rl::model_config;
use polopt_train::policy::Policy;
use polopt_train::seeds::with_torch_seed;
use rand::SeedableRng;

/// This process's user + system CPU seconds (`/proc/self/stat`, clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(weights) = args.get(1) else {
        return Err("usage: agent_rollout_speed WARM_START_DIR [ROUNDS]".into());
    };
    let rounds: usize = args.get(2).map_or(Ok(2), |r| r.parse())?;
    tch::set_num_threads(1);
    let config =
        polopt_train::config::resolve(&toml::Table::new(), &["task.name=texthouse".into()])?;
    let task = make_task("texthouse", &serde_json::to_value(&config.task.rl)?)?;
    let tok = Codec::builtin_with(task.extra_chars())?;
    let mut policy = Policy::new(model_config(&config, &tok), tch::Device::Cpu)?;
    policy.load_weights(Path::new(weights))?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let group = config.rl.group_size;
    let instances: Vec<Problem> = (0..config.rl.prompts_per_step)
        .map(|_| task.sample(Split::Train, &mut rng))
        .collect();
    let problems: Vec<&Problem> = instances
        .iter()
        .flat_map(|p| std::iter::repeat_n(p, group))
        .collect();
    let prompts = problems
        .iter()
        .map(|p| tok.encode_prompt(p))
        .collect::<Result<Vec<_>, _>>()?;
    let sampling = config.rl.sampling(&tok, config.rl.max_new_tokens);
    let mut seconds = [0.0f64; 2];
    let mut walls = [0.0f64; 2];
    let mut plays = Vec::new();
    for round in 0..rounds {
        for (m, cache) in [TurnCache::Keep, TurnCache::Refill].into_iter().enumerate() {
            let rollout = Rollout {
                policy: &policy,
                tok: &tok,
                task: task.as_ref(),
                sampling: &sampling,
                max_turn_tokens: config.rl.max_turn_tokens,
                cache,
                context: config.rl.agent_context,
            };
            let (cpu, wall) = (cpu_seconds(), Instant::now());
            let (rows, _) = with_torch_seed(round as u64, "speed", 0, || {
                rollout.play(&prompts, &problems)
            })?;
            seconds[m] += cpu_seconds() - cpu;
            walls[m] += wall.elapsed().as_secs_f64();
            plays.push(rows);
        }
        let [keep, refill] = [&plays[2 * round], &plays[2 * round + 1]];
        let same = keep == refill;
        let turns: usize = keep
            .iter()
            .map(|r| r.episode.as_ref().map_or(0, |e| e.turns()))
            .sum();
        let tokens: usize = keep.iter().map(|r| r.response.len()).sum();
        println!(
            "rollout {round}: {} episodes, {:.2} turns and {:.0} response tokens per episode, \
             same episodes: {same}",
            keep.len(),
            turns as f64 / keep.len() as f64,
            tokens as f64 / keep.len() as f64
        );
    }
    let n = rounds as f64;
    println!(
        "CPU s per rollout: kept cache {:.2}, re-prefill {:.2} (speed-up x{:.2}); wall s {:.2} vs {:.2}",
        seconds[0] / n,
        seconds[1] / n,
        seconds[1] / seconds[0].max(1e-9),
        walls[0] / n,
        walls[1] / n
    );
    Ok(())
}
