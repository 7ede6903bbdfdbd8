"""Imitation from Python: BC, GAIL, MAGAIL (every prior) and AMAGAIL on our games, in run folders
that the command line reads and writes too (``magail imitate``, ``magail eval``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np

from . import _native
from .data import Expert, save_demos
from .env import MagailParallelEnv
from .user_game import ParallelGame, _Game, adapter_for, evaluate_game

#: The methods by name, as ``magail imitate --method`` takes them.
METHODS = tuple(_native.METHODS)

#: The settings that may replace a method's own, by their ``magail imitate`` flag names.
SETTINGS = ("bc_epochs", "gradient_penalty", "envs", "max_kl", "fisher_subsample",
            "disc_steps", "vf_epochs", "vf_minibatches", "disc_lr", "disc_minibatches",
            "reward", "steps_per_iter", "bc_weight", "device")


class Policy(Expert):
    """The policies of a checkpoint: an imitation's run folder (``train``, ``magail imitate``) or
    an expert (``assets/experts/<name>``, ``magail expert``); with ``game`` (the factory of a
    user's ``ParallelEnv``, or its ``ParallelGame``), a folder ``train_game`` trained on it.
    ``actions(obs, env)`` acts for a PettingZoo observation dict, ``act(agent, rows)`` on
    ``[rows, obs_dim]`` arrays; sampled from row streams of ``seed``, or the most likely action
    with ``greedy``."""

    def __init__(self, path: str | os.PathLike, greedy: bool = False, seed: int = 0,
                 game: Any = None) -> None:
        if game is not None and not isinstance(game, _Game):
            game = adapter_for(game)
        self._user_game = game
        super().__init__(path, greedy, seed, game)

    def make_env(self, **kwargs) -> Any:
        """The game the policies were trained in, as a ``ParallelEnv``."""
        if self._user_game is not None:
            return self._user_game.factory()
        return super().make_env(**kwargs)


class Run:
    """An imitation's run folder: its record, its metrics as they were written (one dict per
    adversarial iteration), its policies, and how to continue it."""

    def __init__(self, folder: str | os.PathLike, call: dict[str, Any] | None = None,
                 game: ParallelGame | None = None) -> None:
        self.folder = Path(folder)
        if not (self.folder / "imitator.json").is_file():
            raise ValueError(f"{self.folder} holds no imitation run (no imitator.json)")
        self._call = call
        self._game = game

    @property
    def record(self) -> dict:
        """``imitator.json``: the game, the method, the whole configuration, the iteration the
        checkpoint holds and the demonstrations' digest."""
        return json.loads((self.folder / "imitator.json").read_text())

    @property
    def iteration(self) -> int:
        """Adversarial iterations the checkpoint holds."""
        return int(self.record["iteration"])

    @property
    def metrics(self) -> list[dict]:
        """One dict per adversarial iteration (``metrics.jsonl``): ``pandas.DataFrame(run.metrics)``
        gives a table."""
        path = self.folder / "metrics.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def policy(self, greedy: bool = False, seed: int = 0) -> Policy:
        """The trained policies, acting on PettingZoo observations."""
        return Policy(self.folder, greedy=greedy, seed=seed, game=self._game)

    def evaluate(self, episodes: int = 100, demonstrator: str | None = None) -> dict:
        """Scores the policies as ``magail eval`` does: ``score`` (the team's mean return),
        ``random``, ``reference`` (the scripted policy's, or the ``demonstrator`` checkpoint's) and
        ``normalized`` (reference = 1, random = 0)."""
        if self._game is not None:
            return self._evaluate_game(episodes)
        return _native.evaluate_policy(str(self.folder), episodes, demonstrator)

    def _evaluate_game(self, episodes: int) -> dict:
        """A user's game: the reference is the demonstrations' mean team return."""
        if self._call is None:
            raise ValueError(f"{self.folder} was opened, not trained here: its game is unknown")
        # A finished train_game call holds the demonstrations as a file (a dict is saved first).
        reference = _native.demos_team_return(str(self._call["demos"]))
        pol = self.policy(greedy=False)
        game = self._game

        def act(view: dict) -> dict:
            out = {}
            for a, o in view.items():
                i = game.agents.index(a)
                row = pol.act(i, np.asarray(o, dtype=np.float32)[None, :])[0]
                out[a] = int(row[0]) if game.action_spaces[i][0] == "discrete" else row
            return out

        return evaluate_game(game, act, reference, episodes)

    def resume(self, iterations: int | None = None, progress: bool = True) -> "Run":
        """Continues the run (after a Ctrl-C, or to more iterations) with the settings it was
        started with; the result is the bytes of a run never stopped."""
        if self._call is None:
            raise ValueError(
                f"{self.folder} was opened, not trained here: call train(..., resume=True) "
                "with its settings")
        call = dict(self._call, resume=True, progress=progress)
        if iterations is not None:
            call["iterations"] = iterations
        if self._game is not None:
            return train_game(**call)
        return train(**call)

    def __repr__(self) -> str:
        r = self.record
        return f"Run({str(self.folder)!r}, method={r['method']!r}, iteration={r['iteration']})"


