"""mpe2's ``simple_tag_v3`` (simple_tag), stepped in Rust: ``parallel_env(...)``, ``env(...)`` (AEC),
``raw_env`` (the same as ``env``)."""

from ._scenario import scenario

parallel_env, env = scenario("simple_tag", "simple_tag_v3", {"num_good": 1, "num_adversaries": 3, "num_obstacles": 2})
raw_env = env
