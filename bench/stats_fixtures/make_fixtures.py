#!/usr/bin/env python3
"""Reference values for polopt-report's statistics, computed independently of the Rust code.

Writes crates/report/tests/fixtures/stats_fixtures.json, read by crates/report/tests/stats_fixtures.rs,
and crates/report/tests/fixtures/paired_fixtures.json, read by crates/report/tests/paired_fixtures.rs.

Needs (installs nothing itself; use a throwaway venv):
    python3 -m venv /tmp/statsvenv
    /tmp/statsvenv/bin/pip install numpy scipy rliable "pandas<3"
  (pandas<3: arch 7.2, which rliable imports, fails to import under pandas 3.)
    /tmp/statsvenv/bin/python bench/stats_fixtures/make_fixtures.py

What comes from where:
- mean, median: numpy. IQM: rliable.metrics.aggregate_iqm (= scipy.stats.trim_mean(x, 0.25)).
  Stratified mean: rliable.metrics.aggregate_mean (mean of per-task means).
- probability of improvement: rliable.metrics.probability_of_improvement
  (scipy.stats.mannwhitneyu U / (n_x n_y), averaged over tasks).
- 95% CIs: rliable.library.get_interval_estimates (percentile method, stratified bootstrap,
  StratifiedIndependentBootstrap for probability of improvement), REPS resamples drawn from
  numpy's global RNG seeded with SEED. The Rust side uses another RNG (ChaCha8), so its
  intervals agree only up to bootstrap Monte-Carlo error; the test explains its tolerance.
- paired differences (paired_fixtures.json): runs matched by seed with a Python dict, numpy
  mean of the differences, and the percentile bootstrap (np.percentile, linear) of the mean
  over an index matrix drawn here and written to the file. The Rust test passes the same
  indices in, so the interval must agree to 1e-12, not within Monte-Carlo error. Each case
  also records the unpaired interval (method and baseline resampled independently) that a
  wrong, unpaired implementation would land near, to show the check tells them apart.

Re-running the script with the same versions reproduces the file byte for byte.
"""

import json
import platform
import re
import sys
from pathlib import Path

import numpy as np
import scipy
import scipy.stats
from importlib.metadata import version
from rliable import library as rly
from rliable import metrics

REPS = 50_000
SEED = 12345
CONFIDENCE = 0.95

OUT = Path(__file__).resolve().parents[2] / "crates/report/tests/fixtures/stats_fixtures.json"
PAIRED_OUT = OUT.with_name("paired_fixtures.json")
PAIRED_REPS = 500  # the index matrix is in the file: keep it small; exactness needs no more


def samples():
    """Known arrays: fixed here so the JSON, not an RNG, is the contract."""
    gen = np.random.default_rng(20240611)
    return {
        # pass@1 on 100 problems: multiples of 0.01, so ties occur.
        "pass_at_1_10_seeds": np.round(gen.beta(4, 6, size=10), 2),
        # returns in the hundreds with one failed seed: the IQM ignores it, the mean does not.
        "returns_20_seeds": np.concatenate(
            [np.round(gen.normal(450.0, 40.0, size=19), 3), [12.5]]
        ),
        "small_5_seeds": np.array([0.31, 0.42, 0.42, 0.55, 0.9]),
        "odd_7_seeds": np.round(gen.uniform(0.0, 1.0, size=7), 6),
        "baseline_10_seeds": np.round(gen.beta(3.5, 6.5, size=10), 2),
        "baseline_8_seeds": np.round(gen.beta(3, 7, size=8), 2),
    }


def ci(matrix, func):
    np.random.seed(SEED)  # rliable's StratifiedBootstrap draws from numpy's global RNG
    point, interval = rly.get_interval_estimates(
        {"k": matrix}, func, reps=REPS, confidence_interval_size=CONFIDENCE
    )
    lo, hi = np.asarray(interval["k"]).reshape(-1)[:2]
    return {"estimate": float(np.asarray(point["k"]).reshape(-1)[0]), "lower": float(lo), "upper": float(hi)}


def pair_ci(x, y):
    np.random.seed(SEED)
    point, interval = rly.get_interval_estimates(
        {"k": [x, y]}, metrics.probability_of_improvement, reps=REPS,
        confidence_interval_size=CONFIDENCE,
    )
    lo, hi = np.asarray(interval["k"]).reshape(-1)[:2]
    return {"estimate": float(point["k"]), "lower": float(lo), "upper": float(hi)}


def column(x):
    return np.asarray(x, dtype=float).reshape(-1, 1)  # (num_runs, 1 task)


def percentile_interval(values):
    lo, hi = np.percentile(values, [100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2])
    return float(lo), float(hi)


def paired_case(name, method, baseline, gen, verdict):
    """method, baseline: {seed: value} with some seeds on one side only."""
    common = sorted(set(method) & set(baseline))
    d = np.array([method[k] - baseline[k] for k in common])
    m = np.array([method[k] for k in common])
    b = np.array([baseline[k] for k in common])
    n = len(common)
    idx = gen.integers(0, n, size=(PAIRED_REPS, n))
    lo, hi = percentile_interval(d[idx].mean(axis=1))
    other = gen.integers(0, n, size=(PAIRED_REPS, n))
    ulo, uhi = percentile_interval(m[idx].mean(axis=1) - b[other].mean(axis=1))
    got = "better" if lo > 0 else "worse" if hi < 0 else "inconclusive"
    assert got == verdict, (name, got, lo, hi)
    # Seeds listed out of order, so the Rust side must match by seed, not by position.
    mk, bk = list(method), list(baseline)
    gen.shuffle(mk)
    gen.shuffle(bk)
    return {
        "name": name,
        "method": [[int(k), float(method[k])] for k in mk],
        "baseline": [[int(k), float(baseline[k])] for k in bk],
        "seeds": [int(k) for k in common],
        "differences": [float(v) for v in d],
        "n_unmatched": len(set(method) ^ set(baseline)),
        "mean": float(np.mean(d)),
        "indices": idx.tolist(),
        "ci": {"lower": lo, "upper": hi},
        "verdict": verdict,
        "unpaired_ci": {"lower": ulo, "upper": uhi},
    }


