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
mpirun --oversubscribe -n 2 -x LD_LIBRARY_PATH -x OMP_NUM_THREADS "$BIN" train --preset ppo-cartpole \
  --set run.distributed=auto --set "run.out_dir=$TMP" --set run.name=dp2 \
  --set "algo.total_steps=$STEPS" --set "env.num_envs=$ENVS" --set eval.every=0 \
  --set eval.episodes=1 > "$TMP/log.txt" 2>&1 || { cat "$TMP/log.txt"; exit 1; }
# The same global batch in one process, for the update time without collectives.
"$BIN" train --preset ppo-cartpole --quiet \
  --set run.distributed=auto --set "run.out_dir=$TMP" --set run.name=dp1 \
  --set "algo.total_steps=$STEPS" --set "env.num_envs=$ENVS" --set eval.every=0 \
  --set eval.episodes=1 > "$TMP/log1.txt" 2>&1 || { cat "$TMP/log1.txt"; exit 1; }
python3 - "$TMP" "$(getconf _NPROCESSORS_ONLN) cores, load average $(cut -d" " -f1 /proc/loadavg)" <<'PYEOF'
import json, sys
def rows(name):
    r = [json.loads(l) for l in open(f"{sys.argv[1]}/{name}/metrics.jsonl")]
    return r[1:] or r  # the first update pays for page faults and MPI's connection set-up
two, one = rows("dp2"), rows("dp1")
n = len(two)
comm = sum(r["comm_s"] for r in two) / n
step = sum(r["step_time_s"] for r in two) / n
roll = sum(r["rollout_s"] for r in two) / n
step1 = sum(r["step_time_s"] for r in one) / len(one)
print(f"2 ranks, {n} updates measured; machine: {sys.argv[2]}")
print(f"per update at 2 ranks: comm {1e3*comm:.2f} ms, update {1e3*step:.2f} ms (rollout {1e3*roll:.2f} ms of it)")
print(f"per update in 1 process, same global batch: {1e3*step1:.2f} ms")
print(f"all-reduce overhead: {comm/step:.3f} of the update time at 2 ranks")
PYEOF
