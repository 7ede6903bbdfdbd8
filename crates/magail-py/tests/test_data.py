"""Demonstrations as numpy arrays, and the shipped experts acting from Python."""

from pathlib import Path

import magail_rs
import numpy as np
import pytest
from magail_rs import Expert, load_demos, record_demos, save_demos

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]
SPREAD = ROOT / "assets" / "experts" / "simple_spread-paper-s0"
ARRAYS = ("episode_len", "terminated", "truncated")
PER_AGENT = ("obs", "final_obs", "actions", "rewards", "acted")


def arrays(d, n):
    keys = list(ARRAYS) + [f"{k}_{i}" for k in PER_AGENT for i in range(n)]
    return {k: np.asarray(d[k]) for k in keys}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].shape == b[k].shape, k
        assert np.array_equal(a[k], b[k]), k


def test_rust_files_load_and_match_a_python_recording():
    """`cargo xtask demos --expert assets/experts/simple_spread-paper-s0 --episodes 3 --seed 7`
    (committed fixtures, binary and npz) equals the same recording made from Python."""
    binary = load_demos(FIXTURES / "spread-expert-3ep-seed7.bin")
    npz = load_demos(FIXTURES / "spread-expert-3ep-seed7.npz")
    assert binary["game"] == "simple_spread/paper"
    assert binary["agents"] == ["agent_0", "agent_1", "agent_2"]
    assert binary["obs_0"].shape == (int(binary["episode_len"].sum()), binary["obs_dims"][0])
    assert_same(arrays(binary, 3), arrays(npz, 3))
    fresh = record_demos(SPREAD, episodes=3, seed=7)
    assert_same(arrays(binary, 3), arrays(fresh, 3))


@pytest.mark.parametrize("suffix", [".bin", ".npz"])
def test_save_and_load_round_trip(tmp_path, suffix):
    # The navigation expert acting in the stochastic AMAGAIL game: rows where agents did not act.
    demos = record_demos(SPREAD, episodes=2, seed=3, env="stoch_navigation")
    assert not demos["acted_0"].all()
    env = magail_rs.parallel_env("stoch_navigation")
    path = tmp_path / f"demos{suffix}"
    save_demos(path, demos, env, source="test")
    back = load_demos(path)
    assert_same(arrays(demos, 3), arrays(back, 3))
    assert not list(tmp_path.glob(".*tmp*")), "a temporary file was left behind"


def test_team_return_counts_only_the_steps_each_agent_acted(tmp_path):
    """The reference a user's game is scored against: per episode, the agents' rewards over the
    steps they acted, averaged over agents, then over episodes (computed here from the columns)."""
    demos = record_demos(SPREAD, episodes=3, seed=5, env="stoch_navigation")
    # A reward written on a step an agent did not act must not count.
    for i in range(3):
        demos[f"rewards_{i}"] = np.where(demos[f"acted_{i}"], demos[f"rewards_{i}"], 100.0)
    path = tmp_path / "demos.bin"
    save_demos(path, demos, magail_rs.parallel_env("stoch_navigation"), source="test")
    ends = np.cumsum(demos["episode_len"])
    team = []
    for s, t in zip(np.concatenate([[0], ends[:-1]]), ends):
        team.append(np.mean([np.sum(demos[f"rewards_{i}"][s:t] * demos[f"acted_{i}"][s:t])
                             for i in range(3)]))
    got = magail_rs._native.demos_team_return(str(path))
    assert got == pytest.approx(float(np.mean(team)), rel=1e-12)
    assert -100 < got < 0
    with pytest.raises(ValueError, match="junk"):
        junk = tmp_path / "junk.bin"
        junk.write_bytes(b"not demonstrations")
        magail_rs._native.demos_team_return(str(junk))


def test_bad_files_and_sizes_are_refused(tmp_path):
    with pytest.raises(OSError, match="missing.bin"):
        load_demos(tmp_path / "missing.bin")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a demonstration file at all")
    with pytest.raises(ValueError, match="not a demonstration file"):
        load_demos(junk)
    demos = record_demos(SPREAD, episodes=1, seed=1)
    demos["obs_1"] = demos["obs_1"][:-1]
    env = magail_rs.parallel_env("simple_spread", "paper")
    out = tmp_path / "bad.bin"
    with pytest.raises(ValueError, match="obs_1"):
        save_demos(out, demos, env)
    assert not out.exists()
    with pytest.raises(ValueError, match="episodes"):
        record_demos(SPREAD, episodes=0)
    with pytest.raises(ValueError, match="no-such-expert"):
        Expert(tmp_path / "no-such-expert")


def team_return(env, policy, episodes, seed):
    total = 0.0
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        while env.agents:
            obs, rew, _, _, _ = env.step(policy(obs))
            total += sum(rew.values())
    return total / episodes


def test_expert_acts_better_than_random():
    expert = Expert(SPREAD, greedy=True)
    assert expert.game == ("simple_spread", "paper")
    env = expert.make_env()
    ours = team_return(env, lambda obs: expert.actions(obs, env), 5, 100)
    rng_env = expert.make_env()
    for a in rng_env.possible_agents:
        rng_env.action_space(a).seed(0)
    rand = team_return(rng_env, lambda obs: {a: rng_env.action_space(a).sample() for a in obs},
                       5, 100)
    assert ours > rand + 20, (ours, rand)
    with pytest.raises(ValueError, match="observes"):
        expert.act(0, np.zeros((2, 5), dtype=np.float32))
