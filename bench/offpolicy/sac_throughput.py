"""SAC training throughput on Pendulum-v1, polopt vs Stable-Baselines3, on this machine, one
thread each, the same hyperparameters (polopt's `sac-pendulum` = rl-zoo's Pendulum-v1 SAC),
the same number of env steps (docs/methods/td3_sac.md, "Throughput").

Reports env steps per wall second and per CPU second of each: on a shared machine the wall
clock depends on the other load, the CPU time much less, so the CPU ratio is the comparison.
polopt's CPU time is the whole `polopt train` process (start-up and one evaluation episode
included); SB3's is `SAC.learn()` alone (torch import and model construction excluded).

    python bench/offpolicy/sac_throughput.py [--steps 3000] [--polopt target/release/polopt]
        [--python .venv/bin/python]   # a Python with torch, gymnasium, stable-baselines3
"""
import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--polopt", default="target/release/polopt")
    ap.add_argument("--python", default=".venv/bin/python")
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, t0 = child_cpu(), time.perf_counter()
        subprocess.run(
            [args.polopt, "train", "--quiet",
             "--set", "method.preset=sac-pendulum",
             "--set", f"algo.total_steps={args.steps}",
             "--set", "eval.every=0", "--set", "eval.episodes=1",
             "--set", "run.threads=1", "--set", f"run.out_dir={tmp}"],
            check=True, env=env, stdout=subprocess.DEVNULL)
        ours_wall, ours_cpu = time.perf_counter() - t0, child_cpu() - cpu0
    out = subprocess.run([args.python, str(HERE / "sac_sb3.py"), str(args.steps)],
                         check=True, env=env, capture_output=True, text=True).stdout
    vals = dict(line.split() for line in out.splitlines() if line.startswith("sb3_"))
    sb3_wall = float(vals["sb3_sac_pendulum_seconds"])
    sb3_cpu = float(vals["sb3_sac_pendulum_cpu_seconds"])
    n = args.steps
    print(f"SAC Pendulum-v1, {n} env steps ({n - 100} updates), one thread each")
    print(f"{'':<26} {'wall s':>8} {'CPU s':>8} {'steps/wall s':>13} {'steps/CPU s':>12}")
    for name, wall, cpu in [("polopt (tch)", ours_wall, ours_cpu), ("SB3 (PyTorch)", sb3_wall, sb3_cpu)]:
        print(f"{name:<26} {wall:>8.1f} {cpu:>8.1f} {n / wall:>13.1f} {n / cpu:>12.1f}")
    print(f"polopt / SB3 steps per CPU second: {sb3_cpu / ours_cpu:.2f}x "
          f"(wall: {sb3_wall / ours_wall:.2f}x)")


if __name__ == "__main__":
    main()
