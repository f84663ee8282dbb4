//! Running the cells of a comparison: `jobs` child processes at a time, each logging to its
//! run directory, with one progress bar over the whole grid.
use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::{action_of, io, Action, Cell, CompareError, LOG_FILE, PARENT_ENV};

/// A cell that did not finish.
#[derive(Debug, Clone)]
pub struct FailedCell {
    pub name: String,
    pub log: PathBuf,
    pub reason: String,
}

/// What [`run_grid`] did.
#[derive(Debug, Clone, Default)]
pub struct GridOutcome {
    pub skipped: Vec<String>,
    pub resumed: Vec<String>,
    pub finished: Vec<String>,
    pub failed: Vec<FailedCell>,
}

struct Running {
    cell: usize,
    child: Child,
    started: Instant,
}

/// Runs every cell that is not [`Action::Skip`], `jobs` at a time, each as
/// `exe train --set ...` with output appended to its `log.txt`. A failed cell is recorded and
/// the others go on.
pub fn run_grid(
    cells: &[Cell],
    exe: &Path,
    jobs: usize,
    progress: bool,
) -> Result<GridOutcome, CompareError> {
    let mut outcome = GridOutcome::default();
    let mut pending: VecDeque<usize> = VecDeque::new();
    for (i, c) in cells.iter().enumerate() {
        match c.action {
            Action::Skip => outcome.skipped.push(c.name.clone()),
            _ => pending.push_back(i),
        }
    }
    let bar = overall_bar(pending.len() as u64, progress);
    if !outcome.skipped.is_empty() {
        say(
            &bar,
            format!(
                "{} of {} runs already finished, skipped: {}",
                outcome.skipped.len(),
                cells.len(),
                outcome.skipped.join(", ")
            ),
        );
    }
    let mut running: Vec<Running> = Vec::new();
    let mut last_message = Instant::now() - Duration::from_secs(10);
    while !pending.is_empty() || !running.is_empty() {
        let mut i = 0;
        while i < running.len() {
            let status = running[i].child.try_wait().map_err(io(exe))?;
            match status {
                Some(status) => {
                    let done = running.swap_remove(i);
                    let cell = &cells[done.cell];
                    let elapsed = done.started.elapsed();
                    record_exit(cell, status, elapsed, &bar, &mut outcome);
                    bar.inc(1);
                }
                None => i += 1,
            }
        }
        while running.len() < jobs.max(1) {
            let Some(pos) = pending
                .iter()
                .position(|&c| ready(&cells[c], running.iter().map(|r| &cells[r.cell])))
            else {
                break;
            };
            let Some(c) = pending.remove(pos) else { break };
            let child = match spawn(&cells[c], exe) {
                Ok(child) => child,
                // One cell's directory or log cannot be made: record it, keep the others going.
                Err(e) => {
                    say(
                        &bar,
                        format!("FAILED   {} (could not start: {e})", cells[c].name),
                    );
                    outcome.failed.push(FailedCell {
                        name: cells[c].name.clone(),
                        log: cells[c].dir.join(LOG_FILE),
                        reason: format!("could not start: {e}"),
                    });
                    bar.inc(1);
                    continue;
                }
            };
            if cells[c].action == Action::Resume {
                outcome.resumed.push(cells[c].name.clone());
            }
            say(
                &bar,
                format!(
                    "started  {} ({})",
                    cells[c].name,
                    match cells[c].action {
                        Action::Resume => "resumed from its newest checkpoint",
                        _ => "fresh",
                    }
                ),
            );
            running.push(Running {
                cell: c,
                child,
                started: Instant::now(),
            });
        }
        if last_message.elapsed() >= Duration::from_secs(1) {
            bar.set_message(running_message(cells, &running));
            last_message = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish_and_clear();
    Ok(outcome)
}

/// A cell may start unless it would train a warm start that another running cell is training
/// right now (it will be in the cache when that one gets past its warm start).
fn ready<'a>(cell: &Cell, mut running: impl Iterator<Item = &'a Cell>) -> bool {
    let Some(key) = &cell.warm_key else {
        return true;
    };
    crate::warm_cache::is_stored(key) || !running.any(|r| r.warm_key.as_ref() == Some(key))
}

fn spawn(cell: &Cell, exe: &Path) -> Result<Child, CompareError> {
    fs::create_dir_all(&cell.dir).map_err(io(&cell.dir))?;
    if cell.action == (Action::Fresh { clear: true }) {
        // No checkpoint: nothing of the earlier attempt can be continued.
        for f in ["metrics.jsonl", "run.json"] {
            let p = cell.dir.join(f);
            if p.exists() {
                fs::remove_file(&p).map_err(io(&p))?;
            }
        }
    }
    let log_path = cell.dir.join(LOG_FILE);
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io(&log_path))?;
    let args = cell.train_args();
    use std::io::Write as _;
    writeln!(
        log,
        "=== polopt compare, unix time {}: {} {}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        exe.display(),
        args.join(" ")
    )
    .map_err(io(&log_path))?;
    let err_log = log.try_clone().map_err(io(&log_path))?;
    Command::new(exe)
        .args(&args)
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err_log))
        .spawn()
        .map_err(io(exe))
}

