#!/usr/bin/env bash
# Run on the CPU (networked) machine before carrying bench/gpu/ to a GPU machine that has no
# network: downloads the TRL side's wheels into bench/gpu/wheels/ (ignored by git).
# The GPU image already has torch 2.11.0, transformers, accelerate and their dependencies; only
# these four are missing there, so they are fetched without dependencies.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
if [ -x "$HERE/../../.venv/bin/python" ]; then PY="$HERE/../../.venv/bin/python"; fi
mkdir -p "$HERE/wheels"
"$PY" -m pip download --no-deps --only-binary=:all: --dest "$HERE/wheels" \
  trl==1.16.0 datasets==5.2.0 dill==0.4.1
# multiprocess ships one wheel per Python minor version and the GPU image's Python is not known
# here: take each one that exists; pip there picks its own.
for v in 3.10 3.11 3.12 3.13 3.14; do
  "$PY" -m pip download --no-deps --only-binary=:all: --python-version "$v" --dest "$HERE/wheels" \
    multiprocess==0.70.19 || echo "no multiprocess wheel for Python $v"
done
ls -l "$HERE/wheels"
