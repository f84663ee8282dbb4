//! Where a step's prompts come from: the task's seeded generator (optionally a fixed pool of
//! its problems), or the rows of a dataset file in a shuffled epoch order (`[data]`). The
//! order's cursor is part of every checkpoint, so a resumed run continues at the same row.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use polopt_envs::data::{self, DataOrder, DataReport, FieldMap, OnBadRow, PreferenceFields};
use polopt_envs::text::{extract_answer, math_reward, sample_batch, Problem, Split, Task, Verdict};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::codec::Codec;
use crate::error::TrainError;
use crate::rewards::math::gold_answer;
use crate::seeds::stream;

/// `[data]`: a dataset file instead of a built-in task (docs/own-model.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// JSON lines or Parquet file of training prompts (relative to the working directory).
    pub train: String,
    /// Held-out prompts for `eval.*`; without it a run has no held-out evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<String>,
    #[serde(default)]
    pub fields: FieldMap,
    /// The columns of a preference file (`method.rollout.kind = "pairs"`): TRL's names.
    #[serde(default)]
    pub preference_fields: PreferenceFields,
    #[serde(default)]
    pub on_bad_row: OnBadRow,
    /// Prompt length limit in tokens; 0 = the model's positions minus `rl.max_new_tokens`.
    #[serde(default)]
    pub max_prompt_tokens: usize,
    #[serde(default)]
    pub on_long_prompt: OnLongPrompt,
    /// Render prompts with the tokenizer's chat template (with the generation prompt).
    #[serde(default = "yes")]
    pub chat_template: bool,
    /// A system turn put before every conversation that has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
}

fn yes() -> bool {
    true
}

/// What a prompt longer than `data.max_prompt_tokens` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnLongPrompt {
    /// Stop at load time, naming the row (the default: nothing is dropped silently).
    #[default]
    Error,
    /// Leave the row out; the count is logged.
    Skip,
    /// Keep the last `max_prompt_tokens` ids (the question usually comes last).
    TruncateLeft,
}

/// A loaded dataset: its problems (each within the prompt-length rule) and what loading did.
pub struct Dataset {
    pub problems: Vec<Problem>,
    pub report: DataReport,
    pub long_prompts: usize,
}

impl DataSection {
    /// Loads `file` (the `data.train` or `data.eval` file) and applies the prompt-length rule.
    pub fn load(
        &self,
        key: &str,
        file: &str,
        codec: &Codec,
        limit: usize,
    ) -> Result<Dataset, TrainError> {
        let path = PathBuf::from(file);
        let (mut problems, report) = data::load(&path, &self.fields, self.on_bad_row)
            .map_err(|e| TrainError::Config(format!("config key `data.{key}`: {e}")))?;
        let limit = match self.max_prompt_tokens {
            0 => limit,
            n => n,
        };
        let mut long_prompts = 0;
        let mut kept = Vec::with_capacity(problems.len());
        for problem in problems.drain(..) {
            let n = codec.encode_prompt(&problem)?.len();
            if n <= limit {
                kept.push(problem);
                continue;
            }
            long_prompts += 1;
            match self.on_long_prompt {
                OnLongPrompt::Error => {
                    return Err(TrainError::Config(format!(
                        "{}: row {} has a {n}-token prompt, over the limit of {limit} \
                         (data.max_prompt_tokens, or the model's positions minus \
                         rl.max_new_tokens); set data.on_long_prompt = \"skip\" or \
                         \"truncate_left\"",
                        path.display(),
                        problem.key
                    )))
                }
                OnLongPrompt::Skip => {}
                OnLongPrompt::TruncateLeft => {
                    let mut problem = problem;
                    problem.meta["max_prompt_tokens"] = serde_json::json!(limit);
                    kept.push(problem);
                }
            }
        }
        if kept.is_empty() {
            return Err(TrainError::Config(format!(
                "{}: every prompt is longer than {limit} tokens",
                path.display()
            )));
        }
        if long_prompts > 0 {
            tracing::warn!(file, long_prompts, rule = ?self.on_long_prompt, "prompts over the length limit");
        }
        Ok(Dataset {
            problems: kept,
            report,
            long_prompts,
        })
    }
}

