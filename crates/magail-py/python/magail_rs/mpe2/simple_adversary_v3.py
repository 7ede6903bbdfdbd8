"""mpe2's ``simple_adversary_v3`` (simple_adversary), stepped in Rust: ``parallel_env(...)``, ``env(...)`` (AEC),
``raw_env`` (the same as ``env``)."""

from ._scenario import scenario

parallel_env, env = scenario("simple_adversary", "simple_adversary_v3", {"N": 2})
raw_env = env
