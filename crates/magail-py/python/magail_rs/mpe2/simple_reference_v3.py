"""mpe2's ``simple_reference_v3`` (simple_reference), stepped in Rust: ``parallel_env(...)``, ``env(...)`` (AEC),
``raw_env`` (the same as ``env``)."""

from ._scenario import scenario

parallel_env, env = scenario("simple_reference", "simple_reference_v3", {"local_ratio": 0.5})
raw_env = env
