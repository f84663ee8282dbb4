#!/usr/bin/env bash
# Reproduces the acceptance table of docs/control.md: PPO, BPO and A2C on CartPole-v1 and
# Acrobot-v1, seeds 0-4, one run at a time on one libtorch thread (run.threads = 1, the
# preset default). Runs land in runs/control_table/<preset>-s<seed>; existing finished runs
# are reused, so the script can be re-run to only print the table.
#
#   bench/control_table.sh [preset ...]      (default: the six presets below)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release -q -p polopt-cli
OUT=runs/control_table
PRESETS=("$@")
[ ${#PRESETS[@]} -eq 0 ] && PRESETS=(ppo-cartpole bpo-cartpole a2c-cartpole ppo-acrobot bpo-acrobot a2c-acrobot)
for p in "${PRESETS[@]}"; do
  for s in 0 1 2 3 4; do
    dir="$OUT/$p-s$s"
    if grep -q '"finished"' "$dir/run.json" 2>/dev/null; then continue; fi
    rm -rf "$dir"
    ./target/release/polopt train --preset "$p" --set run.seed="$s" --set run.out_dir="$OUT" --quiet >/dev/null
  done
done
python3 bench/control_summary.py "$OUT" "${PRESETS[@]}"