/// The training prompts of a run.
pub enum Prompts {
    /// Fresh problems from the task's generator per (step, round); with `rl.pool_size`, draws
    /// from a fixed pool of them so that queries recur.
    Task { pool: Vec<Problem> },
    /// Dataset rows in a shuffled epoch order; the cursor moves as batches are drawn.
    Data {
        rows: Arc<Vec<Problem>>,
        order: Mutex<DataOrder>,
    },
}

impl Prompts {
    pub fn from_task(task: &dyn Task, pool_size: usize, seed: u64) -> Self {
        let pool = match pool_size {
            0 => Vec::new(),
            n => sample_batch(task, Split::Train, n, &mut stream(seed, "rl-pool", 0)),
        };
        Prompts::Task { pool }
    }

    pub fn from_rows(rows: Arc<Vec<Problem>>, seed: u64) -> Result<Self, TrainError> {
        let order = DataOrder::new(rows.len(), seed)
            .map_err(|e| TrainError::Config(format!("config key `data.train`: {e}")))?;
        Ok(Prompts::Data {
            rows,
            order: Mutex::new(order),
        })
    }

    /// `n` training problems for draw `index` (the step and round) of stream `name`.
    pub fn draw(
        &self,
        task: &dyn Task,
        seed: u64,
        name: &'static str,
        index: u64,
        n: usize,
    ) -> Vec<Problem> {
        let mut rng = stream(seed, name, index);
        match self {
            Prompts::Task { pool } if pool.is_empty() => {
                sample_batch(task, Split::Train, n, &mut rng)
            }
            Prompts::Task { pool } => (0..n)
                .map(|_| pool[rng.random_range(0..pool.len())].clone())
                .collect(),
            Prompts::Data { rows, order } => {
                let mut order = order.lock().unwrap_or_else(|p| p.into_inner());
                order
                    .next_batch(n)
                    .into_iter()
                    .map(|i| rows[i].clone())
                    .collect()
            }
        }
    }

    /// The data cursor, for checkpoints (`None` for task prompts, which are stateless).
    pub fn state(&self) -> Option<DataOrder> {
        match self {
            Prompts::Task { .. } => None,
            Prompts::Data { order, .. } => {
                Some(order.lock().unwrap_or_else(|p| p.into_inner()).clone())
            }
        }
    }

    pub fn restore(&self, state: Option<DataOrder>, from: &Path) -> Result<(), TrainError> {
        match (self, state) {
            (Prompts::Data { rows, order }, Some(state)) => {
                state
                    .check_len(rows.len())
                    .map_err(|e| TrainError::Checkpoint {
                        path: from.to_path_buf(),
                        detail: format!("data.train: {e}"),
                    })?;
                *order.lock().unwrap_or_else(|p| p.into_inner()) = state;
                Ok(())
            }
            (Prompts::Data { .. }, None) => Err(TrainError::Checkpoint {
                path: from.to_path_buf(),
                detail: "no data order in the checkpoint, but the run has [data]".into(),
            }),
            (Prompts::Task { .. }, _) => Ok(()),
        }
    }
}

/// A dataset as a [`Task`], for the loops that draw single problems at random (T-PPO's slots,
/// step-level DAPO's labelled set, the warm start): a uniformly random row per draw, and the
/// `math` reward's answer check as its verifier (a run scores with the reward registry).
pub struct DatasetTask {
    /// Shared with the epoch order of [`Prompts::Data`]: one copy of the dataset.
    rows: Arc<Vec<Problem>>,
    file: String,
}

impl DatasetTask {
    pub fn new(rows: Arc<Vec<Problem>>, file: &str) -> Self {
        Self {
            rows,
            file: file.to_string(),
        }
    }
}

impl Task for DatasetTask {
    fn name(&self) -> &'static str {
        "dataset"
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::json!({ "file": self.file, "rows": self.rows.len() })
    }

    fn sample(&self, _split: Split, rng: &mut ChaCha8Rng) -> Problem {
        self.rows[rng.random_range(0..self.rows.len())].clone()
    }

    fn verify(&self, problem: &Problem, completion: &str) -> Verdict {
        let Some(gold) = gold_answer(problem) else {
            return Verdict::malformed();
        };
        let well_formed = extract_answer(completion).is_some();
        Verdict::graded(math_reward(completion, &gold) == 1.0, well_formed, 0.0)
    }
}
