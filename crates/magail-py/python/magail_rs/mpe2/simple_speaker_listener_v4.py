"""mpe2's ``simple_speaker_listener_v4`` (simple_speaker_listener), stepped in Rust: ``parallel_env(...)``, ``env(...)`` (AEC),
``raw_env`` (the same as ``env``)."""

from ._scenario import scenario

parallel_env, env = scenario("simple_speaker_listener", "simple_speaker_listener_v4", {})
raw_env = env
