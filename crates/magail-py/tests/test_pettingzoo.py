"""PettingZoo's own test suite on every scenario, both action kinds, the paper variants and the
AMAGAIL games."""

import magail_rs
import numpy as np
import pytest
from magail_rs import mpe2
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

MODULES = [mpe2.simple_spread_v3, mpe2.simple_speaker_listener_v4, mpe2.simple_push_v3,
           mpe2.simple_tag_v3, mpe2.simple_reference_v3, mpe2.simple_adversary_v3]
IDS = [m.__name__.rsplit(".", 1)[-1] for m in MODULES]


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_parallel_api(module, continuous):
    parallel_api_test(module.parallel_env(continuous_actions=continuous), num_cycles=1000)


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_parallel_seed(module, continuous):
    parallel_seed_test(lambda: module.parallel_env(continuous_actions=continuous),
                       num_cycles=100)


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_aec_api(module, continuous):
    api_test(module.env(continuous_actions=continuous), num_cycles=200)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_aec_seed(module):
    seed_test(lambda: module.env(), num_cycles=100)


PAPER = ["cooperative_navigation", "cooperative_communication", "keep_away", "predator_prey"]


@pytest.mark.parametrize("name", PAPER + list(magail_rs.AMAGAIL_GAMES))
def test_paper_games(name):
    variant = "paper"
    parallel_api_test(magail_rs.parallel_env(name, variant), num_cycles=1000)
    parallel_seed_test(lambda: magail_rs.parallel_env(name, variant), num_cycles=100)
    api_test(magail_rs.env(name, variant), num_cycles=200)


@pytest.mark.parametrize("name", list(magail_rs.AMAGAIL_GAMES))
def test_amagail_participation(name):
    """Agents that do not act get no reward, and their actions (or leaving them out) change
    nothing."""
    env = magail_rs.parallel_env(name)
    twin = magail_rs.parallel_env(name)
    obs, infos = env.reset(seed=3)
    twin.reset(seed=3)
    skipped = 0
    while env.agents:
        acts = {a: env.action_space(a).sample() for a in env.agents}
        # The twin is given no action for the agents that do not act.
        other = {a: act for a, act in acts.items() if infos[a]["active"]}
        skipped += sum(not infos[a]["active"] for a in env.agents)
        obs, rew, term, trunc, infos = env.step(acts)
        obs2, rew2, _, _, _ = twin.step(other)
        for a in obs:
            assert np.array_equal(obs[a], obs2[a])
            assert rew[a] == rew2[a]
            if not infos[a]["acted"]:
                assert rew[a] == 0.0
    assert skipped > 0, "an AMAGAIL game where every agent always acted"


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="simple_sprad"):
        magail_rs.parallel_env("simple_sprad")
    with pytest.raises(ValueError, match="`N`"):
        magail_rs.parallel_env("simple_push", N=4)
    with pytest.raises(TypeError, match="'N'"):
        mpe2.simple_push_v3.parallel_env(N=4)
    with pytest.raises(ValueError, match="`N` is 0"):
        mpe2.simple_spread_v3.parallel_env(N=0)
    with pytest.raises(ValueError, match="num_adversaries"):
        mpe2.simple_tag_v3.parallel_env(num_adversaries=0)
    with pytest.raises(ValueError, match="local_ratio"):
        mpe2.simple_spread_v3.parallel_env(local_ratio=1.5)
    with pytest.raises(ValueError, match="max_cycles"):
        mpe2.simple_spread_v3.parallel_env(max_cycles=0)
    with pytest.raises(ValueError, match="render_mode"):
        mpe2.simple_spread_v3.parallel_env(render_mode="human")
    with pytest.raises(NotImplementedError, match="curriculum"):
        mpe2.simple_spread_v3.parallel_env(curriculum=True)
    with pytest.raises(TypeError, match="bogus"):
        mpe2.simple_spread_v3.parallel_env(bogus=1)
    env = mpe2.simple_spread_v3.parallel_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="agent_0"):
        env.step({"agent_0": 7, "agent_1": 0, "agent_2": 0})
    with pytest.raises(ValueError, match="agent_1"):
        env.step({"agent_0": 0})
    with pytest.raises(ValueError, match="expected 3"):
        env._core.step(np.zeros(2, dtype=np.float32))


def test_render_rgb_array():
    env = mpe2.simple_tag_v3.parallel_env(render_mode="rgb_array")
    env.reset(seed=1)
    frame = env.render()
    assert frame.shape == (700, 700, 3) and frame.dtype == np.uint8
    # Something besides the white background is drawn.
    assert (frame != 255).any()
