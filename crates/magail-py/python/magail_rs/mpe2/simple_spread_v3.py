"""mpe2's ``simple_spread_v3`` (simple_spread), stepped in Rust: ``parallel_env(...)``, ``env(...)`` (AEC),
``raw_env`` (the same as ``env``)."""

from ._scenario import scenario

parallel_env, env = scenario("simple_spread", "simple_spread_v3", {"N": 3, "local_ratio": 0.5})
raw_env = env
