"""magail-rs from Python: the multi-agent particle environments, number for number with mpe2,
stepped in Rust.

- ``magail_rs.mpe2`` replaces ``mpe2`` in one import: ``from magail_rs.mpe2 import
  simple_spread_v3`` gives ``parallel_env(...)`` and ``env(...)`` with mpe2's constructor
  arguments and defaults, as PettingZoo environments.
- ``parallel_env(name, variant=...)`` builds any game: the mpe2 scenarios, the MAGAIL paper's
  variants (``variant="paper"``) and AMAGAIL's games (``stoch_navigation``, ...).
- ``VecEnv`` steps B copies in Rust with numpy arrays shaped ``[B, agents, ...]``.
- ``load_demos`` / ``save_demos`` read and write demonstration files (ours and ``.npz``);
  ``Expert`` acts with a shipped expert checkpoint; ``record_demos`` records its episodes.
- ``train`` imitates demonstrations (BC, GAIL, MAGAIL with every prior, AMAGAIL) into a run
  folder the command line shares; ``Run`` gives its metrics, policies (``Policy``) and score.

Importing it sets ``RAYON_NUM_THREADS`` and ``CANDLE_NUM_THREADS`` to 1 where they are unset (as
the ``magail`` command does): candle 0.11 reads ``/proc/cpuinfo`` again on every matrix product
unless they are set, which made training from Python about twice as slow, and its own thread
pool spins on small machines; the learners parallelise over environment copies instead. A value
you set is kept.
"""

import os as _os

for _name in ("RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"):
    _os.environ.setdefault(_name, "1")

from ._native import AMAGAIL_GAMES, Game
from .batch import VecEnv
from .data import Expert, load_demos, record_demos, save_demos
from .env import MagailParallelEnv, env, parallel_env
from .imitation import METHODS, SETTINGS, Policy, Run, open_run, train, train_game
from .user_game import record_game_demos

__all__ = [
    "AMAGAIL_GAMES",
    "Expert",
    "Game",
    "METHODS",
    "MagailParallelEnv",
    "Policy",
    "Run",
    "SETTINGS",
    "VecEnv",
    "env",
    "load_demos",
    "parallel_env",
    "open_run",
    "record_demos",
    "record_game_demos",
    "save_demos",
    "train",
    "train_game",
]
