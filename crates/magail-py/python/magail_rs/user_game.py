"""A user's PettingZoo game as one the Rust learners can step: flat float32 arrays in and out,
one call per step, every space checked once with a clear error.

- ``ParallelGame``: a ``ParallelEnv`` is a Markov game; every agent acts at every step, and an
  agent that leaves mid-episode plays φ (inactive) until the episode ends.
- ``AecGame``: an ``AECEnv`` is an extensive Markov game whose player function is the env's own
  agent selector: only ``agent_selection`` acts at a step, the others play φ.

Both answer ``reset(seed) -> (obs, turn)`` and ``step(actions, acting) -> (obs, rewards,
terminated, truncated, turn)``, where ``obs`` is every agent's observation flattened and
concatenated (after a step, the adapter's own buffer, valid until its next step: copy what you
keep), ``rewards`` a list with one entry per agent and ``turn`` says who acts next (``None``:
every agent).
"""

from __future__ import annotations

import itertools
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
        low = np.asarray(space.low, dtype=np.float64)
        high = np.asarray(space.high, dtype=np.float64)
        if low.size == 0 or not (np.all(low == low.flat[0]) and np.all(high == high.flat[0])):
            raise ValueError(f"agent {agent}: Box action space with per-entry bounds "
                             f"{space}; expected one bound for every entry")
        return ("box", int(np.prod(space.shape)), float(low.flat[0]), float(high.flat[0]))
    raise TypeError(f"agent {agent}: action space {space!r}; expected Discrete or Box")


def _masked(space: Any) -> bool:
    """PettingZoo's classic observation: a dict of ``observation`` and ``action_mask``."""
    from gymnasium import spaces

    return isinstance(space, spaces.Dict) and set(space.spaces) == {"observation",
                                                                     "action_mask"}


