"""mpe2's ``simple_push_v3`` (simple_push), stepped in Rust: ``parallel_env(...)``, ``env(...)`` (AEC),
``raw_env`` (the same as ``env``)."""

from ._scenario import scenario

parallel_env, env = scenario("simple_push", "simple_push_v3", {})
raw_env = env
