"""The batched environment: shapes, automatic resets, thread independence, refusals."""

import numpy as np
import pytest
from magail_rs import VecEnv


def run(env, steps, seed):
    rng = np.random.default_rng(seed)
    obs = [env.reset()]
    outs = []
    for _ in range(steps):
        outs.append(env.step(env.sample_actions(rng)) + (env.final_obs(),))
    return obs, outs


def test_shapes_and_padding():
    env = VecEnv("simple_tag", 8)
    obs = env.reset()
    n, dmax = len(env.agents), max(env.obs_dims)
    assert obs.shape == (8, n, dmax) and obs.dtype == np.float32
    # The prey observes fewer values than the predators: its row is zero-padded.
    prey = env.agents.index("agent_0")
    assert env.obs_dims[prey] < dmax
    assert (obs[:, prey, env.obs_dims[prey]:] == 0).all()
    o, r, term, trunc = env.step(np.zeros((8, n), dtype=np.int64))
    assert r.shape == (8, n) and r.dtype == np.float64
    assert term.shape == trunc.shape == (8,) and term.dtype == bool


def test_copies_reset_when_their_episodes_end():
    env = VecEnv("simple_spread", 4, max_cycles=5)
    env.reset()
    acts = np.zeros((4, 3), dtype=np.int64)
    for t in range(1, 11):
        obs, _, term, trunc = env.step(acts)
        assert not term.any()
        assert trunc.all() == (t % 5 == 0)
        if t % 5 == 0:
            # The new episode starts elsewhere than the old one ended.
            assert not np.array_equal(env.final_obs(), obs)


def test_numbers_do_not_depend_on_threads():
    a = run(VecEnv("simple_spread", 16, seed=3, threads=1), 60, 9)
    b = run(VecEnv("simple_spread", 16, seed=3, threads=2), 60, 9)
    for x, y in zip(a[1], b[1]):
        for u, v in zip(x, y):
            assert np.array_equal(u, v)
    c = run(VecEnv("simple_spread", 16, seed=4, threads=2), 60, 9)
    assert not np.array_equal(a[0][0], c[0][0])


def test_reset_with_a_seed_starts_the_streams_over():
    fresh = run(VecEnv("simple_push", 8, seed=11, threads=2), 30, 2)
    env = VecEnv("simple_push", 8, seed=5, threads=2)
    run(env, 7, 0)
    rng = np.random.default_rng(2)
    again = [env.reset(seed=11)]
    outs = [env.step(env.sample_actions(rng)) + (env.final_obs(),) for _ in range(30)]
    assert np.array_equal(fresh[0][0], again[0])
    for x, y in zip(fresh[1], outs):
        for u, v in zip(x, y):
            assert np.array_equal(u, v)


def test_refusals():
    with pytest.raises(ValueError, match="batch"):
        VecEnv("simple_spread", 0)
    with pytest.raises(ValueError, match="asynchronous"):
        VecEnv("stoch_navigation", 4, variant="paper")
    env = VecEnv("simple_spread", 4)
    env.reset()
    with pytest.raises(ValueError, match=r"\[4, 3\]"):
        env.step(np.zeros((4, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="action 9"):
        env.step(np.full((4, 3), 9))
    box = VecEnv("simple_spread", 4, continuous_actions=True)
    with pytest.raises(ValueError, match="reset"):
        box.step(np.zeros((4, 3, 5), dtype=np.float32))
    box.reset()
    with pytest.raises(ValueError, match=r"\[4, 3, 5\]"):
        box.step(np.zeros((4, 3, 4), dtype=np.float32))