def _obs_dim(agent: str, space: Any, action: Any) -> int:
    """The flat observation's size: a Box's, or for a classic dict its ``observation`` followed
    by its ``action_mask`` (one entry per discrete action)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape))
    if _masked(space):
        obs, mask = space.spaces["observation"], space.spaces["action_mask"]
        if not isinstance(obs, spaces.Box):
            raise TypeError(f"agent {agent}: observation {obs!r}; expected a Box")
        if not isinstance(action, spaces.Discrete) or int(np.prod(mask.shape)) != int(action.n):
            raise TypeError(f"agent {agent}: an action mask of shape {mask.shape} for actions "
                            f"{action!r}; expected one entry per discrete action")
        return int(np.prod(obs.shape)) + int(action.n)
    raise TypeError(f"agent {agent}: observation space {space!r}; expected a Box, or a dict of "
                    "'observation' and 'action_mask'")


def flat_observation(o: Any) -> np.ndarray:
    """One agent's observation as the learners see it: flattened to float32; a classic dict's
    ``observation`` followed by its ``action_mask``."""
    if isinstance(o, dict) and "action_mask" in o:
        return np.concatenate([np.asarray(o["observation"], dtype=np.float32).reshape(-1),
                               np.asarray(o["action_mask"], dtype=np.float32).reshape(-1)])
    return np.asarray(o, dtype=np.float32).reshape(-1)


class _Game:
    """What both adapters share: the agents, spaces and limit read once, and the flat layouts."""

    turn_based = False

    def __init__(self, factory: Callable[[], Any], max_steps: int | None = None,
                 env: Any = None) -> None:
        self.factory = factory
        self.env = factory() if env is None else env
        self.agents = list(self.env.possible_agents)
        if not self.agents:
            raise ValueError("the environment has no possible_agents")
        self.obs_dims = [_obs_dim(a, self.env.observation_space(a), self.env.action_space(a))
                         for a in self.agents]
        self.action_masks = [_masked(self.env.observation_space(a)) for a in self.agents]
        self.action_spaces = [_space_of(a, self.env.action_space(a)) for a in self.agents]
        limit = max_steps if max_steps is not None else getattr(
            getattr(self.env, "unwrapped", self.env), "max_cycles", None)
        self.max_steps = None if limit is None else int(limit)
        meta = getattr(self.env, "metadata", {}) or {}
        self.name = str(meta.get("name", type(getattr(self.env, "unwrapped", self.env)).__name__))
        # Where each agent's observation and action start in the flat arrays (plain ints: they
        # slice on every step).
        self._offsets = list(itertools.accumulate(self.obs_dims, initial=0))
        widths = [1 if s[0] == "discrete" else s[1] for s in self.action_spaces]
        self._a_offsets = list(itertools.accumulate(widths, initial=0))
        self._last = np.zeros(self._offsets[-1], dtype=np.float32)
        # Per-step lookups, made once: each agent's index, whether its actions are discrete, and
        # the dtype its env takes for a box.
        self._index = {a: i for i, a in enumerate(self.agents)}
        self._discrete = [s[0] == "discrete" for s in self.action_spaces]
        self._box_dtype = [None if d else self.env.action_space(a).dtype
                           for a, d in zip(self.agents, self._discrete)]
        self._all_discrete = all(self._discrete)

    def copy(self):
        """Another copy of the same game, from the factory."""
        other = type(self)(self.factory, self.max_steps)
        if (other.agents, other.obs_dims, other.action_spaces, other.action_masks) != (
                self.agents, self.obs_dims, self.action_spaces, self.action_masks):
            raise ValueError(
                f"the factory made a different game: agents {other.agents} with observation "
                f"sizes {other.obs_dims} and actions {other.action_spaces}, expected "
                f"{self.agents}, {self.obs_dims}, {self.action_spaces}")
        return other

    def _put_obs(self, agent: str, o: Any) -> None:
        """Writes one agent's observation into the flat array of the last ones."""
        i = self._index[agent]
        if type(o) is np.ndarray and o.ndim == 1 and o.size == self.obs_dims[i]:
            # A Box's flat array, the common case: numpy converts it to float32 as it copies.
            self._last[self._offsets[i]:self._offsets[i + 1]] = o
            return
        o = flat_observation(o)
        if o.size != self.obs_dims[i]:
            raise ValueError(f"agent {agent}: an observation of {o.size} values, its space "
                             f"holds {self.obs_dims[i]}")
        self._last[self._offsets[i]:self._offsets[i + 1]] = o

    def action_of(self, actions: np.ndarray, i: int, acting: bool = True) -> Any:
        """Agent ``i``'s action as its env takes it. A PettingZoo env cannot be told that a
        playing agent does nothing, so φ chosen by an agent that may act (MAGAIL with φ as an
        action) is played as action 0 (zeros in a box), MPE's "no action"."""
        at = self._a_offsets[i]
        if self._discrete[i]:
            return int(actions[at]) if acting else 0
        row = actions[at:self._a_offsets[i + 1]]
        return np.asarray(row if acting else np.zeros_like(row), dtype=self._box_dtype[i])

    def owed(self) -> np.ndarray:
        """Rewards the episode that just ended still owes each agent (given after its last
        turn). A parallel game owes nothing: every agent's reward reaches it at the step."""
        return np.zeros(len(self.agents))

    def phi(self, i: int) -> np.ndarray:
        """φ's flat fill for agent ``i``: the index one past its actions, or zeros."""
        s = self.action_spaces[i]
        return np.array([s[1]], dtype=np.float32) if s[0] == "discrete" else np.zeros(
            s[1], dtype=np.float32)


class ParallelGame(_Game):
    """One copy of a user's ``ParallelEnv`` made by ``factory()``."""

    def _turn(self):
        live = self.env.agents
        if len(live) == len(self.agents):
            return None
        return [a in live for a in self.agents]

    def reset(self, seed: int) -> tuple:
        obs, _ = self.env.reset(seed=int(seed))
        self._last[:] = 0.0
        for a, o in obs.items():
            self._put_obs(a, o)
        return self._last.copy(), self._turn()

    def step(self, actions: np.ndarray, acting: list) -> tuple:
        env = self.env
        live = env.agents
        if self._all_discrete and len(live) == len(self.agents):
            # The common case, every agent playing a discrete action: one conversion of the
            # row, no per-agent calls (φ is played as action 0, as in action_of).
            row = actions.tolist()
            joint = {a: int(row[i]) if acting[i] else 0 for i, a in enumerate(self.agents)}
        else:
            joint = {a: self.action_of(actions, i, acting[i]) for i, a in enumerate(self.agents)
                     if a in live}
        obs, rewards, terms, truncs, _ = env.step(joint)
        for a, o in obs.items():
            self._put_obs(a, o)
        r = [rewards.get(a, 0.0) for a in self.agents]
        over = not env.agents
        terminated = over and any(bool(v) for v in terms.values())
        truncated = over and not terminated
        # The caller copies the observations out before the next step.
        return self._last, r, terminated, truncated, None if over else self._turn()


