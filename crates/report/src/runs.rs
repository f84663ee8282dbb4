//! Reading run directories written by the trainer.
//!
//! Contract (design/architecture.md, "Run directory"):
//! - `RUN_DIR/run.json`: `{"preset", "task", "seed", "status": "finished"|"running", "final": {metric: value}}`.
//! - `RUN_DIR/metrics.jsonl`: one JSON object per line with an integer `"step"` and numeric
//!   fields; any field may be missing on a given line.
//!
//! A run killed mid-write leaves a truncated last line: we skip it and say so in
//! [`Run::skipped_last_line`]. A malformed line anywhere else means the file was damaged in a
//! way we cannot explain by a crash, so it is an error naming the file and line.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const RUN_JSON: &str = "run.json";
pub const METRICS_JSONL: &str = "metrics.jsonl";

/// The x axis a metric's curve can be plotted against.
pub const STEP: &str = "step";

/// Why a run directory could not be read. Every variant names the file involved.
#[derive(Debug, Error)]
pub enum RunError {
    #[error("{}: not a run directory (no {RUN_JSON}); pass directories written by `polopt train`", dir.display())]
    NotARunDir { dir: PathBuf },
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid run description: {source}", path.display())]
    RunJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}:{line}: malformed metrics line: {message}", path.display())]
    MetricsLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Whether the trainer had finished when the run directory was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Finished,
    Running,
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunStatus::Finished => "finished",
            RunStatus::Running => "running",
        })
    }
}

/// `run.json`: what ran and its final evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub preset: String,
    pub task: String,
    pub seed: u64,
    pub status: RunStatus,
    /// Final evaluation metrics (`eval/pass@1`, `eval/return`, ...). A running run may have
    /// none yet.
    #[serde(default, rename = "final")]
    pub final_metrics: BTreeMap<String, f64>,
}

/// One line of `metrics.jsonl`: the step and the numeric fields logged at it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRecord {
    pub step: u64,
    /// Numeric fields only; strings, booleans and nulls on a line are ignored.
    pub values: BTreeMap<String, f64>,
}

impl MetricRecord {
    /// The value of `name`, where `"step"` reads the step itself so that any metric can be
    /// plotted against it.
    pub fn get(&self, name: &str) -> Option<f64> {
        if name == STEP {
            Some(self.step as f64)
        } else {
            self.values.get(name).copied()
        }
    }
}

/// A metric against an x quantity for one run, sorted by x, one point per x.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curve {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl Curve {
    /// A curve from `(x, y)` points in any order: non-finite points are dropped, points are
    /// sorted by x, and of several points at one x (e.g. env_steps repeated on an eval-only
    /// line) the last given wins.
    pub fn from_points(points: impl IntoIterator<Item = (f64, f64)>) -> Curve {
        let mut points: Vec<(f64, f64)> = points
            .into_iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        // Stable sort: equal x keep their given order, so "last given" is still last.
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut curve = Curve::default();
        for (x, y) in points {
            match (curve.x.last(), curve.y.last_mut()) {
                (Some(&last_x), Some(last_y)) if last_x == x => *last_y = y,
                _ => {
                    curve.x.push(x);
                    curve.y.push(y);
                }
            }
        }
        curve
    }

    pub fn len(&self) -> usize {
        self.x.len()
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

/// A loaded run directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub dir: PathBuf,
    pub info: RunInfo,
    /// In file order, with re-logged steps (after a resume) collapsed to their last record.
    pub metrics: Vec<MetricRecord>,
    /// Set when the last line of `metrics.jsonl` was incomplete and skipped (killed mid-write).
    pub skipped_last_line: bool,
}

