#!/usr/bin/env bash
# Runs many short `polopt train` jobs side by side, one thread each, to compare settings of the
# default run across seeds (used to pick the warm start and RL settings of configs/default.toml).
# On a many-core machine (e.g. the GPU machine's CPUs) this does in minutes what takes an hour
# on 2 cores. Numbers from another CPU differ bit-wise from this machine's; re-run the chosen
# setting here before documenting it.
#   bench/tune/sweep.sh JOBS_FILE [POLOPT_BINARY]
# JOBS_FILE: one job per line, `NAME SEED [--set key=value ...]`; `#` starts a comment.
# Writes $OUT/summary.md (a table per setting) and $OUT/sweep.tar.gz holding each job's
# NAME-sSEED/{run.json,metrics.jsonl,log} (one archive: the GPU machine returns few files).
# OUT defaults to a fresh temp dir.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JOBS="$1"
BIN="${2:-$HERE/../../target/release/polopt}"
OUT="${OUT:-$(mktemp -d)}"
WORK="${WORK:-/tmp/polopt-sweep}"
BUDGET="${BUDGET:-540}"   # seconds before unfinished jobs are stopped (their metrics so far are kept)
LANES="${LANES:-$(nproc)}"
RES="$WORK/results"
export BIN RES WORK
mkdir -p "$OUT" "$RES"
run_one() {
  name="$1"; seed="$2"; shift 2
  dir="$RES/$name-s$seed"; mkdir -p "$dir"
  "$BIN" train --quiet --set run.threads=1 --set "run.out_dir=$WORK" --set "run.name=$name-s$seed" \
    --set "run.seed=$seed" --set sft.reuse_cache=false --set run.checkpoint_every=100000 "$@" \
    > "$dir/log" 2>&1
  cp "$WORK/$name-s$seed/run.json" "$dir/" 2>/dev/null || true
}
export -f run_one
grep -v '^\s*#' "$JOBS" | grep -v '^\s*$' \
  | timeout "$BUDGET" xargs -P "$LANES" -L 1 bash -c 'run_one "$@"' _
for d in "$WORK"/*-s*/; do
  n="$(basename "$d")"; mkdir -p "$RES/$n"
  cp "$d/metrics.jsonl" "$RES/$n/" 2>/dev/null || true
  cp "$d/run.json" "$RES/$n/" 2>/dev/null || true
done
tar czf "$OUT/sweep.tar.gz" -C "$RES" .
python3 "$HERE/summary.py" "$RES" | tee "$OUT/summary.md"
