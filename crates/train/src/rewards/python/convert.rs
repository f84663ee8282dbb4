//! Between the loop's data and Python objects: the call's keyword columns, and the returned
//! values as judgements (with messages that say what was wrong).
use std::collections::BTreeSet;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::reward::Completion;
use crate::rewards::{meta_columns, Judgement};

/// The keyword arguments for one call: `prompts`, `completions`, `answer`, and one list per
/// `meta` field found in the chunk (`None` where a problem lacks it).
pub fn columns<'py>(py: Python<'py>, chunk: &[Completion<'_>]) -> PyResult<Bound<'py, PyDict>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item(
        "prompts",
        PyList::new(py, chunk.iter().map(|c| &c.problem.prompt))?,
    )?;
    kwargs.set_item(
        "completions",
        PyList::new(py, chunk.iter().map(|c| c.text))?,
    )?;
    kwargs.set_item(
        "answer",
        PyList::new(py, chunk.iter().map(|c| &c.problem.answer))?,
    )?;
    let metas: Vec<_> = chunk.iter().map(|c| meta_columns(c.problem)).collect();
    let names: BTreeSet<&str> = metas.iter().flatten().map(|(k, _)| *k).collect();
    for name in names {
        let column = PyList::empty(py);
        for meta in &metas {
            match meta.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => column.append(json_to_py(py, v)?)?,
                None => column.append(py.None())?,
            }
        }
        kwargs.set_item(name, column)?;
    }
    Ok(kwargs)
}

/// A JSON value as the Python object `json.loads` would make.
fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for x in items {
                list.append(json_to_py(py, x)?)?;
            }
            list.into_any()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (k, x) in fields {
                dict.set_item(k, json_to_py(py, x)?)?;
            }
            dict.into_any()
        }
    })
}

/// One returned value: a number, `None` (NaN), or `{"reward", "correct"?, "well_formed"?}`.
pub fn judgement_of(v: &Bound<'_, PyAny>) -> Result<Judgement, String> {
    let mut judgement = Judgement {
        reward: f64::NAN,
        correct: None,
        well_formed: true,
    };
    if v.is_none() {
        return Ok(judgement);
    }
    let Ok(dict) = v.cast::<PyDict>() else {
        judgement.reward = v.extract::<f64>().map_err(|_| {
            format!(
                "{} {}, expected a float, None or a dict {{\"reward\": float, \"correct\": bool}}",
                type_name(v),
                repr(v)
            )
        })?;
        return Ok(judgement);
    };
    let mut has_reward = false;
    for (k, x) in dict.iter() {
        let key: String = k
            .extract()
            .map_err(|_| format!("dict key {} is not a string", repr(&k)))?;
        match key.as_str() {
            "reward" => {
                has_reward = true;
                if !x.is_none() {
                    judgement.reward = x.extract::<f64>().map_err(|_| {
                        format!(
                            "\"reward\" is {} {}, expected a float or None",
                            type_name(&x),
                            repr(&x)
                        )
                    })?;
                }
            }
            "correct" | "well_formed" => {
                let b = x.extract::<bool>().map_err(|_| {
                    format!(
                        "\"{key}\" is {} {}, expected a bool",
                        type_name(&x),
                        repr(&x)
                    )
                })?;
                if key == "correct" {
                    judgement.correct = Some(b);
                } else {
                    judgement.well_formed = b;
                }
            }
            other => {
                return Err(format!(
                    "unknown key \"{other}\" (expected \"reward\", \"correct\", \"well_formed\")"
                ))
            }
        }
    }
    if !has_reward {
        return Err("a dict without \"reward\"".into());
    }
    Ok(judgement)
}

pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| format!("a {n}"))
        .unwrap_or_else(|_| "an object".into())
}

fn repr(v: &Bound<'_, PyAny>) -> String {
    let text = v.repr().map(|r| r.to_string()).unwrap_or_default();
    // A long list or string would bury the message; its start says enough.
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}
