//! `command`: a user program as the reward, any language. `command = ["python3", "score.py"]`
//! (argv, run in the config file's folder; a relative program path with a `/` starts there
//! too, a bare name is looked up on `PATH`) is started once and kept running. Per batch it
//! reads one JSON object per completion on stdin,
//!
//! ```text
//! {"prompt": "...", "completion": "...", "answer": "...", <every meta field>}
//! ```
//!
//! and writes, in order, one line per completion on stdout: a number, `null` (NaN), or
//! `{"reward": x, "correct": b}` (`correct` and `well_formed` optional; with `correct` it is a
//! verifier). Logs go to stderr, which is passed through. A batch that has not been answered
//! within `timeout_s` kills the program and is an error naming the command and the timeout; a
//! program that exits, writes a line that does not parse, or writes too many lines is an error
//! naming the line. After an error the next batch starts the program afresh; dropping the
//! reward kills it. Python children run with `PYTHONUNBUFFERED=1`; other languages must flush
//! after each line.
mod process;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    config_error, meta_columns, resolve, Judgement, Reward, RewardEntry, RewardInput, Settings,
};
use crate::error::TrainError;
use crate::reward::Completion;
use process::Process;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Seconds for a whole batch's answers.
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
}

fn default_timeout() -> f64 {
    60.0
}

impl Settings for CommandSettings {
    fn validate(&self, key: &str) -> Result<(), TrainError> {
        if self.command.is_empty() || self.command[0].is_empty() {
            return Err(config_error(
                &format!("{key}.command"),
                "must name a program, e.g. [\"python3\", \"score.py\"]",
            ));
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            return Err(config_error(
                &format!("{key}.timeout_s"),
                &format!(
                    "must be a positive number of seconds, found {}",
                    self.timeout_s
                ),
            ));
        }
        Ok(())
    }
}

/// How to start the program, kept to restart it after a failure.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// `python3 score.py`, for messages.
    pub shown: String,
}

pub struct CommandReward {
    name: String,
    launch: Launch,
    timeout: Duration,
    timeout_s: f64,
    /// The running program; `None` after a failure, until the next batch restarts it.
    running: Mutex<Option<Process>>,
}

impl CommandReward {
    fn error(&self, detail: String) -> TrainError {
        TrainError::Reward {
            reward: self.name.clone(),
            detail,
        }
    }

    /// The stdin line for one completion.
    fn request(c: &Completion<'_>) -> String {
        let mut record = serde_json::Map::new();
        for (k, v) in meta_columns(c.problem) {
            record.insert(k.to_string(), v.clone());
        }
        record.insert("prompt".into(), c.problem.prompt.clone().into());
        record.insert("completion".into(), c.text.into());
        record.insert("answer".into(), c.problem.answer.clone().into());
        serde_json::Value::Object(record).to_string()
    }
}

impl Reward for CommandReward {
    fn name(&self) -> &str {
        &self.name
    }

    fn judge(&self, items: &[Completion<'_>]) -> Result<Vec<Judgement>, TrainError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // A panic elsewhere while holding the lock leaves a process we can still use or kill.
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_none() {
            *running = Some(Process::start(&self.launch).map_err(|e| self.error(e))?);
        }
        let Some(process) = running.as_mut() else {
            return Err(self.error("the program is not running".into()));
        };
        let mut payload = String::new();
        for c in items {
            payload.push_str(&Self::request(c));
            payload.push('\n');
        }
        match process.exchange(payload, items.len(), self.timeout, self.timeout_s) {
            Ok(out) => Ok(out),
            Err(detail) => {
                // Killed now (drop); its stream may be out of step, so the next batch restarts.
                *running = None;
                Err(self.error(detail))
            }
        }
    }
}

fn build(input: &RewardInput) -> Result<Box<dyn Reward>, TrainError> {
    let settings: CommandSettings = input.settings()?;
    let program = &settings.command[0];
    // A relative path with a folder in it is the user's script next to the config; a bare
    // name is a program on PATH.
    let program = if program.contains('/') {
        input.path(program)
    } else {
        PathBuf::from(program)
    };
    let shown = settings.command.join(" ");
    let launch = Launch {
        program,
        args: settings.command[1..].to_vec(),
        cwd: input.base_dir.to_path_buf(),
        shown: shown.clone(),
    };
    // Started now so that a missing program is a config error, not a failure at step 1.
    let process =
        Process::start(&launch).map_err(|e| config_error(&format!("{}.command", input.key), &e))?;
    Ok(Box::new(CommandReward {
        name: format!("command({shown})"),
        launch,
        timeout: Duration::from_secs_f64(settings.timeout_s),
        timeout_s: settings.timeout_s,
        running: Mutex::new(Some(process)),
    }))
}

pub const ENTRY: RewardEntry = RewardEntry {
    name: "command",
    summary: "your program, kept running: one JSON line per completion in, one reward line out",
    build,
    resolve: resolve::<CommandSettings>,
};
