//! The `python` reward's user function: loaded from its file as a module, called with the GIL
//! held for one batch (or `batch_size` completions) at a time.
use std::ffi::CString;
use std::path::{Path, PathBuf};

use pyo3::prelude::*;

use super::convert::{columns, judgement_of, type_name};
use super::embed::start;
use super::{split_function, PythonSettings};
use crate::error::TrainError;
use crate::reward::Completion;
use crate::rewards::{config_error, Judgement, Reward, RewardInput};

/// A loaded user function.
pub struct PythonReward {
    name: String,
    /// `file.py:func` as written, for error messages.
    spec: String,
    function: Py<PyAny>,
    batch_size: Option<usize>,
}

impl PythonReward {
    pub fn load(settings: &PythonSettings, input: &RewardInput) -> Result<Self, TrainError> {
        let key = format!("{}.function", input.key);
        let spec = settings.function.clone();
        let (file, func) = split_function(&spec)
            .ok_or_else(|| config_error(&key, "expected \"file.py:function\""))?;
        let path = input.path(file);
        let code = std::fs::read_to_string(&path)
            .map_err(|e| config_error(&key, &format!("cannot read {}: {e}", path.display())))?;
        start().map_err(|e| config_error(&key, &e))?;
        let function = Python::attach(|py| load_function(py, &path, &code, func))
            .map_err(|e| config_error(&key, &e))?;
        Ok(Self {
            name: format!("python({spec})"),
            spec,
            function,
            batch_size: settings.batch_size,
        })
    }

    fn error(&self, detail: String) -> TrainError {
        TrainError::Reward {
            reward: self.name.clone(),
            detail,
        }
    }

    /// One call for `chunk`, whose first item is the batch's `offset`-th.
    fn call(
        &self,
        py: Python<'_>,
        chunk: &[Completion<'_>],
        offset: usize,
    ) -> Result<Vec<Judgement>, TrainError> {
        let kwargs = columns(py, chunk)
            .map_err(|e| self.error(format!("building the arguments: {}", describe(py, &e))))?;
        let out = self
            .function
            .bind(py)
            .call((), Some(&kwargs))
            .map_err(|e| self.error(format!("`{}` raised:\n{}", self.spec, describe(py, &e))))?;
        let values: Vec<Bound<'_, PyAny>> = out
            .try_iter()
            .and_then(|it| it.collect::<PyResult<Vec<_>>>())
            .map_err(|_| {
                self.error(format!(
                    "`{}` returned {}, expected a list with one value per completion",
                    self.spec,
                    type_name(&out)
                ))
            })?;
        if values.len() != chunk.len() {
            return Err(self.error(format!(
                "`{}` returned {} values for {} completions",
                self.spec,
                values.len(),
                chunk.len()
            )));
        }
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                judgement_of(v).map_err(|detail| {
                    self.error(format!("`{}` result [{}]: {detail}", self.spec, offset + i))
                })
            })
            .collect()
    }
}

impl Reward for PythonReward {
    fn name(&self) -> &str {
        &self.name
    }

    fn judge(&self, items: &[Completion<'_>]) -> Result<Vec<Judgement>, TrainError> {
        let size = self.batch_size.unwrap_or(items.len()).max(1);
        let mut out = Vec::with_capacity(items.len());
        for (n, chunk) in items.chunks(size).enumerate() {
            // The GIL is taken per call and released in between, so the loop's own threads
            // never wait on Python while it is not running a reward.
            out.extend(Python::attach(|py| self.call(py, chunk, n * size))?);
        }
        Ok(out)
    }
}

/// The exception with its Python traceback, as Python prints it.
pub fn describe(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|tb| {
            // The traceback goes separately: before 3.12 it is not on the value yet.
            let args = (err.get_type(py), err.value(py), err.traceback(py));
            tb.call_method1("format_exception", args)
        })
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_string(),
        Err(_) => err.to_string(),
    }
}

/// Runs `code` from `path` as a module and returns its `func`.
fn load_function(py: Python<'_>, path: &Path, code: &str, func: &str) -> Result<Py<PyAny>, String> {
    let folder = path
        .parent()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."));
    let sys_path = py
        .import("sys")
        .and_then(|sys| sys.getattr("path"))
        .map_err(|e| describe(py, &e))?;
    let folder_text = folder.to_string_lossy().into_owned();
    if !sys_path.contains(&folder_text).unwrap_or(false) {
        sys_path
            .call_method1("insert", (0, &folder_text))
            .map_err(|e| describe(py, &e))?;
    }
    // A private module name: a user file called `math.py` must not replace the stdlib's.
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let cstring =
        |s: String, what: &str| CString::new(s).map_err(|_| format!("{what} contains a NUL byte"));
    let code_c = cstring(code.to_string(), &path.display().to_string())?;
    let file_c = cstring(path.display().to_string(), "the path")?;
    let module_c = cstring(format!("_polopt_reward_{stem}"), "the file name")?;
    let module = PyModule::from_code(py, &code_c, &file_c, &module_c)
        .map_err(|e| format!("running {} raised:\n{}", path.display(), describe(py, &e)))?;
    let function = module
        .getattr(func)
        .map_err(|_| format!("{} defines no `{func}`", path.display()))?;
    if !function.is_callable() {
        return Err(format!("`{func}` in {} is not callable", path.display()));
    }
    Ok(function.unbind())
}