class AecGame(_Game):
    """One copy of a user's ``AECEnv`` made by ``factory()``: the agent whose turn it is acts;
    rewards reach an agent at its next turn (its cumulative reward since its last, as
    ``last()`` gives it), and an agent whose episode ended is stepped with ``None`` here, as
    PettingZoo requires, without the learners."""

    turn_based = True

    def _skip_dead(self) -> None:
        env = self.env
        while env.agents and (env.terminations.get(env.agent_selection, False)
                              or env.truncations.get(env.agent_selection, False)):
            env.step(None)
            self._collect()

    def _collect(self) -> None:
        for a, r in self.env.rewards.items():
            self._pending[self.agents.index(a)] += float(r)

    def _observe_all(self) -> None:
        for a in self.env.agents:
            self._put_obs(a, self.env.observe(a))

    def _turn(self):
        return [a == self.env.agent_selection for a in self.agents]

    def owed(self) -> np.ndarray:
        """What agents that do not move again were given after their last turn (tic-tac-toe's
        loser's −1), as PettingZoo's rewards left it when the episode ended."""
        return self._pending.copy()

    def reset(self, seed: int) -> tuple:
        self.env.reset(seed=int(seed))
        self._pending = np.zeros(len(self.agents), dtype=np.float64)
        self._last[:] = 0.0
        self._skip_dead()
        self._observe_all()
        return self._last.copy(), self._turn()

    def step(self, actions: np.ndarray, acting: list) -> tuple:
        env = self.env
        i = self.agents.index(env.agent_selection)
        env.step(self.action_of(actions, i, acting[i]))
        self._collect()
        self._skip_dead()
        # The acting agent's reward: everything since its last turn (PettingZoo's last()).
        r = np.zeros(len(self.agents), dtype=np.float64)
        r[i] = self._pending[i]
        self._pending[i] = 0.0
        self._observe_all()
        over = not env.agents
        terminated = over and any(bool(v) for v in env.terminations.values())
        truncated = over and not terminated
        return self._last, r.tolist(), terminated, truncated, None if over else self._turn()


def adapter_for(factory: Callable[[], Any], max_steps: int | None = None) -> _Game:
    """The adapter of a user's game: ``AecGame`` for an ``AECEnv``, ``ParallelGame`` for a
    ``ParallelEnv`` (anything else is refused)."""
    from pettingzoo import AECEnv, ParallelEnv

    env = factory()
    if isinstance(env, AECEnv):
        return AecGame(factory, max_steps, env)
    if isinstance(env, ParallelEnv) or hasattr(env, "possible_agents"):
        return ParallelGame(factory, max_steps, env)
    raise TypeError(f"the factory made {type(env).__name__}: expected a PettingZoo ParallelEnv "
                    "or AECEnv")


def play_episode(game: _Game, policy: Callable[[dict], dict], seed: int,
                 on_step: Callable[..., None] | None = None) -> tuple:
    """Plays one episode of ``game`` reset with ``seed``: ``policy`` gets the acting agents'
    flat observations and returns their actions; ``on_step(flat, row, acting, rewards)`` hears of
    every step. Returns (steps, every agent's return over its acting steps, the last flat
    observation, terminated, truncated)."""
    n = len(game.agents)
    cap = game.max_steps or 100_000
    width = game._a_offsets[-1]
    flat, turn = game.reset(int(seed))
    returns = np.zeros(n)
    steps = 0
    while True:
        acting = [True] * n if turn is None else list(turn)
        view = {a: flat[game._offsets[i]:game._offsets[i + 1]]
                for i, a in enumerate(game.agents) if acting[i]}
        acts = policy(view)
        row = np.zeros(width, dtype=np.float32)
        for i, a in enumerate(game.agents):
            if acting[i]:
                if a not in acts:
                    raise ValueError(f"the policy gave no action for agent {a}")
                row[game._a_offsets[i]:game._a_offsets[i + 1]] = np.asarray(
                    acts[a], dtype=np.float32).reshape(-1)
            else:
                row[game._a_offsets[i]:game._a_offsets[i + 1]] = game.phi(i)
        before = flat
        flat, r, terminated, truncated, turn = game.step(row, acting)
        # A step's observations are the adapter's own buffer until its next step.
        flat = flat.copy()
        r = np.where(acting, r, 0.0)
        returns += r
        if on_step is not None:
            on_step(before, row, acting, r)
        steps += 1
        if terminated or truncated:
            # Rewards given after an agent's last turn count in its return.
            returns += game.owed()
            return steps, returns, flat, terminated, truncated
        if steps >= cap:
            raise ValueError(f"an episode ran {cap} steps without ending: pass max_steps")


