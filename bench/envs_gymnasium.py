"""Raw environment steps/s of Gymnasium's own implementations on one core, random actions,
autoreset on episode end: the Python side of bench/control.sh. Prints one line per env:
`<env id> <steps/s>`, to compare with `cargo run --release -p polopt-envs --example
env_throughput` (single env, step_into, same protocol)."""
import sys
import time

import gymnasium as gym
import numpy as np

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
IDS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]


def bench(env_id: str) -> float:
    env = gym.make(env_id)  # with TimeLimit, as the Rust env has it built in
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(1024)]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        steps += len(actions)
    return steps / (time.perf_counter() - start)


if __name__ == "__main__":
    print(f"gymnasium {gym.__version__}, numpy {np.__version__}")
    for env_id in IDS:
        print(f"{env_id} {bench(env_id):.0f}")
