//! Preference datasets in TRL's layouts (docs/data.md, "Preference data"): pairwise rows
//! (`prompt`, `chosen`, `rejected`) for DPO and its relatives, and unpaired rows (`prompt`,
//! `completion`, `label`) for KTO. Values are text, or TRL's conversational format (lists of
//! `{role, content}` messages), including the "implicit prompt" layout where `chosen` and
//! `rejected` hold the whole conversation and the prompt is their shared prefix.
//!
//! The readers and the bad-row policy are [`super::load`]'s; only what a row becomes differs.
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::row::{answer_of, kind, meta_with_messages, parse_messages, prompt_of, Fault, Source};
use super::{read_rows, DataError, DataReport, OnBadRow, RowParser, RowRef};
use crate::text::Problem;

/// The reference-answer column: when a preference file has one, it becomes
/// [`Problem::answer`] as in [`super::load`]; without one the answer is empty.
const ANSWER: &str = "answer";

/// Which columns hold the parts of a preference row. The defaults are TRL's names; every
/// other column is copied into [`Problem::meta`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreferenceFields {
    /// A string or a chat list of messages. Paired chat files may leave it out: the prompt is
    /// then the messages `chosen` and `rejected` share before their final assistant message.
    pub prompt: String,
    /// Paired rows: the preferred response.
    pub chosen: String,
    /// Paired rows: the dispreferred response.
    pub rejected: String,
    /// Unpaired rows: the one response.
    pub completion: String,
    /// Unpaired rows: `true` (or `1`) when the completion is desirable, `false` (`0`) when not.
    pub label: String,
}

impl Default for PreferenceFields {
    fn default() -> Self {
        PreferenceFields {
            prompt: "prompt".to_string(),
            chosen: "chosen".to_string(),
            rejected: "rejected".to_string(),
            completion: "completion".to_string(),
            label: "label".to_string(),
        }
    }
}

impl PreferenceFields {
    /// Rejects maps that could never load a row, before any file is opened.
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid = |message: String| Err(DataError::InvalidFieldMap { message });
        let named = self.named();
        for (i, (role, column)) in named.iter().enumerate() {
            if column.is_empty() {
                return invalid(format!("`{role}` must name a column"));
            }
            if *column == ANSWER {
                return invalid(format!(
                    "`{role}` names the `{ANSWER}` column, which holds a preference row's \
                     reference answer"
                ));
            }
            if let Some((other, _)) = named[..i].iter().find(|(_, c)| c == column) {
                return invalid(format!("`{other}` and `{role}` name the same column"));
            }
        }
        Ok(())
    }

    fn named(&self) -> [(&'static str, &str); 5] {
        [
            ("prompt", self.prompt.as_str()),
            ("chosen", self.chosen.as_str()),
            ("rejected", self.rejected.as_str()),
            ("completion", self.completion.as_str()),
            ("label", self.label.as_str()),
        ]
    }
}

/// One row of a preference dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferenceExample {
    /// The prompt as [`super::load`] makes it: the prompt text (the last `user` message of a
    /// chat prompt), key `"<file name>#<i>"`, meta the other columns plus `messages` for a chat
    /// prompt. `answer` and `solution` are empty unless the file has an `answer` column.
    pub prompt: Problem,
    pub response: Preference,
}

/// What a row says about responses to its prompt. A chat response is its assistant message's
/// content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preference {
    /// Two responses, the first preferred (DPO, IPO, SimPO, ...).
    Paired { chosen: String, rejected: String },
    /// One response, judged on its own (KTO).
    Unpaired { completion: String, desirable: bool },
}

/// Reads a preference file, in file order; the extension picks the reader as for
/// [`super::load`]. The columns decide the layout: `chosen` / `rejected` make a paired file,
/// `completion` / `label` an unpaired one; a file holds one layout, and a row with both or
/// neither is bad.
///
/// Keys are `"<file name>#<i>"` with `i` the 0-based row index, as [`super::load`] gives them.
pub fn load_preferences(
    path: &Path,
    fields: &PreferenceFields,
    on_bad_row: OnBadRow,
) -> Result<(Vec<PreferenceExample>, DataReport), DataError> {
    fields.validate()?;
    let rows = PreferenceRows {
        fields,
        layout: None,
    };
    read_rows(path, rows, on_bad_row)
}

/// A paired set as unpaired examples, as TRL's `unpair_preference_dataset` makes them: each
/// pair gives its chosen response as a desirable example (key suffixed `/chosen`), then its
/// rejected one as an undesirable example (`/rejected`), both with the pair's prompt.
/// Unpaired examples pass through unchanged.
///
/// The two halves of a pair stay next to each other; TRL's batched map puts a batch's chosen
/// halves before its rejected ones. Either way each prompt is seen once desirable and once not.
pub fn split_unpaired(examples: Vec<PreferenceExample>) -> Vec<PreferenceExample> {
    let mut out = Vec::with_capacity(examples.len() * 2);
    for example in examples {
        match example.response {
            Preference::Paired { chosen, rejected } => {
                let half = |completion: String, desirable: bool, suffix: &str| {
                    let mut prompt = example.prompt.clone();
                    prompt.key = format!("{}/{suffix}", prompt.key);
                    PreferenceExample {
                        prompt,
                        response: Preference::Unpaired {
                            completion,
                            desirable,
                        },
                    }
                };
                out.push(half(chosen, true, "chosen"));
                out.push(half(rejected, false, "rejected"));
            }
            Preference::Unpaired { .. } => out.push(example),
        }
    }
    out
}

