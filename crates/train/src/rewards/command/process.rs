//! The `command` reward's child process. Three threads keep the pipes moving so that no side
//! blocks the other: a writer owns stdin (a program that stops reading cannot block the loop
//! past the timeout), a reader sends stdout lines through a channel that the loop waits on
//! with `recv_timeout`, and a third passes stderr through and keeps its last lines for errors.
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::Launch;
use crate::rewards::Judgement;

/// stderr lines kept for error messages.
const STDERR_TAIL: usize = 20;

enum Line {
    Text(String),
    /// stdout closed (`None`) or failed to read.
    Closed(Option<String>),
}

pub struct Process {
    child: Child,
    shown: String,
    to_stdin: Option<mpsc::Sender<String>>,
    lines: mpsc::Receiver<Line>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Disconnects when stderr closes, so that an error can wait for the program's last words.
    stderr_closed: mpsc::Receiver<()>,
}

impl Process {
    pub fn start(launch: &Launch) -> Result<Self, String> {
        let shown = launch.shown.clone();
        let mut child = Command::new(&launch.program)
            .args(&launch.args)
            .current_dir(&launch.cwd)
            // Python block-buffers a piped stdout: its answers would sit in the buffer until
            // the timeout.
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{shown}` in {}: {e}", launch.cwd.display()))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(format!("`{shown}`: its pipes could not be opened"));
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            thread::Builder::new()
                .name(format!("reward-command-{name}"))
                .spawn(f)
                .map(|_| ())
                .map_err(|e| format!("`{shown}`: cannot start its {name} thread: {e}"))
        };

        let (to_stdin, payloads) = mpsc::channel::<String>();
        let writer = Box::new(move || {
            for payload in payloads {
                if stdin
                    .write_all(payload.as_bytes())
                    .and_then(|()| stdin.flush())
                    .is_err()
                {
                    break; // the program closed stdin or exited; the reader reports it
                }
            }
        });
        let (send_line, lines) = mpsc::channel::<Line>();
        let reader = Box::new(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut buf = String::new();
                let line = match stdout.read_line(&mut buf) {
                    Ok(0) => Line::Closed(None),
                    Ok(_) => Line::Text(buf.trim_end_matches(['\n', '\r']).to_string()),
                    Err(e) => Line::Closed(Some(e.to_string())),
                };
                let closed = matches!(line, Line::Closed(_));
                if send_line.send(line).is_err() || closed {
                    break;
                }
            }
        });
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr_tail);
        let prefix = shown.clone();
        let (stderr_open, stderr_closed) = mpsc::channel::<()>();
        let errors = Box::new(move || {
            let _open = stderr_open; // dropped at stderr's end: `stderr_closed` disconnects
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{prefix}] {line}");
                let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let process = Process {
            child,
            shown: shown.clone(),
            to_stdin: Some(to_stdin),
            lines,
            stderr_tail,
            stderr_closed,
        };
        // On an error here `process` drops and kills the child.
        spawn("stdin", writer)?;
        spawn("stdout", reader)?;
        spawn("stderr", errors)?;
        Ok(process)
    }

    /// Sends `payload` (`n` lines) and reads `n` answers within `timeout`; the error text
    /// names the command and the line at fault. The caller drops (kills) the process on error.
    pub fn exchange(
        &mut self,
        payload: String,
        n: usize,
        timeout: Duration,
        timeout_s: f64,
    ) -> Result<Vec<Judgement>, String> {
        match self.lines.try_recv() {
            Ok(Line::Text(extra)) => {
                return Err(format!(
                    "`{}` wrote a line before it was sent anything (more lines than \
                     completions earlier?): {extra:?}",
                    self.shown
                ))
            }
            Ok(Line::Closed(err)) => return Err(self.stopped(0, n, err)),
            Err(TryRecvError::Disconnected) => return Err(self.stopped(0, n, None)),
            Err(TryRecvError::Empty) => {}
        }
        // A failed send means the writer is gone (stdin closed); the reads below say why.
        if let Some(tx) = &self.to_stdin {
            let _ = tx.send(payload);
        }
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Line::Text(line)) => out.push(parse_line(&line).map_err(|e| {
                    format!("`{}` line {} of {n} {line:?}: {e}", self.shown, i + 1)
                })?),
                Ok(Line::Closed(err)) => return Err(self.stopped(i, n, err)),
                Err(RecvTimeoutError::Disconnected) => return Err(self.stopped(i, n, None)),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "`{}` answered {i} of {n} completions within timeout_s = {timeout_s} \
                         and was killed{}",
                        self.shown,
                        self.stderr_text()
                    ))
                }
            }
        }
        Ok(out)
    }

    /// The message for a program whose stdout closed after `answered` of `n` lines.
    fn stopped(&mut self, answered: usize, n: usize, read_error: Option<String>) -> String {
        // It usually exits right after closing stdout: wait briefly so the status is known.
        let mut status = None;
        for _ in 0..50 {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Its stderr thread may still be catching up with a message written just before exit.
        let _ = self.stderr_closed.recv_timeout(Duration::from_millis(500));
        let how = match (read_error, status) {
            (Some(e), _) => format!("reading its output failed: {e}"),
            (None, Some(s)) => format!("it exited ({s})"),
            (None, None) => "it closed its stdout".to_string(),
        };
        format!(
            "`{}` stopped after answering {answered} of {n} completions: {how}{}",
            self.shown,
            self.stderr_text()
        )
    }

    fn stderr_text(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        if tail.is_empty() {
            String::new()
        } else {
            let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
            format!("; its stderr ended with:\n{}", lines.join("\n"))
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.to_stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer line: a number, `null` or `NaN` (no value), or
/// `{"reward": x, "correct": b, "well_formed": b}` with `correct` and `well_formed` optional.
fn parse_line(line: &str) -> Result<Judgement, String> {
    let mut judgement = Judgement {
        reward: f64::NAN,
        correct: None,
        well_formed: true,
    };
    let text = line.trim();
    // Python's json.dumps writes NaN for float("nan"), which JSON itself does not have.
    if text == "NaN" {
        return Ok(judgement);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let number = |v: &serde_json::Value| match v {
        serde_json::Value::Null => Ok(f64::NAN),
        serde_json::Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a float")),
        other => Err(format!("expected a number or null, found {other}")),
    };
    match &value {
        serde_json::Value::Object(fields) => {
            let reward = fields.get("reward").ok_or("an object without \"reward\"")?;
            judgement.reward = number(reward).map_err(|e| format!("\"reward\": {e}"))?;
            for (key, v) in fields {
                let flag = || {
                    v.as_bool()
                        .ok_or(format!("\"{key}\" must be true or false"))
                };
                match key.as_str() {
                    "reward" => {}
                    "correct" => judgement.correct = Some(flag()?),
                    "well_formed" => judgement.well_formed = flag()?,
                    other => {
                        return Err(format!(
                            "unknown key \"{other}\" (expected \"reward\", \"correct\", \
                             \"well_formed\")"
                        ))
                    }
                }
            }
        }
        other => {
            judgement.reward = number(other).map_err(|_| {
                format!(
                    "expected a number, null or {{\"reward\": x, \"correct\": b}}, found {other}"
                )
            })?;
        }
    }
    Ok(judgement)
}
