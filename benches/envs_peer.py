"""Peer for `cargo xtask bench envs --peers`: env-steps/s of mpe2 (the maintained Python MPE) with
random discrete actions, one process, same scenarios and defaults as the Rust bench.

Prints one line per scenario: `peer mpe2 <scenario> <env-steps/s> <agent-steps/s>` (median of 5).
Where VMAS is installed (PyTorch, CPU), it also measures VMAS's port of each scenario at batch 1024
with 1 and 2 PyTorch threads: `peer vmas <scenario>/b1024/t<threads> <env-steps/s> ...`, random
discrete actions drawn before timing, 25-step episodes reset as they end (as the Rust bench)."""

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


def vmas_rate(name, threads, batch=1024, steps=100, seed=0):
    import torch
    import vmas

    torch.set_num_threads(threads)
    env = vmas.make_env(scenario=name, num_envs=batch, device="cpu",
                        continuous_actions=False, max_steps=25, seed=seed)
    env.reset()
    acts = [env.get_random_actions() for _ in range(16)]
    n = len(env.agents)
    # Warm-up (PyTorch's first calls allocate and pick kernels).
    for k in range(10):
        env.step(acts[k % 16])
    env.reset()
    t0 = time.perf_counter()
    for k in range(steps):
        _, _, dones, _ = env.step(acts[k % 16])
        if bool(dones.all()):
            env.reset()
        elif bool(dones.any()):
            for i in dones.nonzero().flatten().tolist():
                env.reset_at(i)
    dt = time.perf_counter() - t0
    return steps * batch / dt, n


def main():
    for name, module in SCENARIOS.items():
        rates = []
        for rep in range(5):
            r, n = rate(module, seed=rep)
            rates.append(r)
        med = statistics.median(rates)
        print(f"peer mpe2 {name} {med:.0f} env-steps/s {med * n:.0f} agent-steps/s", flush=True)
    try:
        import vmas  # noqa: F401
    except ImportError:
        return
    for name in SCENARIOS:
        for threads in (1, 2):
            rates = []
            for rep in range(5):
                r, n = vmas_rate(name, threads, seed=rep)
                rates.append(r)
            med = statistics.median(rates)
            print(f"peer vmas {name}/b1024/t{threads} {med:.0f} env-steps/s "
                  f"{med * n:.0f} agent-steps/s", flush=True)


if __name__ == "__main__":
    main()
