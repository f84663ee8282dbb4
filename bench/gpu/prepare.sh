#!/usr/bin/env bash
# On the CPU machine (network, Rust toolchain): build the polopt side of the benchmark into
# bench/gpu/bin/ and fetch the TRL wheels into bench/gpu/wheels/ (both ignored by git). Then carry
# bench/gpu/bin and bench/gpu/wheels to the GPU machine and run bench/gpu/run.sh there.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=/dev/null
source "$ROOT/scripts/env.sh"
(cd "$ROOT" && cargo build --release -p polopt-train --example gpu_grpo_step && cargo build --release -p polopt-cli)
mkdir -p "$HERE/bin"
cp "$ROOT/target/release/examples/gpu_grpo_step" "$ROOT/target/release/polopt" "$HERE/bin/"
"$HERE/fetch_wheels.sh"
# The polopt side runs on CPU too: a smoke test that the binary and its libtorch link work.
"$HERE/bin/gpu_grpo_step" --tiny --device cpu | grep '^RESULT'
