//! Datasets from files ("bring your own data"): JSON lines and Parquet rows turned into
//! [`Problem`]s or [`PreferenceExample`]s, and a resumable epoch order over them (docs/data.md).
//!
//! Map of the module:
//! - this file: the contract — [`load`], [`FieldMap`], [`OnBadRow`], [`DataReport`], [`DataError`];
//!   and the `Collector` that applies the bad-row policy to whatever a `RowParser` makes.
//! - `row`: one row's columns to one [`Problem`], shared by both formats; the prompt, answer and
//!   chat-message parsing that preference rows reuse.
//! - `preference`: [`load_preferences`], pairwise (`chosen`/`rejected`) and unpaired
//!   (`completion`/`label`) preference rows, and [`split_unpaired`].
//! - `jsonl`, `parquet`: the two readers; they only turn bytes into columns.
//! - [`DataOrder`]: which rows each batch takes, epoch after epoch, from a serializable cursor;
//!   [`InOrder`]: file-order batches for eval sets.
//!
//! A file is read whole and validated before training starts, so a bad row shows up at load
//! time with its file, row and field, not as a crash hours into a run.
mod jsonl;
mod order;
mod parquet;
mod preference;
mod row;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::text::Problem;

pub use order::{DataOrder, InOrder};
pub use preference::{
    load_preferences, split_unpaired, Preference, PreferenceExample, PreferenceFields,
};

/// Which columns of a row hold the prompt and the reference answer; every other column is
/// copied into [`Problem::meta`] under its own name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldMap {
    /// A string, or a chat list of `{role, content}` messages (TRL's conversational format).
    pub prompt: String,
    /// The reference answer, a string or a number. `None` (written `answer = ""` in TOML, or
    /// `null` in JSON) loads a dataset without answers: [`Problem::answer`] and
    /// [`Problem::solution`] are then empty, and a reward must not compare against them.
    #[serde(deserialize_with = "empty_as_none")]
    pub answer: Option<String>,
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            prompt: "prompt".to_string(),
            answer: Some("answer".to_string()),
        }
    }
}

impl FieldMap {
    /// Rejects maps that could never load a row, before any file is opened.
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid = |message: &str| {
            Err(DataError::InvalidFieldMap {
                message: message.to_string(),
            })
        };
        if self.prompt.is_empty() {
            return invalid("`prompt` must name a column");
        }
        if self.answer.as_deref() == Some(self.prompt.as_str()) {
            return invalid("`prompt` and `answer` name the same column");
        }
        Ok(())
    }
}

/// TOML has no null, so the empty string is how a config says "this dataset has no answers".
fn empty_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    Ok(value.filter(|s| !s.is_empty()))
}

/// What to do with a row that cannot become a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBadRow {
    /// Stop loading with the row's error (the default: silent data loss is worse than a stop).
    #[default]
    Error,
    /// Leave the row out, count it in the [`DataReport`] and go on.
    Skip,
}

/// How many skip reasons a [`DataReport`] keeps: enough to see the pattern, never the whole file.
pub const MAX_SKIP_REASONS: usize = 5;

/// What loading a file did, for the run log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataReport {
    /// Rows looked at (blank JSONL lines are not rows).
    pub rows_read: usize,
    pub rows_kept: usize,
    pub skipped: usize,
    /// The errors of the first [`MAX_SKIP_REASONS`] skipped rows, as [`DataError`] renders them.
    pub first_skips: Vec<String>,
}

/// Where a bad row sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowRef {
    /// 1-based line number of a JSON lines file, as an editor shows it.
    Line(usize),
    /// 0-based row index of a Parquet file, as `datasets` and pandas index it.
    Row(usize),
}

impl fmt::Display for RowRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowRef::Line(n) => write!(f, "line {n}"),
            RowRef::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// Why a dataset could not be loaded. Each message names the file, and for a bad row the row
/// and the field.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: unknown dataset format `{extension}`; expected .jsonl or .json (JSON lines) \
         or .parquet"
    )]
    UnknownFormat { path: String, extension: String },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{path}: no column `{column}` (the field map's `{role}`); the columns are: {columns}")]
    MissingColumn {
        path: String,
        column: String,
        role: &'static str,
        columns: String,
    },
    #[error("{path}: {row}{}: {reason}", field_part(.field))]
    BadRow {
        path: String,
        row: RowRef,
        /// The column (or element of it, e.g. `prompt[1].content`) at fault, when there is one.
        field: Option<String>,
        reason: String,
    },
    #[error("{path}: no problems left after reading {rows_read} rows ({skipped} skipped){}", first_part(.first_skip))]
    Empty {
        path: String,
        rows_read: usize,
        skipped: usize,
        first_skip: Option<String>,
    },
    #[error("field map: {message}")]
    InvalidFieldMap { message: String },
    #[error("data order: {message}")]
    InvalidOrder { message: String },
}

