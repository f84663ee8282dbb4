"""Keeps a grid's finished runs in the repository: `run.json`, `config.toml`, gzipped `metrics.jsonl`.

    python bench/run_archive.py save    runs/compare/countdown_grid  bench/results/countdown_grid
    python bench/run_archive.py restore bench/results/countdown_grid runs/compare/countdown_grid

Run directories (`runs/`) are not committed (checkpoints are tens of MB each), and a machine's
`runs/` may not outlive the session that filled it: the countdown grid's first 80 runs were
lost that way, leaving only the pages written from them. What `polopt report` and the pages
scripts read of a run is its `run.json` and `metrics.jsonl` (about 65 kB gzipped for 500
steps), so `save` keeps those of every finished run, and `restore` writes them back as run
directories that `polopt compare` skips as finished and `polopt report` reads like any other.
Neither overwrites: a run already saved (or already present on restore) is left as it is.
"""
import gzip
import json
import os
import shutil
import sys


def finished(run_dir):
    info = os.path.join(run_dir, "run.json")
    return os.path.exists(info) and json.load(open(info)).get("status") == "finished"


def save(grid, archive):
    saved = 0
    for name in sorted(os.listdir(os.path.join(grid, "runs"))):
        src, dst = os.path.join(grid, "runs", name), os.path.join(archive, name)
        if name.startswith(".") or not finished(src) or os.path.exists(os.path.join(dst, "run.json")):
            continue
        os.makedirs(dst, exist_ok=True)
        with open(os.path.join(src, "metrics.jsonl"), "rb") as f, \
                gzip.GzipFile(os.path.join(dst, "metrics.jsonl.gz"), "wb", 9, mtime=0) as g:
            shutil.copyfileobj(f, g)
        shutil.copy(os.path.join(src, "config.toml"), os.path.join(dst, "config.toml"))
        # run.json last: its presence marks a complete entry.
        shutil.copy(os.path.join(src, "run.json"), os.path.join(dst, "run.json"))
        saved += 1
    print(f"saved {saved} finished runs to {archive}")


def restore(archive, grid):
    restored = 0
    for name in sorted(os.listdir(archive)):
        src, dst = os.path.join(archive, name), os.path.join(grid, "runs", name)
        if not os.path.exists(os.path.join(src, "run.json")) or os.path.exists(dst):
            continue
        os.makedirs(dst)
        with gzip.open(os.path.join(src, "metrics.jsonl.gz"), "rb") as g, \
                open(os.path.join(dst, "metrics.jsonl"), "wb") as f:
            shutil.copyfileobj(g, f)
        shutil.copy(os.path.join(src, "config.toml"), os.path.join(dst, "config.toml"))
        shutil.copy(os.path.join(src, "run.json"), os.path.join(dst, "run.json"))
        restored += 1
    print(f"restored {restored} runs into {grid}/runs")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("save", "restore"):
        sys.exit(__doc__)
    (save if sys.argv[1] == "save" else restore)(sys.argv[2], sys.argv[3])