def random_policy(game: _Game, seed: int) -> Callable[[dict], dict]:
    """Uniformly random legal actions (a box's uniformly within its bounds), from ``seed``."""
    rng = np.random.default_rng(seed)

    def act(view: dict) -> dict:
        out = {}
        for a, o in view.items():
            i = game.agents.index(a)
            s = game.action_spaces[i]
            if s[0] == "discrete":
                legal = (np.flatnonzero(o[-s[1]:] > 0.5) if game.action_masks[i]
                         else np.arange(s[1]))
                out[a] = int(rng.choice(legal))
            else:
                out[a] = rng.uniform(s[2], s[3], s[1]).astype(np.float32)
        return out

    return act


def record_game_demos(factory: Callable[[], Any], policy: Callable[[dict], dict],
                      episodes: int, seed: int = 0, max_steps: int | None = None) -> dict:
    """Records ``episodes`` episodes of any Python ``policy`` in a user's game, episode ``e``
    reset with ``seed + e``, as the dict ``load_demos`` gives, participation included. The
    policy takes a dict of the acting agents' observations (flattened to float32) and returns
    their actions (a ``ParallelEnv``: every agent still playing; an ``AECEnv``: the agent whose
    turn it is). ``train_game`` and ``save_demos`` take the result."""
    if episodes < 1:
        raise ValueError(f"episodes is {episodes}: expected at least 1")
    game = adapter_for(factory, max_steps)
    n = len(game.agents)
    keys = ("obs", "actions", "rewards", "acted", "final_obs")
    cols = {k: [[] for _ in range(n)] for k in keys}
    lens, terms_out, truncs_out = [], [], []

    def keep(flat, row, acting, r):
        for i in range(n):
            cols["obs"][i].append(flat[game._offsets[i]:game._offsets[i + 1]])
            cols["actions"][i].append(row[game._a_offsets[i]:game._a_offsets[i + 1]])
            cols["acted"][i].append(acting[i])
            cols["rewards"][i].append(r[i])

    for e in range(episodes):
        steps, _, flat, terminated, truncated = play_episode(game, policy, int(seed) + e, keep)
        owed = game.owed()
        for i in range(n):
            cols["final_obs"][i].append(flat[game._offsets[i]:game._offsets[i + 1]])
            # What the episode still owes agent i goes to its last turn, the step it answers.
            mine = cols["acted"][i][-steps:]
            if owed[i] != 0.0 and any(mine):
                last = len(mine) - 1 - mine[::-1].index(True)
                cols["rewards"][i][len(cols["rewards"][i]) - steps + last] += owed[i]
        lens.append(steps)
        terms_out.append(bool(terminated))
        truncs_out.append(bool(truncated))
    data = {
        "game": f"pettingzoo:{game.name}" + ("+game-turns" if game.turn_based else ""),
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
        data[f"acted_{i}"] = np.array(cols["acted"][i], dtype=bool)
    return data


def evaluate_game(game: _Game, policy: Callable[[dict], dict], reference: float,
                  episodes: int = 100, seed: int = 1_000_003) -> dict:
    """Scores ``policy`` in a user's game as ``magail eval`` scores ours: the team's mean return
    (the mean over agents of each agent's return over its acting steps) over ``episodes``
    episodes reset with ``seed + e``, a random policy's on the same episodes, the
    ``reference`` (the demonstrations' mean team return), and ``normalized`` (reference = 1,
    random = 0; ``None`` when the reference scores as random does)."""
    if episodes < 1:
        raise ValueError(f"episodes is {episodes}: expected at least 1")

    def team(act) -> float:
        return float(np.mean([play_episode(game, act, seed + e)[1].mean()
                              for e in range(episodes)]))

    score, rand = team(policy), team(random_policy(game, seed))
    span = reference - rand
    return {"score": score, "random": rand, "reference": reference,
            "normalized": (score - rand) / span if span != 0 else None, "episodes": episodes}
