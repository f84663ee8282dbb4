#!/usr/bin/env bash
# Rust vs Python on the same machine, one core each (docs/control.md, "Throughput"):
#  1. raw environment steps/s: polopt-envs (`env_throughput` example, single env step_into)
#     vs Gymnasium 1.4.0's own implementations (bench/envs_gymnasium.py);
#  2. PPO training steps/s on CartPole-v1 with identical hyperparameters: `polopt train
#     --preset ppo-cartpole` (default native backend; training time from metrics.jsonl; no
#     evaluation) vs
#     Stable-Baselines3 2.9.2 `PPO.learn` (bench/ppo_sb3.py).
# Installs gymnasium and stable-baselines3 into .venv on first use (needs network).
#   bench/control.sh [ppo_steps=50000] [env_seconds=2]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
STEPS=${1:-50000}
SECS=${2:-2}
PY=.venv/bin/python
if ! $PY -c "import gymnasium, stable_baselines3" 2>/dev/null; then
  $PY -m pip install -q "gymnasium==1.4.0" "stable-baselines3==2.9.2" \
    || { echo "pip could not install gymnasium / stable-baselines3 (no network?)"; exit 1; }
fi
cargo build --release -q -p polopt-cli -p polopt-envs --example env_throughput
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== raw env steps/s (one core, random actions, autoreset) =="
taskset -c 0 ./target/release/examples/env_throughput "$SECS" > "$TMP/rust_env.txt"
taskset -c 0 $PY bench/envs_gymnasium.py "$SECS" > "$TMP/py_env.txt"
$PY - "$TMP" <<'PYEOF'
import re, sys
tmp = sys.argv[1]
py = dict(l.split() for l in open(f"{tmp}/py_env.txt").read().splitlines()[1:])
rust = {}
for line in open(f"{tmp}/rust_env.txt"):
    m = re.match(r"(\S+), (single env, step_into|VecEnv<Box<dyn Env>> x 16)\s+([\d.]+) M steps/s", line)
    if m:
        key = m.group(1) if m.group(2).startswith("single") else m.group(1) + " (VecEnv x16, dyn)"
        rust[key] = float(m.group(3)) * 1e6
print(f"{'env':<40} {'polopt M/s':>11} {'gymnasium M/s':>14} {'ratio':>8}")
for env_id, p in py.items():
    for key in (env_id, env_id + " (VecEnv x16, dyn)"):
        if key in rust:
            print(f"{key:<40} {rust[key]/1e6:>11.2f} {float(p)/1e6:>14.4f} {rust[key]/float(p):>7.0f}x")
PYEOF

echo "== PPO training steps/s, CartPole-v1, $STEPS steps, 1 thread =="
taskset -c 0 ./target/release/polopt train --preset ppo-cartpole --quiet \
  --set run.out_dir="$TMP" --set run.name=bench --set algo.total_steps="$STEPS" \
  --set eval.every=0 --set eval.episodes=1 > /dev/null
taskset -c 0 $PY bench/ppo_sb3.py "$STEPS" > "$TMP/sb3.txt"
$PY - "$TMP" <<'PYEOF'
import json, sys
tmp = sys.argv[1]
rows = [json.loads(l) for l in open(f"{tmp}/bench/metrics.jsonl")]
steps = rows[-1]["env_steps"]
secs = sum(r["step_time_s"] for r in rows)
sb3 = dict(l.split() for l in open(f"{tmp}/sb3.txt"))
sb3_sps = float(sb3["sb3_ppo_cartpole_sps"])
print(f"polopt PPO: {steps:.0f} steps in {secs:.2f} s -> {steps/secs:,.0f} steps/s")
print(f"SB3 2.9.2 PPO: {sb3['sb3_ppo_cartpole_steps']} steps in {sb3['sb3_ppo_cartpole_seconds']} s -> {sb3_sps:,.0f} steps/s")
print(f"ratio: {steps/secs/sb3_sps:.1f}x")
PYEOF
