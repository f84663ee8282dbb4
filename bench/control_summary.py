"""Summarises runs/control_table: per preset and seed, the final evaluation (100 episodes,
deterministic policy) after the preset's whole budget, the best evaluation, and the first
env-step count at which an evaluation reached the task's solved threshold."""
import json
import sys
from pathlib import Path

THRESHOLD = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0}


def summarise(run: Path):
    info = json.loads((run / "run.json").read_text())
    evals = []
    wall = 0.0
    for line in (run / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        wall += (row.get("step_time_s") or 0.0) + (row.get("eval_time_s") or 0.0)
        if row.get("eval/return_mean") is not None:
            evals.append((int(row["env_steps"]), row["eval/return_mean"]))
    thr = THRESHOLD.get(info["task"])
    first = next((s for s, r in evals if thr is not None and r >= thr), None)
    final = info["final"]
    return info["task"], info["seed"], int(final["env_steps"]), final["eval/return_mean"], final["eval/return_std"], max(r for _, r in evals), first, thr, wall


def main():
    out = Path(sys.argv[1])
    for preset in sys.argv[2:]:
        runs = sorted(out.glob(f"{preset}-s*"))
        if not runs:
            continue
        rows = [summarise(r) for r in runs]
        task, thr = rows[0][0], rows[0][7]
        print(f"\n### {preset} ({task}, solved >= {thr})\n")
        print("| seed | env steps | final eval return (mean ± std, 100 ep) | best eval | first eval >= threshold at env step | train+eval wall s |")
        print("|---|---|---|---|---|---|")
        reached = solved_final = 0
        for _, seed, steps, mean, std, best, first, thr, wall in rows:
            reached += first is not None
            solved_final += mean >= thr
            print(f"| {seed} | {steps} | {mean:.1f} ± {std:.1f} | {best:.1f} | {first if first is not None else '—'} | {wall:.1f} |")
        print(f"\nreached the threshold within the budget: {reached}/{len(rows)} seeds; final eval at or above it: {solved_final}/{len(rows)}")


if __name__ == "__main__":
    main()
