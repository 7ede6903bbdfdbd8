"""The batched environment: B copies of a game stepped in Rust, numpy arrays in and out."""

from __future__ import annotations

import numpy as np

from ._native import GameSettings
from ._native import VecEnv as _NativeVecEnv


class VecEnv:
    """B copies of a synchronous particle game, stepped together in Rust.

    ``reset()`` returns observations ``[B, agents, max_obs_dim]`` (float32; agents with shorter
    observations are zero-padded, ``obs_dims`` gives each agent's size). ``step(actions)`` takes
    discrete actions ``[B, agents]`` (integers) or box actions ``[B, agents, max_action_dim]``
    and returns ``(obs, rewards [B, agents], terminated [B], truncated [B])``. A copy whose
    episode ended is reset at once: ``obs`` shows its new episode, ``final_obs()`` the end of
    the old one. Copy ``b`` draws its starts from its own stream of ``seed``, so the numbers do
    not depend on ``threads``. Takes mpe2's constructor arguments by their mpe2 names.
    """

    def __init__(self, env_name: str, batch: int, *, seed: int = 0, variant: str = "mpe2",
                 N: int | None = None, local_ratio: float | None = None,
                 max_cycles: int | None = None, continuous_actions: bool = False,
                 num_good: int | None = None, num_adversaries: int | None = None,
                 num_obstacles: int | None = None, threads: int = 1) -> None:
        settings = GameSettings(env_name, variant, bool(continuous_actions), max_cycles, N,
                                local_ratio, num_good, num_adversaries, num_obstacles)
        self._core = _NativeVecEnv(settings, batch, seed, threads)
        self.batch = self._core.batch
        self.agents = list(self._core.agents)
        self.obs_dims = list(self._core.obs_dims)
        self.action_spaces = list(self._core.action_spaces)
        self.discrete = all(s[0] == "discrete" for s in self.action_spaces)
        #: Number of actions (discrete) or values (box) of each agent.
        self.action_sizes = [s[1] for s in self.action_spaces]

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Resets every copy (needed before the first step); with ``seed``, copy ``b`` starts
        over on stream ``b`` of it (the same numbers as a new ``VecEnv(..., seed=seed)``
        reset)."""
        return self._core.reset(seed)

    def step(self, actions):
        if self.discrete:
            return self._core.step_discrete(np.ascontiguousarray(actions, dtype=np.int64))
        return self._core.step_box(np.ascontiguousarray(actions, dtype=np.float32))

    def final_obs(self) -> np.ndarray:
        return self._core.final_obs()

    def sample_actions(self, rng: np.random.Generator) -> np.ndarray:
        """Uniformly random actions for every copy and agent."""
        if self.discrete:
            sizes = np.asarray(self.action_sizes)
            return (rng.random((self.batch, len(self.agents))) * sizes).astype(np.int64)
        width = max(self.action_sizes)
        return rng.random((self.batch, len(self.agents), width), dtype=np.float32)
