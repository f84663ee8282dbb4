#!/usr/bin/env bash
# SAC training throughput on Pendulum-v1, polopt vs Stable-Baselines3, same machine, one
# core, same hyperparameters (docs/methods/td3_sac.md, "Throughput"):
#   polopt train --preset sac-pendulum (no evaluation; steps/s from the run's wall time)
#   bench/offpolicy/sac_sb3.py (SAC.learn)
# Both run STEPS env steps (default 3000: 100 random steps, then one update per step).
#   bench/offpolicy/sac_throughput.sh [steps=3000] [python=.venv/bin/python]
# The Python needs torch, gymnasium and stable-baselines3 (`pip install stable-baselines3`).
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-3000}
PY=${2:-.venv/bin/python}
POLOPT=${POLOPT:-./target/release/polopt}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

start=$(date +%s.%N)
taskset -c 0 "$POLOPT" train --quiet --set method.preset=sac-pendulum \
  --set algo.total_steps="$STEPS" --set eval.every=0 --set eval.episodes=1 \
  --set run.out_dir="$TMP" --set run.threads=1 > "$TMP/polopt.txt" 2>&1
end=$(date +%s.%N)
polopt_s=$(python3 -c "print($end - $start)")
taskset -c 0 "$PY" bench/offpolicy/sac_sb3.py "$STEPS" > "$TMP/sb3.txt"
sb3_s=$(awk '/sb3_sac_pendulum_seconds/ {print $2}' "$TMP/sb3.txt")
python3 - "$STEPS" "$polopt_s" "$sb3_s" <<'PYEOF'
import sys
steps, ours, sb3 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"{'SAC Pendulum-v1, ' + str(steps) + ' env steps':<36} {'seconds':>8} {'steps/s':>8}")
print(f"{'polopt (tch, 1 thread)':<36} {ours:>8.1f} {steps / ours:>8.1f}")
print(f"{'SB3 (PyTorch, 1 thread)':<36} {sb3:>8.1f} {steps / sb3:>8.1f}")
print(f"ratio polopt / SB3: {sb3 / ours:.2f}x")
PYEOF
