//! Your own multi-turn environment, trained with polopt (docs/agents.md, "Your own
//! environment"): implement `AgentEnv`, register it under a name, and every loop, the warm
//! start (from `expert()`), the evaluation and `--preset gigpo` etc. accept that name.
//!
//! ```text
//! source scripts/env.sh
//! cargo run --release -p polopt-train --example own_agent_env
//! ```
//! Guess-the-digit: the secret is 0..9, the agent says `guess D` and hears `higher` or
//! `lower`; a right guess ends the episode with reward 1. Binary search needs at most 4 turns.
use polopt_envs::agent::{normalize_action, register_env, AgentEnv, Info, Reset, Step};
use polopt_envs::text::TaskError;
use rand::{RngExt, SeedableRng};

#[derive(Clone, Default)]
struct Guess {
    secret: u32,
    low: u32,
    high: u32,
    turns: usize,
    done: bool,
}

const HORIZON: usize = 6;

impl AgentEnv for Guess {
    fn name(&self) -> &'static str {
        "guess"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::json!({ "horizon": HORIZON })
    }
    fn horizon(&self) -> usize {
        HORIZON
    }
    fn reset(&mut self, seed: u64) -> Reset {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        *self = Guess {
            secret: rng.random_range(0..10),
            low: 0,
            high: 9,
            ..Default::default()
        };
        let task = "guess the digit".to_string();
        Reset {
            observation: format!("{task}: it is in 0..9."),
            info: Info {
                admissible: (0..10).map(|d| format!("guess {d}")).collect(),
                task,
            },
        }
    }
    fn step(&mut self, action: &str) -> Step {
        let action = normalize_action(action, self.action_stops());
        let guess = action
            .strip_prefix("guess ")
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|_| !self.done);
        self.turns += 1;
        let (observation, reward, invalid) = match guess {
            Some(g) if g == self.secret => ("correct.".to_string(), 1.0, false),
            Some(g) if g < self.secret && g <= 9 => {
                self.low = self.low.max(g + 1);
                ("higher.".to_string(), 0.0, false)
            }
            Some(g) if g > self.secret && g <= 9 => {
                self.high = self.high.min(g.saturating_sub(1));
                ("lower.".to_string(), 0.0, false)
            }
            _ => ("Nothing happens.".to_string(), 0.0, true),
        };
        let terminated = reward > 0.0;
        let truncated = !terminated && self.turns >= HORIZON;
        self.done |= terminated || truncated;
        Step {
            observation,
            reward,
            terminated,
            truncated,
            invalid,
            success: terminated,
            info: Info::default(),
        }
    }
    /// Binary search from the state right after reset.
    fn expert(&self) -> Vec<String> {
        let (mut low, mut high, mut actions) = (0, 9, Vec::new());
        loop {
            let mid = (low + high) / 2;
            actions.push(format!("guess {mid}"));
            match mid.cmp(&self.secret) {
                std::cmp::Ordering::Equal => return actions,
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid - 1,
            }
        }
    }
    fn boxed_clone(&self) -> Box<dyn AgentEnv> {
        Box::new(self.clone())
    }
}

fn build(_config: &serde_json::Value) -> Result<Box<dyn AgentEnv>, TaskError> {
    Ok(Box::new(Guess::default()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    register_env("guess", build)?;
    let out = std::env::temp_dir().join("polopt-own-agent-env");
    let sets: Vec<String> = [
        "task.name=guess",
        "method.preset=gigpo",
        "model.max_position_embeddings=160",
        "rl.max_new_tokens=96",
        "sft.steps=150",
        "rl.steps=20",
        "eval.every=10",
        "run.name=guess",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("run.out_dir={:?}", out.display().to_string())])
    .collect();
    let config = polopt_train::config::resolve(&toml::Table::new(), &sets)?;
    let _ = std::fs::remove_dir_all(out.join("guess"));
    let summary = polopt_train::train(&config, polopt_train::TrainOptions::default())?;
    println!(
        "success on held-out secrets: {:.2} after the warm start, {:.2} after RL ({})",
        summary
            .warmstart
            .get("eval/pass@1")
            .copied()
            .unwrap_or(f64::NAN),
        summary
            .final_metrics
            .get("eval/pass@1")
            .copied()
            .unwrap_or(f64::NAN),
        summary.run_dir.display()
    );
    Ok(())
}
