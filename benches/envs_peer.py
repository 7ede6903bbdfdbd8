"""Peer for `cargo xtask bench envs --peers`: env-steps/s of mpe2 (the maintained Python MPE) with
random discrete actions, one process, same scenarios and defaults as the Rust bench.

Prints one line per scenario: `peer mpe2 <scenario> <env-steps/s> <agent-steps/s>` (median of 5)."""

import statistics
import time

import numpy as np
from mpe2 import (simple_adversary_v3, simple_push_v3, simple_reference_v3,
                  simple_speaker_listener_v4, simple_spread_v3, simple_tag_v3)

SCENARIOS = {
    "simple_spread": simple_spread_v3,
    "simple_speaker_listener": simple_speaker_listener_v4,
    "simple_push": simple_push_v3,
    "simple_tag": simple_tag_v3,
    "simple_reference": simple_reference_v3,
    "simple_adversary": simple_adversary_v3,
}


def rate(module, steps=2000, seed=0):
    env = module.parallel_env(continuous_actions=False)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    agents = list(env.possible_agents)
    sizes = {a: env.action_space(a).n for a in agents}
    acts = [{a: int(rng.integers(sizes[a])) for a in agents} for _ in range(64)]
    t0 = time.perf_counter()
    for k in range(steps):
        _, _, term, trunc, _ = env.step(acts[k % 64])
        if any(term.values()) or any(trunc.values()):
            env.reset()
    dt = time.perf_counter() - t0
    return steps / dt, len(agents)


def main():
    for name, module in SCENARIOS.items():
        rates = []
        for rep in range(5):
            r, n = rate(module, seed=rep)
            rates.append(r)
        med = statistics.median(rates)
        print(f"peer mpe2 {name} {med:.0f} env-steps/s {med * n:.0f} agent-steps/s", flush=True)


if __name__ == "__main__":
    main()
