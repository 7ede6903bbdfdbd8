"""A drop-in for ``mpe2``: ``from magail_rs.mpe2 import simple_spread_v3`` (or
``import magail_rs.mpe2 as mpe2``) gives the six particle scenarios with mpe2 1.1.1's
constructor arguments and defaults, stepped in Rust, number for number with mpe2."""

from . import (
    simple_adversary_v3,
    simple_push_v3,
    simple_reference_v3,
    simple_speaker_listener_v4,
    simple_spread_v3,
    simple_tag_v3,
)

__all__ = ["simple_adversary_v3", "simple_push_v3", "simple_reference_v3",
           "simple_speaker_listener_v4", "simple_spread_v3", "simple_tag_v3"]