fn record_exit(
    cell: &Cell,
    status: ExitStatus,
    elapsed: Duration,
    bar: &ProgressBar,
    outcome: &mut GridOutcome,
) {
    let log = cell.dir.join(LOG_FILE);
    let finished = matches!(action_of(&cell.dir), Ok(Action::Skip));
    if status.success() && finished {
        say(
            bar,
            format!("finished {} in {:.0}s", cell.name, elapsed.as_secs_f64()),
        );
        outcome.finished.push(cell.name.clone());
    } else {
        let reason = if status.success() {
            "exited without marking run.json finished".to_string()
        } else {
            format!("exited with {status}")
        };
        say(
            bar,
            format!("FAILED   {} ({reason}); see {}", cell.name, log.display()),
        );
        outcome.failed.push(FailedCell {
            name: cell.name.clone(),
            log,
            reason,
        });
    }
}

/// `grpo-seed0 @120, dapo-seed1 @35`: the newest logged step of each running cell.
fn running_message(cells: &[Cell], running: &[Running]) -> String {
    running
        .iter()
        .map(|r| {
            let cell = &cells[r.cell];
            match last_step(&cell.dir.join("metrics.jsonl")) {
                Some(step) => format!("{} @step {step}", cell.name),
                None => format!("{} (warm start)", cell.name),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn last_step(path: &Path) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().rev().find_map(|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .ok()?
            .get("step")?
            .as_u64()
    })
}

/// A line above the progress bar, or on stderr when there is no bar (quiet, or not a
/// terminal), so that a log of the command still says what ran.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

fn overall_bar(len: u64, progress: bool) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} runs, ETA {eta} | {wide_msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// In a child started by [`run_grid`]: exit when the comparison process goes away (killed,
/// interrupted), rather than keep writing to a run directory that a rerun will resume. A
/// checkpoint is renamed into place atomically and a torn metrics line is dropped on resume,
/// so exiting at any moment is safe.
pub fn exit_with_compare_parent() {
    #[cfg(unix)]
    {
        let Some(parent) = std::env::var(PARENT_ENV)
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
        else {
            return;
        };
        std::thread::spawn(move || loop {
            if std::os::unix::process::parent_id() != parent {
                std::process::exit(143);
            }
            std::thread::sleep(Duration::from_millis(500));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(name: &str, warm_key: Option<&Path>) -> Cell {
        Cell {
            preset: "grpo".into(),
            seed: 0,
            name: name.into(),
            dir: PathBuf::from(name),
            action: Action::Fresh { clear: false },
            sets: Vec::new(),
            warm_key: warm_key.map(Path::to_path_buf),
        }
    }

    #[test]
    fn a_cell_waits_while_another_trains_its_warm_start_until_it_is_cached() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("abc");
        let other = tmp.path().join("def");
        let first = cell("grpo-seed0", Some(&key));
        let same_seed = cell("dapo-seed0", Some(&key));
        let other_seed = cell("dapo-seed1", Some(&other));
        let resumed = cell("etr-seed0", None);
        assert!(ready(&same_seed, std::iter::empty()));
        assert!(!ready(&same_seed, [&first].into_iter()));
        assert!(ready(&other_seed, [&first].into_iter()));
        assert!(ready(&resumed, [&first].into_iter()));
        fs::create_dir_all(&key).unwrap();
        fs::write(key.join("sft.json"), "{}").unwrap();
        assert!(ready(&same_seed, [&first].into_iter()));
    }
}
