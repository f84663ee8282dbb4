"""Per-seed table of a method against its baseline in one `polopt compare` directory, for the
docs/methods pages of the preference methods: warm start and final value of each metric for
both presets, the paired difference (same seed = same warm start) and its 95% percentile
bootstrap CI over seeds, and the verdict the CI gives (the report's rule: better / worse if
the whole CI is on one side of 0, inconclusive otherwise).

    python bench/preference/seed_table.py COMPARE_DIR BASELINE METHOD METRIC [METRIC ...]

A metric is a key of run.json's `final` (e.g. eval/pass@1), or `peak:<key>` (the best value
of the key over the run's evaluation rows), or `last:<key>` (a per-step key of the last row of
metrics.jsonl, e.g. last:logp_chosen), or `at<step>:<key>` (the key at that step, e.g.
at50:eval/pass@1). Suffix `-` marks lower-is-better.
"""
import json
import pathlib
import random
import sys


def value(run_dir, metric):
    """The metric's value, or None when the run does not log it."""
    try:
        return _value(run_dir, metric)
    except (KeyError, IndexError, ValueError):
        return None


def _value(run_dir, metric):
    if metric.startswith("at"):
        # at<step>:<key>, e.g. at50:eval/pass@1
        head, key = metric.split(":", 1)
        step = int(head[2:])
        rows = [json.loads(l) for l in open(run_dir / "metrics.jsonl")]
        return [r for r in rows if r.get("step") == step][0][key]
    if metric.startswith("peak:"):
        key = metric[5:]
        rows = [json.loads(l) for l in open(run_dir / "metrics.jsonl")]
        return max(r[key] for r in rows if key in r)
    if metric.startswith("last:"):
        key = metric[5:]
        rows = [json.loads(l) for l in open(run_dir / "metrics.jsonl")]
        return [r for r in rows if key in r][-1][key]
    return json.load(open(run_dir / "run.json"))["final"][metric]


def warm(run_dir, metric):
    if ":" in metric:
        return None
    return json.load(open(run_dir / "run.json"))["warmstart_metrics"].get(metric)


def bootstrap(diffs, n=10000, seed=0):
    rng = random.Random(seed)
    means = sorted(
        sum(rng.choice(diffs) for _ in diffs) / len(diffs) for _ in range(n)
    )
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def main():
    root, base, method, metrics = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    runs = root / "runs"
    seeds = sorted(
        int(p.name.rsplit("seed", 1)[1])
        for p in runs.glob(f"{method}-seed*")
        if (runs / f"{base}-seed{p.name.rsplit('seed', 1)[1]}").exists()
    )
    for metric in metrics:
        lower = metric.endswith("-")
        m = metric.rstrip("-")
        print(f"\n{m} ({'lower' if lower else 'higher'} is better)\n")
        print(f"| seed | warm start | {base} | {method} | difference |")
        print("|---|---|---|---|---|")
        diffs = []
        for s in seeds:
            b, x = runs / f"{base}-seed{s}", runs / f"{method}-seed{s}"
            vb, vx = value(b, m), value(x, m)
            w = warm(b, m)
            show = lambda v, f=".3f": "-" if v is None else format(v, f)
            d = None if vb is None or vx is None else vx - vb
            if d is not None:
                diffs.append(d)
            print(f"| {s} | {show(w)} | {show(vb)} | {show(vx)} | {show(d, '+.3f')} |")
        if not diffs:
            print("\n(no paired values)")
            continue
        lo, hi = bootstrap(diffs)
        mean = sum(diffs) / len(diffs)
        if len(diffs) < 2:
            verdict = "inconclusive (fewer than 2 pairs)"
        elif (lo > 0 and not lower) or (hi < 0 and lower):
            verdict = "better"
        elif (hi < 0 and not lower) or (lo > 0 and lower):
            verdict = "worse"
        else:
            verdict = "inconclusive"
        print(f"\nmean difference {mean:+.4f}, 95% CI [{lo:+.4f}, {hi:+.4f}] over {len(diffs)} seeds: {verdict}")


if __name__ == "__main__":
    main()
