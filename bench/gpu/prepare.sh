#!/usr/bin/env bash
# On the CPU machine (network, Rust toolchain): build the polopt side of the benchmark into
# bench/gpu/bin/ and fetch the TRL wheels into bench/gpu/wheels/ (both ignored by git). Then carry
# bench/gpu/bin and bench/gpu/wheels to the GPU machine and run bench/gpu/run.sh there.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=/dev/null
source "$ROOT/scripts/env.sh"
# The CUDA-graph shim (crates/models/build.rs, issue 19) needs the CUDA runtime headers: pip's
# CUDA wheels carry cuda_runtime_api.h but not the crt/ headers it includes, which come from the
# small nvidia-cuda-crt wheel (headers only). Fetched once into bench/gpu/cuda-crt (git-ignored).
CRT="$HERE/cuda-crt"
if [ ! -f "$CRT/nvidia/cu13/include/crt/host_defines.h" ]; then
  mkdir -p "$CRT"
  python3 -m pip download -q --no-deps -d "$CRT" "nvidia-cuda-crt==13.0.88"
  python3 -m zipfile -e "$CRT"/nvidia_cuda_crt-*.whl "$CRT"
fi
export POLOPT_CUDA_INCLUDE="$CRT/nvidia/cu13/include"
(cd "$ROOT" && cargo build --release -p polopt-train --example gpu_grpo_step && cargo build --release -p polopt-cli)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
mkdir -p "$HERE/bin"
cp "$TARGET/release/examples/gpu_grpo_step" "$TARGET/release/polopt" "$HERE/bin/"
# Without the shim the graph run silently measures the fallback: refuse to carry such a binary.
if ! nm "$HERE/bin/gpu_grpo_step" | grep -q polopt_graph_capture; then
  echo "gpu_grpo_step was built without the CUDA-graph shim (see cargo's warning from polopt-models)" >&2
  exit 1
fi
"$HERE/fetch_wheels.sh"
# The polopt side runs on CPU too: a smoke test that the binary and its libtorch link work.
"$HERE/bin/gpu_grpo_step" --tiny --device cpu | grep '^RESULT'
