"""Stable-Baselines3 SAC on Pendulum-v1 with polopt's `sac-pendulum` settings (rl-zoo sac.yml
Pendulum-v1: lr 1e-3, everything else SB3's defaults: 256-256 ReLU, batch 256, buffer 1e6,
learning_starts 100, tau 0.005, gamma 0.99, auto entropy, one update per env step), CPU, one
torch thread, no evaluation. Prints the wall and CPU seconds of `learn()`."""
import sys
import time

import torch
from stable_baselines3 import SAC

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 3000

if __name__ == "__main__":
    torch.set_num_threads(1)
    model = SAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, device="cpu", seed=0, verbose=0)
    start, cpu = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=STEPS)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"sb3_sac_pendulum_steps {model.num_timesteps}")
    print(f"sb3_sac_pendulum_seconds {elapsed:.3f}")
    print(f"sb3_sac_pendulum_cpu_seconds {cpu:.3f}")