fn field_part(field: &Option<String>) -> String {
    field
        .as_ref()
        .map_or_else(String::new, |f| format!(", field `{f}`"))
}

fn first_part(first_skip: &Option<String>) -> String {
    first_skip
        .as_ref()
        .map_or_else(String::new, |s| format!("; the first: {s}"))
}

/// Reads a dataset file into problems, in file order. The format follows the extension:
/// `.jsonl` / `.json` (one JSON object per line) or `.parquet`.
///
/// Each problem's [`Problem::key`] is `"<file name>#<i>"`, `i` the 0-based index of the row
/// among the file's rows (skipped rows count, blank lines do not), so keys stay put when a bad
/// row is skipped or fixed.
pub fn load(
    path: &Path,
    fields: &FieldMap,
    on_bad_row: OnBadRow,
) -> Result<(Vec<Problem>, DataReport), DataError> {
    fields.validate()?;
    read_rows(path, row::ProblemRows { fields }, on_bad_row)
}

/// What one row's columns become: the part that differs between [`load`] and
/// [`load_preferences`]. The readers, the bad-row policy and the report are shared.
pub(crate) trait RowParser {
    type Item;

    /// The column whose numbers keep the text the file writes (JSON parsing would turn `1.50`
    /// into `1.5`), if any.
    fn answer_column(&self) -> Option<&str>;

    /// Checks a Parquet schema's top-level column names before any row is read: a column every
    /// row needs and the schema lacks is one error for the file, not one bad row per row.
    fn check_columns(&mut self, source: &row::Source, names: &[&str]) -> Result<(), DataError>;

    /// Row `index` (0-based among the file's rows, at `at` in the file) from its columns.
    /// `answer_text` is [`RowParser::answer_column`]'s number as written, when the reader could
    /// recover it.
    fn parse(
        &mut self,
        source: &row::Source,
        index: usize,
        at: RowRef,
        columns: Map<String, Value>,
        answer_text: Option<String>,
    ) -> Result<Self::Item, row::Fault>;
}

/// Reads `path` with the reader its extension picks, turning each row into `P::Item`.
fn read_rows<P: RowParser>(
    path: &Path,
    parser: P,
    on_bad_row: OnBadRow,
) -> Result<(Vec<P::Item>, DataReport), DataError> {
    let shown = path.display().to_string();
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let file_name = path
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    let mut rows = Collector {
        source: row::Source {
            path: &shown,
            file_name: &file_name,
        },
        parser,
        on_bad_row,
        items: Vec::new(),
        report: DataReport::default(),
    };
    match extension.as_str() {
        "jsonl" | "json" => jsonl::read(path, &mut rows)?,
        "parquet" => parquet::read(path, &mut rows)?,
        _ => {
            return Err(DataError::UnknownFormat {
                path: shown,
                extension: if extension.is_empty() {
                    "(none)".to_string()
                } else {
                    format!(".{extension}")
                },
            })
        }
    }
    let (items, report) = (rows.items, rows.report);
    if items.is_empty() {
        return Err(DataError::Empty {
            path: shown,
            rows_read: report.rows_read,
            skipped: report.skipped,
            first_skip: report.first_skips.first().cloned(),
        });
    }
    Ok((items, report))
}

/// Turns each row a reader produces into an item and applies the bad-row policy.
pub(crate) struct Collector<'a, P: RowParser> {
    source: row::Source<'a>,
    parser: P,
    on_bad_row: OnBadRow,
    items: Vec<P::Item>,
    report: DataReport,
}

impl<P: RowParser> Collector<'_, P> {
    /// Parses a row that was read as columns.
    fn row(
        &mut self,
        index: usize,
        at: RowRef,
        columns: Map<String, Value>,
        answer_text: Option<String>,
    ) -> Result<(), DataError> {
        let item = self
            .parser
            .parse(&self.source, index, at, columns, answer_text)
            .map_err(|fault| self.source.bad_row(at, fault));
        self.push(item)
    }

    /// A row that could not even be read as columns (not UTF-8, not a JSON object).
    fn unreadable(&mut self, at: RowRef, fault: row::Fault) -> Result<(), DataError> {
        let e = self.source.bad_row(at, fault);
        self.push(Err(e))
    }

    /// Keeps a good row; skips or returns the error of a bad one, as the policy says.
    fn push(&mut self, row: Result<P::Item, DataError>) -> Result<(), DataError> {
        self.report.rows_read += 1;
        match row {
            Ok(item) => {
                self.items.push(item);
                self.report.rows_kept += 1;
            }
            Err(e) => match self.on_bad_row {
                OnBadRow::Error => return Err(e),
                OnBadRow::Skip => {
                    self.report.skipped += 1;
                    if self.report.first_skips.len() < MAX_SKIP_REASONS {
                        self.report.first_skips.push(e.to_string());
                    }
                }
            },
        }
        Ok(())
    }
}
