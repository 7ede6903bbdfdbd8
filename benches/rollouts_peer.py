"""Peer for `cargo xtask bench rollouts --peers`: the Python stack a user runs today, mpe2's
simple_spread (N=3) with one PyTorch MLP policy per agent (2x64 ReLU, sampling actions and
log-probabilities), stepping one environment.

Prints `peer mpe2+torch simple_spread <agent-steps/s> agent-steps/s` (median of 5 runs)."""

import statistics
import time

import numpy as np
import torch
from mpe2 import simple_spread_v3

torch.set_num_threads(2)


def make_policy(obs_dim, n_actions):
    return torch.nn.Sequential(
        torch.nn.Linear(obs_dim, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, n_actions))


def run(steps=1500, seed=0):
    env = simple_spread_v3.parallel_env(continuous_actions=False)
    obs, _ = env.reset(seed=seed)
    agents = list(env.possible_agents)
    torch.manual_seed(seed)
    pols = {a: make_policy(18, 5) for a in agents}
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(steps):
            actions = {}
            for a in agents:
                logits = pols[a](torch.as_tensor(obs[a]).unsqueeze(0))
                dist = torch.distributions.Categorical(logits=logits)
                act = dist.sample()
                dist.log_prob(act)
                actions[a] = int(act.item())
            obs, _, term, trunc, _ = env.step(actions)
            if any(term.values()) or any(trunc.values()):
                obs, _ = env.reset()
    return steps * len(agents) / (time.perf_counter() - t0)


def main():
    rates = [run(seed=s) for s in range(5)]
    print(f"peer mpe2+torch simple_spread {statistics.median(rates):.0f} agent-steps/s", flush=True)


if __name__ == "__main__":
    main()
