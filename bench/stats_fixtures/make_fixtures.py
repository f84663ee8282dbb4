#!/usr/bin/env python3
"""Reference values for polopt-report's statistics, computed independently of the Rust code.

Writes crates/report/tests/fixtures/stats_fixtures.json, read by crates/report/tests/stats_fixtures.rs.

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

Re-running the script with the same versions reproduces the file byte for byte.
"""

import json
import platform
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


if __name__ == "__main__":
    main()