impl Run {
    /// Reads `dir/run.json` and `dir/metrics.jsonl`. A missing `metrics.jsonl` is an empty
    /// history (a run that died before its first step), not an error.
    pub fn load(dir: &Path) -> Result<Run, RunError> {
        let info_path = dir.join(RUN_JSON);
        if !info_path.is_file() {
            return Err(RunError::NotARunDir {
                dir: dir.to_path_buf(),
            });
        }
        let text = read(&info_path)?;
        let info: RunInfo = serde_json::from_str(&text).map_err(|source| RunError::RunJson {
            path: info_path.clone(),
            source,
        })?;

        let metrics_path = dir.join(METRICS_JSONL);
        let (metrics, skipped_last_line) = if metrics_path.is_file() {
            // Lossy: a crash can cut a multi-byte character in half on the last line, which
            // must stay a skippable truncated line rather than an unreadable file.
            let bytes = std::fs::read(&metrics_path).map_err(|source| RunError::Io {
                path: metrics_path.clone(),
                source,
            })?;
            parse_metrics(&metrics_path, &String::from_utf8_lossy(&bytes))?
        } else {
            (Vec::new(), false)
        };
        Ok(Run {
            dir: dir.to_path_buf(),
            info,
            metrics,
            skipped_last_line,
        })
    }

    /// `y_metric` against `x_metric` (`"step"` or a logged field such as `"env_steps"`), from
    /// the lines that have both as finite numbers.
    pub fn curve(&self, x_metric: &str, y_metric: &str) -> Curve {
        Curve::from_points(
            self.metrics
                .iter()
                .filter_map(|r| Some((r.get(x_metric)?, r.get(y_metric)?))),
        )
    }

    /// The final value of `metric` from `run.json`.
    pub fn final_value(&self, metric: &str) -> Option<f64> {
        self.info.final_metrics.get(metric).copied()
    }

    /// Whether any metrics line logged `metric`.
    pub fn logs(&self, metric: &str) -> bool {
        metric == STEP || self.metrics.iter().any(|r| r.values.contains_key(metric))
    }

    /// A short name for messages: `preset/task/seed N`.
    pub fn label(&self) -> String {
        format!(
            "{}/{}/seed {}",
            self.info.preset, self.info.task, self.info.seed
        )
    }
}

/// Loads every directory, failing on the first unreadable one.
pub fn load_runs(dirs: &[PathBuf]) -> Result<Vec<Run>, RunError> {
    dirs.iter().map(|d| Run::load(d)).collect()
}

/// The runs of one preset.
#[derive(Debug, Clone)]
pub struct PresetGroup<'a> {
    pub preset: String,
    pub runs: Vec<&'a Run>,
}

impl PresetGroup<'_> {
    /// Task names in first-seen order.
    pub fn tasks(&self) -> Vec<&str> {
        let mut tasks: Vec<&str> = Vec::new();
        for r in &self.runs {
            if !tasks.contains(&r.info.task.as_str()) {
                tasks.push(&r.info.task);
            }
        }
        tasks
    }

    /// Final values of `metric` split by task (the bootstrap strata), for the tasks in
    /// `tasks`; runs without the metric are left out.
    pub fn final_values_by_task(&self, metric: &str, tasks: &[&str]) -> Vec<Vec<f64>> {
        tasks
            .iter()
            .map(|t| {
                self.runs
                    .iter()
                    .filter(|r| r.info.task == *t)
                    .filter_map(|r| r.final_value(metric))
                    .filter(|v| v.is_finite())
                    .collect()
            })
            .collect()
    }

    /// `(seed, final value)` of `metric` on `task`, for pairing runs by seed; runs without a
    /// finite value are left out.
    pub fn final_values_by_seed(&self, metric: &str, task: &str) -> Vec<(u64, f64)> {
        self.runs
            .iter()
            .filter(|r| r.info.task == task)
            .filter_map(|r| Some((r.info.seed, r.final_value(metric)?)))
            .filter(|(_, v)| v.is_finite())
            .collect()
    }
}

/// Groups runs by preset, presets in first-seen order so the first one given is the baseline.
pub fn group_by_preset(runs: &[Run]) -> Vec<PresetGroup<'_>> {
    let mut groups: Vec<PresetGroup<'_>> = Vec::new();
    for run in runs {
        match groups.iter_mut().find(|g| g.preset == run.info.preset) {
            Some(g) => g.runs.push(run),
            None => groups.push(PresetGroup {
                preset: run.info.preset.clone(),
                runs: vec![run],
            }),
        }
    }
    groups
}

