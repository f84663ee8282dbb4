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
fi
