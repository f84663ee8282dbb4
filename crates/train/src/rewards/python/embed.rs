//! The interpreter embedded in this process: started once, with a fixed string hash seed and
//! no signal handlers, and the project venv's packages made importable.
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;

use super::function::describe;

/// Starts the interpreter once per process; later calls return the first outcome.
pub fn start() -> Result<(), String> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            initialize()?;
            Python::attach(add_venv).map_err(|e| Python::attach(|py| describe(py, &e)))
        })
        .clone()
}

/// `Py_InitializeFromConfig` rather than pyo3's `Python::initialize`, to fix the string hash
/// seed (reproducible set and dict orders) unless the user sets `PYTHONHASHSEED`; signal
/// handlers stay off as with pyo3, so Ctrl-C still reaches the loop.
fn initialize() -> Result<(), String> {
    // SAFETY: runs once (OnceLock) before any other use of the C API from this crate, on a
    // zero-initialised `PyConfig` that `PyConfig_InitPythonConfig` fills; the GIL taken by
    // initialisation is released at once, as pyo3's own `initialize` does.
    unsafe {
        if ffi::Py_IsInitialized() != 0 {
            return Ok(());
        }
        let mut config = MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        config.install_signal_handlers = 0;
        if std::env::var_os("PYTHONHASHSEED").is_none() {
            config.use_hash_seed = 1;
            config.hash_seed = 0;
        }
        let status = ffi::Py_InitializeFromConfig(&config);
        ffi::PyConfig_Clear(&mut config);
        if ffi::PyStatus_Exception(status) != 0 {
            let msg = if status.err_msg.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(status.err_msg)
                    .to_string_lossy()
                    .into_owned()
            };
            return Err(format!("cannot start the Python interpreter: {msg}"));
        }
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// The venv whose packages user code may import: `$VIRTUAL_ENV`, else `$POLOPT_ROOT/.venv`,
/// else the one whose python this crate was built against (`PYO3_PYTHON`).
fn venv_dir() -> Option<PathBuf> {
    let from_env = |var: &str, sub: &str| {
        std::env::var_os(var)
            .map(|v| PathBuf::from(v).join(sub))
            .filter(|p| p.is_dir())
    };
    from_env("VIRTUAL_ENV", "")
        .or_else(|| from_env("POLOPT_ROOT", ".venv"))
        .or_else(|| {
            let python = PathBuf::from(option_env!("PYO3_PYTHON")?);
            python.parent()?.parent().map(Path::to_path_buf)
        })
}

/// `site.addsitedir` (which also reads `.pth` files) on the venv's site-packages.
fn add_venv(py: Python<'_>) -> PyResult<()> {
    let Some(venv) = venv_dir() else {
        return Ok(());
    };
    let version = py.version_info();
    let packages = venv
        .join("lib")
        .join(format!("python{}.{}", version.major, version.minor))
        .join("site-packages");
    warn_on_other_base(py, &venv);
    if packages.is_dir() {
        py.import("site")?
            .call_method1("addsitedir", (packages.to_string_lossy().into_owned(),))?;
    } else {
        tracing::warn!(
            "python reward: {} not found; the venv's packages are not importable",
            packages.display()
        );
    }
    Ok(())
}

/// Warns when the loaded libpython is not the venv's base interpreter (another python3.X with
/// the same soname found first by the loader): its stdlib then serves the venv's packages.
fn warn_on_other_base(py: Python<'_>, venv: &Path) {
    let Ok(cfg) = std::fs::read_to_string(venv.join("pyvenv.cfg")) else {
        return;
    };
    let home = cfg.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == "home").then(|| PathBuf::from(v.trim()))
    });
    let base = py
        .import("sys")
        .and_then(|sys| sys.getattr("base_prefix"))
        .and_then(|p| p.extract::<String>());
    let (Some(home), Ok(base)) = (home, base) else {
        return;
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let venv_base = home.parent().map(canonical);
    if venv_base.as_deref() != Some(canonical(Path::new(&base)).as_path()) {
        tracing::warn!(
            "python reward: the embedded interpreter is {base}, but {} was made from {}; \
             put the latter's libpython first on LD_LIBRARY_PATH (scripts/env.sh does)",
            venv.display(),
            home.display()
        );
    }
}