fn read(path: &Path) -> Result<String, RunError> {
    std::fs::read_to_string(path).map_err(|source| RunError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses `metrics.jsonl` text; returns the records and whether a truncated last line was
/// skipped. Blank lines are ignored.
pub fn parse_metrics(path: &Path, text: &str) -> Result<(Vec<MetricRecord>, bool), RunError> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut records: Vec<MetricRecord> = Vec::with_capacity(lines.len());
    let mut skipped_last_line = false;
    for (i, &(line_no, line)) in lines.iter().enumerate() {
        match parse_line(line) {
            Ok(record) => records.push(record),
            // Only the physical last line may be cut short by a crash; a complete last line
            // ends with '\n', so a bad line followed by a newline was written whole and is
            // damage, not truncation.
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => skipped_last_line = true,
            Err(message) => {
                return Err(RunError::MetricsLine {
                    path: path.to_path_buf(),
                    line: line_no,
                    message,
                })
            }
        }
    }
    Ok((dedup_steps(records), skipped_last_line))
}

/// A resumed run re-logs the steps after its checkpoint; the later record is the one the
/// final model descends from, so it wins.
fn dedup_steps(records: Vec<MetricRecord>) -> Vec<MetricRecord> {
    let mut last_index: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        last_index.insert(r.step, i);
    }
    if last_index.len() == records.len() {
        return records;
    }
    records
        .into_iter()
        .enumerate()
        .filter(|(i, r)| last_index.get(&r.step) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

fn parse_line(line: &str) -> Result<MetricRecord, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(map) = value else {
        return Err("expected a JSON object".into());
    };
    let step = match map.get(STEP) {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("\"step\" must be a non-negative integer, got {v}"))?,
        None => return Err("missing \"step\"".into()),
    };
    let values = map
        .into_iter()
        .filter(|(k, _)| k != STEP)
        .filter_map(|(k, v)| v.as_f64().map(|f| (k, f)))
        .collect();
    Ok(MetricRecord { step, values })
}

/// A finished run of task `t`, seed 0, from its metric lines (for unit tests of the derived
/// metrics).
#[cfg(test)]
pub(crate) fn run_of_lines(preset: &str, lines: &[(u64, &[(&str, f64)])]) -> Run {
    Run {
        dir: "r".into(),
        info: RunInfo {
            preset: preset.into(),
            task: "t".into(),
            seed: 0,
            status: RunStatus::Finished,
            final_metrics: BTreeMap::new(),
        },
        metrics: lines
            .iter()
            .map(|(step, values)| MetricRecord {
                step: *step,
                values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            })
            .collect(),
        skipped_last_line: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Vec<MetricRecord>, bool), RunError> {
        parse_metrics(Path::new("m.jsonl"), text)
    }

    #[test]
    fn truncated_last_line_without_newline_is_skipped() {
        let (records, skipped) =
            parse("{\"step\":0,\"a\":1}\n{\"step\":1,\"a\":2}\n{\"step\":2,\"a\"").unwrap();
        assert_eq!(records.len(), 2);
        assert!(skipped);
    }

    #[test]
    fn malformed_line_in_the_middle_names_its_line_number() {
        let err = parse("{\"step\":0}\n\n{\"step\":1,\n{\"step\":2}\n").unwrap_err();
        assert!(
            matches!(err, RunError::MetricsLine { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().starts_with("m.jsonl:3:"), "{err}");
    }

    #[test]
    fn complete_but_malformed_last_line_is_an_error() {
        assert!(parse("{\"step\":0}\nnot json\n").is_err());
    }

    #[test]
    fn missing_or_negative_step_is_an_error() {
        assert!(parse("{\"a\":1}\n{\"step\":1}\n").is_err());
        assert!(parse("{\"step\":-1}\n{\"step\":1}\n").is_err());
    }

    #[test]
    fn non_numeric_fields_are_ignored_and_relogged_steps_keep_the_last() {
        let (records, _) = parse(
            "{\"step\":0,\"a\":1,\"phase\":\"x\",\"b\":null}\n{\"step\":1,\"a\":2}\n{\"step\":1,\"a\":3}\n",
        )
        .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].values.len(), 1);
        assert_eq!(records[1].get("a"), Some(3.0));
    }
}
