//! One row's columns to one [`Problem`]: the field map applied the same way to both formats,
//! so a JSONL file and its Parquet export load to the same problems.
use serde_json::{Map, Value};

use super::{DataError, FieldMap, RowParser, RowRef};
use crate::text::Problem;

/// Where a chat prompt's messages go in [`Problem::meta`].
pub const MESSAGES: &str = "messages";

/// The file being read, as rows need it for keys and errors.
pub(crate) struct Source<'a> {
    /// The path as the user gave it, for messages.
    pub path: &'a str,
    /// The last path component, for keys: a dataset keeps its keys when its folder moves.
    pub file_name: &'a str,
}

/// Why a row failed, before the reader adds where it sits in the file.
pub(crate) struct Fault {
    pub field: Option<String>,
    pub reason: String,
}

impl Fault {
    pub fn at(field: impl Into<String>, reason: impl Into<String>) -> Fault {
        Fault {
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    pub fn whole_row(reason: impl Into<String>) -> Fault {
        Fault {
            field: None,
            reason: reason.into(),
        }
    }
}

impl Source<'_> {
    pub fn bad_row(&self, row: RowRef, fault: Fault) -> DataError {
        DataError::BadRow {
            path: self.path.to_string(),
            row,
            field: fault.field,
            reason: fault.reason,
        }
    }

    /// The key of row `index`: `"<file name>#<index>"`.
    pub fn key(&self, index: usize) -> String {
        format!("{}#{index}", self.file_name)
    }

    /// `DataError::MissingColumn` when `column` (the field map's `role`) is not among `names`.
    pub fn require_column(
        &self,
        names: &[&str],
        role: &'static str,
        column: &str,
    ) -> Result<(), DataError> {
        if names.contains(&column) {
            return Ok(());
        }
        Err(DataError::MissingColumn {
            path: self.path.to_string(),
            column: column.to_string(),
            role,
            columns: names.join(", "),
        })
    }
}

/// Rows as [`Problem`]s under a [`FieldMap`]: what [`super::load`] reads.
pub(crate) struct ProblemRows<'a> {
    pub fields: &'a FieldMap,
}

impl RowParser for ProblemRows<'_> {
    type Item = Problem;

    fn answer_column(&self) -> Option<&str> {
        self.fields.answer.as_deref()
    }

    fn check_columns(&mut self, source: &Source, names: &[&str]) -> Result<(), DataError> {
        source.require_column(names, "prompt", &self.fields.prompt)?;
        if let Some(answer) = self.fields.answer.as_deref() {
            source.require_column(names, "answer", answer)?;
        }
        Ok(())
    }

    fn parse(
        &mut self,
        source: &Source,
        index: usize,
        _at: RowRef,
        mut columns: Map<String, Value>,
        answer_text: Option<String>,
    ) -> Result<Problem, Fault> {
        let fields = self.fields;
        let prompt_name = fields.prompt.as_str();
        let (prompt, messages) = prompt_of(prompt_name, columns.remove(prompt_name))?;
        let answer = match fields.answer.as_deref() {
            None => String::new(),
            Some(name) => answer_of(name, columns.remove(name), answer_text)?,
        };
        let meta = meta_with_messages(columns, messages)?;
        Ok(Problem {
            prompt,
            solution: answer.clone(),
            answer,
            key: source.key(index),
            meta,
        })
    }
}

/// The prompt column's value as the prompt text, and for a chat prompt its messages (for
/// [`meta_with_messages`]). The text is a string prompt itself, or the last `user` message.
pub(crate) fn prompt_of(
    name: &str,
    value: Option<Value>,
) -> Result<(String, Option<Vec<Value>>), Fault> {
    let (prompt, messages) = match value {
        None => return Err(Fault::at(name, "missing")),
        Some(Value::String(s)) => (s, None),
        Some(Value::Array(items)) => (last_user_content(name, &items)?, Some(items)),
        Some(other) => {
            return Err(Fault::at(
                name,
                format!(
                    "expected a string or a list of {{role, content}} messages, got {}",
                    kind(&other)
                ),
            ))
        }
    };
    if prompt.trim().is_empty() {
        return Err(Fault::at(name, "the prompt is empty"));
    }
    Ok((prompt, messages))
}

/// The row's remaining columns as [`Problem::meta`], with a chat prompt's messages under
/// [`MESSAGES`]. The prompt column must be gone from `columns` by now, so a clash means
/// another column.
pub(crate) fn meta_with_messages(
    mut columns: Map<String, Value>,
    messages: Option<Vec<Value>>,
) -> Result<Value, Fault> {
    if let Some(messages) = messages {
        if columns.contains_key(MESSAGES) {
            return Err(Fault::at(
                MESSAGES,
                "this column clashes with meta.messages, where a chat prompt's messages go; \
                 rename the column",
            ));
        }
        columns.insert(MESSAGES.to_string(), Value::Array(messages));
    }
    Ok(Value::Object(columns))
}

/// The answer column's value as text; `as_written` is its number as the file writes it.
pub(crate) fn answer_of(
    name: &str,
    value: Option<Value>,
    as_written: Option<String>,
) -> Result<String, Fault> {
    let text = match value {
        None => {
            return Err(Fault::at(
                name,
                "missing (for a dataset without answers, set `answer = \"\"` in the field map)",
            ))
        }
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => as_written.unwrap_or_else(|| n.to_string()),
        Some(other) => {
            return Err(Fault::at(
                name,
                format!("expected a string or a number, got {}", kind(&other)),
            ))
        }
    };
    if text.trim().is_empty() {
        // An empty answer would read as "no answer" downstream and grade every completion wrong.
        return Err(Fault::at(name, "the answer is empty"));
    }
    Ok(text)
}

/// The content of the last `user` message: what the policy answers in a single-turn prompt.
fn last_user_content(field: &str, messages: &[Value]) -> Result<String, Fault> {
    let parsed = parse_messages(field, messages)?;
    parsed
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.content.to_string())
        .ok_or_else(|| Fault::at(field, "no message has role `user`"))
}

/// One chat message, borrowed from its JSON object.
pub(crate) struct Message<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

/// Checks that `messages` (the value of `field`) is a non-empty list of `{role, content}`
/// objects with string values; the faults name the element, e.g. `prompt[1].content`.
pub(crate) fn parse_messages<'a>(
    field: &str,
    messages: &'a [Value],
) -> Result<Vec<Message<'a>>, Fault> {
    if messages.is_empty() {
        return Err(Fault::at(field, "the list of messages is empty"));
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            let Value::Object(message) = message else {
                return Err(Fault::at(
                    format!("{field}[{i}]"),
                    format!("expected a {{role, content}} object, got {}", kind(message)),
                ));
            };
            let text = |key: &str| match message.get(key) {
                Some(Value::String(s)) => Ok(s.as_str()),
                Some(other) => Err(Fault::at(
                    format!("{field}[{i}].{key}"),
                    format!("expected a string, got {}", kind(other)),
                )),
                None => Err(Fault::at(format!("{field}[{i}].{key}"), "missing")),
            };
            Ok(Message {
                role: text("role")?,
                content: text("content")?,
            })
        })
        .collect()
}

/// The JSON type of `v`, as an error message names it.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