/// The two layouts a preference file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Paired,
    Unpaired,
}

impl Layout {
    fn with_article(self) -> &'static str {
        match self {
            Layout::Paired => "a paired",
            Layout::Unpaired => "an unpaired",
        }
    }
}

struct PreferenceRows<'a> {
    fields: &'a PreferenceFields,
    /// The file's layout once known, and what decided it ("the schema", "line 1"): a Parquet
    /// file's schema, or a JSONL file's first row that had one layout's columns.
    layout: Option<(Layout, String)>,
}

/// A response column's value: the response text, and for a chat list the messages before the
/// final assistant one (the conversation it answers).
struct Response {
    text: String,
    context: Option<Vec<Value>>,
}

impl PreferenceRows<'_> {
    /// The layout whose columns are present; `Err` says which columns were found instead.
    fn layout_of(&self, present: impl Fn(&str) -> bool) -> Result<Layout, String> {
        let f = self.fields;
        let found = |names: [&str; 2]| -> Vec<String> {
            names
                .into_iter()
                .filter(|n| present(n))
                .map(|n| format!("`{n}`"))
                .collect()
        };
        let paired = found([&f.chosen, &f.rejected]);
        let unpaired = found([&f.completion, &f.label]);
        match (paired.is_empty(), unpaired.is_empty()) {
            (false, true) => Ok(Layout::Paired),
            (true, false) => Ok(Layout::Unpaired),
            (false, false) => Err(format!(
                "both paired ({}) and unpaired ({}) columns; a file holds one layout: \
                 `{}` and `{}`, or `{}` and `{}`",
                paired.join(", "),
                unpaired.join(", "),
                f.chosen,
                f.rejected,
                f.completion,
                f.label
            )),
            (true, true) => Err(format!(
                "no preference columns: paired rows need `{}` and `{}`, unpaired rows `{}` \
                 and `{}`",
                f.chosen, f.rejected, f.completion, f.label
            )),
        }
    }

    /// This row's layout, which must be the file's; the first row with one decides it.
    fn row_layout(&mut self, columns: &Map<String, Value>, at: RowRef) -> Result<Layout, Fault> {
        let layout = self
            .layout_of(|n| columns.contains_key(n))
            .map_err(|reason| {
                let names: Vec<&str> = columns.keys().map(String::as_str).collect();
                Fault::whole_row(format!("{reason}; the columns are: {}", names.join(", ")))
            })?;
        match &self.layout {
            None => self.layout = Some((layout, at.to_string())),
            Some((file, decided_by)) if *file != layout => {
                let f = self.fields;
                let names = match layout {
                    Layout::Paired => [&f.chosen, &f.rejected],
                    Layout::Unpaired => [&f.completion, &f.label],
                };
                let column = names
                    .into_iter()
                    .find(|n| columns.contains_key(n.as_str()))
                    .map_or_else(String::new, String::clone);
                return Err(Fault::at(
                    column,
                    format!(
                        "{} row in {} file (as {decided_by} is); a file holds one layout",
                        layout.with_article(),
                        file.with_article()
                    ),
                ));
            }
            Some(_) => {}
        }
        Ok(layout)
    }
}

