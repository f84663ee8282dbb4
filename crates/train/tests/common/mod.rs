//! A tiny run for tests: seconds on two cores, same code path as the default run.
#![allow(dead_code)] // each test binary uses its own subset of these helpers
pub mod mpi;
use std::path::{Path, PathBuf};

use polopt_train::config::resolve;
use polopt_train::{train, RunConfig, TrainOptions, TrainSummary};

pub fn tiny_config(out_dir: &Path, name: &str, extra: &[&str]) -> RunConfig {
    let mut sets: Vec<String> = [
        "run.threads=1",
        "run.checkpoint_every=2",
        "model.hidden_size=32",
        "model.intermediate_size=64",
        "model.num_hidden_layers=1",
        "model.num_attention_heads=2",
        "model.num_key_value_heads=1",
        "sft.steps=10",
        "sft.batch_size=16",
        "sft.pool_size=64",
        "rl.steps=6",
        "rl.prompts_per_step=4",
        "rl.group_size=4",
        "rl.minibatch_size=8",
        "rl.epochs=2",
        "eval.every=3",
        "eval.problems=8",
        "eval.k=[1, 2]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sets.push(format!("run.out_dir={:?}", out_dir.display().to_string()));
    sets.push(format!("run.name={name}"));
    sets.extend(extra.iter().map(|s| s.to_string()));
    resolve(&toml::Table::new(), &sets).expect("tiny config is valid")
}

/// A dense reward (the share of digits in the completion) so that a tiny untrained policy
/// still gets unequal rewards in a group, nonzero advantages and real updates.
pub struct DigitShare;

impl polopt_train::reward::RewardFn for DigitShare {
    fn name(&self) -> &str {
        "digit_share"
    }
    fn score(
        &self,
        _problem: &polopt_envs::text::Problem,
        completion: &str,
    ) -> polopt_envs::text::Verdict {
        let n = completion.chars().count().max(1) as f64;
        let digits = completion.chars().filter(char::is_ascii_digit).count() as f64;
        polopt_envs::text::Verdict {
            reward: digits / n,
            correct: false,
            well_formed: true,
        }
    }
}

/// Runs with the [`DigitShare`] reward instead of the verifier.
pub fn dense() -> TrainOptions {
    TrainOptions {
        reward: Some(Box::new(DigitShare)),
        ..Default::default()
    }
}

/// The smallest critic the value-model loops (T-PPO, step-level DAPO) train in tests.
pub const TINY_CRITIC: [&str; 3] = [
    "method.critic.hidden_size=16",
    "method.critic.intermediate_size=32",
    "method.critic.num_hidden_layers=1",
];

/// The same tiny run trained twice in `dir`: "straight" uninterrupted, and "split" stopped after
/// `stop_after` steps (then `between` sees the first half and its checkpoint) and resumed.
/// The caller compares the metrics of `dir/straight` and `dir/split`.
pub fn straight_and_resumed(
    dir: &Path,
    sets: &[&str],
    stop_after: usize,
    options: impl Fn() -> TrainOptions,
    between: impl FnOnce(&TrainSummary),
) {
    let straight = tiny_config(dir, "straight", sets);
    train(&straight, options()).expect("uninterrupted run");
    let split = tiny_config(dir, "split", sets);
    let first = train(
        &split,
        TrainOptions {
            stop_after: Some(stop_after),
            ..options()
        },
    )
    .expect("first half");
    assert_eq!(first.steps_done, stop_after);
    between(&first);
    train(
        &split,
        TrainOptions {
            resume: true,
            ..options()
        },
    )
    .expect("resumed half");
}

/// Wall-clock fields: they differ between any two runs, while everything else must match.
pub const TIMING: [&str; 3] = ["step_time_s", "generation_s", "tokens_per_s"];

/// The control loop's wall-clock fields besides `step_time_s`.
pub const CONTROL_TIMING: [&str; 3] = ["rollout_s", "sps", "eval_time_s"];

/// The rows of a run's `metrics.jsonl`, without wall-clock fields and without the keys in
/// `drop`: whole keys, or families when an entry ends in `/` (`"dcpo/"`).
pub fn metric_rows(run_dir: &Path, drop: &[&str]) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl")).expect("metrics written");
    text.lines()
        .map(|line| {
            let mut row: serde_json::Value = serde_json::from_str(line).expect("valid json line");
            if let Some(obj) = row.as_object_mut() {
                obj.retain(|k, _| {
                    let dropped = |d: &&str| match d.ends_with('/') {
                        true => k.starts_with(*d),
                        false => k == *d,
                    };
                    !TIMING.contains(&k.as_str()) && !drop.iter().any(dropped)
                });
            }
            row
        })
        .collect()
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn model_dir() -> String {
    root()
        .join("crates/models/tests/fixtures/qwen2_tied_chat")
        .display()
        .to_string()
}

pub fn data_file(name: &str) -> String {
    root()
        .join("crates/envs/tests/fixtures/data")
        .join(name)
        .display()
        .to_string()
}

/// A Hugging Face model (the tiny Qwen2 fixture) on a dataset file with registry rewards
/// (`math` + a digit format reward): a few seconds per run: 2 prompts x 4 completions of at most 6 tokens.
pub fn own_config(out: &Path, name: &str, train_file: &str, extra: &[&str]) -> RunConfig {
    let rewards = r#"
        [[reward]]
        name = "math"
        [[reward]]
        name = "regex"
        weight = 0.5
        pattern = '[0-9]'
        "#;
    own_config_with(out, name, train_file, rewards, extra)
}

/// [`own_config`] with other `[[reward]]` tables (TOML text).
pub fn own_config_with(
    out: &Path,
    name: &str,
    train_file: &str,
    rewards: &str,
    extra: &[&str],
) -> RunConfig {
    let user: toml::Table = rewards.parse().expect("reward tables");
    let mut sets: Vec<String> = vec![
        format!("model.path={:?}", model_dir()),
        format!("data.train={:?}", data_file(train_file)),
        format!("data.eval={:?}", data_file("tiny_math.jsonl")),
        "run.threads=1".into(),
        "run.checkpoint_every=2".into(),
        format!("run.out_dir={:?}", out.display().to_string()),
        format!("run.name={name}"),
        "rl.steps=4".into(),
        "rl.prompts_per_step=2".into(),
        "rl.group_size=4".into(),
        "rl.minibatch_size=4".into(),
        "rl.max_new_tokens=6".into(),
        "eval.every=2".into(),
        "eval.problems=4".into(),
        "eval.k=[1, 2]".into(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    resolve(&user, &sets).expect("own-model config is valid")
}

/// A random policy that writes the turn stop `"\n"` often (about one token in five), so that
/// episodes last several turns, with weights large enough that attention matters to every
/// log-prob: a wrong cache slot would move them by far more than 1e-5.
pub fn chatty_policy(
    config: &polopt_train::RunConfig,
    tok: &polopt_train::codec::Codec,
) -> polopt_train::policy::Policy {
    let policy = polopt_train::seeds::with_torch_seed(3, "init", 0, || {
        polopt_train::policy::Policy::new(
            polopt_train::group_rl::model_config(config, tok),
            tch::Device::Cpu,
        )
    })
    .unwrap();
    let newline = tok.encode("\n").unwrap()[0];
    tch::no_grad(|| {
        for (name, mut var) in policy.vs.variables() {
            if !name.contains("embed_tokens") && !name.contains("lm_head") && var.dim() == 2 {
                let _ = var.g_mul_scalar_(5.0);
            }
        }
        // Every residual stream leans the same way on coordinate 0; the `"\n"` row of the
        // (tied) output head reads it.
        let vars = policy.vs.variables();
        let embed = vars["model.embed_tokens.weight"].shallow_clone();
        let _ = embed.narrow(1, 0, 1).fill_(1.0);
        let head = vars
            .get("lm_head.weight")
            .map_or_else(|| embed.shallow_clone(), |h| h.shallow_clone());
        let _ = head.narrow(1, 0, 1).fill_(1.0);
        let _ = head.get(newline).narrow(0, 0, 1).fill_(2.5);
    });
    policy
}

/// A warm start on CorridorKeys that solves some corridors (episodes of several turns), then
/// 4 RL steps: the agent loop tests' run.
pub const CORRIDOR: [&str; 6] = [
    "task.name=corridor",
    "sft.steps=150",
    "model.hidden_size=48",
    "sft.lr=5e-3",
    "rl.steps=4",
    "eval.every=2",
];

/// [`straight_and_resumed`] with default options, stopped after `stop_after` steps: asserts
/// that both runs wrote the same metrics and returns them.
pub fn resumes_exactly(dir: &Path, sets: &[&str], stop_after: usize) -> Vec<serde_json::Value> {
    straight_and_resumed(dir, sets, stop_after, TrainOptions::default, |_| {});
    let straight = metric_rows(&dir.join("straight"), &[]);
    let split = metric_rows(&dir.join("split"), &[]);
    assert_eq!(straight, split, "resume must continue exactly");
    straight
}

/// Two TextHouse instances (horizon 20), a group of 4 episodes each, and [`chatty_policy`]:
/// the rollout tests' batch.
pub struct ChattyTextHouse {
    pub task: Box<dyn polopt_envs::text::Task>,
    pub tok: polopt_train::codec::Codec,
    pub policy: polopt_train::policy::Policy,
    instances: Vec<polopt_envs::text::Problem>,
}

impl ChattyTextHouse {
    pub fn new(config: &RunConfig) -> Self {
        use rand::SeedableRng;
        let task = polopt_envs::text::make_task("texthouse", &serde_json::json!({"horizon": 20}))
            .expect("texthouse builds");
        let tok = polopt_train::codec::Codec::builtin_with(task.extra_chars()).expect("codec");
        let policy = chatty_policy(config, &tok);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let instances = (0..2)
            .map(|_| task.sample(polopt_envs::text::Split::Train, &mut rng))
            .collect();
        Self {
            task,
            tok,
            policy,
            instances,
        }
    }

    /// The problem of each of the 8 rows.
    pub fn problems(&self) -> Vec<&polopt_envs::text::Problem> {
        self.instances.iter().flat_map(|p| [p; 4]).collect()
    }

    /// The prompt ids of each of the 8 rows.
    pub fn prompts(&self) -> Vec<Vec<i64>> {
        self.problems()
            .iter()
            .map(|p| self.tok.encode_prompt(p).expect("prompt encodes"))
            .collect()
    }
}
