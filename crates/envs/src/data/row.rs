//! One row's columns to one [`Problem`]: the field map applied the same way to both formats,
//! so a JSONL file and its Parquet export load to the same problems.
use serde_json::{Map, Value};

use super::{DataError, FieldMap, RowRef};
use crate::text::Problem;

/// Where a chat prompt's messages go in [`Problem::meta`].
pub const MESSAGES: &str = "messages";

/// The file being read, as rows need it for keys and errors.
pub(crate) struct Source<'a> {
    /// The path as the user gave it, for messages.
    pub path: &'a str,
    /// The last path component, for keys: a dataset keeps its keys when its folder moves.
    pub file_name: &'a str,
    pub fields: &'a FieldMap,
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

    /// The problem of row `index` (0-based among the file's rows). `answer_text` is the answer
    /// column's number as the file writes it, when the reader could recover it: JSON parsing
    /// would turn `1.50` into `1.5` and `1e3` into `1000.0`, and an answer must not change.
    pub fn problem(
        &self,
        index: usize,
        mut columns: Map<String, Value>,
        answer_text: Option<String>,
    ) -> Result<Problem, Fault> {
        let fields = self.fields;
        let prompt_name = fields.prompt.as_str();
        let (prompt, messages) = match columns.remove(prompt_name) {
            None => return Err(Fault::at(prompt_name, "missing")),
            Some(Value::String(s)) => (s, None),
            Some(Value::Array(items)) => {
                let last_user = last_user_content(prompt_name, &items)?;
                (last_user, Some(Value::Array(items)))
            }
            Some(other) => {
                return Err(Fault::at(
                    prompt_name,
                    format!(
                        "expected a string or a list of {{role, content}} messages, got {}",
                        kind(&other)
                    ),
                ))
            }
        };
        if prompt.trim().is_empty() {
            return Err(Fault::at(prompt_name, "the prompt is empty"));
        }
        let answer = match fields.answer.as_deref() {
            None => String::new(),
            Some(name) => answer_of(name, columns.remove(name), answer_text)?,
        };
        if let Some(messages) = messages {
            // The prompt column is gone from `columns` by now, so a clash means another column.
            if columns.contains_key(MESSAGES) {
                return Err(Fault::at(
                    MESSAGES,
                    "this column clashes with meta.messages, where a chat prompt's messages go; \
                     rename the column",
                ));
            }
            columns.insert(MESSAGES.to_string(), messages);
        }
        Ok(Problem {
            prompt,
            solution: answer.clone(),
            answer,
            key: format!("{}#{index}", self.file_name),
            meta: Value::Object(columns),
        })
    }
}

fn answer_of(
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
    if messages.is_empty() {
        return Err(Fault::at(field, "the list of messages is empty"));
    }
    let mut last_user = None;
    for (i, message) in messages.iter().enumerate() {
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
        let role = text("role")?;
        let content = text("content")?;
        if role == "user" {
            last_user = Some(content.to_string());
        }
    }
    last_user.ok_or_else(|| Fault::at(field, "no message has role `user`"))
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
