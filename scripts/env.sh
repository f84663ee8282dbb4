# Source me: puts the project venv's python first and points tch at its libtorch.
# Shared by scripts/bootstrap, scripts/test, scripts/polopt and .ci/run so they cannot drift.
POLOPT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export POLOPT_ROOT
export PATH="$POLOPT_ROOT/.venv/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
if [ -x "$POLOPT_ROOT/.venv/bin/python" ]; then
  LIBTORCH_LIB="$("$POLOPT_ROOT/.venv/bin/python" -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))' 2>/dev/null || true)"
  export LIBTORCH_LIB
  export LD_LIBRARY_PATH="$LIBTORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The `python` reward embeds this venv's interpreter (pyo3, polopt-train's default feature
  # `python`): build against it, and load its libpython at run time rather than another
  # python3.11 the loader finds first (Debian's in /lib has the same soname).
  export PYO3_PYTHON="$POLOPT_ROOT/.venv/bin/python"
  PYTHON_LIBDIR="$("$PYO3_PYTHON" -c 'import sysconfig;print(sysconfig.get_config_var("LIBDIR") or "")' 2>/dev/null || true)"
  if [ -n "$PYTHON_LIBDIR" ]; then
    export LD_LIBRARY_PATH="$PYTHON_LIBDIR:$LD_LIBRARY_PATH"
  fi
fi
