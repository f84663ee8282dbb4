use thiserror::Error;

/// Errors from building or running a method part. Each names the field or part at fault.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MethodError {
    #[error("unknown {kind} `{name}`; known: {known}")]
    Unknown {
        kind: &'static str,
        name: String,
        known: String,
    },
    #[error("{field} = {value} is out of range: {expected}")]
    OutOfRange {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A part's or estimator's settings table does not parse, or belongs to nothing that runs.
    #[error("{key}: {detail}")]
    Settings { key: String, detail: String },
    /// A setting the chosen loop would silently ignore.
    #[error("{key} = {value} is not supported here: {detail}")]
    Unsupported {
        key: String,
        value: String,
        detail: String,
    },
    /// An estimator ran on a batch that lacks what only one rollout makes (turn structure,
    /// probes, plans).
    #[error("{part} needs the `{rollout}` rollout: {detail}")]
    MissingRollout {
        part: &'static str,
        rollout: &'static str,
        detail: String,
    },
    #[error("{part}: input lengths disagree: {detail}")]
    Shape { part: &'static str, detail: String },
    #[error("{part}: saved state does not fit this method: {detail}")]
    State { part: &'static str, detail: String },
    #[error("{part}: non-finite {what} at index {index} ({value})")]
    NonFinite {
        part: &'static str,
        what: &'static str,
        index: usize,
        value: f64,
    },
}

pub(crate) fn unknown(kind: &'static str, name: &str, known: &[&str]) -> MethodError {
    MethodError::Unknown {
        kind,
        name: name.to_string(),
        known: known.join(", "),
    }
}

pub(crate) fn check_range(
    field: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<(), MethodError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(MethodError::OutOfRange {
            field,
            value: value.to_string(),
            expected,
        })
    }
}