@contextlib.contextmanager
def _ctrl_c():
    """While a run trains: the first Ctrl-C is recorded rather than raised, so an environment
    stepping in Python is never cut mid-step; the run stops cleanly after the iteration under
    way and ``KeyboardInterrupt`` is raised then. A second Ctrl-C raises at once (the folder
    keeps its last checkpoint). Off the main thread, where Python takes no signal handler, Ctrl-C
    is left as it is."""
    caught = [False]
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        if caught[0]:
            raise KeyboardInterrupt
        caught[0] = True

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: caught[0]
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def _demos_file(out: Path, demos: Any, resume: bool, game: Any, source: str):
    """The demonstration file a run trains from. A dict is kept in the folder as
    ``demonstrations.bin`` when the run starts; a run that continues checks the dict against the
    run's demonstrations (the trainer compares their digests) through a file of its own,
    removed after, so the kept file never changes. A folder that holds a run is refused unless
    it is to be resumed, before anything is written."""
    if not isinstance(demos, dict):
        yield demos
        return
    held = (out / "imitator.json").exists()
    if held and not resume:
        raise ValueError(f"{out} already holds a run: pass resume=True to continue it, or "
                         "choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    kept = out / "demonstrations.bin"
    if not held or not kept.exists():
        save_demos(kept, demos, game(), source=source)
        yield kept
        return
    probe = out / ".demonstrations.resume.bin"
    save_demos(probe, demos, game(), source=source)
    try:
        yield probe
    finally:
        probe.unlink(missing_ok=True)


def _check(call: str, method: str, settings: dict) -> None:
    """Refuses a setting that is not one (``TypeError``) or an unknown method (``ValueError``)."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TypeError(f"{call}() got unknown settings {unknown}; it takes {list(SETTINGS)}")
    if method not in METHODS:
        raise ValueError(f"method {method!r}: expected one of {list(METHODS)}")


def train(game: str, demos: str | os.PathLike | dict, out: str | os.PathLike,
          method: str = "magail-d", iterations: int = 500, seed: int = 0,
          variant: str = "paper", resume: bool = False, checkpoint_every: int = 25,
          progress: bool = True, **settings: Any) -> Run:
    """Imitates ``demos`` on one of our games (a name ``parallel_env`` takes) into the run folder
    ``out`` and returns the ``Run``.

    ``demos`` is a demonstration file or a dict as ``load_demos`` / ``record_demos`` give (saved
    into the folder as ``demonstrations.bin`` first). ``method`` is one of ``METHODS``; every
    other setting keeps the library's default unless given by its ``magail imitate`` name
    (``SETTINGS``: ``envs=``, ``max_kl=``, ``disc_steps=``, ...). The same settings give the same
    bytes as ``magail imitate``. A progress bar shows in a terminal; Ctrl-C stops the run cleanly
    after the iteration under way (``KeyboardInterrupt``), and ``train(..., resume=True)`` or
    ``Run.resume()`` continues it exactly.
    """
    _check("train", method, settings)
    # Absolute, so that the run (its evaluate and resume) outlives a change of directory.
    out = Path(out).absolute()
    call = dict(game=game, demos=demos, out=out, method=method, iterations=iterations,
                seed=seed, variant=variant, checkpoint_every=checkpoint_every, **settings)
    with _demos_file(out, demos, resume, lambda: MagailParallelEnv(game, variant),
                     "magail_rs.train") as path, _ctrl_c() as stop:
        call["demos"] = (out / "demonstrations.bin" if isinstance(demos, dict)
                         else Path(demos).absolute())
        _native.train(game, str(path), str(out), method, iterations, seed, variant, resume,
                      checkpoint_every, progress, _native.TrainSettings(**settings), stop)
    return Run(out, call)


def open_run(folder: str | os.PathLike) -> Run:
    """A run folder trained earlier, here or by ``magail imitate`` (its policies, metrics and
    evaluation; ``train(..., resume=True)`` continues it)."""
    return Run(folder)


def train_game(factory: Any, demos: str | os.PathLike | dict, out: str | os.PathLike,
               method: str = "magail-d", iterations: int = 500, seed: int = 0,
               resume: bool = False, checkpoint_every: int = 25, progress: bool = True,
               max_steps: int | None = None, teams: Any = None, **settings: Any) -> Run:
    """``train`` on a game of your own: ``factory()`` makes a PettingZoo ``ParallelEnv`` or
    ``AECEnv`` (called once per copy; every copy must have the same agents and spaces). Discrete
    and Box actions, Box observations (flattened to float32). A ``ParallelEnv`` is a Markov game
    (an agent that leaves plays φ until the episode ends); an ``AECEnv`` an extensive one, whose
    agent selector says who acts at each step (AMAGAIL leaves the others' φ steps out).
    ``max_steps`` (default: the env's ``max_cycles``) is the limit the learners may rely on.
    ``demos`` come from ``record_game_demos`` (or a file ``save_demos`` wrote for this game).
    The environments step in Python, one call per step; the learners run in Rust with the GIL
    released. ``teams`` (``magail-zs`` only, in games of more than two agents) names the agents
    of the zero-sum prior's first team, e.g. the adversaries; the others are the second."""
    _check("train_game", method, settings)
    # Absolute, so that the run (its evaluate and resume) outlives a change of directory.
    out = Path(out).absolute()
    adapter = adapter_for(factory, max_steps)
    flags = _team_flags(adapter.agents, method, teams)
    call = dict(factory=factory, demos=demos, out=out, method=method, iterations=iterations,
                seed=seed, checkpoint_every=checkpoint_every, max_steps=max_steps, teams=teams,
                **settings)
    with _demos_file(out, demos, resume, lambda: adapter,
                     "magail_rs.train_game") as path, _ctrl_c() as stop:
        call["demos"] = (out / "demonstrations.bin" if isinstance(demos, dict)
                         else Path(demos).absolute())
        _native.train_game(adapter, str(path), str(out), method, iterations, seed, resume,
                           checkpoint_every, progress, _native.TrainSettings(**settings), stop,
                           flags)
    return Run(out, call, adapter)


def _team_flags(agents: list, method: str, teams: Any) -> list | None:
    """``teams`` as one flag per agent (on the first team), checked by name."""
    if teams is None:
        return None
    if method != "magail-zs":
        raise ValueError(f"teams are the zero-sum prior's: method {method!r} takes none "
                         "(use method='magail-zs')")
    if isinstance(teams, str):
        raise TypeError(f"teams {teams!r}: expected a list of agent names")
    first = list(teams)
    unknown = [a for a in first if a not in agents]
    if unknown:
        raise ValueError(f"teams: no agent named {unknown} in this game; its agents are {agents}")
    if not first or len(set(first)) == len(agents):
        raise ValueError(f"teams {first}: expected some but not all of the agents {agents} on "
                         "the first team")
    return [a in first for a in agents]

