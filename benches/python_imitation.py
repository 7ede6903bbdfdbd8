"""One MAGAIL iteration on simple_spread three ways, side by side in one process
(`cargo xtask python --bench`): through the user's-game path (`magail_rs.train_game`) with the
real mpe2 environment, through it with `magail_rs.mpe2`, and natively (`magail_rs.train` on our
game by name, the environments stepped in Rust); beside them, the time mpe2 itself takes to step
the iteration's environment steps from Python.

An iteration's cost is the difference of two fresh runs, `LONG` and `SHORT` iterations after the
same short behaviour cloning, divided by `LONG - SHORT` (so setup and cloning cancel); median of 3.
The generator is the quick preset's (41 copies x 50 steps, max KL 0.002, Fisher on every 4th
sample, 10 discriminator steps, critic 3 x 4), centralized MAGAIL, one core for the learners.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

SETTINGS = dict(bc_epochs=1, envs=41, steps_per_iter=50, max_kl=0.002, fisher_subsample=4,
                disc_steps=10, vf_epochs=3, vf_minibatches=4)
SHORT, LONG, REPEATS = 2, 8, 3


def heading_policy(obs):
    out = {}
    for i, (agent, o) in enumerate(sorted(obs.items())):
        dx, dy = o[4 + 2 * i], o[5 + 2 * i]
        out[agent] = (2 if dx > 0 else 1) if abs(dx) > abs(dy) else (4 if dy > 0 else 3)
    return out


def per_iteration(run) -> float:
    """Seconds per iteration: the median over REPEATS of (time(LONG) - time(SHORT)) / (LONG - SHORT)."""
    out = []
    for _ in range(REPEATS):
        t = {}
        for n in (SHORT, LONG):
            d = Path(tempfile.mkdtemp())
            start = time.perf_counter()
            run(d / "run", n)
            t[n] = time.perf_counter() - start
            shutil.rmtree(d)
        out.append((t[LONG] - t[SHORT]) / (LONG - SHORT))
    return statistics.median(out)


def env_stepping(factory, steps: int) -> float:
    """Seconds mpe2's ParallelEnv takes for `steps` steps with random actions from Python
    (episodes reset as they end), median of 3."""
    rng = np.random.default_rng(0)
    times = []
    for _ in range(REPEATS):
        env = factory()
        obs, _ = env.reset(seed=0)
        acts = [{a: int(rng.integers(5)) for a in env.possible_agents} for _ in range(64)]
        start = time.perf_counter()
        for k in range(steps):
            obs, _, terms, truncs, _ = env.step(acts[k % 64])
            if any(terms.values()) or any(truncs.values()):
                obs, _ = env.reset()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import mpe2.simple_spread_v3 as real

    import magail_rs
    import magail_rs.mpe2.simple_spread_v3 as ours
    from magail_rs import record_game_demos, save_demos, train, train_game

    work = Path(tempfile.mkdtemp())
    demos = record_game_demos(real.parallel_env, heading_policy, episodes=100, seed=0)
    native_demos = work / "native.bin"
    # The same episodes under our game's name, for the native run.
    native = dict(demos, game=None)
    save_demos(native_demos, native, magail_rs.parallel_env("simple_spread", "mpe2"))

    def user(factory):
        return lambda out, n: train_game(factory, demos, out, method="magail-c", iterations=n,
                                         progress=False, **SETTINGS)

    def by_name(out, n):
        train("simple_spread", native_demos, out, method="magail-c", iterations=n,
              variant="mpe2", progress=False, **SETTINGS)

    steps = SETTINGS["envs"] * SETTINGS["steps_per_iter"]
    rows = {
        "user's-game path, mpe2": per_iteration(user(real.parallel_env)),
        "user's-game path, magail_rs.mpe2": per_iteration(user(ours.parallel_env)),
        "native (train, our game by name)": per_iteration(by_name),
        f"mpe2 stepping alone ({steps} steps)": env_stepping(real.parallel_env, steps),
    }
    for name, s in rows.items():
        print(f"imitation simple_spread/{name} {s * 1000:.0f} ms")
    over = rows["user's-game path, mpe2"] - (rows["native (train, our game by name)"]
                                            + rows[f"mpe2 stepping alone ({steps} steps)"])
    print(f"imitation simple_spread/user's-game path with mpe2 minus (native + mpe2 stepping) "
          f"{over * 1000:+.0f} ms")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
