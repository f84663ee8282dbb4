#!/usr/bin/env bash
# GRPO step benchmark on one GPU, polopt vs TRL, no network (issue 6). Prepared on the CPU
# machine by bench/gpu/prepare.sh; run from anywhere on a GPU machine whose Python has
# torch 2.11.0 (cu130), transformers and accelerate:
#     bash bench/gpu/run.sh            # results in $OUT (or a temp dir): polopt.log, trl.log, summary.md
# Same config on both sides: random Qwen2.5-0.5B-dim weights (one directory both load), bf16,
# 8 prompts x 8 completions of exactly 256 tokens, temperature 1, KL beta 0.04, one optimizer step
# per batch; median s/step over 4 steps after 1 warm-up, completion tokens/s, and decode tokens/s
# against the memory-bandwidth bound. polopt runs twice: without and with CUDA graphs (issue 19;
# CUDA_GRAPHS=auto|on|off sets the second run's `--cuda-graphs`). Budget: under 8 minutes (each
# side is under `timeout`).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
WORK="$(mktemp -d)"
OUT="${OUT:-$WORK/results}"
STEPS="${STEPS:-4}"
WARMUP="${WARMUP:-1}"
mkdir -p "$OUT"
BIN="$HERE/bin/gpu_grpo_step"
[ -x "$BIN" ] || { echo "missing $BIN: run bench/gpu/prepare.sh on the CPU machine and carry bench/gpu/bin" >&2; exit 2; }

# The machine's own libtorch (design/backend.md): nothing large is carried.
TL="$("$PY" -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')" || exit 2
NV="$("$PY" -c 'import nvidia,os;print(os.path.join(list(nvidia.__path__)[0],"cu13","lib"))' 2>/dev/null || true)"
export LD_LIBRARY_PATH="$TL${NV:+:$NV}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# TRL and the three packages the GPU image lacks, from the carried wheels, into a private dir.
if ! "$PY" -c 'import trl' 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --find-links "$HERE/wheels" --target "$WORK/pylib" \
    trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 || { echo "wheel install failed" >&2; exit 2; }
  export PYTHONPATH="$WORK/pylib${PYTHONPATH:+:$PYTHONPATH}"
fi

# Peak HBM bandwidth (GB/s) by card, for the decode bound; BANDWIDTH_GBPS overrides.
GPU="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
case "$GPU" in
  *H200*) BW=4800 ;;
  *H100*PCIe*) BW=2000 ;;
  *H100*) BW=3350 ;;
  *A100*80GB*) BW=2039 ;;
  *A100*) BW=1555 ;;
  *) BW="" ;;
esac
BW="${BANDWIDTH_GBPS:-$BW}"
echo "GPU: ${GPU:-unknown}, bandwidth ${BW:-unknown} GB/s, work dir $WORK" | tee "$OUT/summary.md"
BWARG=()
[ -n "$BW" ] && BWARG=(--bandwidth-gbps "$BW")

# SMOKE=1: the whole script on CPU with a tiny model (checks the plumbing, measures nothing).
DIMS=qwen2.5-0.5b
SIZES=()
TRL_CPU=()
if [ "${SMOKE:-0}" = 1 ]; then
  DIMS=tiny
  SIZES=(--prompts 2 --group 4 --prompt-len 6 --new-tokens 12 --micro-batch 4)
  TRL_CPU=(--cpu)
fi
timeout 60 "$BIN" init --dims "$DIMS" --out "$WORK/model" || { echo "model init failed" >&2; exit 1; }
# polopt twice (issue 19): fused projections and device-side stop checks with ordinary
# launches (`--cuda-graphs off`), then the decode step captured once per batch-size bucket and
# replayed (`model.cuda_graphs`, here `--cuda-graphs on`; the result line says whether graphs
# ran or why not). `--parity` first decodes one batch both ways from one seed and prints PARITY.
timeout 100 "$BIN" run --model "$WORK/model" --steps "$STEPS" --warmup "$WARMUP" "${SIZES[@]}" "${BWARG[@]}" \
  --cuda-graphs off --label "polopt (no graphs)" 2>&1 | tee "$OUT/polopt_eager.log"
timeout 120 "$BIN" run --model "$WORK/model" --steps "$STEPS" --warmup "$WARMUP" "${SIZES[@]}" "${BWARG[@]}" \
  --cuda-graphs "${CUDA_GRAPHS:-on}" --parity --label "polopt (cuda graphs)" 2>&1 | tee "$OUT/polopt.log"
timeout 200 "$PY" "$HERE/trl_grpo.py" --model "$WORK/model" --steps "$STEPS" --warmup "$WARMUP" "${SIZES[@]}" "${TRL_CPU[@]}" "${BWARG[@]}" 2>&1 | tee "$OUT/trl.log"

"$PY" - "$OUT" <<'PYEOF' | tee -a "$OUT/summary.md"
import json, os, sys
out = sys.argv[1]
rows = []
for side in ("polopt_eager", "polopt", "trl"):
    lines = [l for l in open(os.path.join(out, f"{side}.log")) if l.startswith("RESULT ")]
    rows.append(json.loads(lines[-1][7:]) if lines else {"impl": side})
fmt = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"
print("| impl | median s/step | completion tok/s | median generate s | decode tok/s | decode bound tok/s | of bound | graphs |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    graphs = r.get("cuda_graphs")
    graphs = "-" if graphs is None else ("yes" if graphs else "no: " + str(r.get("graph_fallback")))
    print(f"| {r['impl']} | {fmt(r.get('median_step_s'), 3)} | {fmt(r.get('completion_tokens_per_s'), 0)} | "
          f"{fmt(r.get('median_generate_s'), 3)} | {fmt(r.get('decode_tokens_per_s'), 0)} | "
          f"{fmt(r.get('decode_bound_tokens_per_s'), 0)} | {fmt(r.get('decode_fraction_of_bound'), 3)} | {graphs} |")
parity = [l for l in open(os.path.join(out, "polopt.log")) if l.startswith("PARITY ")]
if parity:
    print()
    print("Decode parity, graphs vs plain step (same seed):", parity[-1][7:].strip())
PYEOF
