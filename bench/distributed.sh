#!/usr/bin/env bash
# All-reduce overhead of data-parallel training at 2 ranks (issue 18), for the control loop or
# the group-RL loop: `mpirun -n 2 polopt train` with run.distributed = "auto", and per update
# (control) or RL step (group) the time spent in collective calls (`comm_s`, waiting for the
# slower rank included) as a ratio to that step's time (`step_time_s`). Then the same global
# batch in one process, for the step time without collectives.
#   control: ppo-cartpole; gathers of advantages/values, one gradient all-reduce and one
#            metrics all-reduce per minibatch.
#   group:   the default run (GRPO on addition, the default model, 32 prompts x 8 samples);
#            the gather of sampled rows and of old log-probs, one gradient all-reduce per
#            minibatch. A short warm start (sft.steps) keeps the bench quick.
# Needs Open MPI (openmpi-bin libopenmpi-dev libclang-dev) and builds polopt with --features mpi.
#   bench/distributed.sh control [total_steps=40960] [num_envs=8]
#   bench/distributed.sh group   [rl_steps=10]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
LOOP=${1:-control}
case "$LOOP" in
  control) SETS=(--preset ppo-cartpole --set "algo.total_steps=${2:-40960}"
                 --set "env.num_envs=${3:-8}" --set eval.every=0 --set eval.episodes=1)
           EXTRA=rollout_s ;;
  group)   SETS=(--set "rl.steps=${2:-10}" --set sft.steps=300 --set sft.target_pass1=0
                 --set eval.every=0 --set eval.problems=16 --set run.checkpoint_every=1000)
           EXTRA=generation_s ;;
  *) echo "usage: $0 control|group [args]" >&2; exit 2 ;;
esac
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build --release -q -p polopt-cli --features mpi
BIN="${CARGO_TARGET_DIR:-target}/release/polopt"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
COMMON=(--quiet --set run.distributed=auto --set "run.out_dir=$TMP" --set run.threads=1)
mpirun --oversubscribe -n 2 -x LD_LIBRARY_PATH -x OMP_NUM_THREADS "$BIN" train "${SETS[@]}" \
  "${COMMON[@]}" --set run.name=dp2 > "$TMP/log.txt" 2>&1 || { cat "$TMP/log.txt"; exit 1; }
"$BIN" train "${SETS[@]}" "${COMMON[@]}" --set run.name=dp1 > "$TMP/log1.txt" 2>&1 \
  || { cat "$TMP/log1.txt"; exit 1; }
python3 - "$TMP" "$LOOP" "$EXTRA" "$(getconf _NPROCESSORS_ONLN) cores, load average $(cut -d" " -f1 /proc/loadavg)" <<'PYEOF'
import json, sys
tmp, loop, extra, machine = sys.argv[1:5]
def rows(name):
    r = [json.loads(l) for l in open(f"{tmp}/{name}/metrics.jsonl")]
    r = [x for x in r if "step_time_s" in x]  # group runs: row 0 is the warm start's
    return r[1:] or r  # the first step pays for page faults and MPI's connection set-up
two, one = rows("dp2"), rows("dp1")
mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)
comm, step, part = mean(two, "comm_s"), mean(two, "step_time_s"), mean(two, extra)
step1 = mean(one, "step_time_s")
unit = "update" if loop == "control" else "RL step"
print(f"{loop}: 2 ranks, {len(two)} {unit}s measured; machine: {machine}")
print(f"per {unit} at 2 ranks: comm {1e3*comm:.2f} ms, step {1e3*step:.2f} ms ({extra} {1e3*part:.2f} ms of it)")
print(f"per {unit} in 1 process, same global batch: {1e3*step1:.2f} ms")
print(f"all-reduce overhead: {comm/step:.3f} of the step time at 2 ranks; speed-up 1 -> 2 ranks: {step1/step:.2f}x")
PYEOF
