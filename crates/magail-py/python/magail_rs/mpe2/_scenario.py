"""Builds an mpe2-style module's ``parallel_env`` / ``env`` / ``raw_env`` for one scenario."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pettingzoo.utils.conversions import parallel_to_aec

from ..env import MagailParallelEnv

# mpe2 1.1.1 arguments that change nothing here at their default, and that we do not model at
# any other value.
_UNMODELLED = {
    "benchmark_data": False,
    "curriculum": False,
    "terminate_on_success": False,
    "num_agent_neighbors": None,
    "num_landmark_neighbors": None,
}


def scenario(env_name: str, module: str, defaults: dict[str, Any]
             ) -> tuple[Callable[..., MagailParallelEnv], Callable[..., Any]]:
    """``defaults``: the scenario's own mpe2 arguments in mpe2's order, with mpe2's defaults."""
    names = list(defaults) + ["max_cycles", "continuous_actions", "render_mode",
                              "dynamic_rescaling"]
    allowed = set(names) | set(_UNMODELLED)

    def parallel_env(*args: Any, **kwargs: Any) -> MagailParallelEnv:
        if len(args) > len(names):
            raise TypeError(f"{module}.parallel_env takes at most {len(names)} positional "
                            f"arguments ({len(args)} given)")
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{module}.parallel_env got multiple values for {name!r}")
            kwargs[name] = value
        unknown = set(kwargs) - allowed
        if unknown:
            raise TypeError(f"{module}.parallel_env got unexpected keyword arguments "
                            f"{sorted(unknown)}; it takes {sorted(allowed)}")
        for name, default in _UNMODELLED.items():
            if name in kwargs and kwargs.pop(name) != default:
                raise NotImplementedError(
                    f"{module}: {name} is not modelled by magail_rs (only mpe2's default "
                    f"{default!r})")
        settings = dict(defaults)
        settings.update(kwargs)
        settings.setdefault("max_cycles", 25)
        return MagailParallelEnv(env_name, "mpe2", name=module, **settings)

    def env(*args: Any, **kwargs: Any):
        return parallel_to_aec(parallel_env(*args, **kwargs))

    return parallel_env, env
