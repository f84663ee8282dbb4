"""Stable-Baselines3 PPO on CartPole-v1 with the hyperparameters of polopt's `ppo-cartpole`
preset (ppo-baseline.md classic-control defaults): 4 envs x 128 steps, 4 epochs x 4
minibatches of 128, lr 2.5e-4 linearly annealed, gamma 0.99, lambda 0.95, clip 0.2, value clip
0.2, c_v 0.5, c_e 0.01, grad-norm 0.5, Adam eps 1e-5, separate 64-64 tanh actor and critic
with orthogonal init, CPU, one torch thread. Prints training env steps/s of `learn()`."""
import sys
import time

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000

if __name__ == "__main__":
    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    model = PPO(
        "MlpPolicy",
        env,
        learning_rate=lambda progress: 2.5e-4 * progress,
        n_steps=128,
        batch_size=128,
        n_epochs=4,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        clip_range_vf=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
        normalize_advantage=True,
        policy_kwargs=dict(
            net_arch=dict(pi=[64, 64], vf=[64, 64]),
            activation_fn=torch.nn.Tanh,
            ortho_init=True,
            optimizer_kwargs=dict(eps=1e-5),
        ),
        device="cpu",
        seed=0,
        verbose=0,
    )
    start = time.perf_counter()
    model.learn(total_timesteps=STEPS)
    elapsed = time.perf_counter() - start
    print(f"sb3_ppo_cartpole_steps {model.num_timesteps}")
    print(f"sb3_ppo_cartpole_seconds {elapsed:.3f}")
    print(f"sb3_ppo_cartpole_sps {model.num_timesteps / elapsed:.0f}")
