"""Env-steps/s from Python (`cargo xtask python --bench`): magail_rs's PettingZoo env and its
batched env beside mpe2 and VMAS, in one process, same scenarios, random discrete actions drawn
before timing, 25-step episodes reset as they end.

Prints one line per measurement, `<tool> <scenario>/<setting> <env-steps/s>` (median of 5), and a
summary of the batched env's ratio to mpe2 per scenario.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import numpy as np

# mpe2's and VMAS's rates are measured exactly as `cargo xtask bench envs --peers` measures them
# (this folder is on the path when the script runs).
from envs_peer import rate as parallel_rate_n
from envs_peer import vmas_rate as vmas_rate_n

SCENARIOS = {
    "simple_spread": "simple_spread_v3",
    "simple_speaker_listener": "simple_speaker_listener_v4",
    "simple_push": "simple_push_v3",
    "simple_tag": "simple_tag_v3",
    "simple_reference": "simple_reference_v3",
    "simple_adversary": "simple_adversary_v3",
}


def batched_rate(name, batch, threads, steps, seed):
    from magail_rs import VecEnv

    env = VecEnv(name, batch, seed=seed, threads=threads)
    rng = np.random.default_rng(seed)
    acts = [env.sample_actions(rng) for _ in range(16)]
    env.reset()
    for k in range(5):
        env.step(acts[k % 16])
    t0 = time.perf_counter()
    for k in range(steps):
        env.step(acts[k % 16])
    return steps * batch / (time.perf_counter() - t0)


def parallel_rate(module, steps, seed):
    """A PettingZoo ParallelEnv (mpe2's or ours), dicts in and out."""
    return parallel_rate_n(module, steps=steps, seed=seed)[0]


def vmas_rate(name, batch, threads, steps, seed):
    return vmas_rate_n(name, threads, batch=batch, steps=steps, seed=seed)[0]


def median_of(fn, reps=5):
    return statistics.median(fn(rep) for rep in range(reps))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    p.add_argument("--no-vmas", action="store_true")
    a = p.parse_args()
    import mpe2
    from magail_rs import mpe2 as ours

    ratios = []
    for name in a.scenarios:
        module = SCENARIOS[name]
        ref = median_of(lambda r: parallel_rate(importlib.import_module(f"mpe2.{module}"),
                                                2000, r))
        print(f"mpe2 {name}/single {ref:.0f} env-steps/s", flush=True)
        single = median_of(lambda r: parallel_rate(getattr(ours, module), 20000, r))
        print(f"magail_rs {name}/single {single:.0f} env-steps/s", flush=True)
        rates = {}
        for threads in (1, 2):
            rates[threads] = median_of(
                lambda r: batched_rate(name, a.batch, threads, 200, r))
            print(f"magail_rs {name}/b{a.batch}/t{threads} {rates[threads]:.0f} env-steps/s",
                  flush=True)
        if not a.no_vmas:
            try:
                for threads in (1, 2):
                    v = median_of(lambda r: vmas_rate(name, a.batch, threads, 50, r))
                    print(f"vmas {name}/b{a.batch}/t{threads} {v:.0f} env-steps/s", flush=True)
            except ImportError:
                print("vmas not installed: skipped", flush=True)
                a.no_vmas = True
        ratios.append((name, single / ref, rates[1] / ref, rates[2] / ref))
    del mpe2
    print("ratios to mpe2 (same run): scenario, single env, batched 1 thread, batched 2 threads")
    for name, s, b1, b2 in ratios:
        print(f"ratio {name} single {s:.1f}x batched-t1 {b1:.0f}x batched-t2 {b2:.0f}x")


if __name__ == "__main__":
    main()
