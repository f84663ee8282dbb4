#!/usr/bin/env bash
# The ordinary `polopt train` CLI on CUDA, short: the same binary that runs on the CPU.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-$(mktemp -d)}"
TL="$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')"
NV="$(python3 -c 'import nvidia,os;print(os.path.join(list(nvidia.__path__)[0],"cu13","lib"))' 2>/dev/null || true)"
export LD_LIBRARY_PATH="$TL${NV:+:$NV}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
timeout 150 "$HERE/bin/polopt" train --quiet --set run.device=cuda --set run.out_dir=/tmp/polopt-runs \
  --set sft.steps=300 --set rl.steps=20 --set eval.every=10 --set eval.problems=128 2>&1 | tee "$OUT/cli.log"
cp /tmp/polopt-runs/default/metrics.jsonl "$OUT/cli_metrics.jsonl" 2>/dev/null || true
