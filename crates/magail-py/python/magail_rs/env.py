"""PettingZoo environments over the Rust games (``magail_rs._native.Game``)."""

from __future__ import annotations

import operator
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from ._native import AMAGAIL_GAMES, Game, GameSettings

#: mpe2's picture size.
RENDER_SIZE = 700


def _action_space(kind: str, size: int, low: float, high: float) -> spaces.Space:
    if kind == "discrete":
        return spaces.Discrete(size)
    return spaces.Box(low=np.float32(low), high=np.float32(high), shape=(size,),
                      dtype=np.float32)


class MagailParallelEnv(ParallelEnv):
    """One particle game as a PettingZoo ``ParallelEnv``.

    ``env_name`` is an mpe2 scenario (``simple_spread``, ...), a paper name
    (``cooperative_navigation``, ...) or an AMAGAIL game; ``variant`` is ``"mpe2"`` (mpe2's
    rules) or ``"paper"`` (the MAGAIL paper code's variants; AMAGAIL games exist only there).
    The keyword arguments are mpe2's (``N``, ``local_ratio``, ``max_cycles``,
    ``continuous_actions``, ``num_good``, ``num_adversaries``, ``num_obstacles``); ``None``
    keeps the game's default. With the same seed, ``reset`` and ``step`` give mpe2's
    observations and rewards value for value.

    In an AMAGAIL game only some agents act at each step: ``infos[agent]["active"]`` says
    whether the agent acts at the coming step (its action is ignored otherwise) and
    ``infos[agent]["acted"]`` whether it acted at the last one (it is rewarded only then).
    """

    metadata = {
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 10,
        "name": "magail_rs",
    }

    def __init__(
        self,
        env_name: str,
        variant: str | None = None,
        *,
        N: int | None = None,
        local_ratio: float | None = None,
        max_cycles: int | None = None,
        continuous_actions: bool = False,
        render_mode: str | None = None,
        num_good: int | None = None,
        num_adversaries: int | None = None,
        num_obstacles: int | None = None,
        dynamic_rescaling: bool = True,
        name: str | None = None,
    ) -> None:
        if variant is None:
            variant = "paper" if env_name in AMAGAIL_GAMES else "mpe2"
        if render_mode not in (None, "rgb_array"):
            raise ValueError(
                f"render_mode {render_mode!r}: expected None or 'rgb_array' (pictures come "
                "from our rasterizer; there is no window)")
        self._core = Game(GameSettings(env_name, variant, bool(continuous_actions), max_cycles,
                                       N, local_ratio, num_good, num_adversaries,
                                       num_obstacles))
        self.render_mode = render_mode
        # The picture always keeps every entity in sight (mpe2's dynamic rescaling).
        self.dynamic_rescaling = dynamic_rescaling
        self.continuous_actions = bool(continuous_actions)
        self.metadata = dict(self.metadata, name=name or self._core.name)
        self.possible_agents = list(self._core.agents)
        self.agents = list(self.possible_agents)
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.observation_spaces = {
            a: spaces.Box(low=-np.float32(np.inf), high=np.float32(np.inf), shape=(d,),
                          dtype=np.float32)
            for a, d in zip(self.possible_agents, self._core.obs_dims)
        }
        self.action_spaces = {
            a: _action_space(*s) for a, s in zip(self.possible_agents, self._core.action_spaces)
        }
        state_dim = int(sum(self._core.obs_dims))
        self.state_space = spaces.Box(low=-np.float32(np.inf), high=np.float32(np.inf),
                                      shape=(state_dim,), dtype=np.float32)
        self.max_cycles = self._core.max_steps
        self._asynchronous = self._core.asynchronous
        widths = [1 if s[0] == "discrete" else s[1] for s in self._core.action_spaces]
        offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self._joint = np.zeros(int(offsets[-1]), dtype=np.float32)
        # Per agent: index, slots in the joint action, number of actions (None: box), space.
        self._slots = {
            a: (i, int(offsets[i]), int(offsets[i + 1]),
                sp.n if isinstance(sp, spaces.Discrete) else None, sp)
            for i, (a, sp) in enumerate(self.action_spaces.items())
        }

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def _infos(self, acted: list[bool] | None) -> dict[str, dict[str, Any]]:
        if not self._asynchronous:
            return {a: {} for a in self.agents}
        active = self._core.participation()
        return {
            a: {"active": bool(active[i]),
                "acted": True if acted is None else bool(acted[i])}
            for a, i in self._index.items() if a in self.agents
        }

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs = self._core.reset(seed)
        self.agents = list(self.possible_agents)
        return ({a: obs[i] for a, i in self._index.items()}, self._infos(None))

    def step(self, actions: dict[str, Any]):
        joint = self._joint
        active = self._core.participation() if self._asynchronous else None
        for a in self.agents:
            i, lo, hi, n, space = self._slots[a]
            act = actions.get(a)
            if act is None:
                if active is not None and not active[i]:
                    joint[lo:hi] = 0.0
                    continue
                raise ValueError(f"no action for agent {a}, which acts at this step")
            if n is not None:
                try:
                    k = operator.index(act)
                except TypeError:
                    raise ValueError(
                        f"action {act!r} of agent {a} is not in {space}: expected an integer"
                    ) from None
                if not 0 <= k < n:
                    raise ValueError(f"action {act!r} of agent {a} is not in {space}")
                joint[lo] = k
            else:
                # mpe2 clips box actions into their bounds (ClipOutOfBoundsWrapper).
                act = np.asarray(act, dtype=np.float32)
                if act.shape != space.shape:
                    raise ValueError(
                        f"action of shape {act.shape} for agent {a}: expected {space.shape}")
                joint[lo:hi] = np.clip(act, space.low, space.high)
        obs, rew, acted, terminated, truncated = self._core.step(joint)
        live = self.agents
        observations = {a: obs[self._index[a]] for a in live}
        rewards = {a: float(rew[self._index[a]]) for a in live}
        terminations = {a: bool(terminated) for a in live}
        truncations = {a: bool(truncated) for a in live}
        infos = self._infos(acted)
        if terminated or truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return self._core.state()

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn(
                "You are calling render method without specifying any render mode.")
            return None
        return self._core.render(RENDER_SIZE)

    def close(self) -> None:
        pass


def parallel_env(env_name: str, variant: str | None = None, **kwargs) -> MagailParallelEnv:
    """Any game as a PettingZoo ``ParallelEnv`` (see ``MagailParallelEnv``)."""
    return MagailParallelEnv(env_name, variant, **kwargs)


def env(env_name: str, variant: str | None = None, **kwargs):
    """Any game as a PettingZoo ``AECEnv``, through PettingZoo's own conversion."""
    return parallel_to_aec(parallel_env(env_name, variant, **kwargs))
