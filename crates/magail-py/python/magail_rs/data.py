"""Demonstrations as numpy arrays, and the shipped experts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import _native
from .env import MagailParallelEnv
from .user_game import flat_observation

_PER_AGENT = ("obs", "final_obs", "actions", "rewards", "acted")


def load_demos(path: str | os.PathLike) -> dict:
    """Reads demonstrations into a dict of numpy arrays.

    Our binary files (``cargo xtask demos``, ``save_demos``) and ``.npz`` exports give the same
    keys: ``episode_len``, ``terminated``, ``truncated`` and per agent ``obs_<i>`` ``[steps,
    obs_dim]``, ``final_obs_<i>``, ``actions_<i>`` ``[steps, width]``, ``rewards_<i>``,
    ``acted_<i>``. Binary files add their header (``game``, ``agents``, ``obs_dims``,
    ``action_spaces``, ``source``).
    """
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    return _native.read_demos(str(path))


def save_demos(path: str | os.PathLike, data: dict, env: MagailParallelEnv,
               source: str = "") -> None:
    """Writes demonstrations of ``env``'s game (arrays laid out as ``load_demos`` gives them):
    our binary format, or ``.npz`` when the path ends so. The file appears whole or not at all.
    A recording's full name (``data["game"]``, which names the player function of an AMAGAIL
    game) is kept when it is ``env``'s game.
    """
    path = Path(path)
    # One of our games, or a user's game adapter (``user_game.ParallelGame``).
    core = getattr(env, "_core", env)
    n = len(getattr(env, "possible_agents", None) or env.agents)
    missing = [f"{k}_{i}" for k in _PER_AGENT for i in range(n) if f"{k}_{i}" not in data]
    if missing:
        raise ValueError(f"the demonstrations have no {missing[0]!r}: the game has {n} agents, "
                         f"so they need {', '.join(f'{k}_0..{n - 1}' for k in _PER_AGENT)}")
    cols = {k: [data[f"{k}_{i}"] for i in range(n)] for k in _PER_AGENT}
    if path.suffix == ".npz":
        tmp = path.with_name(f".{path.name}.tmp.npz")
        arrays = {k: np.asarray(data[k]) for k in ("episode_len", "terminated", "truncated")}
        for k, per in cols.items():
            arrays.update({f"{k}_{i}": np.asarray(a) for i, a in enumerate(per)})
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        return
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)
    _native.write_demos(
        str(path), core,
        [int(x) for x in data["episode_len"]],
        [bool(x) for x in data["terminated"]],
        [bool(x) for x in data["truncated"]],
        [f32(a) for a in cols["obs"]],
        [f32(a) for a in cols["final_obs"]],
        [f32(a).reshape(len(a), -1) for a in cols["actions"]],
        [np.ascontiguousarray(a, dtype=np.float64) for a in cols["rewards"]],
        [np.ascontiguousarray(a, dtype=bool) for a in cols["acted"]],
        source,
        data.get("game"),
    )


class Expert:
    """A shipped expert checkpoint (``assets/experts/<name>`` or a ``cargo xtask expert``
    folder). ``act(agent, obs_rows)`` gives ``[rows, width]`` actions; ``actions(obs)`` acts
    for a PettingZoo observation dict. Sampled actions come from row streams of ``seed``;
    ``greedy`` takes the most likely action."""

    def __init__(self, path: str | os.PathLike, greedy: bool = False, seed: int = 0,
                 game=None) -> None:
        self._core = _native.Expert(str(path), greedy, seed, game)
        self.game = self._core.game
        self.agents = list(self._core.agents)

    def make_env(self, **kwargs) -> MagailParallelEnv:
        """The game the expert was trained in, as a ``ParallelEnv``."""
        env_name, variant = self.game
        return MagailParallelEnv(env_name, variant, **kwargs)

    def act(self, agent: int, obs: np.ndarray) -> np.ndarray:
        return self._core.act(agent, np.ascontiguousarray(obs, dtype=np.float32))

    def actions(self, obs: dict, env: MagailParallelEnv) -> dict:
        out = {}
        for i, a in enumerate(self.agents):
            if a not in obs:
                continue
            row = self.act(i, flat_observation(obs[a])[None, :])[0]
            discrete = env.action_space(a).shape == ()
            out[a] = int(row[0]) if discrete else row
        return out


def record_demos(expert: str | os.PathLike, episodes: int, seed: int = 7,
                 env: str | None = None, variant: str | None = None,
                 greedy: bool = False) -> dict:
    """Records ``episodes`` episodes of an expert checkpoint (or ``"scripted"``, the scripted
    reference, which needs ``env``) exactly as ``cargo xtask demos`` does with the same
    arguments, and returns them as ``load_demos`` does. With a checkpoint, ``env`` plays its
    policies in another game with the same agents (the navigation expert in
    ``stoch_navigation``)."""
    return _native.record_demos(str(expert), episodes, seed, env, variant, greedy)
