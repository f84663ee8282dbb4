#!/usr/bin/env bash
# The built-in path vs the generic path (docs/own-model.md, "Measured"): for each seed, the
# default run with 200 RL steps, then its warm start exported as a Hugging Face directory and
# trained on exported addition problems through model.path + [data] + the `math` reward.
# Usage: bench/own_model/parity.sh [OUT_DIR] (about 10 minutes per seed on 2 cores).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/runs/own-model-parity}"
source "$ROOT/scripts/env.sh"
export OMP_NUM_THREADS=1
B="$ROOT/target/release/polopt"
(cd "$ROOT" && cargo build --release -p polopt-cli)
mkdir -p "$OUT/models" "$OUT/data"
cd "$OUT"
for s in 0 1 2; do
  "$B" train --quiet --set run.out_dir="\"$OUT/runs\"" --set run.name=builtin-$s --set run.seed=$s \
    --set run.threads=1 --set rl.steps=200
  "$B" export-model runs/builtin-$s/checkpoints/step-000000 --out models/warm-$s
  "$B" export-data --set run.seed=$s --split train --n 6400 --out data/train-$s.jsonl
  "$B" export-data --set run.seed=$s --split test --n 512 --out data/test-$s.jsonl
  "$B" train --quiet --config "$ROOT/bench/own_model/generic.toml" --set run.out_dir="\"$OUT/runs\"" \
    --set run.name=generic-$s --set run.seed=$s --set run.threads=1 --set rl.steps=200 \
    --set model.path="\"models/warm-$s\"" --set data.train="\"data/train-$s.jsonl\"" \
    --set data.eval="\"data/test-$s.jsonl\""
done
