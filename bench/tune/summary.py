"""Summary of a bench/tune/sweep.sh output folder: per setting, each seed's held-out greedy
pass@1 at the warm start and at the last evaluation, the gains, and their mean and range."""
import json
import os
import re
import sys
from collections import defaultdict

root = sys.argv[1]
rows = defaultdict(dict)
for name in sorted(os.listdir(root)):
    m = re.fullmatch(r"(.+)-s(\d+)", name)
    path = os.path.join(root, name, "metrics.jsonl")
    if not m or not os.path.exists(path):
        continue
    evals = []
    for line in open(path):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "eval/pass@1" in r:
            evals.append((r.get("step", 0), r["eval/pass@1"], r.get("eval/pass@16", float("nan"))))
    if evals:
        rows[m.group(1)][int(m.group(2))] = evals
print("| setting | seed: warm start -> last eval (step) | mean gain | gain range | mean final |")
print("|---|---|---|---|---|")
for setting, seeds in rows.items():
    cells, gains, finals = [], [], []
    for seed, ev in sorted(seeds.items()):
        (_, p0, k0), (s1, p1, _) = ev[0], ev[-1]
        cells.append(f"s{seed}: {p0:.3f} (@16 {k0:.2f}) -> {p1:.3f} ({s1})")
        gains.append(p1 - p0)
        finals.append(p1)
    mean = sum(gains) / len(gains)
    print(f"| {setting} | {'; '.join(cells)} | {mean:+.3f} | {max(gains) - min(gains):.3f} | "
          f"{sum(finals) / len(finals):.3f} |")
