"""Peer for `cargo xtask bench trpo --peers`: one sb3-contrib TRPO update with the settings of
the Rust bench: 2x64 ReLU policy and value nets, 2048 samples of an 18-dim observation with 5
actions, 10 CG iterations, up to 10 line-search steps, 10 critic epochs of 16 minibatches (128).

Prints `peer sb3-contrib update/2048 <ms> ms` (median of 7 updates)."""

import statistics
import time

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import TRPO

torch.set_num_threads(2)


class Noise(gym.Env):
    """An environment whose only job is to fill the rollout buffer quickly."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (18,), np.float32)
    action_space = gym.spaces.Discrete(5)

    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.t = 0

    def reset(self, seed=None, options=None):
        self.t = 0
        return self.rng.uniform(-1, 1, 18).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        obs = self.rng.uniform(-1, 1, 18).astype(np.float32)
        return obs, float(self.rng.uniform(-1, 1)), False, self.t >= 50, {}


def main():
    model = TRPO("MlpPolicy", Noise(), n_steps=2048, batch_size=128, n_critic_updates=10,
                 cg_max_steps=10, line_search_max_iter=10, target_kl=0.01, verbose=0, seed=0,
                 policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]),
                                    activation_fn=torch.nn.ReLU))
    model.learn(total_timesteps=2048)  # fills the buffer and warms up
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        model.train()
        times.append((time.perf_counter() - t0) * 1000)
    print(f"peer sb3-contrib update/2048 {statistics.median(times):.1f} ms", flush=True)


if __name__ == "__main__":
    main()
