#!/usr/bin/env bash
# All-reduce overhead of data-parallel control training at 2 ranks (issue 18): `mpirun -n 2
# polopt train --preset ppo-cartpole` with run.distributed = "auto", and per update the time
# spent in collective calls (`comm_s`: the gathers of advantages/values, one gradient
# all-reduce and one metrics all-reduce per minibatch step, waiting for the slower rank
# included) as a ratio to the update's time (`step_time_s`: critic values, GAE, epochs).
# Needs Open MPI (openmpi-bin libopenmpi-dev libclang-dev) and builds polopt with --features mpi.
#   bench/distributed_control.sh [total_steps=40960] [num_envs=8]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
STEPS=${1:-40960}
ENVS=${2:-8}
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build --release -q -p polopt-cli --features mpi
BIN="${CARGO_TARGET_DIR:-target}/release/polopt"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mpirun --oversubscribe -n 2 "$BIN" train --preset ppo-cartpole \
  --set run.distributed=auto --set "run.out_dir=$TMP" --set run.name=dp2 \
  --set "algo.total_steps=$STEPS" --set "env.num_envs=$ENVS" --set eval.every=0 \
  --set eval.episodes=1 > "$TMP/log.txt" 2>&1 || { cat "$TMP/log.txt"; exit 1; }
python3 - "$TMP/dp2/metrics.jsonl" "$(nproc)" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = rows[1:] or rows  # the first update pays for page faults and MPI's connection set-up
comm = sum(r["comm_s"] for r in rows)
step = sum(r["step_time_s"] for r in rows)
roll = sum(r["rollout_s"] for r in rows)
n = len(rows)
print(f"2 ranks, {n} updates measured, {sys.argv[2]} cores on this machine")
print(f"per update: comm {1e3*comm/n:.2f} ms, update {1e3*step/n:.2f} ms (rollout {1e3*roll/n:.2f} ms of it)")
print(f"all-reduce overhead: {comm/step:.3f} of the update time")
PYEOF
