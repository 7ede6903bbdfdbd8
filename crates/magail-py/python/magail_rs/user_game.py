"""A user's PettingZoo ``ParallelEnv`` as a game the Rust learners can step: flat float32 arrays
in and out, one call per step, and every space checked once with a clear error."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def _space_of(agent: str, space: Any) -> tuple:
    """An action space as the native side takes it: ``("discrete", n)`` or
    ``("box", dim, low, high)``; anything else is refused naming the agent."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        if int(space.start) != 0:
            raise ValueError(f"agent {agent}: Discrete action space starting at {space.start}; "
                             "expected one starting at 0")
        return ("discrete", int(space.n))
    if isinstance(space, spaces.Box):
        low, high = np.asarray(space.low, dtype=np.float64), np.asarray(space.high,
                                                                         dtype=np.float64)
        if low.size == 0 or not (np.all(low == low.flat[0]) and np.all(high == high.flat[0])):
            raise ValueError(f"agent {agent}: Box action space with per-entry bounds "
                             f"{space}; expected one bound for every entry")
        return ("box", int(np.prod(space.shape)), float(low.flat[0]), float(high.flat[0]))
    raise TypeError(f"agent {agent}: action space {space!r}; expected Discrete or Box")


def _obs_dim(agent: str, space: Any) -> int:
    from gymnasium import spaces

    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape))
    raise TypeError(f"agent {agent}: observation space {space!r}; expected a Box")


class ParallelGame:
    """One copy of a user's ``ParallelEnv`` made by ``factory()``: its agents, spaces and episode
    limit read once, then ``reset(seed)`` and ``step(actions)`` on flat arrays (the agents in
    ``possible_agents`` order, each observation flattened to float32)."""

    def __init__(self, factory: Callable[[], Any], max_steps: int | None = None) -> None:
        self.factory = factory
        self.env = factory()
        self.agents = list(self.env.possible_agents)
        if not self.agents:
            raise ValueError("the environment has no possible_agents")
        self.obs_dims = [_obs_dim(a, self.env.observation_space(a)) for a in self.agents]
        self.action_spaces = [_space_of(a, self.env.action_space(a)) for a in self.agents]
        limit = max_steps if max_steps is not None else getattr(
            getattr(self.env, "unwrapped", self.env), "max_cycles", None)
        self.max_steps = None if limit is None else int(limit)
        meta = getattr(self.env, "metadata", {}) or {}
        self.name = str(meta.get("name", type(getattr(self.env, "unwrapped", self.env)).__name__))
        self._offsets = np.cumsum([0] + self.obs_dims)
        self._widths = [1 if s[0] == "discrete" else s[1] for s in self.action_spaces]
        self._a_offsets = np.cumsum([0] + self._widths)

    def copy(self) -> "ParallelGame":
        """Another copy of the same game, from the factory."""
        other = ParallelGame(self.factory, self.max_steps)
        if (other.agents, other.obs_dims, other.action_spaces) != (
                self.agents, self.obs_dims, self.action_spaces):
            raise ValueError(
                f"the factory made a different game: agents {other.agents} with observation "
                f"sizes {other.obs_dims} and actions {other.action_spaces}, expected "
                f"{self.agents}, {self.obs_dims}, {self.action_spaces}")
        return other

    def _flat_obs(self, obs: dict) -> np.ndarray:
        out = np.zeros(int(self._offsets[-1]), dtype=np.float32)
        for i, a in enumerate(self.agents):
            if a not in obs:
                raise ValueError(f"agent {a} has no observation; agents that leave mid-episode "
                                 "are not supported yet")
            o = np.asarray(obs[a], dtype=np.float32).reshape(-1)
            if o.size != self.obs_dims[i]:
                raise ValueError(f"agent {a}: an observation of {o.size} values, its space "
                                 f"holds {self.obs_dims[i]}")
            out[self._offsets[i]:self._offsets[i + 1]] = o
        return out

    def reset(self, seed: int) -> np.ndarray:
        obs, _ = self.env.reset(seed=int(seed))
        return self._flat_obs(obs)

    def step(self, actions: np.ndarray) -> tuple:
        joint = {}
        for i, a in enumerate(self.agents):
            row = actions[self._a_offsets[i]:self._a_offsets[i + 1]]
            joint[a] = int(row[0]) if self.action_spaces[i][0] == "discrete" else np.asarray(
                row, dtype=self.env.action_space(a).dtype)
        obs, rewards, terms, truncs, _ = self.env.step(joint)
        ended = [bool(terms.get(a, False)) or bool(truncs.get(a, False)) for a in self.agents]
        if any(ended) and not all(ended):
            raise ValueError("some agents ended the episode and others did not; agents that "
                             "leave mid-episode are not supported yet")
        terminated = any(bool(terms.get(a, False)) for a in self.agents)
        truncated = all(ended) and not terminated
        r = np.array([float(rewards.get(a, 0.0)) for a in self.agents], dtype=np.float64)
        if terminated or truncated:
            # The episode's last observation; a finished ParallelEnv may return none.
            flat = self._flat_obs(obs) if all(a in obs for a in self.agents) else None
        else:
            flat = self._flat_obs(obs)
        return flat, r, terminated, truncated


