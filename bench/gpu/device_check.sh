#!/usr/bin/env bash
# The one device call of a session (issue 6): the polopt-vs-TRL benchmark, then the ordinary
# `polopt train` CLI on CUDA for a short run, to show the same binary trains on the GPU
# (model.cuda_graphs is auto: its metrics rows carry gen/cuda_graphs, 1 when graphs ran).
# Worst case under 10 minutes (timeouts: 60 + 100 + 120 + 200 + 90 s); typically about 4.
# Carry bench/gpu/bin (gpu_grpo_step and polopt, built by prepare.sh) and bench/gpu/wheels.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-$(mktemp -d)}"
export OUT
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
bash "$HERE/run.sh" 2>&1 | tee "$OUT/run.log"
TL="$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')"
NV="$(python3 -c 'import nvidia,os;print(os.path.join(list(nvidia.__path__)[0],"cu13","lib"))' 2>/dev/null || true)"
export LD_LIBRARY_PATH="$TL${NV:+:$NV}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
timeout 90 "$HERE/bin/polopt" train --quiet --set run.device=cuda --set run.out_dir=/tmp/polopt-runs \
  --set sft.steps=300 --set rl.steps=20 --set eval.every=10 --set eval.problems=128 2>&1 | tee "$OUT/cli.log"
tail -3 /tmp/polopt-runs/default/metrics.jsonl > "$OUT/cli_metrics_tail.jsonl" 2>/dev/null || true
