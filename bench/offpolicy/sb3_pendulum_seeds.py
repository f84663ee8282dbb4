"""The reference distribution for issue 16's TD3/SAC check: Stable-Baselines3 itself, with
rl-baselines3-zoo's Pendulum-v1 hyperparameters (the same ones polopt's `td3-pendulum` and
`sac-pendulum` presets copy), trained for the zoo's 20k env steps on several seeds and evaluated
like polopt's final evaluation: 100 deterministic episodes.

The zoo's benchmark table gives one trained agent per algorithm (and for Pendulum-v0); this
script shows how far SB3's own seeds spread around that number on this machine, so that a
per-seed criterion can be read against the reference implementation's spread, not one draw.

Resumable: every finished (algo, seed) is one JSON line in --out; rerunning skips those.

    python bench/offpolicy/sb3_pendulum_seeds.py --seeds 5 --out runs/sb3_pendulum.jsonl
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.noise import NormalActionNoise
import gymnasium as gym

ENV = "Pendulum-v1"
STEPS = 20_000
EVAL_EPISODES = 100


def zoo_model(algo, seed):
    """rl-baselines3-zoo hyperparams/{td3,sac}.yml, Pendulum-v1 entries."""
    if algo == "td3":
        return TD3(
            "MlpPolicy",
            ENV,
            gamma=0.98,
            buffer_size=200_000,
            learning_starts=10_000,
            action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)),
            gradient_steps=-1,
            train_freq=(1, "episode"),
            learning_rate=1e-3,
            policy_kwargs=dict(net_arch=[400, 300]),
            device="cpu",
            seed=seed,
            verbose=0,
        )
    if algo == "sac":
        return SAC("MlpPolicy", ENV, learning_rate=1e-3, device="cpu", seed=seed, verbose=0)
    raise SystemExit(f"unknown algo {algo!r}: expected td3 or sac")


def done_cells(path):
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {(r["algo"], r["seed"]) for r in map(json.loads, filter(str.strip, f))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--algos", default="td3,sac")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    done = done_cells(args.out)
    for algo in args.algos.split(","):
        for seed in range(args.seeds):
            if (algo, seed) in done:
                continue
            start, cpu = time.perf_counter(), time.process_time()
            model = zoo_model(algo, seed)
            model.learn(total_timesteps=STEPS)
            # Evaluation episodes draw their start states from a seed of their own, disjoint
            # from training's, fixed per training seed.
            eval_env = gym.make(ENV)
            eval_env.reset(seed=1_000_000 + seed)
            returns, _ = evaluate_policy(
                model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True,
                return_episode_rewards=True,
            )
            row = {
                "algo": algo,
                "seed": seed,
                "steps": STEPS,
                "eval_episodes": EVAL_EPISODES,
                "return_mean": float(np.mean(returns)),
                "return_std": float(np.std(returns)),
                "wall_s": time.perf_counter() - start,
                "cpu_s": time.process_time() - cpu,
            }
            print(json.dumps(row), flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
