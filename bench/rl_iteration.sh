#!/usr/bin/env bash
# One RL iteration (sample 32x8 completions, score, one update) of the default run's model:
# polopt vs a PyTorch-eager reference vs TRL's GRPOTrainer, same machine, same thread count,
# one after the other in this one run. Prints a table of median seconds per iteration and
# the ratios, and writes bench/results/rl_iteration.json.
#   bench/rl_iteration.sh [THREADS]   (default 2)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
THREADS="${1:-2}"
cd "$ROOT"
"$ROOT/scripts/bootstrap"
# shellcheck source=../scripts/env.sh
source "$ROOT/scripts/env.sh"
if ! python -c 'import trl, sys; sys.exit(0 if trl.__version__ == "1.16.0" else 1)' 2>/dev/null; then
  echo "installing trl==1.16.0 into .venv (reference only; polopt does not need it)" >&2
  pip install --quiet --disable-pip-version-check trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
fi
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p polopt-cli
OUT=/tmp/polopt-bench
rm -rf "$OUT/bench-rl-iteration"
"$ROOT/target/release/polopt" train --quiet --config "$ROOT/bench/rl_iteration.toml" --set "run.threads=$THREADS" > /dev/null
POLOPT=$(python - "$OUT/bench-rl-iteration/metrics.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]
times = [r["step_time_s"] for r in rows][2:]  # the first two iterations are warm-up, as in the references
print(json.dumps({"median_s": statistics.median(times), "steps": times}))
PY
)
TORCH=$(python "$ROOT/bench/rl_iteration_torch.py" --threads "$THREADS")
TRL=$(python "$ROOT/bench/rl_iteration_trl.py" --threads "$THREADS" 2>/dev/null | tail -1)
mkdir -p "$ROOT/bench/results"
python - "$THREADS" "$POLOPT" "$TORCH" "$TRL" <<'PY' | tee "$ROOT/bench/results/rl_iteration.md"
import json, platform, sys, datetime
threads, polopt, torch_ref, trl = sys.argv[1], *map(json.loads, sys.argv[2:])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"RL iteration (32 prompts x 8 completions x 8 tokens, score, one update); {threads} threads; {cpu}; {datetime.date.today()}")
print()
print("| implementation | median s / iteration | polopt speed-up |")
print("|---|---|---|")
for name, r in [("polopt", polopt), (f"PyTorch eager {torch_ref['torch']}", torch_ref), (f"TRL {trl['trl']} GRPOTrainer", trl)]:
    print(f"| {name} | {r['median_s']:.3f} | {r['median_s'] / polopt['median_s']:.2f}x |")
with open("bench/results/rl_iteration.json", "w") as f:
    json.dump({"threads": int(threads), "cpu": cpu, "polopt": polopt, "torch": torch_ref, "trl": trl}, f, indent=1)
PY
