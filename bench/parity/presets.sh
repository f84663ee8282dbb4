#!/usr/bin/env bash
# Before/after parity of every preset: a few RL steps (or control iterations) of each preset on
# a fixed seed, metrics with the wall-clock fields dropped, one file per preset. Run it with the
# binary of two commits and `diff -r` the two output folders: a refactor that must not change
# behaviour leaves no difference (issue 20's acceptance).
#   bench/parity/presets.sh BIN OUT_DIR
set -euo pipefail
BIN="$1"; OUT="$2"
mkdir -p "$OUT"
RUNS="$(mktemp -d)"
TEXT_SETS=(
  "run.threads=1" "run.out_dir=\"$RUNS\"" "run.checkpoint_every=100"
  "sft.steps=200" "sft.target_pass1=0" "sft.batch_size=64"
  "rl.steps=4" "rl.prompts_per_step=8" "rl.group_size=8" "rl.minibatch_size=32" "rl.epochs=2"
  "eval.every=0" "eval.problems=32" "eval.k=[1, 4]"
  "method.critic.hidden_size=32" "method.critic.intermediate_size=64" "method.critic.num_hidden_layers=1"
)
strip() { python3 -c '
import json, sys
drop = ("_s", "tokens_per_s", "steps_per_s", "fps", "sps")
for line in open(sys.argv[1]):
    row = json.loads(line)
    print(json.dumps({k: v for k, v in sorted(row.items()) if not k.endswith(drop)}))
' "$1"; }
TEXT_PRESETS="grpo dr_grpo dapo rloo reinforce_pp gspo etr bnpo adora copo gbpo d3s riskpo r3 dcpo hapo tppo dapo_step spo_chain spo_tree aspo"
CONTROL_PRESETS="ppo-cartpole ppo-acrobot ppo-pendulum a2c-cartpole a2c-acrobot reinforce-cartpole bpo-cartpole bpo-acrobot"
for preset in ${PRESETS:-$TEXT_PRESETS}; do
  extra=()
  case "$preset" in
    dapo_step) extra=("method.dapo_step.problems=8" "method.dapo_step.critic_steps=20" "method.dapo_step.mc_rollouts=2") ;;
    aspo) extra=("task.name=\"calc\"") ;;
  esac
  args=(); for s in "${TEXT_SETS[@]}" "run.name=$preset" "${extra[@]}"; do args+=(--set "$s"); done
  "$BIN" train --preset "$preset" "${args[@]}" > "$OUT/$preset.log" 2>&1 || echo "FAILED $preset" >> "$OUT/failures"
  [ -f "$RUNS/$preset/metrics.jsonl" ] && strip "$RUNS/$preset/metrics.jsonl" > "$OUT/$preset.jsonl"
  echo "$preset done"
done
for preset in ${CONTROL:-$CONTROL_PRESETS}; do
  "$BIN" train --preset "$preset" --set "run.out_dir=\"$RUNS\"" --set "run.name=$preset" \
    --set algo.total_steps=4096 > "$OUT/$preset.log" 2>&1 || echo "FAILED $preset" >> "$OUT/failures"
  [ -f "$RUNS/$preset/metrics.jsonl" ] && strip "$RUNS/$preset/metrics.jsonl" > "$OUT/$preset.jsonl"
  echo "$preset done"
done
rm -rf "$RUNS"