impl RowParser for PreferenceRows<'_> {
    type Item = PreferenceExample;

    fn answer_column(&self) -> Option<&str> {
        Some(ANSWER)
    }

    fn check_columns(&mut self, source: &Source, names: &[&str]) -> Result<(), DataError> {
        let layout =
            self.layout_of(|n| names.contains(&n))
                .map_err(|reason| DataError::Format {
                    path: source.path.to_string(),
                    message: format!("{reason}; the columns are: {}", names.join(", ")),
                })?;
        let f = self.fields;
        match layout {
            // No prompt column is the implicit-prompt layout; whether the rows allow it is a
            // question for each row.
            Layout::Paired => {
                source.require_column(names, "chosen", &f.chosen)?;
                source.require_column(names, "rejected", &f.rejected)?;
            }
            Layout::Unpaired => {
                source.require_column(names, "prompt", &f.prompt)?;
                source.require_column(names, "completion", &f.completion)?;
                source.require_column(names, "label", &f.label)?;
            }
        }
        self.layout = Some((layout, "the schema".to_string()));
        Ok(())
    }

    fn parse(
        &mut self,
        source: &Source,
        index: usize,
        at: RowRef,
        mut columns: Map<String, Value>,
        answer_text: Option<String>,
    ) -> Result<PreferenceExample, Fault> {
        let layout = self.row_layout(&columns, at)?;
        let f = self.fields;
        let prompt_value = columns.remove(&f.prompt);
        let explicit = prompt_value.is_some();
        let (response, contexts) = match layout {
            Layout::Paired => {
                let chosen = response_of(&f.chosen, columns.remove(&f.chosen), explicit)?;
                let rejected = response_of(&f.rejected, columns.remove(&f.rejected), explicit)?;
                if chosen.text == rejected.text {
                    return Err(Fault::at(
                        &f.rejected,
                        format!(
                            "the same as `{}`: identical responses carry no preference",
                            f.chosen
                        ),
                    ));
                }
                let contexts = [chosen.context, rejected.context];
                let response = Preference::Paired {
                    chosen: chosen.text,
                    rejected: rejected.text,
                };
                (response, contexts)
            }
            Layout::Unpaired => {
                let completion =
                    response_of(&f.completion, columns.remove(&f.completion), explicit)?;
                let desirable = label_of(&f.label, columns.remove(&f.label))?;
                let response = Preference::Unpaired {
                    completion: completion.text,
                    desirable,
                };
                (response, [completion.context, None])
            }
        };
        let (prompt, messages) = match prompt_value {
            Some(value) => prompt_of(&f.prompt, Some(value))?,
            None => implicit_prompt(f, layout, contexts)?,
        };
        let answer = match columns.remove(ANSWER) {
            None => String::new(),
            value => answer_of(ANSWER, value, answer_text)?,
        };
        let meta = meta_with_messages(columns, messages)?;
        Ok(PreferenceExample {
            prompt: Problem {
                prompt,
                solution: answer.clone(),
                answer,
                key: source.key(index),
                meta,
            },
            response,
        })
    }
}

/// A response column's value. With an explicit prompt a chat response is the one assistant
/// message that answers it; without one it is the whole conversation, ending with the
/// assistant's answer.
fn response_of(name: &str, value: Option<Value>, explicit_prompt: bool) -> Result<Response, Fault> {
    let response = match value {
        None => return Err(Fault::at(name, "missing")),
        Some(Value::String(text)) => Response {
            text,
            context: None,
        },
        Some(Value::Array(items)) => {
            let messages = parse_messages(name, &items)?;
            let last = messages.len() - 1;
            if messages[last].role != "assistant" {
                return Err(Fault::at(
                    format!("{name}[{last}].role"),
                    format!(
                        "a response ends with the assistant's message, got role `{}`",
                        messages[last].role
                    ),
                ));
            }
            if explicit_prompt && last > 0 {
                return Err(Fault::at(
                    name,
                    format!(
                        "{} messages; next to a prompt column a response is its one assistant \
                         message (leave the prompt column out to give whole conversations)",
                        messages.len()
                    ),
                ));
            }
            let text = messages[last].content.to_string();
            let mut context = items;
            context.truncate(last);
            Response {
                text,
                context: Some(context),
            }
        }
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
    if response.text.trim().is_empty() {
        return Err(Fault::at(name, "the response is empty"));
    }
    Ok(response)
}

/// KTO's label: a boolean, or 0/1 as pandas and CSV exports often write it.
fn label_of(name: &str, value: Option<Value>) -> Result<bool, Fault> {
    match value {
        None => Err(Fault::at(name, "missing")),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
        Some(Value::Number(n)) => Err(Fault::at(
            name,
            format!("expected true/false or 1/0, got {n}"),
        )),
        Some(other) => Err(Fault::at(
            name,
            format!("expected true/false or 1/0, got {}", kind(&other)),
        )),
    }
}

/// TRL's implicit prompt: with no prompt column, `chosen` and `rejected` hold whole
/// conversations, and the prompt is the messages both have before their final assistant one.
fn implicit_prompt(
    f: &PreferenceFields,
    layout: Layout,
    [chosen, rejected]: [Option<Vec<Value>>; 2],
) -> Result<(String, Option<Vec<Value>>), Fault> {
    let missing = |why: &str| Err(Fault::at(&f.prompt, format!("missing ({why})")));
    let (Layout::Paired, Some(chosen), Some(rejected)) = (layout, chosen, rejected) else {
        return match layout {
            Layout::Unpaired => missing("unpaired rows need a prompt column"),
            // A shared character prefix of two strings is no reliable prompt (TRL takes one,
            // and a prompt that ends mid-word is the result).
            Layout::Paired => missing(&format!(
                "without a prompt column, `{}` and `{}` must be chat lists holding the whole \
                 conversation",
                f.chosen, f.rejected
            )),
        };
    };
    if let Some(i) =
        (0..chosen.len().max(rejected.len())).find(|&i| chosen.get(i) != rejected.get(i))
    {
        return Err(Fault::at(
            &f.rejected,
            format!(
                "without a prompt column the prompt is the messages before the final assistant \
                 one, and they differ from `{}`'s at message {i}",
                f.chosen
            ),
        ));
    }
    if chosen.is_empty() {
        return missing(&format!(
            "`{}` and `{}` hold only the assistant's message, so there is no prompt",
            f.chosen, f.rejected
        ));
    }
    // Faults about the prefix name `chosen`, the column it came from.
    prompt_of(&f.chosen, Some(Value::Array(chosen)))
}