def record_game_demos(factory: Callable[[], Any], policy: Callable[[dict], dict],
                      episodes: int, seed: int = 0, max_steps: int | None = None) -> dict:
    """Records ``episodes`` episodes of any Python ``policy`` (a PettingZoo observation dict in,
    an action dict out) in a user's ``ParallelEnv``, episode ``e`` reset with ``seed + e``, as the
    dict ``load_demos`` gives (every agent acts at every step). ``train_game`` and ``save_demos``
    take it."""
    if episodes < 1:
        raise ValueError(f"episodes is {episodes}: expected at least 1")
    game = ParallelGame(factory, max_steps)
    n = len(game.agents)
    cap = game.max_steps or 100_000
    cols = {k: [[] for _ in range(n)] for k in ("obs", "actions", "rewards", "final_obs")}
    lens, terms_out, truncs_out = [], [], []
    for e in range(episodes):
        obs, _ = game.env.reset(seed=int(seed) + e)
        flat = game._flat_obs(obs)
        steps = 0
        while True:
            acts = policy(obs)
            row = np.zeros(int(game._a_offsets[-1]), dtype=np.float32)
            for i, a in enumerate(game.agents):
                if a not in acts:
                    raise ValueError(f"the policy gave no action for agent {a}")
                row[game._a_offsets[i]:game._a_offsets[i + 1]] = np.asarray(
                    acts[a], dtype=np.float32).reshape(-1)
            for i in range(n):
                cols["obs"][i].append(flat[game._offsets[i]:game._offsets[i + 1]])
                cols["actions"][i].append(row[game._a_offsets[i]:game._a_offsets[i + 1]])
            nxt, r, terminated, truncated = game.step(row)
            for i in range(n):
                cols["rewards"][i].append(r[i])
            steps += 1
            if nxt is not None:
                flat = nxt
            if terminated or truncated:
                break
            if steps >= cap:
                raise ValueError(f"an episode ran {cap} steps without ending: pass max_steps")
            obs, flat = {a: flat[game._offsets[i]:game._offsets[i + 1]]
                         for i, a in enumerate(game.agents)}, flat
        for i in range(n):
            cols["final_obs"][i].append(flat[game._offsets[i]:game._offsets[i + 1]])
        lens.append(steps)
        terms_out.append(bool(terminated))
        truncs_out.append(bool(truncated))
    data = {
        "game": f"pettingzoo:{game.name}",
        "agents": game.agents,
        "obs_dims": game.obs_dims,
        "episode_len": np.array(lens, dtype=np.int64),
        "terminated": np.array(terms_out),
        "truncated": np.array(truncs_out),
    }
    for i in range(n):
        data[f"obs_{i}"] = np.array(cols["obs"][i], dtype=np.float32)
        data[f"final_obs_{i}"] = np.array(cols["final_obs"][i], dtype=np.float32)
        data[f"actions_{i}"] = np.array(cols["actions"][i], dtype=np.float32)
        data[f"rewards_{i}"] = np.array(cols["rewards"][i], dtype=np.float64)
        data[f"acted_{i}"] = np.ones(len(cols["rewards"][i]), dtype=bool)
    return data