def paired_fixture():
    gen = np.random.default_rng(20260611)
    # A warm start's seed moves both runs of a pair a lot (sd 0.1) and the method gains
    # 0.03 on each (sd 0.01): pairing sees the gain; an unpaired comparison cannot.
    warm = np.round(gen.normal(0.0, 0.1, size=12), 4)
    base = {s: round(0.4 + warm[s], 4) for s in range(10)}  # seeds 0..9
    meth = {s: round(0.43 + warm[s] + gen.normal(0.0, 0.01), 4) for s in [*range(1, 10), 11]}
    gain = paired_case("warm_start_gain", meth, base, gen, "better")
    assert gain["unpaired_ci"]["lower"] < 0 < gain["unpaired_ci"]["upper"], gain["unpaired_ci"]
    # Positive mean, mixed signs: the CI straddles 0.
    base2 = {s: round(float(v), 4) for s, v in enumerate(gen.uniform(0.3, 0.5, size=8))}
    delta = [0.09, -0.05, 0.12, -0.07, 0.03, -0.02, 0.08, -0.04]
    meth2 = {s: round(base2[s] + dv, 4) for s, dv in enumerate(delta)}
    mixed = paired_case("mixed_signs", meth2, base2, gen, "inconclusive")
    assert mixed["mean"] > 0
    # Returns in the hundreds where the method loses on every seed.
    base3 = {s: round(float(v), 3) for s, v in zip(range(3, 10), gen.normal(450.0, 30.0, size=7))}
    meth3 = {s: round(v - 20.0 + float(gen.normal(0.0, 5.0)), 3) for s, v in base3.items()}
    loss = paired_case("returns_loss", meth3, base3, gen, "worse")
    text = json.dumps({
        "generated_by": "bench/stats_fixtures/make_fixtures.py",
        "tools": {"python": platform.python_version(), "numpy": np.__version__},
        "bootstrap": {"method": "percentile", "confidence": CONFIDENCE,
                      "resamples": PAIRED_REPS, "indices": "numpy default_rng(20260611)"},
        "cases": [gain, mixed, loss],
    }, indent=1)
    # One line per list of numbers (index matrix rows, [seed, value] pairs), not one per number.
    num = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
    text = re.sub(rf"\[\n\s*({num}(?:,\n\s*{num})*)\n\s*\]",
                  lambda mt: "[" + re.sub(r",\n\s*", ", ", mt.group(1)) + "]", text)
    PAIRED_OUT.write_text(text + "\n")
    print(f"wrote {PAIRED_OUT}", file=sys.stderr)


def main():
    s = samples()
    single = []
    for name, x in s.items():
        m = column(x)
        single.append({
            "name": name,
            "values": [float(v) for v in x],
            "mean": float(np.mean(x)),
            "median": float(np.median(x)),
            "iqm": float(metrics.aggregate_iqm(m)),
            "iqm_scipy_trim_mean": float(scipy.stats.trim_mean(x, 0.25)),
            "mean_ci": ci(m, lambda a: np.array([metrics.aggregate_mean(a)])),
            "iqm_ci": ci(m, lambda a: np.array([metrics.aggregate_iqm(a)])),
        })

    pairs = []
    for xname, yname in [("pass_at_1_10_seeds", "baseline_10_seeds"),
                         ("small_5_seeds", "baseline_8_seeds"),
                         ("baseline_10_seeds", "baseline_10_seeds")]:
        x, y = column(s[xname]), column(s[yname])
        pairs.append({
            "x": xname, "y": yname,
            "x_values": [float(v) for v in s[xname]],
            "y_values": [float(v) for v in s[yname]],
            "probability_of_improvement": float(metrics.probability_of_improvement(x, y)),
            "probability_of_improvement_ci": pair_ci(x, y),
        })

    # Three tasks, five seeds each (rliable needs a full runs x tasks matrix).
    gen = np.random.default_rng(7)
    x3 = np.round(gen.beta([5, 3, 2], [5, 7, 8], size=(5, 3)), 2)
    y3 = np.round(gen.beta([4, 3, 2], [6, 7, 8], size=(6, 3)), 2)
    stratified = {
        "x_strata": [[float(v) for v in x3[:, t]] for t in range(3)],
        "y_strata": [[float(v) for v in y3[:, t]] for t in range(3)],
        "mean": float(metrics.aggregate_mean(x3)),
        "iqm": float(metrics.aggregate_iqm(x3)),
        "probability_of_improvement": float(metrics.probability_of_improvement(x3, y3)),
        "mean_ci": ci(x3, lambda a: np.array([metrics.aggregate_mean(a)])),
        "iqm_ci": ci(x3, lambda a: np.array([metrics.aggregate_iqm(a)])),
        "probability_of_improvement_ci": pair_ci(x3, y3),
    }

    fixture = {
        "generated_by": "bench/stats_fixtures/make_fixtures.py",
        "tools": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "rliable": version("rliable"),
            "arch": version("arch"),
            "pandas": version("pandas"),
        },
        "bootstrap": {"method": "percentile", "resamples": REPS, "confidence": CONFIDENCE,
                      "numpy_global_seed": SEED},
        "single": single,
        "pairs": pairs,
        "stratified": stratified,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)
    paired_fixture()


if __name__ == "__main__":
    main()
